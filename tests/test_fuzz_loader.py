"""The flow loader on generated and mutated YAML: only located problems, never a crash.

The shipped flows (flows.example.yaml and the templates) are mutated byte by byte and token
by token (deleted, repeated, swapped, replaced by YAML's own punctuation), and random YAML
documents are generated. Whatever the file holds, loading it either serves a flow or lists
problems as `path:line:col: CODE message` pointing inside the file.

IVR_FUZZ_EXAMPLES=2000 hunts longer.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.catalog import check_paths

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = [ROOT / "flows.example.yaml", *sorted((ROOT / "flows" / "templates").glob("*.yaml"))]
EXAMPLES = int(os.environ.get("IVR_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
LOCATED = re.compile(r"^(?P<path>.+):(?P<line>[0-9]+):(?P<col>[0-9]+): [A-Z]+[0-9]+ \S")
YAML_BYTES = [
    b":",
    b"- ",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b"&a ",
    b"*a",
    b"!!python/object ",
    b"!tag ",
    b"? ",
    b"|",
    b">",
    b"'",
    b'"',
    b"#",
    b"\t",
    b"\n",
    b"  ",
    b"%YAML 1.1\n",
    b"---\n",
    b"...\n",
    b"yes",
    b"0",
    b"~",
    b"<<: ",
    b"\xff",
    b"\xef\xbb\xbf",
    b"\x00",
    "é".encode(),
]
TOKEN = re.compile(rb"\s+|[^\s:,\[\]{}]+|.", re.DOTALL)


def shipped_texts() -> list[bytes]:
    return [path.read_bytes() for path in SHIPPED]


@st.composite
def byte_mutants(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(shipped_texts())))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        how = draw(st.sampled_from(["delete", "insert", "replace", "flip"]))
        size = draw(st.integers(1, 40))
        if how == "delete":
            del data[at : at + size]
        elif how == "insert":
            data[at:at] = draw(st.one_of(st.sampled_from(YAML_BYTES), st.binary(max_size=8)))
        elif how == "replace":
            data[at : at + size] = draw(st.sampled_from(YAML_BYTES))
        elif at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
    return bytes(data)


@st.composite
def token_mutants(draw: st.DrawFn) -> bytes:
    tokens = TOKEN.findall(draw(st.sampled_from(shipped_texts())))
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(tokens) - 1))
        j = draw(st.integers(0, len(tokens) - 1))
        how = draw(st.sampled_from(["delete", "repeat", "swap", "move", "replace"]))
        if how == "delete":
            del tokens[i]
        elif how == "repeat":
            tokens.insert(i, tokens[i])
        elif how == "swap":
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif how == "move":
            tokens.insert(j, tokens.pop(i))
        else:
            tokens[i] = draw(st.sampled_from(YAML_BYTES))
        if not tokens:
            break
    return b"".join(tokens)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["menu", "say", "next", "goto", "0", "1", "+15005550006", "45s", "yes"]),
)
keys = st.one_of(
    st.sampled_from(
        [
            "id",
            "start",
            "nodes",
            "escape",
            "queues",
            "hours",
            "menu",
            "prompt",
            "options",
            "digit",
            "goto",
            "say",
            "next",
            "end",
            "queue",
            "ask",
            "branch",
            "transfer",
            "locale",
        ]
    ),
    st.text(max_size=10),
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=30,
)


@st.composite
def generated(draw: st.DrawFn) -> bytes:
    document = draw(documents)
    style = draw(st.sampled_from([None, True, False]))
    return yaml.safe_dump(document, default_flow_style=style, allow_unicode=True).encode()


def assert_only_located_problems(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzzed.yaml"
    path.write_bytes(data)
    lines = max(1, data.count(b"\n") + 1)
    loaded, problems = check_paths([str(path)])  # must not raise
    assert loaded or any(p.severity == "error" for p in problems)
    for problem in problems:
        text = str(problem)
        match = LOCATED.match(text)
        assert match, f"not located: {text!r}"
        assert match["path"] == str(path)
        assert 1 <= problem.line <= lines and problem.col >= 1, text
        assert "Traceback" not in text


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("loader-fuzz")


def test_the_shipped_flows_load_clean(folder: Path) -> None:
    for text in shipped_texts():
        loaded, problems = check_paths([str(_write(folder, text))])
        assert loaded and not [p for p in problems if p.severity == "error"]


def _write(folder: Path, data: bytes) -> Path:
    path = folder / "fuzzed.yaml"
    path.write_bytes(data)
    return path


@FUZZ
@given(data=byte_mutants())
def test_byte_mutated_flows_give_located_problems(folder: Path, data: bytes) -> None:
    assert_only_located_problems(folder, data)


@FUZZ
@given(data=token_mutants())
def test_token_mutated_flows_give_located_problems(folder: Path, data: bytes) -> None:
    assert_only_located_problems(folder, data)


@FUZZ
@given(data=generated())
def test_generated_yaml_gives_located_problems(folder: Path, data: bytes) -> None:
    assert_only_located_problems(folder, data)
