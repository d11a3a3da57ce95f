"""Scripted calls through flows.example.yaml and every template, with the real `ivr call`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OPEN_NY = "2026-11-23T10:00:00-05:00"  # Monday morning in New York
CLOSED_NY = "2026-11-22T23:00:00-05:00"  # Sunday night
OPEN_ISTANBUL = "2026-11-23T10:00:00+03:00"
OPEN_RIYADH = "2026-11-22T10:00:00+03:00"  # Sunday is a working day
CLOSED_RIYADH = "2026-11-27T10:00:00+03:00"  # Friday


def call(flow: str, turns: str, at: str, *extra: str) -> tuple[int, list[str], str]:
    done = subprocess.run(
        [sys.executable, "-m", "ivr", "call", flow, "--input", turns, "--at", at, *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    nodes = re.findall(r"^\[([^\]]+)\]", done.stdout, flags=re.MULTILINE)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if last.startswith("("):  # the note about unused turns
        last = done.stdout.strip().splitlines()[-2]
    return done.returncode, nodes, last


# The full walk of every shipped flow is tests/test_flows_scripted.py; these are the
# promises worth naming on their own (and the SPEC's done-when: 0 reaches a person at once).
CASES = [
    pytest.param(
        "flows.example.yaml",
        "0",
        OPEN_NY,
        (),
        ["greeting", "route_caller", "main_menu"],
        "reached: queue support",
        id="example-zero-reaches-a-person-in-one-step",
    ),
    pytest.param(
        "flows.example.yaml",
        "0",
        CLOSED_NY,
        (),
        ["greeting", "route_caller", "main_menu"],
        "reached: callback support (not before 2026-11-23T08:00:00-05:00)",
        id="example-zero-when-closed-is-a-callback-at-opening",
    ),
    pytest.param(
        "flows/templates/telecom-tr.yaml",
        "Müşteri temsilcisine bağlanmak istiyorum",
        OPEN_ISTANBUL,
        (),
        ["karsilama", "ana_menu"],
        "reached: queue destek",
        id="tr-speech-escape-with-suffix",
    ),
    pytest.param(
        "flows/templates/water-utility-ar.yaml",
        "أريد التحدث مع الموظف",
        OPEN_RIYADH,
        (),
        ["tarhib", "qaima"],
        "reached: queue khidma",
        id="ar-speech-escape-with-article",
    ),
    pytest.param(
        "flows/templates/water-utility-ar.yaml",
        "تسرب",
        CLOSED_RIYADH,
        (),
        ["tarhib", "qaima", "tawari_queue"],
        "reached: queue tawari",
        id="ar-emergency-queue-always-open",
    ),
]


@pytest.mark.parametrize(("flow", "turns", "at", "extra", "nodes", "reached"), CASES)
def test_scripted_call(
    flow: str, turns: str, at: str, extra: tuple[str, ...], nodes: list[str], reached: str
) -> None:
    code, visited, last = call(flow, turns, at, *extra)
    assert code == 0
    assert visited == nodes
    assert last == reached


def test_turns_running_out_at_a_prompt_is_a_hang_up() -> None:
    code, visited, last = call("flows/templates/telecom-tr.yaml", "1", OPEN_ISTANBUL)
    assert visited == ["karsilama", "ana_menu", "abone_no"]
    assert code == 3
    assert last == "caller hung up at abone_no"


def test_at_least_three_templates_including_turkish_and_arabic() -> None:
    templates = sorted((ROOT / "flows" / "templates").glob("*.yaml"))
    assert len(templates) >= 3
    locales = {re.search(r"^locale: (\S+)", t.read_text(), re.M).group(1) for t in templates}  # type: ignore[union-attr]
    assert {"tr-TR", "ar-SA"} <= locales


def test_finish_key_after_zero_still_escapes_as_on_twilio() -> None:
    # Twilio never sends the finish key: "0#" at an ask arrives as "0".
    code, _, last = call("flows.example.yaml", "1,0#", OPEN_NY)
    assert code == 0 and last == "reached: queue support"
