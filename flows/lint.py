"""Lint rules that keep a flow from trapping callers (placeholder: being written)."""

from __future__ import annotations

from dataclasses import dataclass

from flows.model import Flow
from flows.problems import Loc, Severity


@dataclass(frozen=True)
class Finding:
    loc: Loc
    code: str
    message: str
    severity: Severity = "error"
    at_key: bool = False


def lint(flow: Flow) -> list[Finding]:
    return []
