"""The people on the phone: what they answer at a prompt, how long they wait and talk.

The stand-in asks a `Party` whenever a person would act: at a `<Gather>`, when they join
a queue (patience), when a bridge starts (how long they talk), at a `<Record>`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

HANG_UP = "hangup"  # a scripted turn, and the choice weight key, for hanging up


@dataclass(frozen=True)
class Turn:
    """What a person does at a prompt, `after` seconds once the prompt is said."""

    digits: str = ""
    speech: str = ""
    hang_up: bool = False
    after: float = 1.0

    @staticmethod
    def silence() -> Turn:
        return Turn()

    @staticmethod
    def parse(text: str) -> Turn:
        """A scripted turn: keys (`123#`), words, '' for silence, or `hangup`."""
        text = text.strip()
        if text == HANG_UP:
            return Turn(hang_up=True, after=0.0)
        if text and set(text) <= set("0123456789*#"):
            return Turn(digits=text)
        return Turn(speech=text)


@dataclass(frozen=True)
class Prompt:
    """A `<Gather>` as the person meets it."""

    heard: str  # what the Gather's Say verbs spoke
    context: str  # the place the TwiML came from (simulator.twiml_rules.MAIN, WAIT, ...)
    url: str  # the URL whose answer held the Gather
    input: str  # "dtmf", "speech" or "dtmf speech"
    num_digits: int | None
    finish_on_key: str
    timeout: float
    queue: str | None = None  # the queue the person is waiting in, at a wait-URL prompt


class Party(Protocol):
    """A person on one leg of a call."""

    def turn(self, prompt: Prompt) -> Turn: ...

    def patience(self) -> float | None:
        """Seconds they stay in a queue before hanging up (None: for ever)."""
        ...

    def gives_up(self) -> bool:
        """Their patience ran out: do they hang up now? (False: they took a callback and
        are only waiting to hear it confirmed.)"""
        ...

    def talk_seconds(self) -> float:
        """How long they keep a conversation going once bridged to someone."""
        ...

    def record_seconds(self) -> float: ...


@dataclass
class Scripted:
    """Answers prompts from a list of turns; once they run out, hangs up at the next one."""

    turns: Iterable[str] = ()
    wait: float | None = None
    talk: float = 0.0
    message: float = 8.0
    prompts: list[Prompt] = field(default_factory=list)
    _left: Iterator[str] | None = None

    def turn(self, prompt: Prompt) -> Turn:
        self.prompts.append(prompt)
        if self._left is None:
            self._left = iter(self.turns)
        text = next(self._left, None)
        return Turn(hang_up=True, after=0.0) if text is None else Turn.parse(text)

    def patience(self) -> float | None:
        return self.wait

    def gives_up(self) -> bool:
        return True

    def talk_seconds(self) -> float:
        return self.talk

    def record_seconds(self) -> float:
        return self.message
