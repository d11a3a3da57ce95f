"""The caller's side of a call: answer, prompts, transfers, voicemail, fallback, status.

Each handler reads Twilio's parameters, asks the engine for the next step, records it, and
renders TwiML. Whatever goes wrong, the caller is routed to a person.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

from flows.catalog import Catalog
from flows.loader import LoadedFlow
from ivr.actions import (
    CallerEvent,
    DialResult,
    Digits,
    Event,
    Silence,
    Speech,
    Step,
)
from ivr.context import whisper
from ivr.engine import escape_step, start_call, step
from ivr.ports import CallLog, callback_booking
from ivr.state import CallState
from webhooks import sequence, state_token, twiml
from webhooks.settings import Settings
from webhooks.twilio_request import TwilioRequest

log = logging.getLogger("ivr.webhooks")
ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
MAX_DIGITS = 64
MAX_SPEECH = 2_000


class BadRequest(Exception):
    """A request we cannot act on as asked (missing state, tampered token, huge input)."""


@dataclass
class Voice:
    settings: Settings
    flows: Callable[[], Catalog]
    log: CallLog
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    # --- helpers ---------------------------------------------------------------
    def _flow_for(self, req: TwilioRequest) -> LoadedFlow | None:
        return self.flows().for_number(req.get("To"))

    def flow_of(self, state: CallState) -> LoadedFlow | None:
        """The version of the flow the call started on, even after a reload."""
        return self.flows().for_call(state.flow_id, state.flow_version)

    def flow_serving(self, state: CallState) -> LoadedFlow:
        """The loaded flow a call in progress runs on; BadRequest if it is gone."""
        loaded = self.flow_of(state)
        if loaded is None:
            raise BadRequest(f"flow '{state.flow_id}' is not loaded any more")
        return loaded

    def _answer(self, result: Step) -> str:
        self.log.record(result.state, result.events)
        booking = callback_booking(result, self.clock())
        if booking is not None:
            self.log.request_callback(booking)
        return twiml.render(result, state_token.encode(result.state))

    def _state(self, req: TwilioRequest, token: str) -> CallState:
        state = state_token.decode(token)
        if state is None:
            raise BadRequest("the call state in the URL is missing or damaged")
        if req.get("CallSid") and state.call_sid != req.get("CallSid"):
            raise BadRequest("the call state belongs to another call")
        return state

    # --- routes ----------------------------------------------------------------------
    def incoming(self, req: TwilioRequest, known: CallState | None) -> str:
        """A call comes in; `known`: what is kept of its CallSid (Twilio retrying)."""
        loaded = self._flow_for(req)
        call_sid = req.get("CallSid")
        if loaded is None or not call_sid:
            raise BadRequest("no flow answers this number, or no CallSid")
        first = self.flow_of(known) if known is not None else None
        if known is not None and known.steps > 0 and known.flow_id == loaded.flow.id and first:
            # Twilio retried the first request: answer the way we did the first time.
            result = start_call(
                first.flow,
                known.flow_version,
                call_sid,
                req.get("From") or known.caller,  # the stored one may be masked or hashed
                known.dialed,
                known.started_at,
            )
            return self._answer(result)
        now = self.clock()
        result = start_call(
            loaded.flow, loaded.version, call_sid, req.get("From"), req.get("To"), now
        )
        return self._answer(result)

    def gather(self, req: TwilioRequest, token: str) -> str:
        state = self._state(req, token)
        loaded = self.flow_serving(state)
        return self._answer(step(loaded.flow, state, self._caller_event(req), self.clock()))

    def dial_result(self, req: TwilioRequest, token: str) -> str:
        state = self._state(req, token)
        loaded = self.flow_serving(state)
        status = req.get("DialCallStatus") or "failed"
        return self._answer(step(loaded.flow, state, DialResult(status), self.clock()))

    def whisper(self, req: TwilioRequest, token: str) -> str:
        """Said to the person who answers a transfer, before the bridge."""
        state = state_token.decode(token)
        loaded = self.flow_of(state) if state else None
        if state is None or loaded is None:
            return twiml.empty()
        # The person dialed has answered: for the reports, a person is on the line now.
        answered = Event(
            "agent_connected",
            self.clock(),
            state.node or None,
            {
                "transfer": (state.route or "").removeprefix("transfer:"),
                "agent_call": req.get("CallSid"),
            },
            seq=sequence.TRANSFER_ANSWERED + state.events,
        )
        try:
            self.log.append(state, [answered])
        except Exception:  # this is the answering person's leg: never break their whisper
            log.exception("could not log that call %s was answered", state.call_sid)
        return twiml.say_only(whisper(state.context(), loaded.flow))

    def recorded(self, req: TwilioRequest, token: str) -> str:
        state = state_token.decode(token)
        if state is not None:
            event = Event(
                "voicemail",
                self.clock(),
                state.node or None,
                {
                    "recording_url": req.get("RecordingUrl"),
                    "duration": req.get("RecordingDuration"),
                },
                seq=state.events + 1,
            )
            self.log.record(state.moved(events=state.events + 1), [event])
        return twiml.goodbye()

    def status(self, req: TwilioRequest, known: CallState | None) -> str:
        """Twilio's status callback: the call ended (or progressed). Answered with 204.
        `known`: what is kept of the call."""
        call_status = req.get("CallStatus")
        if call_status not in ENDED or not req.get("CallSid"):
            return ""
        state = known
        if state is None:
            # No arrival-order guarantee: the end of a call can overtake its first request.
            # It is kept anyway; its number sorts it after everything the call does.
            loaded = self._flow_for(req)
            if loaded is None or self._is_agent(req.get("From")):
                return ""  # not a caller's call we answer (an agent's, or no flow's)
            state = self._unknown_call(req, loaded)
        try:
            number = int(req.get("SequenceNumber") or 0)
        except ValueError:
            number = 0
        event = Event(
            "call_ended",
            self.clock(),
            state.node or None,
            {"status": call_status, "duration": req.get("CallDuration"), "route": state.route},
            seq=sequence.STATUS + number,
        )
        # Appended, not saved with the state: read from the database, the state may be a
        # moment behind the call's last step, answered by another server, and saving it
        # would undo that step.
        self.log.append(state, [event])
        return ""

    def fallback(self, req: TwilioRequest) -> str:
        """Twilio could not use our answer: whatever happened, reach a person."""
        token = parse_qs(urlparse(req.get("ErrorUrl")).query).get("t", [""])[0]
        state = state_token.decode(token) if token else None
        loaded = (self.flow_of(state) if state else None) or self._flow_for(req)
        if loaded is None:
            raise BadRequest("no flow for the fallback")
        state = state or self._unknown_call(req, loaded)
        return self._answer(escape_step(loaded.flow, state, "fallback", self.clock()))

    def _unknown_call(self, req: TwilioRequest, loaded: LoadedFlow) -> CallState:
        """A state for a call we know nothing about, from what Twilio tells us now."""
        return CallState(
            req.get("CallSid") or "unknown",
            loaded.flow.id,
            loaded.version,
            req.get("From"),
            req.get("To"),
            self.clock(),
        )

    def _is_agent(self, number: str) -> bool:
        return any(
            number in (agent.phone, f"client:{agent.client}")
            for loaded in self.flows().flows
            for agent in loaded.flow.agents
        )

    def fail_open(self, req: TwilioRequest, reason: str) -> str:
        """The answer when a handler could not do its job: a person, by the flow's route."""
        loaded = self._flow_for(req)
        if loaded is None:
            return twiml.person_twiml(self.settings.emergency_queue, self.settings.emergency_number)
        state = self._unknown_call(req, loaded)
        known = self.log.load(state.call_sid) if req.get("CallSid") else None
        if known is not None and state.caller:  # the stored number may be masked or hashed
            known = known.moved(caller=state.caller)
        result = escape_step(loaded.flow, known or state, "error", self.clock())
        events = [
            e
            if e.kind != "escape"
            else Event(e.kind, e.at, e.node, {**e.details, "reason": reason}, e.seq)
            for e in result.events
        ]
        result = Step(result.actions, result.state, tuple(events))
        return self._answer(result)

    @staticmethod
    def _caller_event(req: TwilioRequest) -> CallerEvent:
        digits = req.get("Digits").strip()
        speech = req.get("SpeechResult").strip()
        if len(digits) > MAX_DIGITS or len(speech) > MAX_SPEECH:
            raise BadRequest("the caller's input is far longer than any prompt accepts")
        if digits:
            return Digits(digits)
        if speech:
            confidence = req.get("Confidence")
            try:
                value = float(confidence) if confidence else None
            except ValueError:
                value = None
            return Speech(speech, value)
        return Silence()
