"""A strict YAML reader that keeps the line and column of every key and value.

It reads YAML the way a person reads it (the YAML 1.2 core schema): only `true`/`false`
are booleans, only decimal numbers are numbers, dates and `20:00` stay text. The YAML 1.1
words whose meaning differs between tools (`yes`, `no`, `on`, `off`, `y`, `n`) are refused
rather than guessed, as are non-text keys, duplicate keys, anchors, custom tags and files
too large or too deeply nested to be a hand-written flow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from flows.problems import Loc, Problem

MAX_BYTES = 1_000_000
MAX_DEPTH = 40
MAX_NODES = 100_000

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
SEQ = "tag:yaml.org,2002:seq"
MAP = "tag:yaml.org,2002:map"
AMBIGUOUS = "!ambiguous-yaml-1.1"
ALLOWED_TAGS = {STR, INT, FLOAT, BOOL, NULL, SEQ, MAP}


class _AliasRefused(yaml.MarkedYAMLError):
    pass


class StrictLoader(yaml.SafeLoader):
    """SafeLoader with the YAML 1.2 core resolvers and no aliases."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012  (PyYAML reads it per class)

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise _AliasRefused(
                None,
                None,
                "anchors and aliases (&name / *name) are not supported in flow files; "
                "write the value out",
                event.start_mark,
            )
        return Composer.compose_node(self, parent, index)


def _resolver(tag: str, pattern: str, first: list[str] | None) -> None:
    StrictLoader.add_implicit_resolver(tag, re.compile(pattern, re.X), first)


_resolver(BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF"))
_resolver(INT, r"^[-+]?[0-9]+$", list("-+0123456789"))
_resolver(
    FLOAT,
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
    list("-+0123456789."),
)
_resolver(NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""])
_resolver(AMBIGUOUS, r"^(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|y|Y|n|N)$", list("yYnNoO"))


@dataclass
class SourceMap:
    """Where each value and each key of a document starts (1-based line and column)."""

    values: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    raw: dict[Loc, str] = field(default_factory=dict)  # non-text scalars as written

    def locate(self, loc: Loc, *, key: bool = False) -> tuple[int, int]:
        """The position of `loc`, or of its nearest enclosing value that exists."""
        if key and loc in self.keys:
            return self.keys[loc]
        for end in range(len(loc), -1, -1):
            prefix = loc[:end]
            if prefix in self.values:
                return self.values[prefix]
        return (1, 1)


@dataclass
class Document:
    data: Any
    source: SourceMap


def _problem(path: str, mark: yaml.Mark | None, code: str, message: str) -> Problem:
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    return Problem(path, line, col, code, message)


class _Builder:
    def __init__(self, path: str) -> None:
        self.path = path
        self.source = SourceMap()
        self.problems: list[Problem] = []
        self.count = 0

    def build(self, node: Node, loc: Loc, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig(node, f"the file has more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise _TooBig(node, f"the file is nested more than {MAX_DEPTH} levels deep")
        mark = node.start_mark
        self.source.values[loc] = (mark.line + 1, mark.column + 1)
        if node.tag not in ALLOWED_TAGS and node.tag != AMBIGUOUS:
            self.problems.append(
                _problem(self.path, mark, "F108", f"the tag {node.tag} is not allowed here")
            )
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, loc, depth)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*loc, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        if node.tag != STR:
            self.source.raw[loc] = node.value
        return self._scalar(node)

    def _scalar(self, node: ScalarNode) -> Any:
        value: str = node.value
        if node.tag == AMBIGUOUS:
            self.problems.append(
                _problem(
                    self.path,
                    node.start_mark,
                    "F103",
                    f"'{value}' means true/false to some YAML readers and text to others; "
                    f'write true or false, or quote it ("{value}")',
                )
            )
            return value
        if node.tag == BOOL:
            return value.lower() == "true"
        if node.tag == INT:
            return int(value)
        if node.tag == FLOAT:
            return float(value.replace(".inf", "inf").replace(".nan", "nan").lower())
        if node.tag == NULL:
            return None
        return value

    def _mapping(self, node: MappingNode, loc: Loc, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, yaml.Mark] = {}
        for key_node, value_node in node.value:
            key_mark = key_node.start_mark
            if not isinstance(key_node, ScalarNode):
                message = "a key must be text, not a list or mapping"
                self.problems.append(_problem(self.path, key_mark, "F104", message))
                continue
            if key_node.tag != STR:
                shown = key_node.value
                if key_node.tag == AMBIGUOUS:
                    message = (
                        f"the key '{shown}' means true/false to some YAML readers; "
                        f'quote it ("{shown}")'
                    )
                    code = "F103"
                else:
                    message = (
                        f"the key {shown} is read as a number or true/false, not text; "
                        f'quote it ("{shown}")'
                    )
                    code = "F104"
                self.problems.append(_problem(self.path, key_mark, code, message))
                continue
            key = str(key_node.value)
            if key in first_seen:
                self.problems.append(
                    _problem(
                        self.path,
                        key_mark,
                        "F105",
                        f"duplicate key '{key}' (first at line {first_seen[key].line + 1})",
                    )
                )
                continue
            first_seen[key] = key_mark
            self.source.keys[(*loc, key)] = (key_mark.line + 1, key_mark.column + 1)
            result[key] = self.build(value_node, (*loc, key), depth + 1)
        return result


class _TooBig(Exception):
    def __init__(self, node: Node, message: str) -> None:
        self.node = node
        self.message = message


def read_yaml(text: str, path: str) -> tuple[Document | None, list[Problem]]:
    """Parse one YAML document; the problems found, all at once, each at its place."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        return None, [
            Problem(path, 1, 1, "F108", f"the file is larger than {MAX_BYTES // 1000} kB")
        ]
    try:
        root = yaml.compose(text, Loader=StrictLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        what = err.problem or err.context or "invalid YAML"
        code = "F108" if isinstance(err, _AliasRefused) else "F100"
        return None, [_problem(path, mark, code, f"{what}".strip())]
    except yaml.YAMLError as err:
        return None, [Problem(path, 1, 1, "F100", str(err))]
    except RecursionError:
        return None, [Problem(path, 1, 1, "F108", "the file is nested too deeply")]
    if root is None:
        return None, [
            Problem(
                path, 1, 1, "F109", "the file is empty; a flow needs id, escape, start and nodes"
            )
        ]
    builder = _Builder(path)
    try:
        data = builder.build(root, (), 0)
    except _TooBig as too_big:
        return None, [_problem(path, too_big.node.start_mark, "F108", too_big.message)]
    if not isinstance(data, dict):
        builder.problems.append(
            _problem(path, root.start_mark, "F109", "a flow file must be a mapping of keys")
        )
    return Document(data, builder.source), builder.problems
