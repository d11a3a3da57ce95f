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
OPEN_CHICAGO = "2026-11-23T10:00:00-06:00"
CLOSED_CHICAGO = "2026-11-28T10:00:00-06:00"  # Saturday
OPEN_ISTANBUL = "2026-11-23T10:00:00+03:00"
CLOSED_ISTANBUL = "2026-11-22T23:00:00+03:00"
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


CASES = [
    # flows.example.yaml
    pytest.param(
        "flows.example.yaml",
        "1,1234567#,1",
        OPEN_NY,
        (),
        [
            "greeting",
            "route_caller",
            "main_menu",
            "account",
            "vip_check",
            "billing_menu",
            "balance",
        ],
        "reached: end (resolved)",
        id="example-self-service-balance",
    ),
    pytest.param(
        "flows.example.yaml",
        "billing,9123456#",
        OPEN_NY,
        (),
        ["greeting", "route_caller", "main_menu", "account", "vip_check", "billing_queue"],
        "reached: queue billing",
        id="example-vip-straight-to-billing",
    ),
    pytest.param(
        "flows.example.yaml",
        "internet down,10001,2,my router lights are blinking",
        OPEN_NY,
        (),
        [
            "greeting",
            "route_caller",
            "main_menu",
            "outage_zip",
            "outage_info",
            "outage_menu",
            "outage_details",
            "outage_queue",
        ],
        "reached: queue outage",
        id="example-outage-speech-to-queue",
    ),
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
        "flows.example.yaml",
        "1,I'd like to talk to a technician",
        OPEN_NY,
        (),
        ["greeting", "route_caller", "main_menu", "account"],
        "reached: queue support",
        id="example-flow-own-phrase-at-ask",
    ),
    pytest.param(
        "flows.example.yaml",
        ",,",
        OPEN_NY,
        (),
        ["greeting", "route_caller", "main_menu"],
        "reached: queue support",
        id="example-silence-until-person",
    ),
    pytest.param(
        "flows.example.yaml",
        "pizza,weather,7",
        OPEN_NY,
        (),
        ["greeting", "route_caller", "main_menu"],
        "reached: queue support",
        id="example-garbage-until-person",
    ),
    pytest.param(
        "flows.example.yaml",
        "3",
        OPEN_NY,
        ("--dial-status", "busy"),
        ["greeting", "route_caller", "main_menu", "sales", "sales_voicemail"],
        "reached: voicemail support",
        id="example-busy-transfer-goes-to-voicemail",
    ),
    pytest.param(
        "flows.example.yaml",
        "4",
        CLOSED_NY,
        (),
        ["greeting", "route_caller", "main_menu", "hours_info", "closed_now"],
        "reached: callback support (not before 2026-11-23T08:00:00-05:00)",
        id="example-closed-hours-callback",
    ),
    # dental clinic (English)
    pytest.param(
        "flows/templates/dental-clinic.yaml",
        "3,2",
        OPEN_CHICAGO,
        (),
        ["welcome", "main", "info", "info_done", "bye"],
        "reached: end (resolved)",
        id="dental-info-self-service",
    ),
    pytest.param(
        "flows/templates/dental-clinic.yaml",
        "appointment,01311990#",
        OPEN_CHICAGO,
        (),
        ["welcome", "main", "patient_id", "booking_hours", "booking_queue"],
        "reached: queue front_desk",
        id="dental-booking-open",
    ),
    pytest.param(
        "flows/templates/dental-clinic.yaml",
        "2,01311990#",
        CLOSED_CHICAGO,
        (),
        ["welcome", "main", "patient_id", "booking_hours", "booking_callback"],
        "reached: callback front_desk (not before 2026-11-30T08:00:00-06:00)",
        id="dental-booking-closed-callback",
    ),
    pytest.param(
        "flows/templates/dental-clinic.yaml",
        "toothache",
        OPEN_CHICAGO,
        ("--dial-status", "no-answer"),
        ["welcome", "main", "on_call", "emergency_message"],
        "reached: voicemail front_desk",
        id="dental-emergency-unanswered-voicemail",
    ),
    pytest.param(
        "flows/templates/dental-clinic.yaml",
        "can I speak to the receptionist",
        OPEN_CHICAGO,
        (),
        ["welcome", "main"],
        "reached: queue front_desk",
        id="dental-phrase-escape",
    ),
    # Turkish telecom
    pytest.param(
        "flows/templates/telecom-tr.yaml",
        "fatura,5321234567#,1",
        OPEN_ISTANBUL,
        (),
        ["karsilama", "ana_menu", "abone_no", "fatura_menu", "fatura_bilgi"],
        "reached: end (resolved)",
        id="tr-bill-self-service",
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
        "flows/templates/telecom-tr.yaml",
        "1,0",
        OPEN_ISTANBUL,
        (),
        ["karsilama", "ana_menu", "abone_no"],
        "reached: queue destek",
        id="tr-zero-at-ask",
    ),
    pytest.param(
        "flows/templates/telecom-tr.yaml",
        "arıza,2",
        CLOSED_ISTANBUL,
        (),
        ["karsilama", "ana_menu", "ariza_bilgi", "ariza_menu", "ariza_saat", "geri_arama"],
        "reached: callback destek (not before 2026-11-23T08:00:00+03:00)",
        id="tr-closed-callback",
    ),
    pytest.param(
        "flows/templates/telecom-tr.yaml",
        ",,",
        OPEN_ISTANBUL,
        (),
        ["karsilama", "ana_menu"],
        "reached: queue destek",
        id="tr-silence-until-person",
    ),
    # Arabic water utility
    pytest.param(
        "flows/templates/water-utility-ar.yaml",
        "2,12345678#,1",
        OPEN_RIYADH,
        (),
        ["tarhib", "qaima", "raqam_hisab", "fatura", "mablagh"],
        "reached: end (resolved)",
        id="ar-bill-self-service",
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
    pytest.param(
        "flows/templates/water-utility-ar.yaml",
        "0",
        CLOSED_RIYADH,
        (),
        ["tarhib", "qaima"],
        "reached: callback khidma (not before 2026-11-29T08:00:00+03:00)",
        id="ar-zero-when-closed-callback-at-opening",
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
