"""A contact-centre simulation through the real server: callers arrive (Poisson), walk the
menus, wait, give up or take a callback; agents on shifts answer them on the agent line.

Everything goes over HTTP through the stand-in, so the server's database ends up holding
what a real day would leave there, and the simulator keeps its own tally to compare.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

import simpy

from flows.model import Flow
from simulator.callers import Behaviour, SimAgent, SimCaller
from simulator.distributions import Distribution, Shift
from simulator.legs import Leg
from simulator.people import Scripted
from simulator.queues import Queue
from simulator.standin import Answer, StandIn, Wait

SHORT_ABANDON = 5.0  # seconds; the server leaves such calls out of rates the same way
POLL = 10.0
IDLE_CHECK = 120.0  # an idle agent looks again this often, callbacks included


@dataclass(frozen=True)
class Scenario:
    flow: Flow
    calls_per_hour: float
    duration: float  # seconds during which callers arrive
    handle: Distribution
    shifts: tuple[Shift, ...] = (Shift(2),)
    choices: Mapping[str, float] = field(default_factory=dict)
    speech_share: float = 0.0
    patience: Distribution | None = None
    callback_acceptance: float = 0.0
    callback_answer: float = 1.0
    seed: int = 1
    dialed: str | None = None
    agent_line: str = "+15005550099"
    drain: float = 4 * 3600.0  # how long calls still in progress may take after arrivals stop


@dataclass(frozen=True)
class QueueVisit:
    """One caller's time in a queue."""

    arrived: float  # when the call started
    waited: float  # seconds in the queue
    abandoned: bool  # hung up there


@dataclass
class Tally:
    """What the simulated callers did, counted on the simulator's side."""

    calls: int = 0
    short_abandons: int = 0
    abandoned_menu: int = 0
    abandoned_queue: int = 0
    callbacks_requested: int = 0
    callbacks_connected: int = 0
    reached_agent: int = 0  # live, from the queue
    queued: int = 0
    queue_seconds: float = 0.0  # time in queue, all queued callers
    waits_to_agent: list[float] = field(default_factory=list)
    visits: list[QueueVisit] = field(default_factory=list)  # in order of arrival
    requests: int = 0
    simulated_seconds: float = 0.0

    @property
    def abandonment_rate(self) -> float:
        counted = self.calls - self.short_abandons
        return (self.abandoned_menu + self.abandoned_queue) / counted if counted else 0.0

    @property
    def queue_abandonment(self) -> float:
        """Abandons in the queue over callers who queued (Erlang-A's P(abandon))."""
        return self.abandoned_queue / self.queued if self.queued else 0.0

    @property
    def mean_queue_wait(self) -> float:
        return self.queue_seconds / self.queued if self.queued else 0.0

    def lines(self) -> list[str]:
        waits = sorted(self.waits_to_agent)
        p50 = waits[len(waits) // 2] if waits else 0.0
        return [
            f"calls                 {self.calls}",
            f"short abandons        {self.short_abandons}",
            f"abandoned in menus    {self.abandoned_menu}",
            f"abandoned in queue    {self.abandoned_queue}",
            f"abandonment rate      {self.abandonment_rate:.1%}",
            f"reached an agent      {self.reached_agent}",
            f"callbacks requested   {self.callbacks_requested}",
            f"callbacks connected   {self.callbacks_connected}",
            f"mean time in queue    {self.mean_queue_wait:.1f} s",
            f"median wait to agent  {p50:.1f} s",
            f"webhook requests      {self.requests}",
            f"simulated time        {self.simulated_seconds / 60:.1f} min",
        ]


class Simulation:
    def __init__(self, scenario: Scenario, standin: StandIn) -> None:
        self.scenario = scenario
        self.standin = standin
        self.env: simpy.Environment = standin.env
        self.rng = random.Random(scenario.seed)
        self.behaviour = Behaviour(
            scenario.flow,
            random.Random(self.rng.random()),
            scenario.choices,
            scenario.speech_share,
            scenario.patience,
            scenario.callback_acceptance,
        )
        self.callers: dict[str, SimCaller] = {}
        self.agents: list[SimAgent] = []
        self.callbacks_dialed = 0
        self.dialed = scenario.dialed or (scenario.flow.numbers or ["+15005550006"])[0]
        standin.phonebook = self._answer
        standin.on_join.append(lambda queue, _: self._wallboard(queue.name))
        standin.on_left.append(self._left)
        standin.on_pause.append(self._idle)

    def run(self) -> Tally:
        start = float(self.env.now)
        self.env.process(self._arrivals())
        for shift in self.scenario.shifts:
            for _ in range(shift.agents):
                self.env.process(self._agent(shift))
        done = self.env.process(self._drain())
        self.env.run(until=done)
        return self.tally(float(self.env.now) - start)

    # --- people -----------------------------------------------------------------------
    def _arrivals(self) -> Wait:
        rate = self.scenario.calls_per_hour / 3600
        rng = random.Random(self.rng.random())
        while rate > 0:
            yield self.env.timeout(rng.expovariate(rate))
            if self.env.now >= self.scenario.duration:
                return
            number = f"+1555{len(self.callers) + 1:07d}"
            caller = SimCaller(self.behaviour, number)
            self.callers[number] = caller
            self.standin.call(caller, caller=number, called=self.dialed)

    def _agent(self, shift: Shift) -> Wait:
        roster = [a for a in self.scenario.flow.agents if a.phone or a.client]
        if not roster:
            raise ValueError(f"flow '{self.scenario.flow.id}' lists no agents to simulate")
        who = roster[len(self.agents) % len(roster)]
        agent = SimAgent(
            who.phone or f"client:{who.client}",
            tuple(who.queues),
            self.scenario.handle,
            random.Random(self.rng.random()),
            min(shift.end, self.scenario.duration + self.scenario.drain),
            lambda: float(self.env.now),
        )
        self.agents.append(agent)
        yield self.env.timeout(shift.start)
        self._dial_in(agent)
        while agent.on_shift():
            yield self.env.timeout(IDLE_CHECK)
            if agent.idle and agent.on_shift():
                self._dial_in(agent)

    def _dial_in(self, agent: SimAgent) -> None:
        agent.idle = False
        # The agent line is configured with a voice URL only, no status callback.
        self.standin.call(
            agent,
            caller=agent.phone,
            called=self.scenario.agent_line,
            url="/twilio/agent",
            status_callback=None,
        )

    def _idle(self, leg: Leg) -> bool:
        """Nobody is waiting: the agent hangs up and watches the wallboard instead of
        holding on the agent line, so a new caller is answered at once."""
        if isinstance(leg.party, SimAgent):
            leg.party.idle = True
            return True
        return False

    def _wallboard(self, queue: str) -> None:
        for agent in self.agents:
            if agent.idle and queue in agent.queues and agent.on_shift():
                self._dial_in(agent)
                return

    def _left(self, queue: Queue, leg: Leg, result: str) -> None:
        if result == "leave":  # maybe a callback was booked: someone should place it
            self._wallboard(queue.name)

    def _answer(self, target: str, leg: Leg) -> Answer:
        rng = self.behaviour.rng
        if target in self.callers:  # a callback reaching one of our callers
            self.callbacks_dialed += 1
            if rng.random() < self.scenario.callback_answer:
                return Answer(ring=5.0, party=Scripted())
            return Answer(status="no-answer", ring=30.0)
        return Answer(ring=5.0, party=Scripted(talk=self.scenario.handle.sample(rng)))

    @staticmethod
    def _took_callback(leg: Leg) -> bool:
        """The caller asked for a callback and left the queue with it booked."""
        return (
            isinstance(leg.party, SimCaller)
            and leg.party.asked_callback
            and leg.queue_result == "leave"
        )

    def _drain(self) -> Wait:
        yield self.env.timeout(self.scenario.duration)
        limit = self.scenario.duration + self.scenario.drain
        while self.env.now < limit and (
            any(
                isinstance(leg.party, SimCaller) or leg.state == "bridged"
                for leg in self.standin.live
            )
            or self.callbacks_dialed < sum(map(self._took_callback, self.standin.legs))
        ):
            yield self.env.timeout(POLL)
        for agent in self.agents:
            agent.shift_end = min(agent.shift_end, float(self.env.now))
        for leg in list(self.standin.live):
            self.standin.hang_up(leg, "simulation over")
        while self.standin.live:  # the last status callbacks
            yield self.env.timeout(1.0)

    # --- counting -----------------------------------------------------------------------
    def tally(self, seconds: float) -> Tally:
        tally = Tally(requests=self.standin.webhooks.sent, simulated_seconds=seconds)
        for leg in self.standin.legs:
            caller = leg.party
            if leg.direction == "outbound-dial" and leg.called in self.callers:
                tally.callbacks_connected += leg.bridged_at is not None
                continue
            if not isinstance(caller, SimCaller):
                continue
            tally.calls += 1
            lasted = (leg.ended or float(self.env.now)) - leg.started
            if leg.hung_up_in and lasted < SHORT_ABANDON:
                tally.short_abandons += 1
            elif leg.hung_up_in == "prompt":
                tally.abandoned_menu += 1
            elif leg.hung_up_in == "queue":
                tally.abandoned_queue += 1
            tally.callbacks_requested += self._took_callback(leg)
            if leg.queued_at is not None:
                tally.queued += 1
                left = leg.left_queue_at if leg.left_queue_at is not None else leg.ended
                waited = (left or float(self.env.now)) - leg.queued_at
                tally.queue_seconds += waited
                tally.visits.append(QueueVisit(leg.started, waited, leg.hung_up_in == "queue"))
            if leg.bridged_at is not None and leg.queued_at is not None:
                tally.reached_agent += 1
                tally.waits_to_agent.append(leg.bridged_at - leg.queued_at)
        return tally
