"""The Twilio stand-in: places calls to the app over HTTP and runs the TwiML it answers.

Time is SimPy's: `simpy.Environment` runs as fast as the requests go (virtual time, for
simulations), `simpy.rt.RealtimeEnvironment` runs at the wall clock. Every wait a real
call has (speech, pauses, Gather timeouts, ringing, queues, conversations) is a timeout
in that environment, so thousands of calls can overlap in one thread.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import simpy

from simulator import twiml_rules
from simulator.legs import Dequeued, HangUp, Leg, Redial
from simulator.people import Party, Prompt, Scripted, Turn
from simulator.queues import Bridge, Queue
from simulator.twiml_rules import DEQUEUE, MAIN, WAIT, WHISPER
from simulator.webhooks import Webhooks

Wait = Generator[simpy.Event, Any, Any]
MAX_BURST = 50  # requests for one leg without a moment passing: the TwiML loops


@dataclass(frozen=True)
class Answer:
    """How a dialed number answers: after `ring` seconds, or not at all (`status`)."""

    status: str = "answered"  # or busy, no-answer, failed
    ring: float = 3.0
    party: Party | None = None


@dataclass(frozen=True)
class Request:
    url: str
    params: dict[str, str]
    method: str = "POST"


class _PersonHungUp(Exception):
    pass


class _Leave(Exception):
    pass


class _Ended(Exception):
    """The TwiML ended the call (<Hangup>, <Reject>)."""


Phonebook = Callable[[str, Leg], Answer]


class StandIn:
    def __init__(
        self,
        webhooks: Webhooks,
        env: simpy.Environment | None = None,
        *,
        start: datetime | None = None,
        phonebook: Phonebook | None = None,
        seconds_per_word: float = 0.4,
        play_seconds: float = 5.0,
        stops: Iterable[str] = (),
    ) -> None:
        self.webhooks = webhooks
        self.env = env or simpy.Environment()
        self.start = start or datetime.now(UTC)
        self.phonebook = phonebook or (lambda target, leg: Answer(party=Scripted()))
        self.seconds_per_word = seconds_per_word
        self.play_seconds = play_seconds
        self.stops = frozenset(stops)  # verbs at which a leg stops (old-style test calls)
        self.queues: dict[str, Queue] = {}
        self.legs: list[Leg] = []
        # Legs not ended yet, in the order they started (a dict: a set's order would make
        # seeded simulations differ from run to run).
        self.live: dict[Leg, None] = {}
        # Hooks for simulations. on_join: a caller joined a queue. on_left: a caller left
        # one (with Twilio's QueueResult). on_pause: a call holds on a <Pause>; a hook that
        # answers True makes the person hang up instead of holding.
        self.on_join: list[Callable[[Queue, Leg], None]] = []
        self.on_left: list[Callable[[Queue, Leg, str], None]] = []
        self.on_pause: list[Callable[[Leg], bool]] = []
        self.errors: list[str] = []
        self._bursts: dict[str, tuple[float, int]] = {}

    # --- time -------------------------------------------------------------------------
    def now(self) -> datetime:
        """The stand-in's clock as a date: inject it as the app's clock."""
        return self.start + timedelta(seconds=float(self.env.now))

    def run(self, until: float | None = None) -> None:
        self.env.run(until=until)

    # --- placing calls --------------------------------------------------------------------
    def new_sid(self, prefix: str = "CA") -> str:
        return f"{prefix}{uuid.uuid4().hex}"  # unique across stand-ins and processes

    def call(
        self,
        party: Party,
        *,
        caller: str = "+15555550100",
        called: str = "+15005550006",
        url: str = "/twilio/voice",
        status_callback: str | None = "/twilio/status",
        direction: str = "inbound",
    ) -> Leg:
        """A call comes in on `called`: Twilio requests `url` and runs the answer."""
        leg = Leg(
            self.new_sid(),
            caller,
            called,
            direction,
            party,
            self.webhooks.absolute(url),
            self.webhooks.absolute(status_callback) if status_callback else None,
            started=float(self.env.now),
        )
        self.legs.append(leg)
        self.live[leg] = None
        leg.process = self.env.process(self._run(leg))
        return leg

    def hang_up(self, leg: Leg, reason: str = "hung up") -> None:
        if leg.process is not None and leg.process.is_alive and leg.state != "ended":
            leg.process.interrupt(HangUp(reason))

    def redial(self, leg: Leg) -> None:
        if leg.process is not None and leg.process.is_alive and leg.state != "ended":
            leg.process.interrupt(Redial())

    def queue(self, name: str) -> Queue:
        if name not in self.queues:
            self.queues[name] = Queue(name, f"QU{len(self.queues) + 1:032d}")
        return self.queues[name]

    # --- one leg ----------------------------------------------------------------------
    def _run(self, leg: Leg) -> Wait:
        leg.state = "in-progress"
        redial = False
        try:
            request: Request | None = Request(leg.url, leg.params())
            while request is not None:
                root = self._fetch(leg, request, MAIN)
                request = yield from self._execute(leg, root, request.url, MAIN)
            leg.end = leg.end or "completed"
        except _Ended:
            leg.end = leg.end or "hangup"
        except _PersonHungUp:
            leg.end = leg.end or "hung-up"
        except simpy.Interrupt as interrupt:
            redial = isinstance(interrupt.cause, Redial)
            leg.end = "redialed" if redial else "hung-up"
        except twiml_rules.TwimlError as err:
            self.errors.append(str(err))
            leg.log.append(f"error: {err}")
            leg.end = "error"
            raise
        finally:
            self._finish(leg)
        if redial:
            self.call(
                leg.party,
                caller=leg.caller,
                called=leg.called,
                url=leg.url,
                status_callback=leg.status_callback,
                direction=leg.direction,
            )

    def _finish(self, leg: Leg) -> None:
        if leg.state == "ended":
            return
        if leg.queue is not None:
            leg.queue.leave(leg)
        leg.state = "ended"
        leg.ended = float(self.env.now)
        self.live.pop(leg, None)
        self._bursts.pop(leg.sid, None)
        if leg.status_callback:
            params = leg.params() | {
                "CallStatus": "completed",
                "CallDuration": str(round(leg.ended - leg.started)),
                "Timestamp": format_datetime(self.now()),
                "SequenceNumber": "0",
                "CallbackSource": "call-progress-events",
            }
            self.webhooks.post(leg.status_callback, params)

    def _fetch(self, leg: Leg, request: Request, context: str) -> ET.Element:
        at, burst = self._bursts.get(leg.sid, (-1.0, 0))
        burst = burst + 1 if at == self.env.now else 1
        self._bursts[leg.sid] = (float(self.env.now), burst)
        if burst > MAX_BURST:
            raise twiml_rules.TwimlError(
                f"{request.url}: call {leg.sid} made {MAX_BURST} requests without a moment "
                "passing; the TwiML loops"
            )
        leg.requests.append((request.url, request.params))
        text = self.webhooks.twiml(request.url, request.params, request.method)
        leg.documents.append(text)
        return twiml_rules.parse(text, request.url, context)

    def _seconds(self, text: str) -> float:
        return len(text.split()) * self.seconds_per_word

    def _execute(self, leg: Leg, root: ET.Element, url: str, context: str) -> Wait:
        """Run a document's verbs; the next request, or None when the document ran out."""
        for verb in root:
            tag = verb.tag
            if tag == "Say":
                text = "".join(verb.itertext()).strip()
                leg.heard.append(text)
                yield self.env.timeout(self._seconds(text) * _int(verb.get("loop"), 1))
            elif tag == "Play":
                leg.log.append(f"play {verb.text}")
                yield self.env.timeout(self.play_seconds * _int(verb.get("loop"), 1))
            elif tag == "Pause":
                if context == MAIN and any([hook(leg) for hook in self.on_pause]):
                    leg.log.append("hung up rather than hold")
                    raise _PersonHungUp
                previous, leg.state = leg.state, "paused" if context == MAIN else leg.state
                yield self.env.timeout(_int(verb.get("length"), 1))
                leg.state = previous
            elif tag == "Gather":
                request = yield from self._gather(leg, verb, url, context)
                if request is not None:
                    return request
            elif tag == "Redirect":
                return Request(self.webhooks.resolve(url, verb.text), leg.params(), _method(verb))
            elif tag == "Leave":
                raise _Leave
            elif tag == "Hangup" or tag == "Reject":
                leg.end = "hangup" if tag == "Hangup" else "rejected"
                raise _Ended
            elif tag == "Enqueue":
                return (yield from self._enqueue(leg, verb, url))
            elif tag == "Dial":
                request = yield from self._dial(leg, verb, url)
                if request is not None:
                    return request
            elif tag == "Record":
                return (yield from self._record(leg, verb, url))
        return None

    def _stop(self, leg: Leg, tag: str, end: str, verb: ET.Element, url: str) -> bool:
        if tag not in self.stops:
            return False
        leg.end = end
        leg.end_url = self.webhooks.resolve(url, verb.get("action")) if verb.get("action") else ""
        return True

    # --- Gather -----------------------------------------------------------------------
    def _gather(self, leg: Leg, verb: ET.Element, url: str, context: str) -> Wait:
        spoken: list[str] = []
        for child in verb:
            if child.tag == "Say":
                text = "".join(child.itertext()).strip()
                spoken.append(text)
                leg.heard.append(text)
                yield self.env.timeout(self._seconds(text) * _int(child.get("loop"), 1))
            elif child.tag == "Play":
                yield self.env.timeout(self.play_seconds)
            elif child.tag == "Pause":
                yield self.env.timeout(_int(child.get("length"), 1))
        kinds = (verb.get("input") or "dtmf").split()
        num_digits = _int(verb.get("numDigits"), 0) or None
        finish = verb.get("finishOnKey", "#")
        timeout = float(_int(verb.get("timeout"), 5))
        queue = leg.queue.name if leg.queue is not None else None
        prompt = Prompt(
            " ".join(spoken), context, url, " ".join(kinds), num_digits, finish, timeout, queue
        )
        turn = leg.party.turn(prompt)
        if turn.hang_up:
            yield self.env.timeout(turn.after)
            leg.log.append(f"hung up at a prompt: {prompt.heard[:60]}")
            leg.hung_up_in = "prompt" if context == MAIN else "queue"
            raise _PersonHungUp
        digits = _digits(turn, kinds, num_digits, finish)
        speech = turn.speech if "speech" in kinds and not turn.digits else ""
        action = self.webhooks.resolve(url, verb.get("action"))
        if not digits and not speech:
            yield self.env.timeout(timeout)
            if verb.get("actionOnEmptyResult") != "true":
                return None  # Twilio goes on with the next verb
            return Request(action, leg.params(), _method(verb))
        yield self.env.timeout(turn.after)
        params = leg.params()
        if digits:
            params["Digits"] = digits
        else:
            params |= {"SpeechResult": speech, "Confidence": "0.91"}
        leg.log.append(f"caller: {digits or speech}")
        return Request(action, params, _method(verb))

    # --- queues -----------------------------------------------------------------------
    def _enqueue(self, leg: Leg, verb: ET.Element, url: str) -> Wait:
        name = (verb.text or "").strip()
        if self._stop(leg, "Enqueue", f"queue:{name}", verb, url):
            leg.log.append(f"enqueue {name}")
            raise _Ended
        queue = self.queue(name)
        action = self.webhooks.resolve(url, verb.get("action")) if verb.get("action") else None
        wait = self.webhooks.resolve(url, verb.get("waitUrl")) if verb.get("waitUrl") else None
        joined = float(self.env.now)
        result = "bridged"
        if not queue.join(leg, joined):
            result = "queue-full"
        else:
            leg.queue, leg.state, leg.queued_at = queue, "queued", joined
            leg.log.append(f"queued in {name}")
            patience = leg.party.patience()
            if patience is not None:
                self.env.process(self._lose_patience(leg, queue, patience))
            for listener in self.on_join:
                listener(queue, leg)
            try:
                yield from self._wait_loop(leg, queue, wait, _method(verb, "waitUrlMethod"))
            except _Leave:
                result = "leave"
            except (_Ended, _PersonHungUp):  # <Hangup/> in the wait TwiML, or at its prompt
                result = "hangup"
            except simpy.Interrupt as interrupt:
                leg.left_queue_at = float(self.env.now)
                if isinstance(interrupt.cause, Dequeued):
                    queue.leave(leg)
                    yield from self._bridged(leg, queue, joined, interrupt.cause.bridge)
                    result = "bridged"
                else:
                    result = "hangup"
                    leg.hung_up_in = "queue"
                    leg.log.append(f"abandoned {name} after {self.env.now - joined:.0f}s")
            if leg.left_queue_at is None or leg.left_queue_at < joined:
                leg.left_queue_at = float(self.env.now)
            queue.leave(leg)
            leg.queue = None
            leg.state = "in-progress"
        leg.log.append(f"queue result {result}")
        leg.queue_result = result
        for hook in self.on_left:
            hook(queue, leg, result)
        hung_up = result in ("hangup", "bridged")  # the caller ends the call after a bridge
        if action is None:
            if hung_up:
                raise _PersonHungUp
            return None
        params = leg.params() | {
            "QueueResult": result,
            "QueueSid": queue.sid,
            "QueueTime": str(round(self.env.now - joined)),
        }
        request = Request(action, params, _method(verb))
        if hung_up:
            if result == "bridged":
                leg.end = "bridged"
            self.webhooks.twiml(request.url, request.params, request.method)  # answer unused
            leg.requests.append((request.url, request.params))
            raise _PersonHungUp
        return request

    def _lose_patience(self, leg: Leg, queue: Queue, patience: float) -> Wait:
        yield self.env.timeout(patience)
        if leg.state == "queued" and leg in queue.members and leg.party.gives_up():
            self.hang_up(leg, "patience")

    def _wait_loop(self, leg: Leg, queue: Queue, wait: str | None, method: str) -> Wait:
        while True:
            if wait is None:
                yield self.env.timeout(60)  # Twilio's hold music
                continue
            request: Request | None = Request(
                wait, leg.params() | queue.params(leg, self.env.now), method
            )
            while request is not None:
                root = self._fetch(leg, request, WAIT)
                following = yield from self._execute(leg, root, request.url, WAIT)
                request = None
                if following is not None:  # a Redirect or a Gather's action: still waiting
                    params = following.params | queue.params(leg, self.env.now)
                    request = Request(following.url, params, following.method)
            # The wait TwiML ran out: Twilio requests the wait URL again.

    def _bridged(self, leg: Leg, queue: Queue, joined: float, bridge: Bridge) -> Wait:
        leg.state = "bridging"
        if bridge.url:
            params = leg.params() | {
                "QueueSid": queue.sid,
                "QueueTime": str(round(self.env.now - joined)),
                "DequeingCallSid": bridge.agent.sid,
            }
            root = self._fetch(leg, Request(bridge.url, params, bridge.method), DEQUEUE)
            yield from self._execute(leg, root, bridge.url, DEQUEUE)
        leg.state, leg.bridged_at = "bridged", float(self.env.now)
        leg.log.append(f"bridged with {bridge.agent.caller}")
        bridge.ready.succeed()
        yield bridge.done

    # --- Dial ---------------------------------------------------------------------------
    def _dial(self, leg: Leg, verb: ET.Element, url: str) -> Wait:
        nouns = list(verb) or [ET.Element("Number")]
        if not len(verb):
            nouns[0].text = verb.text
        first = nouns[0]
        target = (first.text or "").strip()
        if first.tag == "Client" and not target.startswith("client:"):
            target = "client:" + target
        if self._stop(leg, "Dial", f"dial:{target}", verb, url):
            leg.log.append(f"dial {target}")
            raise _Ended
        timeout = float(_int(verb.get("timeout"), 30))
        started = float(self.env.now)
        if first.tag == "Queue":
            status, other = yield from self._dial_queue(leg, target, first, url)
        else:
            status, other = yield from self._dial_number(leg, target, first, url, timeout)
        leg.log.append(f"dial {target}: {status}")
        if not verb.get("action"):
            return None  # Twilio goes on with the next verb
        params = leg.params() | {
            "DialCallStatus": status,
            "DialCallSid": other or "",
            "DialCallDuration": str(round(self.env.now - started)),
            "DialBridged": "true" if status == "completed" else "false",
        }
        return Request(self.webhooks.resolve(url, verb.get("action")), params, _method(verb))

    def _dial_queue(self, leg: Leg, name: str, noun: ET.Element, url: str) -> Wait:
        member = self.queue(name).pop()
        if member is None or member.process is None:
            # Nobody to take (unconfirmed what Twilio reports here): the Dial ends at once.
            return "no-answer", None
        queue_url = self.webhooks.resolve(url, noun.get("url")) if noun.get("url") else None
        bridge = Bridge(leg, queue_url, _method(noun), self.env.event(), self.env.event())
        member.process.interrupt(Dequeued(bridge))
        leg.state = "bridging"
        yield bridge.ready
        leg.state = "bridged"
        yield self.env.timeout(max(leg.party.talk_seconds(), member.party.talk_seconds()))
        bridge.done.succeed()
        leg.state = "in-progress"
        return "completed", member.sid

    def _dial_number(
        self, leg: Leg, target: str, noun: ET.Element, url: str, timeout: float
    ) -> Wait:
        answer = self.phonebook(target, leg)
        yield self.env.timeout(min(answer.ring, timeout))
        if answer.status != "answered" or answer.ring > timeout or answer.party is None:
            return ("no-answer" if answer.status == "answered" else answer.status), None
        child = Leg(
            self.new_sid(),
            leg.caller,
            target,
            "outbound-dial",
            answer.party,
            url,
            parent=leg,
            started=float(self.env.now),
            state="in-progress",
        )
        self.legs.append(child)
        if noun.get("url"):
            whisper = self.webhooks.resolve(url, noun.get("url"))
            root = self._fetch(child, Request(whisper, child.params(), _method(noun)), WHISPER)
            try:
                yield from self._execute(child, root, whisper, WHISPER)
            except (_Ended, _PersonHungUp):
                child.state, child.end, child.ended = "ended", "hangup", float(self.env.now)
                return "no-answer", child.sid
        leg.state = child.state = "bridged"
        leg.bridged_at = child.bridged_at = float(self.env.now)
        leg.log.append(f"bridged with {target}")
        yield self.env.timeout(max(leg.party.talk_seconds(), answer.party.talk_seconds()))
        leg.state = "in-progress"
        child.state, child.end, child.ended = "ended", "completed", float(self.env.now)
        return "completed", child.sid

    # --- Record -------------------------------------------------------------------------
    def _record(self, leg: Leg, verb: ET.Element, url: str) -> Wait:
        if self._stop(leg, "Record", "record", verb, url):
            raise _Ended
        seconds = min(leg.party.record_seconds(), float(_int(verb.get("maxLength"), 3600)))
        yield self.env.timeout(seconds)
        sid = self.new_sid("RE")
        params = leg.params() | {
            "RecordingSid": sid,
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/{sid}",
            "RecordingDuration": str(round(seconds)),
            "Digits": "#",
        }
        leg.log.append(f"recorded {seconds:.0f}s")
        return Request(self.webhooks.resolve(url, verb.get("action")), params, _method(verb))


def _int(text: str | None, default: int) -> int:
    return int(text) if text and text.strip().isdigit() else default


def _method(verb: ET.Element, attribute: str = "method") -> str:
    return (verb.get(attribute) or "POST").upper()


def _digits(turn: Turn, kinds: list[str], num_digits: int | None, finish: str) -> str:
    if "dtmf" not in kinds or not turn.digits:
        return ""
    keys = turn.digits
    if finish and finish in keys:
        keys = keys[: keys.index(finish)]
    return keys[:num_digits] if num_digits else keys
