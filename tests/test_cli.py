"""The `ivr` command line: exit codes, one located problem per line, help for every command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivr.cli import build_parser, main

GOOD = """\
id: good
escape: {queue: support}
queues:
  support: {callback: {offer_after: 30s}}
start: main
nodes:
  main:
    menu:
      prompt: "For billing press 1. Press 0 or say agent for a person."
      options:
        - {digit: "1", phrases: [billing], goto: account}
  account:
    ask: {prompt: "Enter your account number.", digits: {min: 3, max: 6}, save_as: account}
    next: done
  done: {end: {say: "Thanks.", resolved: true}}
"""

# Line 9 misspells `prompt`: F102 at the key, F106 for the missing prompt at the menu.
BAD = GOOD.replace("      prompt:", "      promt:").replace("id: good", "id: bad")
BAD_PROBLEMS = [
    "{path}:9:7: F102 unknown key 'promt' in menu; expected one of: prompt, options, timeout, "
    "no_match, no_input",
    "{path}:9:7: F106 missing required key 'prompt' in menu",
]

# An unreachable node: a warning (L201) from the linter, not an error.
WARN = GOOD.replace("id: good", "id: warn") + "  orphan: {queue: support}\n"
ORPHAN_LINE = 16

LINE = re.compile(r"(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+[0-9]+) (?P<msg>.+)")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path as the current directory, with flows/good.yaml, flows/bad.yaml, warn.yaml."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "good.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "flows" / "bad.yaml").write_text(BAD, encoding="utf-8")
    (tmp_path / "warn.yaml").write_text(WARN, encoding="utf-8")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def expected_bad(path: str) -> list[str]:
    return [line.format(path=path) for line in BAD_PROBLEMS]


# --- ivr lint -----------------------------------------------------------------------------


def test_lint_clean_file_exits_0_silently(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "lint", "flows/good.yaml") == (0, [], [])


def test_lint_errors_exit_1_one_problem_per_line(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "lint", "flows/bad.yaml")
    assert code == 1
    assert out == expected_bad("flows/bad.yaml")
    for line in out:
        assert LINE.fullmatch(line), line
    assert err == ["2 error(s), 0 warning(s)"]


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        pytest.param("flows/bad.yaml", "flows/bad.yaml", id="relative"),
        pytest.param("flows/../flows/bad.yaml", "flows/../flows/bad.yaml", id="dot-dot"),
        pytest.param(
            "./flows/bad.yaml",
            "./flows/bad.yaml",
            id="dot-slash",
        ),
        pytest.param(
            "./flows",
            "./flows/bad.yaml",
            id="dot-slash-folder",
        ),
    ],
)
def test_lint_shows_the_path_as_given(
    workdir: Path, capsys: pytest.CaptureFixture[str], given: str, shown: str
) -> None:
    code, out, _ = run(capsys, "lint", given)
    assert code == 1
    assert out == expected_bad(shown)


def test_lint_absolute_path_stays_absolute(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    absolute = str(workdir / "flows" / "bad.yaml")
    code, out, _ = run(capsys, "lint", absolute)
    assert code == 1
    assert out == expected_bad(absolute)


def test_lint_a_folder(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "flows" / "more").mkdir()
    (workdir / "flows" / "more" / "other.yml").write_text(
        GOOD.replace("id: good", "id: other\nnumbers: ['+15005550006']"), encoding="utf-8"
    )
    code, out, _ = run(capsys, "lint", "flows")
    assert code == 1
    assert out == expected_bad("flows/bad.yaml")


def test_lint_a_clean_folder(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "flows" / "bad.yaml").unlink()
    assert run(capsys, "lint", "flows/") == (0, [], [])


def test_lint_several_paths_sorted_by_path(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "empty").mkdir()
    code, out, err = run(capsys, "lint", "flows/bad.yaml", "empty", "missing.yaml")
    assert code == 1
    assert out == [
        "empty:1:1: F109 no *.yaml flow files in this folder",
        *expected_bad("flows/bad.yaml"),
        "missing.yaml:1:1: F109 cannot read the file: No such file or directory",
    ]
    assert err == ["4 error(s), 0 warning(s)"]


def test_lint_clashes_between_files(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "flows" / "bad.yaml").unlink()
    (workdir / "flows" / "copy.yaml").write_text(GOOD, encoding="utf-8")
    code, out, _ = run(capsys, "lint", "flows")
    assert code == 1
    # copy.yaml sorts before good.yaml, so good.yaml is the second one with id `good`.
    assert out == [
        "flows/good.yaml:1:5: F110 flow id 'good' is already used by flows/copy.yaml",
        "flows/good.yaml:1:5: F112 two default flows (no `numbers`): this one and "
        "flows/copy.yaml; give one of them the numbers it answers",
    ]


def test_lint_without_paths_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["lint"])
    assert raised.value.code == 2
    assert "PATH" in capsys.readouterr().err


def test_lint_warnings_are_printed_but_exit_0(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "lint", "warn.yaml")
    assert code == 0
    assert len(out) == 1
    match = LINE.fullmatch(out[0])
    assert match is not None, out
    assert match["path"] == "warn.yaml"
    assert match["code"] == "L201"
    assert int(match["line"]) == ORPHAN_LINE
    assert "orphan" in match["msg"]


def test_lint_strict_fails_on_warnings(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "lint", "--strict", "warn.yaml")
    assert code == 1
    assert [LINE.fullmatch(line)["code"] for line in out] == ["L201"]  # type: ignore[index]


def test_lint_strict_on_a_clean_file(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "lint", "--strict", "flows/good.yaml") == (0, [], [])


# --- ivr call -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("turns", "nodes", "reached"),
    [
        pytest.param("1,123#", ["main", "account", "done"], "reached: end (resolved)", id="self"),
        pytest.param("agent", ["main"], "reached: queue support", id="says-agent"),
        pytest.param("0", ["main"], "reached: queue support", id="presses-0"),
        pytest.param("1,0", ["main", "account"], "reached: queue support", id="0-in-ask"),
        pytest.param(",,", ["main"], "reached: queue support", id="silence-3-times"),
        pytest.param("9,9,9", ["main"], "reached: queue support", id="no-match-3-times"),
    ],
)
def test_call_reaching_a_destination_exits_0(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    turns: str,
    nodes: list[str],
    reached: str,
) -> None:
    code, out, err = run(capsys, "call", "flows/good.yaml", "--input", turns)
    assert code == 0
    assert err == []
    assert [m.group(1) for line in out if (m := re.fullmatch(r"\[(\w+)\] \(\w+\)", line))] == nodes
    assert out[-1] == reached


def test_call_names_each_node_and_its_kind(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "call", "flows/good.yaml", "--input", "1,123#")
    assert code == 0
    assert [line for line in out if line.startswith("[")] == [
        "[main] (menu)",
        "[account] (ask)",
        "[done] (end)",
    ]


def test_call_with_turns_left_over_still_exits_0(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "call", "flows/good.yaml", "--input", "agent,1,2")
    assert code == 0
    assert out[-2:] == [
        "reached: queue support",
        "(2 scripted turn(s) left unused: the call was over)",
    ]


@pytest.mark.parametrize(
    ("turns", "where"),
    [
        pytest.param("1", "account", id="at-the-ask"),
        pytest.param("", "main", id="one-silence"),
    ],
)
def test_call_running_out_of_turns_at_a_prompt_exits_3(
    workdir: Path, capsys: pytest.CaptureFixture[str], turns: str, where: str
) -> None:
    code, out, _ = run(capsys, "call", "flows/good.yaml", "--input", turns)
    assert code == 3
    assert out[-1] == f"caller hung up at {where}"


def test_call_of_a_broken_flow_exits_1_with_located_errors(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "call", "flows/bad.yaml", "--input", "1")
    assert code == 1
    assert out == []
    assert err == expected_bad("flows/bad.yaml")


def test_call_of_a_missing_flow_exits_1(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "call", "nowhere.yaml", "--input", "1")
    assert code == 1
    assert out == []
    assert err == ["nowhere.yaml:1:1: F109 cannot read the file: No such file or directory"]


# --- --help -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "mentions"),
    [
        pytest.param([], ["lint", "schema", "graph", "call", "serve", "db"], id="ivr"),
        pytest.param(["lint"], ["PATH", "--strict"], id="lint"),
        pytest.param(["schema"], ["JSON Schema"], id="schema"),
        pytest.param(["graph"], ["FLOW", "--format", "mermaid", "dot"], id="graph"),
        pytest.param(
            ["call"],
            ["FLOW", "--input", "--caller", "--dialed", "--at", "--dial-status"],
            id="call",
        ),
        pytest.param(
            ["serve"],
            ["--flows", "--db", "--host", "--port", "--public-url", "--insecure-dev", "--spool"],
            id="serve",
        ),
        pytest.param(["db"], ["upgrade"], id="db"),
        pytest.param(["db", "upgrade"], ["--db"], id="db-upgrade"),
    ],
)
def test_help(capsys: pytest.CaptureFixture[str], argv: list[str], mentions: list[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main([*argv, "--help"])
    assert raised.value.code == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith(f"usage: {' '.join(['ivr', *argv])}")
    for word in mentions:
        assert word in out, word


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    assert commands.choices is not None
    for name in commands.choices:
        with pytest.raises(SystemExit) as raised:
            main([name, "--help"])
        assert raised.value.code == 0, name
        assert capsys.readouterr().out.startswith(f"usage: ivr {name}"), name


def test_output_cut_off_by_the_reader_ends_quietly() -> None:
    """`ivr schema | head -1`: the reader goes away first; no traceback, exit 141."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "ivr", "schema"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the program has written a byte (it is still importing)
    with proc.stderr:
        errors = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in errors and "BrokenPipe" not in errors
