"""Loading flow files: schema problems in the author's words, each at its place, all at once;
several files together (flows/catalog.py): ids, numbers and the default flow checked across files.

Flows are written one line per list item, so a problem's line is the item's position
(1-based) and its column the character's index in that string plus one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.catalog import check_paths, load_catalog
from flows.loader import check_text, flow_version, load_path, load_text
from flows.problems import FlowError

PATH = "flows/acme.yaml"

FLOW_LINES = [
    "id: acme",  # 1
    "escape: {queue: support}",  # 2
    "queues:",  # 3
    "  support: {callback: {offer_after: 30s}}",  # 4
    "start: main",  # 5
    "nodes:",  # 6
    "  main:",  # 7
    "    menu:",  # 8
    '      prompt: "For billing press 1. Press 0 or say agent for a person."',  # 9
    "      options:",  # 10
    '        - {digit: "1", phrases: [billing], goto: account}',  # 11
    "  account:",  # 12
    '    ask: {prompt: "Your account number?", digits: {min: 3, max: 6}, save_as: account}',  # 13
    "    next: done",  # 14
    '  done: {end: {say: "Thanks.", resolved: true}}',  # 15
]

NODE_KIND = (
    "a node needs exactly one kind: say (+next), menu, ask, hours, branch, queue, "
    "transfer, callback, voicemail or end"
)
MENU_KEYS = "prompt, options, timeout, no_match, no_input"
FLOW_KEYS = "id, numbers, locale, voice, escape, hours, agents, queues, start, nodes"


def flow_text(changes: dict[int, str] | None = None) -> str:
    """The flow above with some lines (1-based) replaced; line numbers never shift."""
    lines = list(FLOW_LINES)
    for number, line in (changes or {}).items():
        lines[number - 1] = line
    return "\n".join(lines) + "\n"


def load_problems(text: str, path: str = PATH) -> list[str]:
    with pytest.raises(FlowError) as raised:
        load_text(text, path)
    lines = [str(p) for p in raised.value.problems]
    assert str(raised.value).splitlines() == lines
    return lines


def test_the_base_flow_loads() -> None:
    loaded = load_text(flow_text(), PATH)
    assert loaded.path == PATH
    assert loaded.flow.id == "acme"
    assert loaded.flow.nodes["main"].menu.options[0].digit == "1"  # type: ignore[union-attr]
    assert loaded.flow.queues["support"].callback is not None
    assert loaded.flow.queues["support"].callback.offer_after == 30.0


# --- F101: values of the wrong type or form ---------------------------------------------


def test_unquoted_digit_is_told_to_be_quoted() -> None:
    text = flow_text({11: "        - {digit: 1, phrases: [billing], goto: account}"})
    assert load_problems(text) == [f'{PATH}:11:19: F101 expected text, got 1; quote it ("1")']


def test_unquoted_escape_digit_is_told_to_be_quoted() -> None:
    text = flow_text({2: "escape: {queue: support, digits: 0}"})
    assert load_problems(text) == [f'{PATH}:2:34: F101 expected text, got 0; quote it ("0")']


def test_two_keys_for_one_option_digit() -> None:
    text = flow_text({11: '        - {digit: "12", goto: account}'})
    assert load_problems(text) == [
        f"{PATH}:11:19: F101 '12' is not valid here; use one quoted phone key, like \"1\""
    ]


def test_unquoted_phone_number_keeps_its_plus_in_the_hint() -> None:
    lines = list(FLOW_LINES)
    lines.insert(1, "numbers: [+15005550006]")
    assert load_problems("\n".join(lines) + "\n") == [
        f'{PATH}:2:11: F101 expected text, got +15005550006; quote it ("+15005550006")'
    ]


# --- Durations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        pytest.param("45s", 45.0, id="seconds"),
        pytest.param("15m", 900.0, id="minutes"),
        pytest.param("1h30m", 5400.0, id="hours-minutes"),
        pytest.param("1h 30m", 5400.0, id="with-space"),
        pytest.param("2h", 7200.0, id="hours"),
        pytest.param("1.5m", 90.0, id="fraction"),
        pytest.param(
            "500ms",
            0.5,
            id="milliseconds",
        ),
        pytest.param(
            "1s500ms",
            1.5,
            id="seconds-milliseconds",
        ),
        pytest.param("90", 90.0, id="bare-int"),
        pytest.param("2.5", 2.5, id="bare-float"),
    ],
)
def test_durations(written: str, seconds: float) -> None:
    text = flow_text(
        {4: f"  support: {{callback: {{offer_after: {written}}}, max_wait: {written}}}"}
    )
    queue = load_text(text, PATH).flow.queues["support"]
    assert queue.callback is not None
    assert queue.callback.offer_after == seconds
    assert queue.max_wait == seconds


@pytest.mark.parametrize(
    ("written", "message"),
    [
        pytest.param("45x", "'45x' is not a duration; write it like 45s, 15m or 1h30m", id="unit"),
        pytest.param("m", "'m' is not a duration; write it like 45s, 15m or 1h30m", id="no-number"),
        pytest.param("-5", "a duration cannot be negative", id="negative"),
        pytest.param("true", "expected a duration like 45s or 15m, not true/false", id="bool"),
    ],
)
def test_bad_duration(written: str, message: str) -> None:
    # "  support: {callback: {offer_after: " is 36 characters: the value is at column 37.
    text = flow_text({4: f"  support: {{callback: {{offer_after: {written}}}}}"})
    assert load_problems(text) == [f"{PATH}:4:37: F101 {message}"]


# --- YAML 1.2: dates and times stay text --------------------------------------------------


def test_dates_and_times_stay_text() -> None:
    lines = list(FLOW_LINES)
    lines[2:2] = [
        "hours:",
        "  office:",
        "    timezone: America/New_York",
        "    open: {mon-fri: 08:00-20:00, sat: 09:00-13:00}",
        "    closed_dates: [2026-12-25, 2027-01-01]",
    ]
    lines[lines.index("  support: {callback: {offer_after: 30s}}")] = (
        "  support: {hours: office, callback: {offer_after: 30s}}"
    )
    office = load_text("\n".join(lines) + "\n", PATH).flow.hours["office"]
    assert office.open == {"mon-fri": "08:00-20:00", "sat": "09:00-13:00"}
    assert office.closed_dates == ["2026-12-25", "2027-01-01"]


def test_a_time_condition_stays_text() -> None:
    text = flow_text(
        {
            7: "  main:",
            8: "    branch:",
            9: "      cases: [{if: {time: 12:00-13:00, timezone: Europe/Istanbul}, goto: lunch}]",
            10: "      otherwise: account",
            11: '  lunch: {voicemail: {say: "We are at lunch. Leave a message."}}',
        }
    )
    node = load_text(text, PATH).flow.nodes["main"]
    assert node.branch.cases[0].if_.time == "12:00-13:00"  # type: ignore[union-attr]


# --- F102: unknown keys, with the allowed ones --------------------------------------------


def test_misspelt_prompt_in_a_menu() -> None:
    text = flow_text({9: '      promt: "For billing press 1. Press 0 or say agent for a person."'})
    assert load_problems(text) == [
        f"{PATH}:9:7: F102 unknown key 'promt' in menu; expected one of: {MENU_KEYS}",
        f"{PATH}:9:7: F106 missing required key 'prompt' in menu",
    ]


def test_misspelt_key_in_a_menu_option() -> None:
    text = flow_text({11: '        - {digit: "1", phrases: [billing], gto: account}'})
    assert load_problems(text) == [
        f"{PATH}:11:11: F106 missing required key 'goto' in options",
        f"{PATH}:11:44: F102 unknown key 'gto' in options; expected one of: digit, phrases, goto",
    ]


def test_misspelt_key_in_a_node() -> None:
    text = flow_text({14: "    nxt: done"})
    assert load_problems(text) == [
        f"{PATH}:13:5: F106 missing required key 'next' in node 'account'",
        f"{PATH}:14:5: F102 unknown key 'nxt' in node 'account'; expected one of: ask, next",
    ]


def test_misspelt_key_at_the_top_level() -> None:
    text = flow_text({6: "nodez:"})
    assert load_problems(text) == [
        f"{PATH}:1:1: F106 missing required key 'nodes' at the top level",
        f"{PATH}:6:1: F102 unknown key 'nodez' at the top level; expected one of: {FLOW_KEYS}",
    ]


def test_unknown_key_in_a_condition_lists_the_aliases() -> None:
    text = flow_text(
        {
            8: "    branch:",
            9: "      cases: [{if: {var: caller, start_with: '+90'}, goto: done}]",
            10: "      otherwise: account",
            11: "",
        }
    )
    assert load_problems(text) == [
        f"{PATH}:9:34: F102 unknown key 'start_with' in if; expected one of: var, equals, "
        "not_equals, in, starts_with, ends_with, contains, exists, greater_than, less_than, "
        "time, days, timezone, all, any, not",
    ]


# --- F106: missing required keys ----------------------------------------------------------


def test_missing_key_in_a_nested_mapping() -> None:
    text = flow_text({13: '    ask: {prompt: "Your account number?", digits: {min: 3, max: 6}}'})
    assert load_problems(text) == [f"{PATH}:13:10: F106 missing required key 'save_as' in ask"]


def test_missing_top_level_key() -> None:
    text = flow_text({5: "# no start"})
    assert load_problems(text) == [
        f"{PATH}:1:1: F106 missing required key 'start' at the top level"
    ]


def test_every_missing_key_is_reported() -> None:
    text = "id: acme\nnodes:\n  main: {queue: support}\n"
    assert load_problems(text) == [
        f"{PATH}:1:1: F106 missing required key 'escape' at the top level",
        f"{PATH}:1:1: F106 missing required key 'start' at the top level",
    ]


def test_every_missing_key_of_a_node_is_reported() -> None:
    text = flow_text({13: "    ask: {digits: {min: 3, max: 6}}"})
    assert load_problems(text) == [
        f"{PATH}:13:10: F106 missing required key 'prompt' in ask",
        f"{PATH}:13:10: F106 missing required key 'save_as' in ask",
    ]


# --- F107: node kinds ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "node",
    [
        pytest.param("  done: {resolved: true}", id="no-kind"),
        pytest.param("  done: {next: main}", id="only-next"),
        pytest.param("  done: {queue: support, end: {resolved: true}}", id="two-kinds"),
        pytest.param("  done: {menu: {prompt: hi, options: []}, ask: {prompt: hi}}", id="menu-ask"),
    ],
)
def test_node_with_no_kind_or_two_kinds(node: str) -> None:
    assert load_problems(flow_text({15: node})) == [f"{PATH}:15:3: F107 node 'done': {NODE_KIND}"]


def test_say_without_next() -> None:
    text = flow_text({15: '  done: {say: "Thanks."}'})
    assert load_problems(text) == [f"{PATH}:15:9: F106 missing required key 'next' in node 'done'"]


def test_say_beside_a_kind_is_that_kinds_prompt() -> None:
    text = flow_text({15: '  done: {queue: support, say: "Connecting you."}'})
    assert load_text(text, PATH).flow.nodes["done"].say == "Connecting you."  # type: ignore[union-attr]


# --- Reader problems come through the loader ---------------------------------------------


def test_yes_as_a_value_through_the_loader() -> None:
    text = flow_text({15: '  done: {end: {say: "Thanks.", resolved: yes}}'})
    assert load_problems(text) == [
        f"{PATH}:15:42: F103 'yes' means true/false to some YAML readers and text to others; "
        'write true or false, or quote it ("yes")'
    ]


def test_syntax_error_through_the_loader() -> None:
    text = flow_text({14: "    next: done: again"})
    assert load_problems(text) == [f"{PATH}:14:15: F100 mapping values are not allowed here"]


# --- All at once, sorted by line ----------------------------------------------------------


THREE_MISTAKES = flow_text(
    {
        2: "escape: {queue: support, digits: 0}",
        11: "        - {digit: 1, phrases: [billing], goto: account}",
        13: '    ask: {prompt: "Your account number?", digits: {min: 3, max: 6}}',
    }
)
THREE_MISTAKES_REPORT = [
    f'{PATH}:2:34: F101 expected text, got 0; quote it ("0")',
    f'{PATH}:11:19: F101 expected text, got 1; quote it ("1")',
    f"{PATH}:13:10: F106 missing required key 'save_as' in ask",
]


def test_three_mistakes_give_three_lines_sorted_by_line() -> None:
    assert load_problems(THREE_MISTAKES) == THREE_MISTAKES_REPORT


def test_three_yaml_mistakes_give_three_lines() -> None:
    text = flow_text(
        {
            1: "id: acme",
            5: "id: other",
            11: '        - {digit: "1", phrases: [billing], goto: account, 2: sales}',
            15: '  done: {end: {say: "Thanks.", resolved: on}}',
        }
    )
    assert load_problems(text) == [
        # Line 5 held `start:`; with the reader's mistakes the schema's are reported too.
        f"{PATH}:1:1: F106 missing required key 'start' at the top level",
        f"{PATH}:5:1: F105 duplicate key 'id' (first at line 1)",
        f'{PATH}:11:59: F104 the key 2 is read as a number or true/false, not text; quote it ("2")',
        f"{PATH}:15:42: F103 'on' means true/false to some YAML readers and text to others; "
        'write true or false, or quote it ("on")',
    ]


def test_check_text_returns_problems_sorted() -> None:
    # pydantic reports the menu's missing prompt, then the option's digit, then the
    # unknown key: the file's order is 9:7, 9:7, 11:19.
    text = flow_text(
        {
            9: '      promt: "For billing press 1. Press 0 or say agent for a person."',
            11: "        - {digit: 1, phrases: [billing], goto: account}",
        }
    )
    flow, found = check_text(text, PATH)
    assert flow is None
    assert [str(p) for p in found] == [
        f"{PATH}:9:7: F102 unknown key 'promt' in menu; expected one of: {MENU_KEYS}",
        f"{PATH}:9:7: F106 missing required key 'prompt' in menu",
        f'{PATH}:11:19: F101 expected text, got 1; quote it ("1")',
    ]


def test_yaml_and_schema_problems_are_reported_together() -> None:
    text = flow_text(
        {
            9: '      promt: "For billing press 1. Press 0 or say agent for a person."',
            11: '        - {digit: "1", phrases: [billing, yes], goto: account}',
        }
    )
    assert load_problems(text) == [
        f"{PATH}:9:7: F102 unknown key 'promt' in menu; expected one of: {MENU_KEYS}",
        f"{PATH}:9:7: F106 missing required key 'prompt' in menu",
        f"{PATH}:11:43: F103 'yes' means true/false to some YAML readers and text to others; "
        'write true or false, or quote it ("yes")',
    ]


# --- Files -------------------------------------------------------------------------------


def test_load_path_shows_the_path_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "acme.yaml").write_text(
        flow_text({11: "        - {digit: 1, phrases: [billing], goto: account}"}), encoding="utf-8"
    )
    with pytest.raises(FlowError) as raised:
        load_path("flows/acme.yaml")
    assert [str(p) for p in raised.value.problems] == [
        'flows/acme.yaml:11:19: F101 expected text, got 1; quote it ("1")'
    ]


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(flow_text().replace("Thanks.", "Merci beaucoup, café.").encode("latin-1"))
    with pytest.raises(FlowError) as raised:
        load_path(path)
    assert [str(p) for p in raised.value.problems] == [
        f"{path}:1:1: F109 the file is not UTF-8 text (invalid continuation byte)"
    ]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(FlowError) as raised:
        load_path(path)
    assert [str(p) for p in raised.value.problems] == [
        f"{path}:1:1: F109 cannot read the file: No such file or directory"
    ]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(FlowError) as raised:
        load_path(path)
    assert [str(p) for p in raised.value.problems] == [
        f"{path}:1:1: F109 the file is empty; a flow needs id, escape, start and nodes"
    ]


def test_byte_order_mark_and_windows_line_ends_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "windows.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + flow_text().replace("\n", "\r\n").encode("utf-8"))
    assert load_path(path).flow.id == "acme"


def test_windows_line_ends_keep_lines_right(tmp_path: Path) -> None:
    path = tmp_path / "windows.yaml"
    text = flow_text({11: "        - {digit: 1, phrases: [billing], goto: account}"})
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    with pytest.raises(FlowError) as raised:
        load_path(path)
    assert [(p.line, p.col, p.code) for p in raised.value.problems] == [(11, 19, "F101")]


def test_version_is_a_content_hash() -> None:
    text = flow_text()
    assert load_text(text, "a.yaml").version == load_text(text, "b.yaml").version
    assert load_text(text).version == flow_version(text)
    assert load_text(text + "# edited\n").version != flow_version(text)


# --- Several files: flows/catalog.py --------------------------------------------------------


def write_flow(path: Path, flow_id: str, numbers: list[str] | None) -> None:
    """A small valid flow; `numbers` on its own lines so each one's place is known."""
    lines = [f"id: {flow_id}"]  # 1
    if numbers is not None:
        lines.append("numbers:")  # 2
        lines += [f'  - "{n}"' for n in numbers]  # 3, 4, ...
    lines += [
        "escape: {queue: support}",
        "queues: {support: {callback: {offer_after: 30s}}}",
        "start: main",
        "nodes:",
        "  main: {queue: support}",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_catalog_of_good_flows(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    write_flow(folder / "a.yaml", "acme", ["+15005550006"])
    write_flow(folder / "team" / "b.yml", "beta", ["+15005550007", "+15005550008"])
    write_flow(folder / "default.yaml", "fallback", None)
    (folder / "notes.txt").write_text("not a flow", encoding="utf-8")
    loaded, found = check_paths([str(folder)])
    assert found == []
    assert sorted(f.flow.id for f in loaded) == ["acme", "beta", "fallback"]
    catalog = load_catalog([str(folder)])
    by_number = catalog.for_number("+15005550008")
    assert by_number is not None
    assert by_number.flow.id == "beta"
    assert by_number.path == str(folder / "team" / "b.yml")
    default = catalog.for_number("+15009999999")
    assert default is not None
    assert default.flow.id == "fallback"
    assert catalog.by_id("acme") is not None
    assert catalog.by_id("nobody") is None


def test_duplicate_flow_id(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    write_flow(folder / "a.yaml", "acme", ["+15005550006"])
    write_flow(folder / "b.yaml", "acme", ["+15005550007"])
    _, found = check_paths([str(folder)])
    assert [str(p) for p in found] == [
        f"{folder}/b.yaml:1:5: F110 flow id 'acme' is already used by {folder}/a.yaml"
    ]


def test_same_number_in_two_files(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    write_flow(folder / "a.yaml", "acme", ["+15005550006", "+15005550007"])
    write_flow(folder / "b.yaml", "beta", ["+15005550008", "+15005550007"])
    _, found = check_paths([str(folder)])
    assert [str(p) for p in found] == [
        f"{folder}/b.yaml:4:5: F111 the number +15005550007 is already answered by {folder}/a.yaml"
    ]


def test_two_default_flows(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    write_flow(folder / "a.yaml", "acme", None)
    write_flow(folder / "b.yaml", "beta", None)
    _, found = check_paths([str(folder)])
    assert [str(p) for p in found] == [
        f"{folder}/b.yaml:1:5: F112 two default flows (no `numbers`): this one and "
        f"{folder}/a.yaml; give one of them the numbers it answers"
    ]


def test_clashes_across_several_targets_all_at_once(tmp_path: Path) -> None:
    first, second = tmp_path / "one.yaml", tmp_path / "more" / "two.yaml"
    write_flow(first, "acme", None)
    write_flow(second, "acme", None)
    with pytest.raises(FlowError) as raised:
        load_catalog([str(first), str(tmp_path / "more")])
    assert [str(p) for p in raised.value.problems] == [
        f"{second}:1:5: F110 flow id 'acme' is already used by {first}",
        f"{second}:1:5: F112 two default flows (no `numbers`): this one and {first}; "
        "give one of them the numbers it answers",
    ]


def test_folder_with_no_yaml(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "README.md").write_text("flows go here", encoding="utf-8")
    loaded, found = check_paths([str(folder)])
    assert loaded == []
    assert [str(p) for p in found] == [f"{folder}:1:1: F109 no *.yaml flow files in this folder"]
    with pytest.raises(FlowError):
        load_catalog([str(folder)])


def test_a_bad_file_does_not_hide_the_others(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    write_flow(folder / "a.yaml", "acme", ["+15005550006"])
    (folder / "b.yaml").write_text(
        flow_text({11: "        - {digit: 1, phrases: [billing], goto: account}"}), encoding="utf-8"
    )
    (folder / "c.yaml").write_bytes(b"id: caf\xe9\n")
    loaded, found = check_paths([str(folder)])
    assert [f.flow.id for f in loaded] == ["acme"]
    assert [str(p) for p in found] == [
        f'{folder}/b.yaml:11:19: F101 expected text, got 1; quote it ("1")',
        f"{folder}/c.yaml:1:1: F109 the file is not UTF-8 text (invalid continuation byte)",
    ]
    with pytest.raises(FlowError) as raised:
        load_catalog([str(folder)])
    assert len(raised.value.problems) == 2
