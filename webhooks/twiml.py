"""Engine actions to TwiML, with twilio's VoiceResponse. The engine never sees XML and this
module never sees YAML."""

from __future__ import annotations

import functools
import secrets
from urllib.parse import quote

from twilio.twiml.voice_response import Dial as DialVerb
from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.actions import (
    Action,
    Dial,
    Enqueue,
    Hangup,
    Listen,
    Record,
    RequestCallback,
    Say,
    Step,
    final_of,
)
from webhooks import callback_number

BASE = "/twilio"
# Documents kept, each with a stand-in for the state token: calls at the same point of a
# flow hear the same words, so most steps are a lookup and a replace instead of building
# and serialising XML, which took longer than the rest of the step.
DOCUMENTS = 4096
_TOKEN = f"t{secrets.token_hex(16)}"  # no prompt says this: it marks where the token goes


def url(route: str, token: str, **extra: str) -> str:
    """A relative URL Twilio resolves against the host it called, carrying the state."""
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in {"t": token, **extra}.items())
    return f"{BASE}/{route}?{query}"


def _say(parent: VoiceResponse | Gather, say: Say) -> None:
    attrs = {"language": say.locale}
    if say.voice:
        attrs["voice"] = say.voice
    parent.say(say.text, **attrs)


def _gather(listen: Listen, token: str) -> Gather:
    attrs: dict[str, object] = {
        "input": "dtmf speech",
        "action": url("gather", token),
        "method": "POST",
        "action_on_empty_result": "true",
        "timeout": max(1, round(listen.timeout)),
        "speech_timeout": "auto",
        "language": listen.locale,
        "finish_on_key": listen.finish_key,
    }
    if listen.num_digits:
        attrs["num_digits"] = listen.num_digits
    if listen.hints:
        attrs["hints"] = ", ".join(listen.hints)
    gather = Gather(**attrs)
    for prompt in listen.prompts:
        _say(gather, prompt)
    return gather


def _dial(dial: Dial, token: str) -> DialVerb:
    verb = DialVerb(action=url("dial", token), method="POST", timeout=max(5, round(dial.timeout)))
    whisper = url("whisper", token)
    if dial.target.startswith("sip:"):
        verb.sip(dial.target, url=whisper, method="POST")
    elif dial.target.startswith("client:"):
        verb.client(dial.target.removeprefix("client:"), url=whisper, method="POST")
    else:
        verb.number(dial.target, url=whisper, method="POST")
    return verb


def render(step: Step, token: str) -> str:
    """The TwiML document for a step; `token` carries the state after it."""
    return _document(step.actions, step.state.locale).replace(_TOKEN, token)


@functools.lru_cache(maxsize=DOCUMENTS)
def _document(actions: tuple[Action, ...], locale: str) -> str:
    """The document for these actions, its URLs carrying `_TOKEN` (`token` and `state`
    are only used through it and the locale, so they make the key)."""
    token = _TOKEN
    response = VoiceResponse()
    final = final_of(actions)
    for action in actions:
        match action:
            case Say() if isinstance(final, RequestCallback) and action == final.confirm:
                pass  # said by the number question's action, with the number settled
            case Say():
                _say(response, action)
            case Listen():
                response.append(_gather(action, token))
                # Older Twilio behaviour ignores actionOnEmptyResult: silence falls through.
                response.redirect(url("gather", token), method="POST")
            case Enqueue():
                response.enqueue(
                    action.queue,
                    action=url("queue-result", token),
                    method="POST",
                    wait_url=url("wait", token),
                    wait_url_method="POST",
                )
            case Dial():
                response.append(_dial(action, token))
            case Record():
                response.record(
                    action=url("recorded", token),
                    method="POST",
                    max_length=max(1, round(action.max_length)),
                    play_beep=True,
                    finish_on_key="#",
                )
                response.hangup()
            case RequestCallback():
                # Booked on the answer (webhooks.flow_callback), with the number settled.
                locale = action.confirm.locale if action.confirm else locale
                nb = callback_number.not_before_param(action.not_before)
                callback_number.ask(
                    response, locale, action.number, url("callback-number", token, nb=nb)
                )
            case Hangup():
                response.hangup()
    return str(response)


def person_twiml(
    queue: str | None, number: str | None, text: str = "Connecting you to a person."
) -> str:
    """The plainest route to a person, for when nothing else can be trusted."""
    response = VoiceResponse()
    response.say(text)
    if number:
        response.dial(number)
    else:
        response.enqueue(queue or "support")
    return str(response)


def empty() -> str:
    return str(VoiceResponse())


def say_only(text: str) -> str:
    response = VoiceResponse()
    response.say(text)
    return str(response)


def goodbye() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)
