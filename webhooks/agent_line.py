"""The agent line: an agent calls in and gets the oldest waiting item of their queues.

A live caller is dequeued with `<Dial><Queue>`; a pending callback is dialed from the
agent's own call, agent first, so the customer never waits for a person. Before either,
the agent hears what the caller already said, so nobody has to repeat themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from twilio.twiml.voice_response import Dial as DialVerb
from twilio.twiml.voice_response import Gather, VoiceResponse

from flows.model import DEFAULT_CALLBACK_RETRY, Agent
from ivr.actions import Event
from ivr.context import spoken_number, whisper
from ivr.ports import ClaimedCallback, WaitingCaller
from ivr.state import CallState
from webhooks.twilio_request import TwilioRequest
from webhooks.voice import Voice

AGENT_CONNECTED = 300_000  # event numbers on the caller's call (see webhooks.sequence)
# Callback events come after the call has ended, so they number after its status events
# (webhooks.sequence.STATUS + Twilio's SequenceNumber), which they can never meet; with
# 32-bit event numbers, that leaves room for 21 million callbacks.
CALLBACK = 2_000_000
POLL_SECONDS = 15
REACHED = frozenset({"completed", "answered"})  # any other DialCallStatus: try again


def callback_seq(callback_id: int, attempt: int, index: int) -> int:
    """The number of a callback event: each try (attempt 1, 2...) has its own, so a second
    try's `callback_dialed` is not taken for a retried request of the first."""
    return CALLBACK + 100 * callback_id + 10 * min(max(attempt, 1) - 1, 9) + index


def _url(route: str, **query: str) -> str:
    return f"/twilio/{route}" + (
        "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    )


@dataclass
class AgentLine:
    voice: Voice

    def _agent(self, caller: str) -> Agent | None:
        for loaded in self.voice.flows().flows:
            for agent in loaded.flow.agents:
                if caller and caller in (
                    agent.phone,
                    f"client:{agent.client}" if agent.client else None,
                ):
                    return agent
        return None

    def _append(self, state: CallState, kind: str, seq: int, **details: object) -> None:
        event = Event(kind, self.voice.clock(), state.node or None, dict(details), seq)
        self.voice.log.append(state, [replace(event)])

    def answer(self, req: TwilioRequest) -> str:
        response = VoiceResponse()
        agent = self._agent(req.get("From"))
        if agent is None:
            response.say("Sorry, this line is for our agents. Please call our main number.")
            response.hangup()
            return str(response)
        log = self.voice.log
        now = self.voice.clock()
        waiting = log.waiting_callers(agent.queues, now)
        claimed = log.claim_callback(agent.queues, agent.id, now)
        live = waiting[0] if waiting else None
        if claimed is not None and live is not None and live.since < claimed.request.place_at:
            log.finish_callback(claimed.id, "pending", now)  # the live caller has waited longer
            claimed = None
        if claimed is not None:
            return self._callback(response, agent, claimed)
        if live is not None:
            return self._live(response, agent, live)
        response.say("No one is waiting right now. Stay on the line and we will connect you.")
        response.pause(length=POLL_SECONDS)
        response.redirect(_url("agent"), method="POST")
        return str(response)

    def _briefing(self, call_sid: str) -> tuple[CallState | None, str]:
        state = self.voice.log.load(call_sid)
        loaded = self.voice.flow_of(state) if state else None
        if state is None or loaded is None:
            return state, ""
        return state, whisper(state.context(), loaded.flow)

    def _live(self, response: VoiceResponse, agent: Agent, live: WaitingCaller) -> str:
        _, briefing = self._briefing(live.call_sid)
        response.say(f"Caller waiting in {live.queue}. {briefing}")
        dial = DialVerb(action=_url("agent-next"), method="POST")
        dial.queue(live.queue, url=_url("agent-connected", agent=agent.id), method="POST")
        response.append(dial)
        return str(response)

    def _callback(self, response: VoiceResponse, agent: Agent, claimed: ClaimedCallback) -> str:
        request = claimed.request
        state, briefing = self._briefing(request.call_sid)
        attempt = claimed.attempt
        if state is not None:
            seq = callback_seq(claimed.id, attempt, 0)
            self._append(state, "callback_dialed", seq, agent=agent.id, attempt=attempt)
        again = f" Try {attempt}." if attempt > 1 else ""
        response.say(f"Calling back {spoken_number(request.number)}.{again} {briefing}")
        caller_id = state.dialed if state is not None and state.dialed.startswith("+") else None
        ids = {"cb": str(claimed.id), "call": request.call_sid, "n": str(attempt)}
        dial = DialVerb(
            action=_url("callback-done", **ids),
            method="POST",
            timeout=30,
            caller_id=caller_id,
        )
        dial.number(
            request.number,
            url=_url("callback-answered", **ids),
            method="POST",
        )
        response.append(dial)
        return str(response)

    def connected(self, req: TwilioRequest, agent_id: str) -> str:
        """Requested for the queued caller just before the bridge: a person is on the line."""
        state = self.voice.log.load(req.get("CallSid"))
        if state is not None:
            self._append(
                state,
                "agent_connected",
                AGENT_CONNECTED,
                agent=agent_id,
                queue=(state.route or "").removeprefix("queue:"),
                waited=req.get("QueueTime"),
                agent_call=req.get("DequeingCallSid"),
            )
        response = VoiceResponse()
        response.say("Thank you for waiting. Connecting you now.")
        return str(response)

    def callback_answered(
        self, req: TwilioRequest, callback_id: str, call_sid: str, attempt: str = "1"
    ) -> str:
        """Requested on the customer's leg once they answer the callback."""
        state = self.voice.log.load(call_sid)
        response = VoiceResponse()
        if state is not None:
            self._append(
                state,
                "callback_connected",
                callback_seq(_int(callback_id), _int(attempt), 1),
                callback_call=req.get("CallSid"),  # the customer's leg: links the two calls
                agent_call=req.get("ParentCallSid"),
            )
            loaded = self.voice.flow_of(state)
            name = loaded.flow.id if loaded else "us"
            response.say(
                f"Hello, this is {name} calling you back as you asked.", language=state.locale
            )
        return str(response)

    def callback_done(
        self, req: TwilioRequest, callback_id: str, call_sid: str, attempt_text: str = "1"
    ) -> str:
        """The agent's dial to the customer ended: done, or (not reached) tried again later
        on the queue's `callback.retry` schedule, keeping its place in line; failed after
        the last try. The same request again writes nothing twice."""
        status = req.get("DialCallStatus")
        state = self.voice.log.load(call_sid)
        cb, attempt = _int(callback_id), max(1, _int(attempt_text))
        now = self.voice.clock()
        if status in REACHED:
            self.voice.log.finish_callback(cb, "completed", now)
            return self.next_offer()
        waits = self._retry_waits(state, cb)
        if attempt <= len(waits):
            retry_at = now + timedelta(seconds=waits[attempt - 1])
            self.voice.log.finish_callback(cb, "pending", now, retry_at)
            if state is not None:
                self._append(
                    state,
                    "callback_retry",
                    callback_seq(cb, attempt, 2),
                    status=status,
                    attempts=attempt,
                    retry_at=retry_at.isoformat(),
                )
            minutes = max(1, round(waits[attempt - 1] / 60))
            return self.next_offer(note=f"No answer. We will try again in {minutes} minutes.")
        self.voice.log.finish_callback(cb, "failed", now)
        if state is not None:
            self._append(
                state,
                "callback_failed",
                callback_seq(cb, attempt, 2),
                status=status,
                attempts=attempt,
            )
        return self.next_offer(note=f"No answer after {attempt} tries. That callback has failed.")

    def _retry_waits(self, state: CallState | None, callback_id: int) -> list[float]:
        """The queue's retry schedule, from the flow version the call started on."""
        loaded = self.voice.flow_of(state) if state is not None else None
        found = self.voice.log.callbacks_for(state.call_sid) if state is not None else []
        queue = next((c.request.queue for c in found if c.id == callback_id), None)
        if loaded is None or queue is None:
            return list(DEFAULT_CALLBACK_RETRY)
        offer = loaded.flow.queue(queue).callback
        return list(offer.retry) if offer is not None else list(DEFAULT_CALLBACK_RETRY)

    def next_offer(self, _: TwilioRequest | None = None, note: str = "") -> str:
        response = VoiceResponse()
        if note:
            response.say(note)
        gather = Gather(num_digits=1, action=_url("agent"), method="POST", timeout=3)
        gather.say("Stay on the line, or press 1, for the next caller. Hang up to stop.")
        response.append(gather)
        response.redirect(_url("agent"), method="POST")
        return str(response)

    @staticmethod
    def failed(_: TwilioRequest, reason: str) -> str:
        """An agent-side error: tell the agent plainly; callers are not affected."""
        response = VoiceResponse()
        response.say("Sorry, the agent line had a problem. Please call it again.")
        response.hangup()
        return str(response)

    @staticmethod
    def bridge_anyway(_: TwilioRequest, reason: str) -> str:
        """Just before a bridge, logging failed: connect the two people regardless."""
        return str(VoiceResponse())


def _int(text: str) -> int:
    return int(text) if text.isdigit() and len(text) < 12 else 0
