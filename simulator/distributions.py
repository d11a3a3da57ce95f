"""Random durations and agents' shifts.

Durations: patience, handle times. Written `exp:120`, `fixed:30`, `uniform:10-50`,
or a bare number of seconds for an exponential distribution with that mean."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

KINDS = ("exp", "fixed", "uniform")


@dataclass(frozen=True)
class Distribution:
    kind: str
    low: float
    high: float = 0.0

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2 if self.kind == "uniform" else self.low

    def sample(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.low
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high)
        return rng.expovariate(1 / self.low) if self.low > 0 else 0.0

    @classmethod
    def parse(cls, text: str) -> Distribution:
        kind, _, value = text.partition(":") if ":" in text else ("exp", "", text)
        try:
            if kind == "uniform":
                low, _, high = value.partition("-")
                dist = cls(kind, float(low), float(high))
                if dist.high < dist.low:
                    raise ValueError
            elif kind in KINDS:
                dist = cls(kind, float(value))
            else:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"'{text}' is not a duration distribution; write e.g. 120, exp:120, "
                "fixed:30 or uniform:10-50 (seconds)"
            ) from None
        if dist.low < 0:
            raise ValueError(f"'{text}': durations cannot be negative")
        return dist


@dataclass(frozen=True)
class Shift:
    agents: int
    start: float = 0.0
    end: float = math.inf

    @classmethod
    def parse(cls, text: str) -> Shift:
        """`5` (all the time) or `5@0-3600` (five agents from 0 s to 3600 s)."""
        count, _, window = text.partition("@")
        try:
            if not window:
                return cls(int(count))
            start, _, end = window.partition("-")
            shift = cls(int(count), float(start), float(end))
        except ValueError:
            raise ValueError(f"'{text}' is not a shift; write 5 or 5@0-3600") from None
        if shift.end <= shift.start or shift.agents < 0:
            raise ValueError(f"'{text}': a shift needs agents >= 0 and start < end")
        return shift
