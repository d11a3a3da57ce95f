"""What a caller hears when their callback is booked, said by the engine and again by the
webhooks once the caller has confirmed (or changed) the number to call."""

from __future__ import annotations

from datetime import datetime

from flows.model import CallbackNode, Flow, Prompt
from ivr.context import spoken_number, spoken_time
from ivr.messages import message
from ivr.prompts import render
from ivr.state import CallState


def variables(flow: Flow, state: CallState) -> dict[str, str]:
    """The `{variables}` a prompt can use at this point of the call."""
    return {"caller": state.caller, "dialed": state.dialed, "flow": flow.id, **state.variables}


def node_say(flow: Flow, state: CallState) -> Prompt | None:
    """The flow's own words for the callback node the call is at, if it is at one."""
    node = flow.nodes.get(state.node) if state.node else None
    return node.callback.say if isinstance(node, CallbackNode) else None


def callback_words(
    flow: Flow,
    state: CallState,
    queue: str,
    number: str,
    not_before: datetime | None,
    say: Prompt | None,
) -> str:
    locale = state.locale or flow.locale
    if say is not None:
        return render(say, locale, variables(flow, state))
    hours = flow.hours.get(flow.queue(queue).hours or "")
    if not_before is not None and hours is not None:
        when = spoken_time(not_before, hours.timezone, locale)
        return message(locale, "callback_later", number=spoken_number(number), when=when)
    return message(locale, "callback_now", number=spoken_number(number))
