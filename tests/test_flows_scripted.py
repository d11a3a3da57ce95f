"""Scripted calls through flows.example.yaml and every template, with the real `ivr call`.

Each script is a list of caller turns run through `python -m ivr call FLOW --input ... --at
TIME` in a subprocess, at a fixed moment so opening hours are deterministic. A script
names every node the call visits (the `[node]` lines), the last line (`reached: ...`) and,
for escapes, how the caller reached a person in the very step of their last turn.

The last test walks to every menu and ask of every shipped flow with the engine itself
(`start_call`/`step`), so a new prompt in a shipped flow is covered without a new script.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

import pytest

from flows.loader import LoadedFlow, flow_files, load_path
from flows.model import AskNode, MenuNode, node_kind
from flows.phrases import escape_phrases
from ivr.actions import Enqueue, Listen, RequestCallback, Step
from ivr.cli import main as ivr_main
from ivr.engine import start_call, step
from ivr.opening_hours import is_open
from ivr.terminal import parse_turn

ROOT = Path(__file__).resolve().parent.parent
CALLER = "+15555550100"

EXAMPLE = "flows.example.yaml"
DENTAL = "flows/templates/dental-clinic.yaml"
TELECOM_TR = "flows/templates/telecom-tr.yaml"
WATER_AR = "flows/templates/water-utility-ar.yaml"
RESTAURANT_ES = "flows/templates/restaurant-es.yaml"


@dataclass(frozen=True)
class Shipped:
    """A shipped flow and two moments: one when its escape queue is open, one when not."""

    path: str
    open_at: str
    closed_at: str
    phrase: str  # an escape phrase in the flow's language, as a caller would say it


SHIPPED = {
    EXAMPLE: Shipped(
        EXAMPLE,
        "2026-11-23T10:00:00-05:00",  # Monday morning in New York
        "2026-11-22T23:00:00-05:00",  # Sunday night
        "I want to talk to a real person",
    ),
    DENTAL: Shipped(
        DENTAL,
        "2026-11-23T10:00:00-06:00",  # Monday in Chicago
        "2026-11-28T10:00:00-06:00",  # Saturday: the clinic is closed
        "I want to talk to a real person",
    ),
    TELECOM_TR: Shipped(
        TELECOM_TR,
        "2026-11-23T10:00:00+03:00",  # Monday in Istanbul
        "2026-11-22T23:00:00+03:00",  # Sunday night
        "temsilci",
    ),
    WATER_AR: Shipped(
        WATER_AR,
        "2026-11-22T10:00:00+03:00",  # Sunday: a working day in Riyadh
        "2026-11-27T10:00:00+03:00",  # Friday: the weekend
        "موظف",
    ),
    RESTAURANT_ES: Shipped(
        RESTAURANT_ES,
        "2026-11-24T13:00:00+01:00",  # Tuesday lunch in Madrid
        "2026-11-23T13:00:00+01:00",  # Monday: closed all day
        "agente",
    ),
}


@cache
def loaded(path: str) -> LoadedFlow:
    return load_path(ROOT / path)


def silences(path: str) -> str:
    """Enough silent turns (empty, comma-separated) to use up the re-prompts:
    escape.after_failures + 1."""
    return ",".join([""] * (loaded(path).flow.escape.after_failures + 1))


# --- running `ivr call` ----------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    code: int
    lines: tuple[str, ...]
    stderr: str

    @property
    def nodes(self) -> list[str]:
        return [m.group(1) for line in self.lines if (m := re.match(r"\[([^\]]+)\] \(", line))]

    @property
    def last(self) -> str:
        return self.lines[-1] if self.lines else ""

    @property
    def after_last_turn(self) -> list[str]:
        """What the call printed after the caller's last turn, indentation removed."""
        turns = [i for i, line in enumerate(self.lines) if line.startswith("  caller:")]
        start = turns[-1] + 1 if turns else 0
        return [line.strip() for line in self.lines[start:]]

    @property
    def escapes(self) -> list[str]:
        return [line.strip() for line in self.lines if "-> to a person" in line]


def parse_output(code: int, stdout: str, stderr: str) -> Call:
    return Call(code, tuple(stdout.rstrip("\n").splitlines()), stderr)


def ivr_call(path: str, turns: str, at: str, extra: tuple[str, ...] = ()) -> Call:
    """`ivr call` in a subprocess; `turns` is the --input value, e.g. "1,123456#,,agent"."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ivr",
            "call",
            path,
            "--input",
            turns,
            "--at",
            at,
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return parse_output(done.returncode, done.stdout, done.stderr)


@dataclass(frozen=True)
class Script:
    path: str
    turns: str  # the --input value
    at: str
    nodes: tuple[str, ...]
    reached: str
    via: str | None = None  # digit, speech or failures: the caller's last turn reached a person
    extra: tuple[str, ...] = ()

    def run(self) -> Call:
        return ivr_call(self.path, self.turns, self.at, self.extra)


# --- the scripts ----------------------------------------------------------------------

NY_OPEN, NY_CLOSED = SHIPPED[EXAMPLE].open_at, SHIPPED[EXAMPLE].closed_at
NY_NIGHTLY_MAINTENANCE = "2026-11-23T03:00:00-05:00"
CHI_OPEN, CHI_CLOSED = SHIPPED[DENTAL].open_at, SHIPPED[DENTAL].closed_at
IST_OPEN, IST_CLOSED = SHIPPED[TELECOM_TR].open_at, SHIPPED[TELECOM_TR].closed_at
RUH_OPEN, RUH_CLOSED = SHIPPED[WATER_AR].open_at, SHIPPED[WATER_AR].closed_at
ES_OPEN, ES_CLOSED = SHIPPED[RESTAURANT_ES].open_at, SHIPPED[RESTAURANT_ES].closed_at
BUSY = ("--dial-status", "busy")
RESOLVED = "reached: end (resolved)"

# The nodes every call of a flow starts with, up to its main menu.
EX = "greeting route_caller main_menu"
DE = "welcome main"
TR = "karsilama ana_menu"
AR = "tarhib qaima"
ES = "bienvenida menu_principal"

# Every menu and ask of each flow: the turns that lead there and the nodes on the way.
INPUT_NODES: dict[str, list[tuple[str, str, str]]] = {
    EXAMPLE: [
        ("main_menu", "", EX),
        ("account", "1", f"{EX} account"),
        ("billing_menu", "1,1234567#", f"{EX} account vip_check billing_menu"),
        ("outage_zip", "2", f"{EX} outage_zip"),
        ("outage_menu", "2,10001", f"{EX} outage_zip outage_info outage_menu"),
        ("outage_details", "2,10001,2", f"{EX} outage_zip outage_info outage_menu outage_details"),
    ],
    DENTAL: [
        ("main", "", DE),
        ("patient_id", "2", f"{DE} patient_id"),
        ("info_done", "3", f"{DE} info info_done"),
    ],
    TELECOM_TR: [
        ("ana_menu", "", TR),
        ("abone_no", "1", f"{TR} abone_no"),
        ("fatura_menu", "1,5321234567#", f"{TR} abone_no fatura_menu"),
        ("ariza_menu", "2", f"{TR} ariza_bilgi ariza_menu"),
    ],
    WATER_AR: [
        ("qaima", "", AR),
        ("raqam_hisab", "2", f"{AR} raqam_hisab"),
        ("fatura", "2,12345678#", f"{AR} raqam_hisab fatura"),
    ],
    RESTAURANT_ES: [
        ("menu_principal", "", ES),
        ("datos_reserva", "1", f"{ES} datos_reserva"),
        ("codigo_reserva", "2", f"{ES} codigo_reserva"),
        ("gestion_reserva", "2,123456#", f"{ES} codigo_reserva gestion_reserva"),
        ("informacion_fin", "4", f"{ES} informacion informacion_fin"),
    ],
}
OPEN_ESCAPE = {
    EXAMPLE: "reached: queue support",
    DENTAL: "reached: queue front_desk",
    TELECOM_TR: "reached: queue destek",
    WATER_AR: "reached: queue khidma",
    RESTAURANT_ES: "reached: queue sala",
}


def case(
    name: str,
    path: str,
    at: str,
    turns: str,
    nodes: str,
    reached: str,
    via: str | None = None,
    extra: tuple[str, ...] = (),
) -> object:
    """One script: `nodes` are the [node] lines in order, `reached` the last line."""
    return pytest.param(Script(path, turns, at, tuple(nodes.split()), reached, via, extra), id=name)


def escape_cases() -> Iterator[object]:
    """Escape by key at every menu and ask; by speech and by silence at the main menu and
    at the first ask."""
    for path, inputs in INPUT_NODES.items():
        shipped = SHIPPED[path]
        stem = Path(path).stem
        reached = OPEN_ESCAPE[path]
        for node, route, nodes in inputs:
            at_node = f"{route}," if route else ""
            yield case(
                f"{stem}-zero-at-{node}",
                path,
                shipped.open_at,
                f"{at_node}0",
                nodes,
                reached,
                "digit",
            )
        for node, route, nodes in inputs[:2]:
            at_node = f"{route}," if route else ""
            yield case(
                f"{stem}-escape-phrase-at-{node}",
                path,
                shipped.open_at,
                f"{at_node}{shipped.phrase}",
                nodes,
                reached,
                "speech",
            )
            yield case(
                f"{stem}-silent-until-a-person-at-{node}",
                path,
                shipped.open_at,
                at_node + silences(path),
                nodes,
                reached,
                "failures",
            )


SCRIPTS = [
    # --- flows.example.yaml: Northwind Fiber, an internet provider (en-US) ---
    case(
        "example-balance-self-service",
        EXAMPLE,
        NY_OPEN,
        "1,1234567#,1",
        f"{EX} account vip_check billing_menu balance",
        RESOLVED,
    ),
    case(
        "example-known-outage-self-service-by-speech",
        EXAMPLE,
        NY_OPEN,
        "internet down,10001,that's all",
        f"{EX} outage_zip outage_info outage_menu outage_done",
        RESOLVED,
    ),
    case(
        "example-hours-open-self-service",
        EXAMPLE,
        NY_OPEN,
        "4",
        f"{EX} hours_info open_now",
        RESOLVED,
    ),
    case(
        "example-business-account-branch-to-billing-queue",
        EXAMPLE,
        NY_OPEN,
        "billing,9123456#",
        f"{EX} account vip_check billing_queue",
        "reached: queue billing",
    ),
    case(
        "example-charge-question-to-billing-queue",
        EXAMPLE,
        NY_OPEN,
        "1,1234567#,2",
        f"{EX} account vip_check billing_menu billing_queue",
        "reached: queue billing",
    ),
    case(
        "example-outage-speech-ask-to-queue",
        EXAMPLE,
        NY_OPEN,
        "2,10001,2,my router lights are blinking",
        f"{EX} outage_zip outage_info outage_menu outage_details outage_queue",
        "reached: queue outage",
    ),
    case(
        "example-outage-queue-open-around-the-clock",
        EXAMPLE,
        NY_CLOSED,
        "2,10001,2,no signal since this morning",
        f"{EX} outage_zip outage_info outage_menu outage_details outage_queue",
        "reached: queue outage",
    ),
    case(
        "example-branch-on-caller-prefix",
        EXAMPLE,
        NY_OPEN,
        "4",
        "greeting route_caller area_outage_note main_menu hours_info open_now",
        RESOLVED,
        extra=("--caller", "+12125550123"),
    ),
    case(
        "example-branch-on-time-then-zero-is-a-callback-at-opening",
        EXAMPLE,
        NY_NIGHTLY_MAINTENANCE,
        "0",
        "greeting route_caller maintenance_note main_menu",
        "reached: callback support (not before 2026-11-23T08:00:00-05:00)",
        "digit",
    ),
    case(
        "example-flow-own-escape-phrase-at-ask",
        EXAMPLE,
        NY_OPEN,
        "1,I'd like to talk to a technician",
        f"{EX} account",
        "reached: queue support",
        "speech",
    ),
    case(
        "example-agent-at-free-speech-ask",
        EXAMPLE,
        NY_OPEN,
        "2,10001,2,agent",
        f"{EX} outage_zip outage_info outage_menu outage_details",
        "reached: queue support",
        "speech",
    ),
    case(
        "example-garbage-until-a-person-at-main_menu",
        EXAMPLE,
        NY_OPEN,
        "pizza,the weather today,7",
        EX,
        "reached: queue support",
        "failures",
    ),
    case(
        "example-garbage-until-a-person-at-account",
        EXAMPLE,
        NY_OPEN,
        "1,banana,12#,what",
        f"{EX} account",
        "reached: queue support",
        "failures",
    ),
    case(
        "example-closed-hours-callback",
        EXAMPLE,
        NY_CLOSED,
        "4",
        f"{EX} hours_info closed_now",
        "reached: callback support (not before 2026-11-23T08:00:00-05:00)",
    ),
    case(
        "example-zero-when-closed-is-a-callback-at-opening",
        EXAMPLE,
        NY_CLOSED,
        "0",
        EX,
        "reached: callback support (not before 2026-11-23T08:00:00-05:00)",
        "digit",
    ),
    case(
        "example-zero-on-a-closed-date-is-a-callback-next-day",
        EXAMPLE,
        "2026-12-25T10:00:00-05:00",
        "0",
        EX,
        "reached: callback support (not before 2026-12-26T09:00:00-05:00)",
        "digit",
    ),
    case(
        "example-transfer-answered",
        EXAMPLE,
        NY_OPEN,
        "sales",
        f"{EX} sales",
        "reached: transfer +15005550011",
    ),
    case(
        "example-busy-transfer-to-on_fail-voicemail",
        EXAMPLE,
        NY_OPEN,
        "3",
        f"{EX} sales sales_voicemail",
        "reached: voicemail support",
        extra=BUSY,
    ),
    case(
        "example-unanswered-transfer-to-on_fail-voicemail",
        EXAMPLE,
        NY_OPEN,
        "3",
        f"{EX} sales sales_voicemail",
        "reached: voicemail support",
        extra=("--dial-status", "no-answer"),
    ),
    # --- dental-clinic.yaml: Bright Smile Dental (en-US) ---
    case(
        "dental-address-self-service", DENTAL, CHI_OPEN, "3,2", f"{DE} info info_done bye", RESOLVED
    ),
    case(
        "dental-address-repeated-by-speech",
        DENTAL,
        CHI_OPEN,
        "directions,repeat,that's all",
        f"{DE} info info_done info info_done bye",
        RESOLVED,
    ),
    case(
        "dental-booking-to-front-desk-queue",
        DENTAL,
        CHI_OPEN,
        "appointment,01311990#",
        f"{DE} patient_id booking_hours booking_queue",
        "reached: queue front_desk",
    ),
    case(
        "dental-closed-hours-callback",
        DENTAL,
        CHI_CLOSED,
        "2,01311990#",
        f"{DE} patient_id booking_hours booking_callback",
        "reached: callback front_desk (not before 2026-11-30T08:00:00-06:00)",
    ),
    case(
        "dental-emergency-transfer-answered",
        DENTAL,
        CHI_OPEN,
        "toothache",
        f"{DE} on_call",
        "reached: transfer +12125550149",
    ),
    case(
        "dental-busy-transfer-to-on_fail-voicemail",
        DENTAL,
        CHI_CLOSED,
        "1",
        f"{DE} on_call emergency_message",
        "reached: voicemail front_desk",
        extra=BUSY,
    ),
    case(
        "dental-garbage-until-a-person",
        DENTAL,
        CHI_OPEN,
        "pizza,nine hundred,purple",
        DE,
        "reached: queue front_desk",
        "failures",
    ),
    case(
        "dental-flow-own-escape-phrase",
        DENTAL,
        CHI_OPEN,
        "can I speak to the receptionist",
        DE,
        "reached: queue front_desk",
        "speech",
    ),
    # --- telecom-tr.yaml: Anadolu Mobil, a mobile operator (tr-TR) ---
    case(
        "tr-last-bill-self-service",
        TELECOM_TR,
        IST_OPEN,
        "fatura,5321234567#,1",
        f"{TR} abone_no fatura_menu fatura_bilgi",
        RESOLVED,
    ),
    case(
        "tr-known-outage-self-service-by-speech",
        TELECOM_TR,
        IST_OPEN,
        "internet yok,evet",
        f"{TR} ariza_bilgi ariza_menu ariza_tamam",
        RESOLVED,
    ),
    case(
        "tr-bill-dispute-to-queue",
        TELECOM_TR,
        IST_OPEN,
        "1,5321234567#,itiraz",
        f"{TR} abone_no fatura_menu fatura_kuyruk",
        "reached: queue fatura",
    ),
    case(
        "tr-other-fault-open-to-queue",
        TELECOM_TR,
        IST_OPEN,
        "arıza,2",
        f"{TR} ariza_bilgi ariza_menu ariza_saat destek_kuyruk",
        "reached: queue destek",
    ),
    case(
        "tr-closed-hours-callback",
        TELECOM_TR,
        IST_CLOSED,
        "arıza,2",
        f"{TR} ariza_bilgi ariza_menu ariza_saat geri_arama",
        "reached: callback destek (not before 2026-11-23T08:00:00+03:00)",
    ),
    case(
        "tr-busy-transfer-to-on_fail-voicemail",
        TELECOM_TR,
        IST_OPEN,
        "3",
        f"{TR} tarife_bilgi satis_mesaj",
        "reached: voicemail destek",
        extra=BUSY,
    ),
    case(
        "tr-escape-phrase-with-suffix-at-ask",
        TELECOM_TR,
        IST_OPEN,
        "1,Müşteri temsilcisiyle görüşmek istiyorum",
        f"{TR} abone_no",
        "reached: queue destek",
        "speech",
    ),
    case(
        "tr-garbage-until-a-person",
        TELECOM_TR,
        IST_OPEN,
        "hava durumu,merhaba,pizza",
        TR,
        "reached: queue destek",
        "failures",
    ),
    # --- water-utility-ar.yaml: Miyah Alriyadh, a water utility (ar-SA) ---
    case(
        "ar-amount-due-self-service",
        WATER_AR,
        RUH_OPEN,
        "2,12345678#,1",
        f"{AR} raqam_hisab fatura mablagh",
        RESOLVED,
    ),
    case(
        "ar-hours-self-service-by-speech",
        WATER_AR,
        RUH_OPEN,
        "مواعيد",
        f"{AR} mawaid mawaid_nihaya",
        RESOLVED,
    ),
    case(
        "ar-leak-to-emergency-queue-even-when-closed",
        WATER_AR,
        RUH_CLOSED,
        "تسرب",
        f"{AR} tawari_queue",
        "reached: queue tawari",
    ),
    case(
        "ar-bill-dispute-open-to-queue",
        WATER_AR,
        RUH_OPEN,
        "2,12345678#,2",
        f"{AR} raqam_hisab fatura dawam_fatura khidma_queue",
        "reached: queue khidma",
    ),
    case(
        "ar-closed-hours-callback",
        WATER_AR,
        RUH_CLOSED,
        "2,12345678#,اعتراض",
        f"{AR} raqam_hisab fatura dawam_fatura itisal_lahiq",
        "reached: callback khidma (not before 2026-11-29T08:00:00+03:00)",
    ),
    case(
        "ar-busy-transfer-to-on_fail-voicemail",
        WATER_AR,
        RUH_OPEN,
        "4",
        f"{AR} tawsil tawsil_barid",
        "reached: voicemail khidma",
        extra=BUSY,
    ),
    case(
        "ar-escape-phrase-with-article-at-ask",
        WATER_AR,
        RUH_OPEN,
        "2,أريد التحدث مع الموظف",
        f"{AR} raqam_hisab",
        "reached: queue khidma",
        "speech",
    ),
    case(
        "ar-garbage-until-a-person",
        WATER_AR,
        RUH_OPEN,
        "مرحبا,الطقس اليوم,بيتزا",
        AR,
        "reached: queue khidma",
        "failures",
    ),
    # --- restaurant-es.yaml: Casa Lucía, a restaurant in Madrid (es-ES) ---
    case(
        "es-cancel-booking-self-service",
        RESTAURANT_ES,
        ES_OPEN,
        "2,123456#,1",
        f"{ES} codigo_reserva gestion_reserva cancelada",
        RESOLVED,
    ),
    case(
        "es-address-self-service-by-speech",
        RESTAURANT_ES,
        ES_CLOSED,
        "horario,eso es todo",
        f"{ES} informacion informacion_fin despedida",
        RESOLVED,
    ),
    case(
        "es-booking-to-queue",
        RESTAURANT_ES,
        ES_OPEN,
        "quiero reservar una mesa,el sábado a las nueve para cuatro",
        f"{ES} datos_reserva horario_reservas sala_reservas",
        "reached: queue sala",
    ),
    case(
        "es-change-booking-to-queue",
        RESTAURANT_ES,
        ES_OPEN,
        "2,123456#,2",
        f"{ES} codigo_reserva gestion_reserva horario_reservas sala_reservas",
        "reached: queue sala",
    ),
    case(
        "es-closed-hours-callback",
        RESTAURANT_ES,
        ES_CLOSED,
        "1,mañana a las dos",
        f"{ES} datos_reserva horario_reservas reserva_devolucion",
        "reached: callback sala (not before 2026-11-24T12:00:00+01:00)",
    ),
    case(
        "es-zero-between-lunch-and-dinner-is-a-callback-at-dinner",
        RESTAURANT_ES,
        "2026-11-24T17:00:00+01:00",
        "0",
        ES,
        "reached: callback sala (not before 2026-11-24T19:30:00+01:00)",
        "digit",
    ),
    case(
        "es-delivery-transfer-answered",
        RESTAURANT_ES,
        ES_OPEN,
        "pedido a domicilio",
        f"{ES} pedidos",
        "reached: transfer +34915550120",
    ),
    case(
        "es-busy-transfer-to-on_fail-voicemail",
        RESTAURANT_ES,
        ES_OPEN,
        "3",
        f"{ES} pedidos pedidos_buzon",
        "reached: voicemail sala",
        extra=BUSY,
    ),
    case(
        "es-escape-sentence-at-ask",
        RESTAURANT_ES,
        ES_OPEN,
        "2,Quiero hablar con un agente",
        f"{ES} codigo_reserva",
        "reached: queue sala",
        "speech",
    ),
    case(
        "es-garbage-until-a-person",
        RESTAURANT_ES,
        ES_OPEN,
        "el tiempo,pizza,azul",
        ES,
        "reached: queue sala",
        "failures",
    ),
    *escape_cases(),
]


@pytest.fixture(scope="module")
def calls(request: pytest.FixtureRequest) -> Iterator[dict[Script, Future[Call]]]:
    """Start every selected script at once (each is a Python process); tests wait on theirs."""
    wanted = {
        params["script"]
        for item in request.session.items
        if (params := getattr(getattr(item, "callspec", None), "params", None))
        and isinstance(params.get("script"), Script)
    }
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        futures = {script: pool.submit(script.run) for script in wanted}
        yield futures
        for future in futures.values():
            future.cancel()


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripted_call(script: Script, calls: dict[Script, Future[Call]]) -> None:
    future = calls.get(script)
    call = future.result() if future is not None else script.run()
    output = "\n".join(call.lines)
    assert call.code == 0, output + call.stderr
    assert call.stderr == ""  # shipped flows load without warnings
    assert call.nodes == list(script.nodes), output
    assert call.last == script.reached, output
    if script.via is None:
        assert call.escapes == [], output
    else:
        # The caller's last turn is answered by the route to a person, nothing in between.
        assert call.after_last_turn[0] == f"-> to a person (via {script.via})", output
        assert call.escapes == [f"-> to a person (via {script.via})"], output


def test_every_menu_and_ask_has_a_scripted_zero_escape() -> None:
    for path, inputs in INPUT_NODES.items():
        flow = loaded(path).flow
        prompts = {name for name, node in flow.nodes.items() if node_kind(node) in {"menu", "ask"}}
        assert {node for node, _, _ in inputs} == prompts, path


# --- the shipped files themselves ------------------------------------------------------


def shipped_paths() -> list[str]:
    templates = [str(Path(p).relative_to(ROOT)) for p in flow_files(ROOT / "flows" / "templates")]
    return [EXAMPLE, *sorted(templates)]


def test_every_shipped_flow_has_scripts() -> None:
    assert sorted(SHIPPED) == sorted(shipped_paths())


def test_shipped_flows_lint_clean_in_strict_mode() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ivr", "lint", "--strict", EXAMPLE, "flows/templates/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_example_uses_every_node_kind_and_is_the_only_default_flow() -> None:
    example = loaded(EXAMPLE).flow
    assert {node_kind(node) for node in example.nodes.values()} == {
        "say",
        "menu",
        "ask",
        "hours",
        "branch",
        "queue",
        "transfer",
        "callback",
        "voicemail",
        "end",
    }
    asks = [n.ask for n in example.nodes.values() if isinstance(n, AskNode)]
    assert any(a.digits is not None for a in asks) and any(a.speech is not None for a in asks)
    assert example.numbers == []
    templates = [loaded(p).flow for p in shipped_paths()[1:]]
    assert len(templates) >= 4
    assert all(t.numbers for t in templates)
    ids = [example.id, *(t.id for t in templates)]
    assert len(set(ids)) == len(ids)
    numbers = [n for t in templates for n in t.numbers]
    assert len(set(numbers)) == len(numbers)
    assert {"en", "es", "tr", "ar"} <= {t.language for t in [example, *templates]}


# --- every menu and ask, routes computed with the engine ------------------------------


def answers(path: str, node_name: str) -> list[str]:
    """Turns that move on from an input node: each menu option, one valid answer."""
    node = loaded(path).flow.nodes[node_name]
    if isinstance(node, MenuNode):
        return [o.digit or o.phrases[0] for o in node.menu.options]
    assert isinstance(node, AskNode)
    if node.ask.digits is not None:
        return ["7" * node.ask.digits.min + node.ask.digits.finish_key]
    hints = node.ask.speech.hints if node.ask.speech else []
    return [hints[0] if hints else "yes"]


def moment(at: str) -> datetime:
    return datetime.fromisoformat(at)


def begin(path: str, at: str) -> Step:
    flow = loaded(path)
    dialed = (flow.flow.numbers or [""])[0]  # as `ivr call` dials it
    return start_call(flow.flow, flow.version, "CA-scripted", CALLER, dialed, moment(at))


def walk(path: str, turns: tuple[str, ...], at: str) -> Step:
    current = begin(path, at)
    for turn in turns:
        current = step(loaded(path).flow, current.state, parse_turn(turn), moment(at))
    return current


def input_routes(path: str, at: str) -> dict[str, tuple[str, ...]]:
    """For every menu and ask reachable at `at`, the first turns (breadth first) to it."""
    flow = loaded(path).flow
    routes: dict[str, tuple[str, ...]] = {}
    frontier: list[tuple[Step, tuple[str, ...]]] = [(begin(path, at), ())]
    while frontier:
        current, turns = frontier.pop(0)
        if not current.waiting or current.state.node in routes:
            continue
        routes[current.state.node] = turns
        for answer in answers(path, current.state.node):
            after = step(flow, current.state, parse_turn(answer), moment(at))
            frontier.append((after, (*turns, answer)))
    return routes


def route_cases() -> Iterator[object]:
    for path, shipped in SHIPPED.items():
        for when, at in (("open", shipped.open_at), ("closed", shipped.closed_at)):
            for node, turns in input_routes(path, at).items():
                for via, turn in (
                    ("digit", loaded(path).flow.escape.digits),
                    ("speech", shipped.phrase),
                ):
                    yield pytest.param(
                        path,
                        at,
                        node,
                        turns,
                        turn,
                        via,
                        id=f"{Path(path).stem}-{when}-{node}-{via}",
                    )


def test_engine_routes_reach_every_menu_and_ask() -> None:
    for path, shipped in SHIPPED.items():
        flow = loaded(path).flow
        prompts = {name for name, node in flow.nodes.items() if node_kind(node) in {"menu", "ask"}}
        found = set(input_routes(path, shipped.open_at)) | set(
            input_routes(path, shipped.closed_at)
        )
        assert found == prompts, path


@pytest.mark.parametrize(("path", "at", "node", "turns", "turn", "via"), list(route_cases()))
def test_escape_in_one_step_at_every_menu_and_ask(
    path: str,
    at: str,
    node: str,
    turns: tuple[str, ...],
    turn: str,
    via: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert isinstance(walk(path, turns, at).actions[-1], Listen)
    code = ivr_main(
        ["call", path, "--input", ",".join((*turns, turn)), "--at", at, "--caller", CALLER]
    )
    out = capsys.readouterr()
    call = parse_output(code, out.out, out.err)
    output = out.out
    assert code == 0, output
    assert call.nodes[-1] == node, output  # no node entered after the escape turn
    assert call.after_last_turn[0] == f"-> to a person (via {via})", output
    assert not any(line.startswith("[") for line in call.after_last_turn), output
    flow = loaded(path).flow
    queue = flow.escape.queue
    assert queue is not None
    hours = flow.hours.get(flow.queue(queue).hours or "")
    if hours is None or is_open(hours, moment(at)):
        assert call.last == f"reached: queue {queue}", output
    else:
        assert call.last.startswith(f"reached: callback {queue} (not before "), output


def phrase_cases() -> Iterator[object]:
    for path, shipped in SHIPPED.items():
        flow = loaded(path).flow
        for node, turns in input_routes(path, shipped.open_at).items():
            for phrase in escape_phrases(flow.locale, flow.escape.phrases):
                yield pytest.param(
                    path, node, turns, phrase, id=f"{Path(path).stem}-{node}-{phrase}"
                )


@pytest.mark.parametrize(("path", "node", "turns", "phrase"), list(phrase_cases()))
def test_every_escape_phrase_at_every_menu_and_ask(
    path: str, node: str, turns: tuple[str, ...], phrase: str
) -> None:
    """Every phrase a flow accepts, said inside a sentence, reaches a person in one step."""
    at = SHIPPED[path].open_at
    flow = loaded(path).flow
    here = walk(path, turns, at)
    assert here.state.node == node and here.waiting
    said = f"{phrase}, please" if flow.language != "ar" else f"{phrase} من فضلك"
    answer = step(flow, here.state, parse_turn(said), moment(at))
    assert [e.details.get("via") for e in answer.events if e.kind == "escape"] == ["speech"]
    assert not [e for e in answer.events if e.kind == "node_entered"]
    assert isinstance(answer.final, Enqueue | RequestCallback)
    assert answer.final.queue == flow.escape.queue
