"""`ivr schema`: only a Draft 2020-12 JSON Schema on stdout, one that agrees with the loader."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no types-jsonschema in the dev extras
import pytest
from pydantic import ValidationError

from flows.model import Flow
from flows.schema import flow_json_schema
from flows.yaml_reader import read_yaml
from ivr.cli import main

ROOT = Path(__file__).resolve().parent.parent

Data = dict[str, Any]

VALID_FLOW: Data = {
    "id": "schema-test",
    "numbers": ["+15005550006"],
    "locale": "en-US",
    "voice": "Polly.Joanna",
    "escape": {"queue": "support", "digits": "0", "phrases": ["agent"], "after_failures": 2},
    "hours": {
        "office": {
            "timezone": "America/New_York",
            "open": {"mon-fri": "08:00-20:00", "sat": "09:00-13:00"},
            "closed_dates": ["2026-12-25"],
        }
    },
    "agents": [{"id": "alice", "phone": "+15005550010", "queues": ["support"]}],
    "queues": {
        "support": {
            "hours": "office",
            "announce_every": "45s",
            "callback": {"offer_after": "30s", "digit": "1"},
            "max_wait": 900,
        }
    },
    "start": "greeting",
    "nodes": {
        "greeting": {
            "say": {"en-US": "Hello. Press 0 or say agent for a person.", "es": "Hola."},
            "next": "route",
        },
        "route": {
            "branch": {
                "cases": [
                    {"if": {"var": "caller", "starts_with": "+34"}, "goto": "main"},
                    {"if": {"not": {"days": "mon-fri", "timezone": "UTC"}}, "goto": "open_check"},
                ],
                "otherwise": "main",
            }
        },
        "main": {
            "menu": {
                "prompt": "For billing press 1. For sales press 2.",
                "timeout": "5s",
                "options": [
                    {"digit": "1", "phrases": ["billing"], "goto": "account"},
                    {"digit": "2", "goto": "sales"},
                ],
            }
        },
        "account": {
            "ask": {
                "prompt": "Enter your account number, then press pound.",
                "digits": {"min": 6, "max": 10},
                "save_as": "account_number",
            },
            "next": "open_check",
        },
        "open_check": {"hours": "office", "open": "billing", "closed": "after_hours"},
        "billing": {"queue": "support", "say": "Account {account_number}: one moment."},
        "sales": {"transfer": {"to": "+15005550011", "on_fail": "sales_vm"}},
        "sales_vm": {"voicemail": {"say": "Leave a message for sales."}},
        "after_hours": {"callback": {"queue": "support", "say": "We will call you back."}},
        "done": {"end": {"say": "Goodbye.", "resolved": True}},
    },
}


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(flow_json_schema())


def test_main_prints_only_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert json.loads(out) == flow_json_schema()


def test_python_m_ivr_schema_prints_only_json() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ivr", "schema"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    schema = json.loads(done.stdout)  # the whole of stdout, nothing before or after
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_it_is_a_valid_draft_2020_12_schema() -> None:
    schema = flow_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft202012Validator


def test_a_valid_flow_validates(validator: jsonschema.Draft202012Validator) -> None:
    assert [e.message for e in validator.iter_errors(VALID_FLOW)] == []
    Flow.model_validate(VALID_FLOW)  # and the loader agrees


def test_a_valid_flow_read_from_yaml_validates(validator: jsonschema.Draft202012Validator) -> None:
    """What the YAML language server sees: the file as YAML 1.2 data."""
    text = "\n".join(
        [
            "id: yaml-flow",
            "escape: {queue: support}",
            "hours:",
            "  office: {timezone: Europe/Istanbul, open: {mon-fri: 09:00-18:00},",
            "           closed_dates: [2026-10-29]}",
            "queues:",
            "  support: {hours: office, callback: {offer_after: 30s}, max_wait: 15m}",
            "start: main",
            "nodes:",
            "  main:",
            "    menu:",
            '      prompt: "Press 1 for billing. Press 0 or say agent for a person."',
            '      options: [{digit: "1", goto: billing}]',
            "  billing: {queue: support}",
        ]
    )
    document, problems = read_yaml(text + "\n", "yaml-flow.yaml")
    assert problems == []
    assert document is not None
    assert [e.message for e in validator.iter_errors(document.data)] == []


def _set(path: tuple[str | int, ...], value: Any) -> Callable[[Data], None]:
    def change(flow: Data) -> None:
        target: Any = flow
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


def _rename(path: tuple[str | int, ...], old: str, new: str) -> Callable[[Data], None]:
    def change(flow: Data) -> None:
        target: Any = flow
        for part in path:
            target = target[part]
        target[new] = target.pop(old)

    return change


MENU = ("nodes", "main", "menu")


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(_set(("promt",), "hello"), id="unknown-top-level-key"),
        pytest.param(_rename(MENU, "prompt", "promt"), id="misspelt-menu-key"),
        pytest.param(_rename(("nodes", "account"), "next", "nxt"), id="misspelt-node-key"),
        pytest.param(_rename(("nodes", "sales", "transfer"), "on_fail", "onfail"), id="on-fail"),
        pytest.param(_set((*MENU, "options", 0, "digit"), 1), id="digit-as-number"),
        pytest.param(_set((*MENU, "options", 0, "digit"), "12"), id="two-keys-as-digit"),
        pytest.param(_set(("escape", "digits"), 0), id="escape-digit-as-number"),
        pytest.param(_set(("queues", "support", "max_wait"), "45x"), id="bad-duration"),
        pytest.param(_set(("nodes", "done", "queue"), "support"), id="two-kinds"),
        pytest.param(_set(("nodes", "done"), {"next": "main"}), id="no-kind"),
        pytest.param(_set(("numbers",), [15005550006]), id="number-as-number"),
        pytest.param(_set(("nodes", "done", "end", "resolved"), "yes"), id="yes-as-bool"),
        pytest.param(lambda flow: flow.pop("start"), id="missing-start"),
    ],
)
def test_a_broken_flow_fails_validation(
    validator: jsonschema.Draft202012Validator, change: Callable[[Data], None]
) -> None:
    flow = copy.deepcopy(VALID_FLOW)
    change(flow)
    assert list(validator.iter_errors(flow)) != []
    with pytest.raises(ValidationError):  # the loader refuses it too
        Flow.model_validate(flow)


def test_a_bad_node_name_fails_validation(validator: jsonschema.Draft202012Validator) -> None:
    flow = copy.deepcopy(VALID_FLOW)
    flow["nodes"]["main menu"] = {"queue": "support"}
    assert list(validator.iter_errors(flow)) != []
