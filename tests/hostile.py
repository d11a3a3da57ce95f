"""What a hostile or broken Twilio request may look like, and what a caller must get back.

Shared by the webhook fuzz tests: hypothesis strategies for form fields and query strings,
and `keeps_caller_with_a_person`, the fail-open promise written as a check.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from hypothesis import strategies as st

# The caller's side of a call: every answer keeps them on a path to a person.
CALLER_ROUTES = (
    "voice",
    "gather",
    "dial",
    "wait",
    "wait-choice",
    "wait-number",
    "queue-result",
    "fallback",
    "recorded",
)
# Another leg (the agent's, or the callee's before a bridge), or the status callback: a
# valid answer, never an error, is all Twilio needs there.
OTHER_ROUTES = (
    "whisper",
    "agent",
    "agent-connected",
    "agent-next",
    "callback-answered",
    "callback-done",
    "status",
)
ROUTES = CALLER_ROUTES + OTHER_ROUTES

ENDED_STATUSES = ("completed", "busy", "failed", "no-answer", "canceled")
# The caller's leg is over (or with a person) when Twilio sends these.
LEG_OVER = {
    "DialCallStatus": ("completed", "answered"),
    "QueueResult": ("bridged", "hangup", "redirected-from-bridged", "bridging-in-process"),
}
# A call the engine has concluded may hang up: the need was met, or a person will call back.
CONCLUDED_ROUTES = ("end", "callback:", "voicemail:")

FIELDS = (
    "CallSid",
    "AccountSid",
    "From",
    "To",
    "CallStatus",
    "Direction",
    "Digits",
    "SpeechResult",
    "Confidence",
    "DialCallStatus",
    "QueueResult",
    "QueuePosition",
    "QueueTime",
    "AvgQueueTime",
    "CurrentQueueSize",
    "RecordingUrl",
    "RecordingDuration",
    "SequenceNumber",
    "CallDuration",
    "ErrorUrl",
    "ErrorCode",
    "DequeingCallSid",
)

weird_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "#",
            "*0#",
            "-1",
            "1e309",
            "NaN",
            "inf",
            "null",
            "%00",
            "\x00",
            "\u202e0",
            "٠",
            "０",
            "<Hangup/>",
            "]]>",
            "'; DROP TABLE events; --",
            "agent",
            "operator",
            "completed",
            "in-progress",
            "bridged",
            "leave",
            "hangup",
            "answered",
            "busy",
            "9" * 70,
            "x" * 3000,
            "é" * 20_000,
        ]
    ),
)


url_text = weird_text.filter(lambda v: len(v) < 4000)  # a URL, not a body: kept short


def form_fields(base: dict[str, str]) -> st.SearchStrategy[dict[str, str]]:
    """Twilio's fields for a call, with some dropped, some replaced by junk, some added."""
    return st.builds(
        _mix,
        st.just(base),
        st.sets(st.sampled_from(sorted(base))),
        st.dictionaries(st.sampled_from(FIELDS), weird_text, max_size=6),
        st.dictionaries(st.text(min_size=1, max_size=12), weird_text, max_size=3),
    )


def _mix(
    base: dict[str, str], dropped: set[str], replaced: dict[str, str], extra: dict[str, str]
) -> dict[str, str]:
    fields = {k: v for k, v in base.items() if k not in dropped}
    return {**fields, **replaced, **extra}


def tamper(token: str) -> st.SearchStrategy[str]:
    """A state token as it came, cut, flipped, replaced or gone."""
    if not token:
        return url_text
    return st.one_of(
        st.just(token),
        st.integers(0, len(token) - 1).map(lambda i: token[:i]),
        st.tuples(st.integers(0, len(token) - 1), st.characters(codec="ascii")).map(
            lambda p: token[: p[0]] + p[1] + token[p[0] + 1 :]
        ),
        st.just(token + token),
        url_text,
    )


def query_variants(url: str) -> st.SearchStrategy[str]:
    """The URL with its query string tampered with: values changed, dropped or added."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    token = dict(pairs).get("t", "")

    def rebuild(t: str | None, extra: dict[str, str]) -> str:
        query = {k: v for k, v in pairs if k != "t"}
        if t is not None:
            query["t"] = t
        query.update(extra)
        return urlunsplit(parts._replace(query=urlencode(query)))

    return st.builds(
        rebuild,
        st.one_of(st.none(), tamper(token)),
        st.dictionaries(
            st.sampled_from(["n", "w", "agent", "cb", "call", "t2"]),
            url_text,
        ),
    )


def is_ended(route: str, fields: dict[str, str]) -> bool:
    """The request itself says the caller's leg is over: hanging up is then right."""
    if fields.get("CallStatus") in ENDED_STATUSES or route == "recorded":
        return True
    return any(fields.get(name) in values for name, values in LEG_OVER.items())


Post = Callable[[str, dict[str, str]], str]


def keeps_caller_with_a_person(
    document: str, url: str, fields: dict[str, str], post: Post, concluded: bool, hops: int = 3
) -> str:
    """Why `document` strands the caller, or "" when it keeps them on a path to a person:

    - it contains `<Enqueue>`, `<Dial>` or `<Record>` (a queue, a transfer, voicemail);
    - or a `<Gather>` whose action, given the escape key `0`, answers such a document
      (the escape hatch works from this prompt);
    - or a `<Redirect>` to a document that does (followed up to `hops` times; a redirect
      back to a queue's wait music keeps the caller in the queue);
    - or it hangs up, or is empty, only where the call had ended or the engine concluded
      it (a resolved end, a booked callback).
    """
    root = ET.fromstring(document)
    if root.tag != "Response":
        return f"the root is <{root.tag}>, not <Response>"
    verbs = [v.tag for v in root.iter()]
    if {"Enqueue", "Dial", "Record", "Leave"} & set(verbs):
        return ""
    gather = root.find("Gather")
    if gather is not None:
        action = urljoin(url, gather.get("action") or url)
        escaped = {**fields, "Digits": "0"}
        escaped.pop("SpeechResult", None)
        return _followed("the escape key at this prompt", action, escaped, post, concluded, hops)
    redirect = root.find("Redirect")
    if redirect is not None:
        target = urljoin(url, redirect.text or url)
        if urlsplit(target).path in ("/twilio/wait", "/twilio/agent"):
            return ""
        return _followed("the redirect", target, fields, post, concluded, hops)
    if concluded:
        return ""
    return f"no way to a person: {document}"


def _followed(
    what: str, url: str, fields: dict[str, str], post: Post, concluded: bool, hops: int
) -> str:
    if hops == 0:
        return f"{what} leads only to more redirects"
    found = keeps_caller_with_a_person(post(url, fields), url, fields, post, concluded, hops - 1)
    return f"{what} at {url}: {found}" if found else ""
