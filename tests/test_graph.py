"""`ivr graph`: every node drawn, option edges with their keys, and a dashed escape edge
from every prompt that takes input to the person the escape hatch reaches."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ivr.cli import main

FLOW = """\
id: graph-test
escape: {queue: support}
hours:
  office: {timezone: America/New_York, open: {mon-fri: "08:00-20:00"}}
queues:
  support: {hours: office, callback: {offer_after: 30s}}
start: greeting
nodes:
  greeting: {say: "Hello. Press 0 or say agent at any time for a person.", next: open_check}
  open_check: {hours: office, open: main, closed: after_hours}
  main:
    menu:
      prompt: "For billing press 1. For sales press 2. To hang up, say goodbye."
      options:
        - {digit: "1", phrases: [billing, bill], goto: account}
        - {digit: "2", goto: sales}
        - {phrases: [goodbye], goto: bye}
  account:
    ask: {prompt: "Enter your account number.", digits: {min: 3, max: 6}, save_as: account}
    next: billing
  billing: {queue: support}
  sales: {transfer: {to: "+15005550011", on_fail: sales_vm}}
  sales_vm: {voicemail: {say: "Leave a message for sales."}}
  bye: {end: {say: "Goodbye.", resolved: true}}
  after_hours: {callback: {queue: support, say: "We are closed. We will call you back."}}
"""

NODES = [
    "greeting",
    "open_check",
    "main",
    "account",
    "billing",
    "sales",
    "sales_vm",
    "bye",
    "after_hours",
]
INPUT_NODES = ["main", "account"]
ESCAPE_LABEL = "0 / agent / 3 failures"  # after_failures 2: the third failure goes to a person

OTHER_ESCAPE = """\
id: star-escape
escape: {transfer: "+15005550012", digits: "*", after_failures: 1}
start: pick
nodes:
  pick:
    menu:
      prompt: "Press 1 for hours. Press star or say agent for a person."
      options: [{digit: "1", goto: hours_info}]
  hours_info: {end: {say: "We are open 9 to 5.", resolved: true}}
"""


def graph(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, *options: str) -> str:
    path = tmp_path / "flow.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["graph", str(path), *options]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


# --- Mermaid ------------------------------------------------------------------------------


@pytest.fixture
def mermaid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    return graph(tmp_path, capsys, FLOW, "--format", "mermaid").splitlines()


def test_mermaid_is_the_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    default = graph(tmp_path, capsys, FLOW)
    assert default == graph(tmp_path, capsys, FLOW, "--format", "mermaid")
    assert default.startswith("flowchart TD\n")


def test_mermaid_draws_every_node(mermaid: list[str]) -> None:
    declared = {
        m.group(1): m.group(2)
        for line in mermaid
        if (m := re.fullmatch(r"  (n_\w+)\[\"(.*)\"\]", line))
    }
    assert set(declared) == {f"n_{name}" for name in NODES}
    for name in NODES:
        assert declared[f"n_{name}"].startswith(f"{name}<br/>")
    assert declared["n_billing"] == "billing<br/>queue: support"
    assert declared["n_bye"] == "bye<br/>end (resolved)"
    assert '  person(["person<br/>queue: support"])' in mermaid
    assert "  start((start)) --> n_greeting" in mermaid


def test_mermaid_escape_edges(mermaid: list[str]) -> None:
    escapes = [line for line in mermaid if "-.->" in line]
    assert escapes == [f"  n_{name} -.->|{ESCAPE_LABEL}| person" for name in INPUT_NODES]


def test_mermaid_option_and_other_edges(mermaid: list[str]) -> None:
    edges = [line for line in mermaid if " --> " in line or "-->|" in line]
    assert edges == [
        "  start((start)) --> n_greeting",
        "  n_greeting --> n_open_check",
        "  n_open_check -->|open| n_main",
        "  n_open_check -->|closed| n_after_hours",
        "  n_main -->|1 / billing| n_account",
        "  n_main -->|2| n_sales",
        "  n_main -->|goodbye| n_bye",
        "  n_account --> n_billing",
        "  n_sales -->|no answer| n_sales_vm",
    ]


def test_mermaid_lines_are_well_formed(mermaid: list[str]) -> None:
    edge = re.compile(r"  (n_\w+|start\(\(start\)\)) (-->|-\.->)(\|[^|\"]+\|)? (n_\w+|person)")
    for line in mermaid[1:]:
        assert (
            edge.fullmatch(line)
            or re.fullmatch(r"  (n_\w+|person)(\[\"[^\"]*\"\]|\(\[\"[^\"]*\"\]\))", line)
            or line.startswith(("  classDef ", "  class "))
        ), line


def test_mermaid_escape_label_follows_the_flow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = graph(tmp_path, capsys, OTHER_ESCAPE).splitlines()
    assert '  person(["person<br/>transfer: +15005550012"])' in lines
    assert [line for line in lines if "-.->" in line] == [
        "  n_pick -.->|* / agent / 2 failures| person"
    ]


def test_mermaid_ids_are_distinct(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = FLOW.replace("  bye: {end:", "  main-menu: {end:").replace(
        "goto: bye}", "goto: main-menu}"
    )
    text = text.replace("  main:\n", "  main_menu:\n").replace("open: main,", "open: main_menu,")
    lines = graph(tmp_path, capsys, text).splitlines()
    declared = [m.group(1) for line in lines if (m := re.fullmatch(r"  (n_\w+)\[.*", line))]
    assert len(declared) == len(set(declared)) == len(NODES)


# --- Graphviz dot -------------------------------------------------------------------------


@pytest.fixture
def dot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    return graph(tmp_path, capsys, FLOW, "--format", "dot")


QUOTED = r'"(?:[^"\\]|\\.)*"'
ATTRS = r"\[(?:[^\]\"]|" + QUOTED + r")*\]"


def test_dot_is_syntactically_plausible(dot: str) -> None:
    lines = dot.splitlines()
    assert lines[0] == 'digraph "graph-test" {'
    assert lines[-1] == "}"
    assert dot.count("{") == dot.count("}") == 1  # labels here hold no braces
    for line in lines[1:-1]:
        assert line.endswith(";"), line
        assert len(re.findall(r'(?<!\\)"', line)) % 2 == 0, line
        assert (
            re.fullmatch(rf"  {QUOTED} -> {QUOTED}(?: {ATTRS})?;", line)
            or re.fullmatch(rf"  {QUOTED} {ATTRS};", line)
            or re.fullmatch(r"  (rankdir=\w+|node \[shape=\w+\]);", line)
        ), line


def test_dot_draws_every_node(dot: str) -> None:
    lines = dot.splitlines()
    for name in NODES:
        assert any(line.startswith(f'  "{name}" [label="{name}\\n') for line in lines), name
    assert '  "billing" [label="billing\\nqueue: support"];' in lines
    assert '  "(start)" -> "greeting";' in lines
    assert any(line.startswith('  "(person)" [label="person\\nqueue: support"') for line in lines)


def test_dot_edges(dot: str) -> None:
    edges = [line for line in dot.splitlines() if " -> " in line]
    escape = f'[label="{ESCAPE_LABEL}", style=dashed, color=darkgreen]'
    assert edges == [
        '  "(start)" -> "greeting";',
        '  "greeting" -> "open_check" [label=""];',
        '  "open_check" -> "main" [label="open"];',
        '  "open_check" -> "after_hours" [label="closed"];',
        '  "main" -> "account" [label="1 / billing"];',
        '  "main" -> "sales" [label="2"];',
        '  "main" -> "bye" [label="goodbye"];',
        f'  "main" -> "(person)" {escape};',
        '  "account" -> "billing" [label=""];',
        f'  "account" -> "(person)" {escape};',
        '  "sales" -> "sales_vm" [label="no answer"];',
    ]


def test_dot_escape_label_follows_the_flow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edges = [
        line
        for line in graph(tmp_path, capsys, OTHER_ESCAPE, "--format", "dot").splitlines()
        if "style=dashed" in line
    ]
    assert edges == [
        '  "pick" -> "(person)" [label="* / agent / 2 failures", style=dashed, color=darkgreen];'
    ]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_dot_renders_to_svg(dot: str, tmp_path: Path) -> None:
    done = subprocess.run(
        ["dot", "-Tsvg"], input=dot, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "<svg" in done.stdout
    for name in NODES:
        assert name in done.stdout


# --- A broken flow ------------------------------------------------------------------------


def test_graph_of_a_broken_flow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(FLOW.replace("  billing: {queue:", "  billing: {queu:"), encoding="utf-8")
    assert main(["graph", str(path), "--format", "dot"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{path}:21:3: F107 node 'billing': a node needs exactly one kind: say (+next), menu, "
        "ask, hours, branch, queue, transfer, callback, voicemail or end"
    ]
