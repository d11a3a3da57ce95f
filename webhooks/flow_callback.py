"""A flow's callback (a `callback` node, or a closed queue): booked with the caller's own
number when the step asks for it (`Voice._answer`), then asked "this number, or another?";
the answer settles the number and the caller hears the booking's words."""

from __future__ import annotations

from dataclasses import dataclass

from twilio.twiml.voice_response import VoiceResponse

from ivr.actions import Event
from ivr.callback_words import callback_words, node_say
from ivr.ports import CallbackRequest
from webhooks import sequence, state_token
from webhooks.callback_number import chosen, not_before_of
from webhooks.twilio_request import TwilioRequest
from webhooks.voice import BadRequest, Voice


@dataclass
class FlowCallback:
    """The action of the number question asked when a flow's step booked a callback."""

    voice: Voice

    def number(self, req: TwilioRequest, token: str, not_before_text: str) -> str:
        state = state_token.decode(token)
        if state is None or not (state.route or "").startswith("callback:"):
            raise BadRequest("the callback number answer carries no callback")
        if req.get("CallSid") and state.call_sid != req.get("CallSid"):
            raise BadRequest("the call state belongs to another call")
        flow = self.voice.flow_serving(state).flow
        queue = (state.route or "").removeprefix("callback:")
        locale = state.locale or flow.locale
        response = VoiceResponse()
        number = chosen(response, locale, req.get("Digits"), state.caller)
        not_before = not_before_of(not_before_text)
        now = self.voice.clock()
        # Booked again with the settled number: the call's open callback is updated (same
        # place in line), never doubled, however often Twilio retries this request.
        self.voice.log.request_callback(
            CallbackRequest(
                call_sid=state.call_sid,
                queue=queue,
                number=number,
                place_at=now,
                not_before=not_before,
                requested_at=now,
            )
        )
        if number != state.caller:
            details = {"queue": queue, "number": number, "changed": True}
            event = Event(
                "callback_requested", now, state.node or None, details, sequence.CALLBACK_NUMBER
            )
            self.voice.log.append(state, [event])
        words = callback_words(flow, state, queue, number, not_before, node_say(flow, state))
        attrs = {"language": locale, **({"voice": flow.voice} if flow.voice else {})}
        response.say(words, **attrs)
        response.hangup()
        return str(response)
