"""The caller's time in a queue: the wait URL, the callback choice and the Enqueue result."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.actions import Event
from ivr.context import spoken_number
from ivr.messages import message
from ivr.ports import CallbackRequest
from ivr.queue_wait import (
    callbacks_ahead,
    estimate_wait,
    seconds_per_answer,
    seconds_per_answer_recently,
    wait_plan,
    wants_callback,
)
from ivr.state import CallState
from webhooks import callback_number, sequence, state_token, twiml
from webhooks.twilio_request import TwilioRequest
from webhooks.voice import BadRequest, Voice


def _number(text: str, default: float = 0.0) -> float:
    try:
        return float(text)
    except ValueError:
        return default


# Twilio's QueueResult values after which the caller needs nothing more from us, or (the
# last three) a callback; "leave" follows a booked callback.
LEFT_FOR_GOOD = frozenset(
    {"bridged", "bridging-in-process", "hangup", "redirected", "redirected-from-bridged"}
    | {"queue-full", "error", "system-error"}
)


@dataclass
class QueueWait:
    voice: Voice

    def _state(self, req: TwilioRequest, token: str) -> tuple[CallState, str]:
        state = state_token.decode(token)
        if state is None or not state.route or not state.route.startswith("queue:"):
            raise BadRequest("the wait URL carries no queued call")
        return state, state.route.removeprefix("queue:")

    def _append(self, state: CallState, events: list[Event], first_seq: int) -> None:
        numbered = [replace(e, seq=first_seq + i) for i, e in enumerate(events)]
        self.voice.log.append(state, numbered)

    def wait(self, req: TwilioRequest, token: str, announcement: int) -> str:
        state, queue = self._state(req, token)
        loaded = self.voice.flow_serving(state)
        flow = loaded.flow
        position = int(_number(req.get("QueuePosition"), 1))
        waited = _number(req.get("QueueTime"))
        now = self.voice.clock()
        history = self.voice.log.queue_history(queue, now)
        # Our own recent answers first; Twilio's live average only when we have none.
        per_answer = seconds_per_answer_recently(history, now) or seconds_per_answer(
            _number(req.get("AvgQueueTime")), int(_number(req.get("CurrentQueueSize")))
        )
        ahead = callbacks_ahead(history, now - timedelta(seconds=waited))
        plan = wait_plan(
            flow,
            queue,
            position=position,
            waited=waited,
            estimate=estimate_wait(position + ahead, per_answer),
            announcement=announcement,
            locale=state.locale,
        )
        node = state.node or None
        events = [
            Event(
                "queue_update",
                now,
                node,
                {"queue": queue, "position": position, "waited": waited, "estimate": plan.estimate},
            )
        ]
        response = VoiceResponse()
        if plan.move_to_callback:
            events.append(
                Event("callback_requested", now, node, {"queue": queue, "reason": "max_wait"})
            )
            self._book(state, queue, waited)
            self._append(state, events, sequence.wait_seq(announcement, 0))
            response.say(plan.text, language=state.locale)
            response.leave()
            return str(response)
        response.say(plan.text, language=state.locale)
        if plan.offer_callback and plan.offer_text:
            events.append(Event("callback_offered", now, node, {"queue": queue}))
            gather = Gather(
                input="dtmf speech",
                num_digits=1,
                action=twiml.url("wait-choice", token, n=str(announcement)),
                method="POST",
                timeout=5,
                language=state.locale,
                hints=", ".join(plan.callback_phrases),
            )
            gather.say(plan.offer_text, language=state.locale)
            response.append(gather)
        response.pause(length=max(1, round(plan.pause)))
        response.redirect(twiml.url("wait", token, n=str(announcement + 1)), method="POST")
        self._append(state, events, sequence.wait_seq(announcement, 0))
        return str(response)

    def choice(self, req: TwilioRequest, token: str, announcement: int) -> str:
        state, queue = self._state(req, token)
        loaded = self.voice.flow_serving(state)
        response = VoiceResponse()
        accepted = wants_callback(
            loaded.flow, queue, req.get("Digits"), req.get("SpeechResult"), state.locale
        )
        if not accepted:
            response.redirect(twiml.url("wait", token, n=str(announcement + 1)), method="POST")
            return str(response)
        # Confirm the number, or let the caller key in another one (silence confirms).
        waited = str(round(_number(req.get("QueueTime"))))
        number_url = twiml.url("wait-number", token, n=str(announcement), w=waited)
        callback_number.ask(response, state.locale, state.caller, number_url)
        return str(response)

    def number(self, req: TwilioRequest, token: str, announcement: int, waited: float) -> str:
        """The callback number is settled: book the callback and leave the queue."""
        state, queue = self._state(req, token)
        response = VoiceResponse()
        number = callback_number.chosen(response, state.locale, req.get("Digits"), state.caller)
        now = self.voice.clock()
        self._book(state, queue, waited, number, read_next=True)  # <Leave> asks for it
        event = Event(
            "callback_requested", now, state.node or None, {"queue": queue, "number": number}
        )
        self._append(state, [event], sequence.wait_seq(announcement, 5))
        response.say(
            message(state.locale, "callback_now", number=spoken_number(number)),
            language=state.locale,
        )
        response.leave()
        return str(response)

    def _book(
        self,
        state: CallState,
        queue: str,
        waited: float,
        number: str | None = None,
        *,
        read_next: bool = False,
    ) -> None:
        now = self.voice.clock()
        self.voice.log.request_callback(
            CallbackRequest(
                call_sid=state.call_sid,
                queue=queue,
                number=number or state.caller,
                place_at=now - timedelta(seconds=waited),
                not_before=None,
                requested_at=now,
            ),
            read_next=read_next,
        )

    def result(self, req: TwilioRequest, token: str) -> str:
        """Enqueue's action: the caller left the queue. Only errors need a new route."""
        state = state_token.decode(token)
        outcome = req.get("QueueResult")
        if state is None:
            raise BadRequest("the queue result carries no call state")
        now = self.voice.clock()
        details = {"result": outcome, "waited": _number(req.get("QueueTime"))}
        self._append(
            state, [Event("queue_left", now, state.node or None, details)], sequence.QUEUE_RESULT
        )
        booked = outcome == "leave" and bool(self.voice.log.callbacks_for(state.call_sid))
        if outcome not in LEFT_FOR_GOOD and not booked:
            # A result Twilio does not send, or a <Leave> with no callback booked: the
            # caller is still on the line with nowhere to go.
            raise BadRequest(f"the caller left the queue with no way on ({outcome!r})")
        if outcome in ("queue-full", "error", "system-error"):
            # The queue could not hold the caller: a callback keeps the promise.
            queue = (state.route or "queue:").removeprefix("queue:")
            self._book(state, queue, _number(req.get("QueueTime")))
            response = VoiceResponse()
            response.say(
                message(state.locale, "callback_now", number=spoken_number(state.caller)),
                language=state.locale,
            )
            response.hangup()
            return str(response)
        return twiml.goodbye()
