"""Read a flow file into a checked `LoadedFlow`, or fail with every located problem."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from flows.lint import lint
from flows.model import Flow
from flows.problems import FlowError, Problem
from flows.schema_errors import schema_problems
from flows.yaml_reader import SourceMap, read_yaml


@dataclass(frozen=True)
class LoadedFlow:
    flow: Flow
    path: str
    version: str  # content hash: the same text is the same version, on every host
    source: SourceMap = field(compare=False, repr=False)
    warnings: tuple[Problem, ...] = ()


def flow_version(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def check_text(text: str, path: str) -> tuple[LoadedFlow | None, list[Problem]]:
    """Every problem of a flow's text (errors and warnings); the flow if it has no error."""
    document, problems = read_yaml(text, path)
    if document is None or not isinstance(document.data, dict):
        return None, sorted(problems)
    try:
        flow = Flow.model_validate(document.data)
    except ValidationError as err:
        # Report the schema's findings too, except where the YAML reader already spoke.
        taken = {(p.line, p.col) for p in problems}
        found = schema_problems(err, document.data, document.source, path)
        return None, sorted([*problems, *(p for p in found if (p.line, p.col) not in taken)])
    if problems:
        return None, sorted(problems)
    found = [
        Problem(path, *document.source.locate(f.loc, key=f.at_key), f.code, f.message, f.severity)
        for f in lint(flow)
    ]
    warnings = tuple(sorted(p for p in found if p.severity == "warning"))
    if any(p.severity == "error" for p in found):
        return None, sorted(found)
    return LoadedFlow(flow, path, flow_version(text), document.source, warnings), list(warnings)


def load_text(text: str, path: str = "<flow>") -> LoadedFlow:
    loaded, problems = check_text(text, path)
    if loaded is None:
        raise FlowError(problems)
    return loaded


def read_flow_text(path: Path, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise FlowError(
            [Problem(shown, 1, 1, "F109", f"the file is not UTF-8 text ({err.reason})")]
        ) from None
    except OSError as err:
        raise FlowError(
            [Problem(shown, 1, 1, "F109", f"cannot read the file: {err.strerror}")]
        ) from None


def load_path(path: str | Path) -> LoadedFlow:
    shown = str(path)
    return load_text(read_flow_text(Path(path), shown), shown)


def flow_files(target: str | Path) -> list[str]:
    """A flow file, or the `*.yaml` / `*.yml` files of a folder (recursively), sorted,
    spelled the way the user gave the folder (`./flows/a.yaml` stays `./flows/a.yaml`)."""
    root = Path(target)
    if root.is_dir():
        found = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        return [os.path.join(str(target), str(p.relative_to(root))) for p in found]
    return [str(target)]
