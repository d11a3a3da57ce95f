"""The flows a server serves, across reloads: a new valid version takes new calls, calls
in progress keep the version they started on, an invalid edit changes nothing.

`ServedFlows` is plain logic with a lock: what triggers a reload (a file watcher, SIGHUP,
a test) lives elsewhere.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from flows.catalog import Catalog, check_paths
from flows.loader import LoadedFlow
from flows.problems import FlowError, Problem

KEEP_VERSIONS = 20  # per flow id: a call outlives a few edits, not twenty


@dataclass(frozen=True)
class Reload:
    """What one reload did."""

    accepted: bool
    problems: tuple[Problem, ...]  # errors (refused) or warnings (accepted)
    changed: tuple[LoadedFlow, ...] = ()  # new versions now taking new calls
    removed: tuple[str, ...] = ()  # flow ids no longer taking new calls

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")


def next_catalog(previous: Catalog, loaded: list[LoadedFlow], keep: int = KEEP_VERSIONS) -> Catalog:
    """The catalog after a good reload: `loaded` serves new calls, and every version served
    before stays reachable by (id, version), the newest `keep` per flow id."""
    earlier = dict(previous.earlier)
    for old in previous.flows:
        earlier.pop((old.flow.id, old.version), None)
        earlier[(old.flow.id, old.version)] = old  # re-inserted: dicts keep insertion order
    serving = {(f.flow.id, f.version) for f in loaded}
    kept: dict[tuple[str, str], LoadedFlow] = {}
    counts: dict[str, int] = {}
    for key in reversed(list(earlier)):
        if key in serving:
            continue
        counts[key[0]] = counts.get(key[0], 0) + 1
        if counts[key[0]] <= keep:
            kept[key] = earlier[key]
    return Catalog(tuple(loaded), dict(reversed(list(kept.items()))))


class ServedFlows:
    """The flow files given to `ivr serve`, loaded once and reloaded on demand."""

    def __init__(self, targets: list[str], keep: int = KEEP_VERSIONS) -> None:
        self.targets = list(targets)
        self.keep = keep
        self._lock = threading.Lock()
        loaded, problems = check_paths(self.targets)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise FlowError(errors)
        self._catalog = Catalog(tuple(loaded))
        self.warnings = tuple(problems)

    def catalog(self) -> Catalog:
        """The catalog now; a plain read, so request handlers never wait for a reload."""
        return self._catalog

    def reload(self) -> Reload:
        with self._lock:
            loaded, problems = check_paths(self.targets)
            errors = tuple(p for p in problems if p.severity == "error")
            if errors:
                return Reload(False, errors)
            before = self._catalog
            now = {(f.flow.id, f.version) for f in before.flows}
            changed = tuple(f for f in loaded if (f.flow.id, f.version) not in now)
            ids = {f.flow.id for f in loaded}
            removed = tuple(f.flow.id for f in before.flows if f.flow.id not in ids)
            self._catalog = next_catalog(before, loaded, self.keep)
            return Reload(True, tuple(problems), changed, removed)
