"""The linter (flows/lint*.py): every rule against a bad flow and its fixed twin.

Each rule has tests/lint_cases/<CODE>_bad.yaml and <CODE>_fixed.yaml. The bad file must give
exactly the messages below (line and column of the key or value at fault, checked by hand);
the fixed one loads with no problem at all. A few flows written inline cover the corners of
the graph rules (loops through transfers, saved values in loops, opening hours first).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flows.lint import lint
from flows.loader import check_text, load_text
from flows.problems import Problem

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "lint_cases"
DOCS = ROOT / "README.md"  # the lint rules are documented in the README
LINT_SOURCES = sorted((ROOT / "flows").glob("lint*.py"))

# Messages of each bad case, without the leading "path:" (added by `shown`).
ESCAPE_KEY = "the escape key that reaches a person from every prompt (escape.digits)"
KNOWN = "(known variables: account_number, caller, dialed, flow)"
L110 = "that no caller can reach (no queue node, callback or escape uses it)"
L111 = (
    'takes answers of one key (digits min 1), but the answer "0" alone is the escape key and '
    "reaches a person; set min to 2 or more if answers are longer"
)
L201 = "remove it or go to it from another node"
L202 = "add callback: {offer_after: 2m} so that callers are not left on hold"
L203 = "callers forget the start of prompts longer than about 30 words: shorten or split it"

EXPECTED: dict[str, list[str]] = {
    "L101": [
        "4:8: L101 the flow starts at 'main_mnu', but there is no node 'main_mnu'; "
        "did you mean 'main_menu'?",
        "10:30: L101 option 1 of menu 'main_menu' goes to 'biling', but there is no node "
        "'biling'; did you mean 'billing'?",
        "11:30: L101 option 2 of menu 'main_menu' goes to 'shop', but there is no node 'shop' "
        "(nodes: main_menu, billing)",
    ],
    "L102": [
        f"11:19: L102 option 2 of menu 'main_menu' takes key \"0\", {ESCAPE_KEY}; "
        "choose another key",
    ],
    "L103": [
        "12:3: L103 a call can end at 'bye' without reaching a person: "
        "main_menu -> hours_info -> bye; set resolved: true if the caller's need is met there, "
        "or send the call to a queue, transfer, callback or voicemail",
    ],
    "L104": [
        "8:48: L104 these nodes loop forever without asking the caller anything: "
        "news -> more_news -> news; put a menu or ask on the loop, or let it end",
    ],
    "L105": [
        "8:58: L105 when 'office' hours are closed, 'office_hours' goes to 'on_call', from "
        "where no callback or voicemail can be reached; offer callers one outside opening hours",
    ],
    "L106": [
        "13:10: L106 the say text of 'confirm' uses {acount_number} and {first_name}, which no "
        f"ask saves {KNOWN}; did you mean {{account_number}} for {{acount_number}}?",
        "18:28: L106 case 1 of branch 'route' tests the variable 'acount_number', which no ask "
        f"saves {KNOWN}; did you mean 'account_number'?",
        f"21:38: L106 the say text of 'vip' (en-US) uses {{nmae}}, which no ask saves {KNOWN}",
    ],
    "L107": [
        "11:19: L107 option 2 of menu 'main_menu' takes key \"1\", like option 1; pressing it "
        "always chooses option 1",
    ],
    "L108": [
        "11:41: L108 the phrase 'BILLING' of option 2 of menu 'main_menu' repeats 'billing' of "
        "option 1; saying it always chooses option 1",
        "12:34: L108 the phrase 'agent' of option 3 of menu 'main_menu' is an escape phrase: "
        "saying it reaches a person, never this option",
        "12:41: L108 the phrase 'sales agent' of option 3 of menu 'main_menu' contains the "
        "escape phrase 'agent': saying it reaches a person, never this option",
    ],
    "L109": [
        "6:20: L109 queue 'support' has the opening hours 'ofice', which are not defined under "
        "hours; did you mean 'office'?",
        "9:25: L109 'office_hours' checks the opening hours 'weekend', which are not defined "
        "under hours (defined: office)",
    ],
    "L110": [
        f"4:58: L110 warning: agent alice answers queue 'suport' {L110}; did you mean 'support'?",
        f"4:66: L110 warning: agent alice answers queue 'billing' {L110}",
    ],
    "L111": [
        f"9:15: L111 warning: ask 'booking' {L111}",
        f"13:60: L111 warning: ask 'member' {L111}",
    ],
    "L201": [
        f"12:3: L201 warning: node 'old_menu' is never reached from start 'main_menu'; {L201}",
        f"13:3: L201 warning: node 'old_queue' is never reached from start 'main_menu'; {L201}",
    ],
    "L202": [
        f"4:3: L202 warning: queue 'support' has no callback offer; {L202}",
        "12:20: L202 warning: queue 'billing' is not defined under queues, so it has no callback "
        f"offer; define it and {L202}",
    ],
    "L203": [
        f"7:10: L203 warning: the say text of 'greeting' is 34 words long; {L203}",
        f"16:13: L203 warning: the prompt of 'main_menu' (es) is 32 words long; {L203}",
    ],
    "L204": [
        "10:9: L204 warning: menu 'main_menu' has 6 options; callers remember about 5: move "
        "some into a second menu",
    ],
    "L205": [
        "15:18: L205 warning: the say text of 'balance' uses {account}, but a call can get "
        "there without passing 'account', which saves it: main_menu -> balance; the caller "
        "would hear nothing in its place",
    ],
    "L206": [
        "6:19: L206 warning: callers are asked for input before they hear how to reach a "
        "person: greeting -> main_menu; mention the escape key 0 or a phrase such as 'agent' "
        "before the first question (Texas HB 3762 asks for that at the start of each call)",
    ],
}


def check_case(name: str) -> tuple[bool, list[str]]:
    """Whether the case file loads, and its problems as printed."""
    path = f"tests/lint_cases/{name}"
    loaded, problems = check_text((CASES / name).read_text(encoding="utf-8"), path)
    return loaded is not None, [str(p) for p in problems]


def codes_in_sources() -> set[str]:
    return {
        code
        for source in LINT_SOURCES
        for code in re.findall(r'"(L[0-9]{3})"', source.read_text(encoding="utf-8"))
    }


@pytest.mark.parametrize(
    ("code", "expected"), [pytest.param(c, e, id=f"{c}-bad") for c, e in EXPECTED.items()]
)
def test_bad_case_gives_exactly_these_messages(code: str, expected: list[str]) -> None:
    loads, problems = check_case(f"{code}_bad.yaml")
    assert problems == [f"tests/lint_cases/{code}_bad.yaml:{line}" for line in expected]
    warning = code.startswith("L2") or code in ("L110", "L111")
    assert loads is warning  # a flow with an error is never served; warnings do not stop it


@pytest.mark.parametrize("code", [pytest.param(c, id=f"{c}-fixed") for c in EXPECTED])
def test_fixed_case_is_clean(code: str) -> None:
    assert check_case(f"{code}_fixed.yaml") == (True, [])


def test_every_rule_has_cases_and_expectations() -> None:
    codes = codes_in_sources()
    assert codes == set(EXPECTED)
    files = {p.name for p in CASES.glob("*.yaml")}
    assert files == {f"{c}_{kind}.yaml" for c in codes for kind in ("bad", "fixed")}


def test_every_code_is_documented() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    codes = codes_in_sources()
    assert codes, "no lint codes found in flows/lint*.py"
    for code in sorted(codes):
        assert re.search(rf"^#+ .*\b{code}\b", docs, flags=re.MULTILINE), f"{code} has no section"


def test_severity_follows_the_code() -> None:
    for code in EXPECTED:
        _, problems = check_text((CASES / f"{code}_bad.yaml").read_text(encoding="utf-8"), "x.yaml")
        warning = code.startswith("L2") or code in ("L110", "L111")
        assert {p.severity for p in problems} == {"warning" if warning else "error"}


# --- corners of the graph rules, on flows written inline -------------------------------------

HEAD = """\
id: corner
escape: {queue: support}
queues: {support: {callback: {offer_after: 30s}}}
"""


def problems_of(body: str) -> list[str]:
    _, problems = check_text(HEAD + body, "c.yaml")
    return [str(p) for p in problems]


def codes_of(body: str) -> list[str]:
    _, problems = check_text(HEAD + body, "c.yaml")
    return [p.code for p in problems]


def test_a_transfer_retrying_itself_is_a_loop_named_from_start() -> None:
    body = """\
start: greeting
nodes:
  greeting: {say: "Press 0 or say agent at any time.", next: desk}
  desk: {transfer: {to: "+15005550011", on_fail: sorry}}
  sorry: {say: "Still trying.", next: check}
  check:
    branch:
      cases: [{if: {var: caller, exists: true}, goto: desk}]
      otherwise: sorry
"""
    assert problems_of(body) == [
        "c.yaml:11:55: L104 these nodes loop forever without asking the caller anything: "
        "desk -> sorry -> check -> desk; put a menu or ask on the loop, or let it end"
    ]


def test_a_loop_names_the_other_nodes_looping_with_it() -> None:
    body = """\
start: a
nodes:
  a: {say: "Press 0 or say agent at any time.", next: b}
  b:
    branch:
      cases: [{if: {var: caller, exists: true}, goto: a}]
      otherwise: c
  c: {say: "C.", next: b}
  d: {say: "D.", next: d}
"""
    assert problems_of(body) == [
        "c.yaml:9:55: L104 these nodes loop forever without asking the caller anything: "
        "a -> b -> a; 'c' loop with them too; put a menu or ask on the loop, or let it end",
        "c.yaml:12:3: L201 warning: node 'd' is never reached from start 'a'; remove it or go "
        "to it from another node",
        "c.yaml:12:24: L104 these nodes loop forever without asking the caller anything: "
        "d -> d; put a menu or ask on the loop, or let it end",
    ]


def test_branches_that_meet_again_are_not_a_loop() -> None:
    body = """\
start: check
nodes:
  check:
    branch:
      cases: [{if: {var: dialed, equals: "+15005550006"}, goto: hello}]
      otherwise: hello
  hello:
    menu:
      prompt: "Press 1 to start again. Press 0 or say agent for a person."
      options: [{digit: "1", goto: check}]
"""
    assert problems_of(body) == []


def test_closed_hours_may_reach_voicemail_through_a_menu() -> None:
    body = """\
hours: {office: {timezone: UTC, open: {mon-fri: "09:00-17:00"}}}
start: open_check
nodes:
  open_check: {hours: office, open: desk, closed: closed_menu}
  desk: {queue: support}
  closed_menu:
    menu:
      prompt: "We are closed. Press 1 to leave a message, press 0 or say agent for a callback."
      options: [{digit: "1", goto: message}]
  message: {voicemail: {say: "Leave a message after the tone."}}
"""
    assert problems_of(body) == []


def test_a_value_saved_before_a_loop_is_saved_all_round_it() -> None:
    body = """\
start: account
nodes:
  account:
    ask: {prompt: "Press 0 or say agent at any time. Account?", digits: {min: 4}, save_as: acct}
    next: menu
  menu:
    menu:
      prompt: "Account {acct}: press 1 to hear it again."
      options: [{digit: "1", goto: repeat}]
  repeat: {say: "Once more, {acct}.", next: menu}
"""
    assert problems_of(body) == []


def test_a_value_saved_inside_a_loop_is_not_saved_the_first_time_round() -> None:
    body = """\
start: menu
nodes:
  menu:
    menu:
      prompt: "Last entry {code}. Press 1 to enter a code, 0 or say agent for a person."
      options: [{digit: "1", goto: entry}]
  entry:
    ask: {prompt: "Your code?", digits: {min: 4}, save_as: code}
    next: menu
"""
    assert codes_of(body) == ["L205"]
    assert "without passing 'entry', which saves it: menu; " in problems_of(body)[0]


def test_the_escape_announcement_is_looked_for_on_every_way_in() -> None:
    body = """\
start: check
nodes:
  check:
    branch:
      cases: [{if: {var: caller, starts_with: "+1"}, goto: day}]
      otherwise: night
  day: {say: "Welcome. Press 0 or say agent at any time.", next: menu}
  night: {say: "Welcome, night owl.", next: menu}
  menu:
    menu:
      prompt: "Press 1 for opening hours."
      options: [{digit: "1", goto: info}]
  info: {end: {say: "We open at nine.", resolved: true}}
"""
    assert problems_of(body) == [
        "c.yaml:11:16: L206 warning: callers are asked for input before they hear how to "
        "reach a person: check -> night -> menu; mention the escape key 0 or a phrase such as "
        "'agent' before the first question (Texas HB 3762 asks for that at the start of each "
        "call)"
    ]


def test_the_announcement_in_the_flow_language_and_its_escape_key() -> None:
    spanish = HEAD.replace("escape: {queue: support}", 'escape: {queue: support, digits: "9"}')
    body = """\
locale: es-ES
start: menu
nodes:
  menu:
    menu:
      prompt: {es-ES: "Para hablar con un agente, pulse 9.", en-US: "For billing press 1."}
      options: [{digit: "1", goto: desk}]
  desk: {queue: support}
"""
    loaded, problems = check_text(spanish + body, "es.yaml")
    assert loaded is not None and problems == []
    unannounced = body.replace("Para hablar con un agente, pulse 9.", "Para facturas, pulse 1.")
    loaded, problems = check_text(spanish + unannounced, "es.yaml")
    assert [p.code for p in problems] == ["L206"]
    assert "mention the escape key 9 or a phrase such as 'agente'" in problems[0].message


def test_a_one_key_answer_is_fine_when_the_escape_key_is_not_a_number() -> None:
    head = HEAD.replace("escape: {queue: support}", 'escape: {queue: support, digits: "*"}')
    body = """\
start: size
nodes:
  size:
    ask: {prompt: "Press star for help. How many tickets?", digits: {max: 1}, save_as: count}
    next: desk
  desk: {queue: support}
"""
    _, problems = check_text(head + body, "c.yaml")
    assert [p.code for p in problems] == ["L206"]  # "star" is not the key "*"
    _, problems = check_text(head + body.replace("Press star", "Press *"), "c.yaml")
    assert problems == []


def test_an_unknown_start_stops_the_path_rules_but_not_the_others() -> None:
    body = """\
start: nowhere
nodes:
  menu:
    menu:
      prompt: "Press 1 for {thing}."
      options: [{digit: "0", goto: menu}]
"""
    assert codes_of(body) == ["L101", "L106", "L102"]


def test_unknown_targets_name_the_reference() -> None:
    body = """\
hours: {office: {timezone: UTC, open: {mon-fri: "09:00-17:00"}}}
start: check
nodes:
  check:
    branch:
      cases: [{if: {var: caller, exists: true}, goto: ours}]
      otherwise: theirs
  ours: {hours: office, open: desc, closed: voicemial}
  desk: {transfer: {to: "+15005550011", on_fail: voicemail_box}}
  voicemail: {voicemail: {say: "Leave a message."}}
"""
    unreachable = "is never reached from start 'check'; remove it or go to it from another node"
    assert problems_of(body) == [
        "c.yaml:10:18: L101 branch 'check' otherwise goes to 'theirs', but there is no node "
        "'theirs' (nodes: check, ours, desk, voicemail)",
        "c.yaml:11:31: L101 'ours' goes to 'desc' when 'office' hours are open, but there is no "
        "node 'desc'; did you mean 'desk'?",
        "c.yaml:11:45: L101 'ours' goes to 'voicemial' when 'office' hours are closed, but there "
        "is no node 'voicemial'; did you mean 'voicemail'?",
        f"c.yaml:12:3: L201 warning: node 'desk' {unreachable}",
        "c.yaml:12:50: L101 transfer 'desk' goes to 'voicemail_box' when no one answers "
        "(on_fail), but there is no node 'voicemail_box'; did you mean 'voicemail'?",
        f"c.yaml:13:3: L201 warning: node 'voicemail' {unreachable}",
    ]


def test_long_loops_are_shortened_in_the_middle() -> None:
    steps = [
        f'  s{i}: {{say: "Step {i}. Press 0 or say agent.", next: s{(i + 1) % 14}}}'
        for i in range(14)
    ]
    lines = problems_of("start: s0\nnodes:\n" + "\n".join(steps) + "\n")
    assert lines == [
        "c.yaml:19:54: L104 these nodes loop forever without asking the caller anything: "
        "s0 -> s1 -> s2 -> s3 -> s4 -> ... (5 more) -> s10 -> s11 -> s12 -> s13 -> s0; "
        "put a menu or ask on the loop, or let it end"
    ]


def test_lint_is_pure_and_repeatable() -> None:
    loaded = load_text((CASES / "L201_bad.yaml").read_text(encoding="utf-8"), "x.yaml")
    assert lint(loaded.flow) == lint(loaded.flow)
    assert all(isinstance(p, Problem) for p in loaded.warnings)
