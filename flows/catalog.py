"""Several flow files loaded together, as `ivr serve --flows` and `ivr lint` take them:
each file checked alone, then ids and dialed numbers checked across files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flows.loader import LoadedFlow, check_text, flow_files, read_flow_text
from flows.problems import FlowError, Problem


@dataclass(frozen=True)
class Catalog:
    flows: tuple[LoadedFlow, ...]
    # Versions served before a reload, by (flow id, version): calls in progress finish on
    # the version they started on (see flows.versions).
    earlier: Mapping[tuple[str, str], LoadedFlow] = field(default_factory=dict, compare=False)

    def for_number(self, dialed: str) -> LoadedFlow | None:
        """The flow answering a dialed number, else the default flow (one with no numbers)."""
        for loaded in self.flows:
            if dialed in loaded.flow.numbers:
                return loaded
        return next((f for f in self.flows if not f.flow.numbers), None)

    def by_id(self, flow_id: str) -> LoadedFlow | None:
        return next((f for f in self.flows if f.flow.id == flow_id), None)

    def version_of(self, flow_id: str, version: str) -> LoadedFlow | None:
        """That exact version of a flow, served now or before a reload."""
        current = self.by_id(flow_id)
        if current is not None and current.version == version:
            return current
        return self.earlier.get((flow_id, version))

    def for_call(self, flow_id: str, version: str) -> LoadedFlow | None:
        """The flow a call in progress runs on: the version it started on, else (another
        host's newer edit, or a version forgotten after a restart) the one served now."""
        return self.version_of(flow_id, version) or self.by_id(flow_id)


def check_paths(targets: list[str]) -> tuple[list[LoadedFlow], list[Problem]]:
    """Every problem in the given files and folders (warnings included) and the good flows."""
    loaded: list[LoadedFlow] = []
    problems: list[Problem] = []
    for target in targets:
        files = flow_files(target)
        if not files:
            problems.append(Problem(target, 1, 1, "F109", "no *.yaml flow files in this folder"))
        for shown in files:
            try:
                text = read_flow_text(Path(shown), shown)
            except FlowError as err:
                problems.extend(err.problems)
                continue
            flow, found = check_text(text, shown)
            problems.extend(found)
            if flow is not None:
                loaded.append(flow)
    problems.extend(_clashes(loaded))
    return loaded, sorted(problems)


def _clashes(loaded: list[LoadedFlow]) -> list[Problem]:
    problems: list[Problem] = []
    ids: dict[str, LoadedFlow] = {}
    numbers: dict[str, LoadedFlow] = {}
    default: LoadedFlow | None = None
    for item in loaded:
        flow = item.flow
        if flow.id in ids:
            line, col = item.source.locate(("id",))
            problems.append(
                Problem(
                    item.path,
                    line,
                    col,
                    "F110",
                    f"flow id '{flow.id}' is already used by {ids[flow.id].path}",
                )
            )
        ids.setdefault(flow.id, item)
        for i, number in enumerate(flow.numbers):
            if number in numbers:
                line, col = item.source.locate(("numbers", i))
                problems.append(
                    Problem(
                        item.path,
                        line,
                        col,
                        "F111",
                        f"the number {number} is already answered by {numbers[number].path}",
                    )
                )
            numbers.setdefault(number, item)
        if not flow.numbers:
            if default is not None:
                line, col = item.source.locate(("id",))
                problems.append(
                    Problem(
                        item.path,
                        line,
                        col,
                        "F112",
                        f"two default flows (no `numbers`): this one and {default.path}; "
                        "give one of them the numbers it answers",
                    )
                )
            default = default or item
    return problems


def load_catalog(targets: list[str]) -> Catalog:
    """The flows to serve; raises FlowError (errors only) if any file is not servable."""
    loaded, problems = check_paths(targets)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise FlowError(errors)
    return Catalog(tuple(loaded))
