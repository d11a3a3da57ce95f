"""Problems found in a flow file, each located at the key or value it is about."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]
Loc = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int  # 1-based
    col: int  # 1-based
    code: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        prefix = "" if self.severity == "error" else "warning: "
        return f"{self.path}:{self.line}:{self.col}: {self.code} {prefix}{self.message}"


class FlowError(Exception):
    """A flow file that cannot be served; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
