"""The README is part of the product: its commands run, and it names every code and command."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_commands() -> list[str]:
    """Every `$ ivr ...` line of the README's console blocks."""
    return [m.group(1) for m in re.finditer(r"^\$ (ivr .+)$", README, flags=re.MULTILINE)]


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs(command: str) -> None:
    args = shlex.split(command)[1:]
    done = subprocess.run(
        [sys.executable, "-m", "ivr", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reached: " in done.stdout


def test_readme_shows_commands() -> None:
    assert len(readme_commands()) >= 3


def test_every_cli_command_is_documented() -> None:
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command")
    assert subcommands.choices is not None
    for name in subcommands.choices:
        assert f"`ivr {name}" in README, f"ivr {name} is not in the README"


def _codes_in(paths: list[Path]) -> set[str]:
    codes: set[str] = set()
    for path in paths:
        codes |= set(re.findall(r'"([FL][0-9]{3})"', path.read_text(encoding="utf-8")))
    return codes


def test_every_error_code_is_documented() -> None:
    sources = [*(ROOT / "flows").glob("*.py")]
    codes = _codes_in(sources)
    assert {"F100", "F102", "L101"} <= codes
    missing = sorted(c for c in codes if c not in README)
    assert not missing, f"codes missing from the README: {missing}"


def test_quick_start_scripts_exist_and_are_executable() -> None:
    for script in ("scripts/run", "scripts/test", ".ci/run"):
        path = ROOT / script
        assert path.exists() and path.stat().st_mode & 0o111, script
        assert script.split("/")[-1] in README or script == ".ci/run"


def test_every_report_view_and_outcome_is_documented() -> None:
    from ivr.outcomes import ESCAPE_VIAS, OUTCOMES
    from ivr.report_rows import REPORTS

    section = README[README.index("## Reports and what they count") :]
    migration = (ROOT / "analytics/migrations/versions/0002_call_outcomes.py").read_text()
    views = re.findall(r'^\s+"([a-z_]+)": f"""', migration, flags=re.MULTILINE)
    assert "call_outcomes" in views and len(views) >= 8
    for name in [*views, *OUTCOMES, *ESCAPE_VIAS]:
        assert f"`{name}`" in section, f"{name} is not explained in the reports section"
    for report in REPORTS:
        assert f"/api/reports/{report}" in section and report in section
    assert "nearest rank" in section and "IVR_SHORT_ABANDON" in README
