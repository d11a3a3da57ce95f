"""Which number to call back: the caller's own (silence, or 1) or one they key in.

Asked the same way wherever a callback is booked: from the queue's offer
(`webhooks.queue_wait`) and from a flow's `callback` node, including closed hours
(`webhooks.flow_callback`), so the caller hears the number we will really call.
"""

from __future__ import annotations

from datetime import UTC, datetime

from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.context import spoken_number
from ivr.messages import message
from ivr.phone_numbers import keyed_number


def ask(response: VoiceResponse, locale: str, caller: str, action: str) -> None:
    """Confirm the number ending in ..., or key another one; silence confirms."""
    gather = Gather(input="dtmf", finish_on_key="#", timeout=6, action=action, method="POST")
    last = spoken_number(caller)[-7:]
    gather.say(message(locale, "callback_number", last=last), language=locale)
    response.append(gather)
    response.redirect(action, method="POST")


def chosen(response: VoiceResponse, locale: str, digits: str, caller: str) -> str:
    """The number the caller settled on; a keyed number that cannot be one is said so."""
    keyed = digits.strip()
    if not keyed or keyed == "1":
        return caller
    number = keyed_number(keyed, caller)
    if number is None:
        response.say(message(locale, "bad_number"), language=locale)
        return caller
    return number


def not_before_param(moment: datetime | None) -> str:
    return str(round(moment.timestamp() * 1000)) if moment is not None else ""


def not_before_of(text: str) -> datetime | None:
    if not text.isdigit() or len(text) > 15:
        return None
    return datetime.fromtimestamp(int(text) / 1000, UTC)
