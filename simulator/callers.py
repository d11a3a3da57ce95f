"""Simulated callers and agents: the people of a contact-centre simulation.

A caller understands what they hear as a person would: they recognise the flow's menu or
question from its words (the flow file is what they would have heard), pick an option
by the given weights, by key or by voice, and give up after their patience runs out.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from flows.model import VARIABLE_RE, AskNode, Flow, MenuNode, prompt_texts
from flows.phrases import escape_phrases
from simulator.distributions import Distribution
from simulator.people import HANG_UP, Prompt, Turn
from simulator.twiml_rules import MAIN, WAIT


def recognise(flow: Flow, heard: str) -> str | None:
    """The menu or ask node whose prompt the caller just heard (its fixed words, the
    {variables} aside), the longest match winning; None for anything else."""
    best: tuple[int, str] | None = None
    for name, node in flow.nodes.items():
        if isinstance(node, MenuNode):
            prompt = node.menu.prompt
        elif isinstance(node, AskNode):
            prompt = node.ask.prompt
        else:
            continue
        for text in prompt_texts(prompt):
            pieces = [p.strip() for p in VARIABLE_RE.split(text)[::2] if p.strip()]
            if pieces and all(p in heard for p in pieces):
                size = sum(map(len, pieces))
                if best is None or size > best[0]:
                    best = (size, name)
    return best[1] if best else None


@dataclass
class Behaviour:
    """What callers of one simulation do; shared by all of them, with one RNG."""

    flow: Flow
    rng: random.Random
    choices: Mapping[str, float] = field(default_factory=dict)  # key or node.key -> weight
    speech_share: float = 0.0
    patience: Distribution | None = None
    callback_acceptance: float = 0.0
    think: float = 1.0  # seconds between the end of a prompt and the answer


@dataclass(eq=False)
class SimCaller:
    behaviour: Behaviour
    number: str
    asked_callback: bool = False
    offered: bool = False
    declined: bool = False
    menus: list[str] = field(default_factory=list)

    def turn(self, prompt: Prompt) -> Turn:
        b = self.behaviour
        if prompt.context == WAIT:
            return self._waiting(prompt)
        if prompt.context != MAIN:
            return Turn.silence()
        name = recognise(b.flow, prompt.heard)
        node = b.flow.nodes.get(name) if name else None
        if isinstance(node, MenuNode) and name:
            self.menus.append(name)
            return self._menu(name, node)
        if isinstance(node, AskNode):
            return self._ask(node)
        return Turn(digits=b.flow.escape.digits, after=b.think)  # lost: ask for a person

    def _menu(self, name: str, node: MenuNode) -> Turn:
        b = self.behaviour
        escape = b.flow.escape.digits
        options = {o.digit: o for o in node.menu.options if o.digit}
        keys = [*options, escape, HANG_UP]
        weights = [b.choices.get(f"{name}.{k}", b.choices.get(k, 0.0)) for k in keys]
        if sum(weights) <= 0:
            weights = [1.0] * len(options) + [0.0, 0.0]
        key = b.rng.choices(keys, weights)[0]
        if key == HANG_UP:
            return Turn(hang_up=True, after=b.think)
        if b.rng.random() < b.speech_share:
            phrases = options[key].phrases if key in options else escape_phrases(b.flow.locale)
            if phrases:
                return Turn(speech=phrases[0], after=b.think)
        return Turn(digits=key, after=b.think)

    def _ask(self, node: AskNode) -> Turn:
        b = self.behaviour
        digits = node.ask.digits
        if digits is None:
            hints = node.ask.speech.hints if node.ask.speech else []
            return Turn(speech=hints[0] if hints else "yes", after=b.think)
        size = b.rng.randint(digits.min, digits.max)
        keyed = "".join(b.rng.choice("123456789") for _ in range(size))
        return Turn(digits=keyed + digits.finish_key, after=b.think)

    def _waiting(self, prompt: Prompt) -> Turn:
        b = self.behaviour
        if self.asked_callback:
            return Turn.silence()  # "press a number, or wait to keep yours": keep it
        if not self.offered:
            self.offered = True
            self.declined = b.rng.random() >= b.callback_acceptance
        if self.declined:
            return Turn.silence()
        queue = b.flow.queues.get(prompt.queue or "")
        digit = queue.callback.digit if queue and queue.callback else "1"
        self.asked_callback = True
        return Turn(digits=digit, after=b.think)

    def patience(self) -> float | None:
        b = self.behaviour
        return b.patience.sample(b.rng) if b.patience else None

    def gives_up(self) -> bool:
        return not self.asked_callback

    def talk_seconds(self) -> float:
        return 0.0  # the agent's handle time sets the length of the conversation

    def record_seconds(self) -> float:
        return 20.0


@dataclass(eq=False)
class SimAgent:
    """An agent on the agent line: takes the next caller at once while on shift."""

    phone: str
    queues: tuple[str, ...]
    handle: Distribution
    rng: random.Random
    shift_end: float
    clock: Callable[[], float]  # the simulation's time, in seconds
    calls: int = 0
    idle: bool = False  # off the line, watching the wallboard

    def on_shift(self) -> bool:
        return self.clock() < self.shift_end

    def turn(self, prompt: Prompt) -> Turn:
        if not self.on_shift():
            return Turn(hang_up=True, after=0.0)
        return Turn(digits="1", after=0.0)

    def patience(self) -> float | None:
        return None

    def gives_up(self) -> bool:
        return False

    def talk_seconds(self) -> float:
        self.calls += 1
        return self.handle.sample(self.rng)

    def record_seconds(self) -> float:
        return 0.0
