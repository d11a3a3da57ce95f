"""The TwiML Twilio accepts: verbs, nesting, attributes, and which verbs each context allows.

Twilio answers a document it cannot use with "an application error has occurred" and a
hang-up; the stand-in refuses the same documents with a message that says where and what,
so our own mistakes show up in tests instead of on a real call.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

MAX_BYTES = 64_000  # Twilio refuses larger answers

# Attributes Twilio documents for each verb and noun (camelCase, as in TwiML).
_COMMON_CALLBACKS = {"statusCallback", "statusCallbackMethod", "statusCallbackEvent"}
ATTRIBUTES: dict[str, set[str]] = {
    "Response": set(),
    "Say": {"voice", "language", "loop"},
    "Play": {"loop", "digits"},
    "Pause": {"length"},
    "Gather": {
        "action",
        "method",
        "input",
        "timeout",
        "speechTimeout",
        "finishOnKey",
        "numDigits",
        "language",
        "hints",
        "actionOnEmptyResult",
        "speechModel",
        "enhanced",
        "partialResultCallback",
        "partialResultCallbackMethod",
        "profanityFilter",
        "bargeIn",
        "debug",
    },
    "Redirect": {"method"},
    "Enqueue": {"action", "method", "waitUrl", "waitUrlMethod", "workflowSid", "maxQueueSize"},
    "Leave": set(),
    "Hangup": set(),
    "Reject": {"reason"},
    "Dial": {
        "action",
        "method",
        "timeout",
        "callerId",
        "record",
        "hangupOnStar",
        "timeLimit",
        "answerOnBridge",
        "ringTone",
        "recordingStatusCallback",
        "recordingStatusCallbackMethod",
        "recordingStatusCallbackEvent",
        "trim",
        "sequential",
        "referUrl",
        "referMethod",
    },
    "Number": {
        "url",
        "method",
        "sendDigits",
        "statusCallback",
        "statusCallbackMethod",
        "statusCallbackEvent",
        "byoc",
        "machineDetection",
    },
    "Client": {"url", "method"} | _COMMON_CALLBACKS,
    "Identity": set(),
    "Parameter": {"name", "value"},
    "Sip": {"url", "method", "username", "password"} | _COMMON_CALLBACKS,
    "Queue": {"url", "method", "reservationSid", "postWorkActivitySid"},
    "Record": {
        "action",
        "method",
        "timeout",
        "finishOnKey",
        "maxLength",
        "playBeep",
        "trim",
        "recordingStatusCallback",
        "recordingStatusCallbackMethod",
        "recordingStatusCallbackEvent",
        "transcribe",
        "transcribeCallback",
    },
    "Task": {"priority", "timeout"},
}
SSML = {
    "break",
    "emphasis",
    "lang",
    "p",
    "phoneme",
    "prosody",
    "s",
    "say-as",
    "sub",
    "w",
    "amazon:effect",
    "amazon:domain",
}
CHILDREN: dict[str, set[str]] = {
    "Response": {
        "Say",
        "Play",
        "Pause",
        "Gather",
        "Redirect",
        "Enqueue",
        "Leave",
        "Hangup",
        "Reject",
        "Dial",
        "Record",
    },
    "Gather": {"Say", "Play", "Pause"},
    "Dial": {"Number", "Client", "Sip", "Queue"},
    "Client": {"Identity", "Parameter"},
    "Enqueue": {"Task"},
    "Say": SSML,
}
# Verbs Twilio knows that this stand-in does not run: named so the message is not "unknown".
NOT_SIMULATED = {
    "Connect",
    "Conference",
    "Message",
    "Sms",
    "Pay",
    "Prompt",
    "Refer",
    "Start",
    "Stop",
    "Stream",
    "Siprec",
    "Echo",
    "Autopilot",
}

# Which verbs a document may use, by the place it was requested from (Twilio's reference).
MAIN = "call"
WAIT = "wait URL"
DEQUEUE = "Queue url"
WHISPER = "whisper url"
ALLOWED: dict[str, set[str]] = {
    MAIN: CHILDREN["Response"] - {"Leave"},
    WAIT: {"Play", "Say", "Pause", "Hangup", "Redirect", "Leave", "Gather"},
    DEQUEUE: {"Play", "Say", "Pause", "Redirect"},
    WHISPER: {"Play", "Say", "Pause", "Gather", "Hangup"},
}

_INTEGER = {
    ("Pause", "length"),
    ("Say", "loop"),
    ("Play", "loop"),
    ("Gather", "timeout"),
    ("Gather", "numDigits"),
    ("Dial", "timeout"),
    ("Dial", "timeLimit"),
    ("Record", "timeout"),
    ("Record", "maxLength"),
    ("Enqueue", "maxQueueSize"),
}
_CHOICES = {
    ("Gather", "input"): {"dtmf", "speech", "dtmf speech", "speech dtmf"},
    ("Gather", "actionOnEmptyResult"): {"true", "false"},
    ("Gather", "finishOnKey"): {"", *"0123456789*#"},
    ("Record", "finishOnKey"): {"", *"0123456789*#"},
    ("Record", "playBeep"): {"true", "false"},
    ("Dial", "record"): {
        "do-not-record",
        "record-from-answer",
        "record-from-ringing",
        "record-from-answer-dual",
        "record-from-ringing-dual",
        "true",
        "false",
    },
}
_METHODS = {"GET", "POST"}
_EVENTS = {"initiated", "ringing", "answered", "completed"}


class TwimlError(Exception):
    """A document Twilio would refuse: where it came from and what is wrong with it."""


def parse(text: str, url: str, context: str = MAIN) -> ET.Element:
    """The document's <Response>, checked as Twilio checks it for `context`."""
    if len(text.encode()) > MAX_BYTES:
        raise TwimlError(
            f"{url}: the answer is {len(text.encode())} bytes; Twilio's limit is {MAX_BYTES}"
        )
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise TwimlError(f"{url}: not XML ({err})") from None
    if root.tag != "Response":
        raise TwimlError(f"{url}: the document is <{root.tag}>, Twilio expects <Response>")
    problems: list[str] = []
    _check(root, "Response", problems)
    for verb in root:
        if verb.tag in CHILDREN["Response"] and verb.tag not in ALLOWED[context]:
            problems.append(
                f"<{verb.tag}> cannot be used in TwiML for a {context}; allowed there: "
                + ", ".join(sorted(ALLOWED[context]))
            )
    if problems:
        raise TwimlError(f"{url}: " + "; ".join(problems))
    return root


def _check(element: ET.Element, path: str, problems: list[str]) -> None:
    tag = element.tag
    for name, value in element.attrib.items():
        allowed = ATTRIBUTES.get(tag)
        if allowed is not None and name not in allowed:
            problems.append(f"{path} has an unknown attribute '{name}'")
        elif (tag, name) in _INTEGER and not value.strip().isdigit():
            problems.append(f"{path} {name}='{value}' is not a whole number")
        elif (tag, name) in _CHOICES and value not in _CHOICES[(tag, name)]:
            problems.append(
                f"{path} {name}='{value}' is not one of: "
                + ", ".join(sorted(_CHOICES[(tag, name)]))
            )
        elif name.lower().endswith("method") and value.upper() not in _METHODS:
            problems.append(f"{path} {name}='{value}' is not GET or POST")
        elif name.endswith("Event") and not set(value.split()) <= _EVENTS:
            problems.append(
                f"{path} {name}='{value}' is not a space-separated list of: "
                + ", ".join(sorted(_EVENTS))
            )
    allowed_children = CHILDREN.get(tag, set())
    for child in element:
        where = f"{path}/{child.tag}"
        if tag == "Say":
            if child.tag not in SSML:
                problems.append(f"<{child.tag}> inside <Say> is not SSML")
            continue
        if child.tag not in allowed_children:
            if child.tag in NOT_SIMULATED:
                problems.append(f"<{child.tag}> at {where} is TwiML the stand-in does not run")
            elif child.tag in ATTRIBUTES:
                inside = ", ".join(sorted(allowed_children)) or "nothing"
                problems.append(
                    f"<{child.tag}> cannot be nested in <{tag}> (at {where}); "
                    f"allowed inside {tag}: {inside}"
                )
            else:
                problems.append(f"unknown verb <{child.tag}> at {where}")
            continue
        _check(child, where, problems)
    if tag == "Dial":
        nouns = [c.tag for c in element]
        if "Queue" in nouns and len(nouns) > 1:
            problems.append(f"{path}: <Queue> must be the only noun in <Dial>")
        if not nouns and not (element.text or "").strip():
            problems.append(f"{path}: <Dial> has nothing to dial")
    if tag == "Enqueue" and not (element.text or "").strip() and not len(element):
        problems.append(f"{path}: <Enqueue> names no queue")
