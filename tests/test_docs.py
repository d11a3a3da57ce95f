"""The README is part of the product: its commands run, and it names every code and command."""

from __future__ import annotations

import argparse
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


def test_every_setting_and_ops_option_is_documented() -> None:
    sources = [*ROOT.glob("ivr/*.py"), *ROOT.glob("webhooks/*.py"), *ROOT.glob("analytics/*.py")]
    names = {n for p in sources for n in re.findall(r'"(IVR_[A-Z_]+)"', p.read_text("utf-8"))}
    assert {"IVR_API_KEY", "IVR_HASH_KEY", "IVR_STORE_NUMBERS", "IVR_LOG_FORMAT"} <= names
    missing = sorted(n for n in names if n not in README)
    assert not missing, f"settings missing from the README: {missing}"
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert isinstance(commands, dict)
    db = next(a for a in commands["db"]._actions if a.dest == "db_command").choices
    assert isinstance(db, dict)
    for command in (commands["serve"], db["prune"]):
        for action in command._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert flag in README, f"{command.prog} {flag} is not in the README"
    for section in ("## Running in production", "## Data we keep", "### Metrics", "### Logs"):
        assert section in README


def test_readme_names_the_vendored_chart_library_version() -> None:
    library = ROOT / "webhooks" / "static" / "vendor" / "chart.umd.min.js"
    banner = re.search(r"Chart\.js v(\d+\.\d+\.\d+)", library.read_text(encoding="utf-8")[:300])
    assert banner is not None, "the vendored file has no Chart.js version banner"
    assert f"**{banner.group(1)}**" in README, f"README does not name Chart.js {banner.group(1)}"
    assert (library.parent / "chart.js-LICENSE.md").exists()


def test_every_simulate_flag_is_documented() -> None:
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command")
    assert isinstance(subcommands.choices, dict)
    simulate = subcommands.choices["simulate"]
    assert isinstance(simulate, argparse.ArgumentParser)
    for action in simulate._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and action.help != "==SUPPRESS==" and flag != "--help":
                assert f"`{flag}" in README, f"ivr simulate {flag} is not in the README"


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
