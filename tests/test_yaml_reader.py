"""The strict YAML reader: YAML 1.2 values, refused YAML 1.1 surprises, located problems.

Each text is written one line per argument of `yaml_text`, so the line of a problem is the
argument's position (1-based) and its column the character's index in that string plus one.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from flows import yaml_reader
from flows.yaml_reader import MAX_DEPTH, MAX_NODES, Document, read_yaml

PATH = "flows/f.yaml"


def yaml_text(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def problems(text: str) -> list[str]:
    _, found = read_yaml(text, PATH)
    return [str(p) for p in found]


def data(text: str) -> Any:
    document, found = read_yaml(text, PATH)
    assert found == [], found
    assert document is not None
    return document.data


def ambiguous_value(word: str) -> str:
    return (
        f"'{word}' means true/false to some YAML readers and text to others; "
        f'write true or false, or quote it ("{word}")'
    )


def ambiguous_key(word: str) -> str:
    return f"the key '{word}' means true/false to some YAML readers; quote it (\"{word}\")"


def number_key(shown: str) -> str:
    return f'the key {shown} is read as a number or true/false, not text; quote it ("{shown}")'


# --- F100: YAML syntax ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            yaml_text("id: a", "  start: b"),
            f"{PATH}:2:8: F100 mapping values are not allowed here",
            id="indented-key-under-a-scalar",
        ),
        pytest.param(
            yaml_text("id: a", "\tstart: b"),
            f"{PATH}:2:1: F100 found character '\\t' that cannot start any token",
            id="tab-indentation",
        ),
        pytest.param(
            yaml_text("id: a", "numbers: [1, 2", "start: b"),
            f"{PATH}:3:6: F100 expected ',' or ']', but got ':'",
            id="unclosed-flow-sequence",
        ),
        pytest.param(
            yaml_text("id: a", "---", "id: b"),
            f"{PATH}:2:1: F100 but found another document",
            id="two-documents",
        ),
    ],
)
def test_syntax_error_is_located(text: str, expected: str) -> None:
    document, found = read_yaml(text, PATH)
    assert document is None
    assert [str(p) for p in found] == [expected]


# --- F103: yes / no / on / off ------------------------------------------------------


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "Yes", "NO", "On", "OFF", "y", "n"])
def test_yaml_11_boolean_word_as_value_is_refused(word: str) -> None:
    text = yaml_text("id: a", f"resolved: {word}")
    assert problems(text) == [f"{PATH}:2:11: F103 {ambiguous_value(word)}"]


def test_yaml_11_boolean_words_in_a_flow_sequence_are_each_located() -> None:
    text = yaml_text("phrases: [billing, yes, bill, no]")
    assert problems(text) == [
        f"{PATH}:1:20: F103 {ambiguous_value('yes')}",
        f"{PATH}:1:31: F103 {ambiguous_value('no')}",
    ]


@pytest.mark.parametrize("word", ["yes", "no", "on", "off"])
def test_yaml_11_boolean_word_as_key_is_refused(word: str) -> None:
    text = yaml_text("queues:", f"  {word}: {{}}")
    assert problems(text) == [f"{PATH}:2:3: F103 {ambiguous_key(word)}"]


def test_quoted_yaml_11_words_are_text() -> None:
    text = yaml_text('"yes": "no"', "phrases: ['on', \"off\"]")
    assert data(text) == {"yes": "no", "phrases": ["on", "off"]}


def test_true_and_false_are_the_only_booleans() -> None:
    text = yaml_text("a: true", "b: false", "c: True", "d: FALSE")
    assert data(text) == {"a": True, "b": False, "c": True, "d": False}


# --- The trap: `yes` overwrote option 1 and `no` overwrote 0, the agent key -----------

OPTIONS_KEYED_BY_WORDS = yaml_text(
    "options:",
    "  1: billing",
    "  yes: sales",
    "  0: agent",
    "  no: goodbye",
)


def test_the_trap_is_real_with_a_yaml_11_reader() -> None:
    """Why the reader is strict: PyYAML's safe_load makes `yes` key 1 and `no` key 0."""
    assert yaml.safe_load(OPTIONS_KEYED_BY_WORDS) == {"options": {1: "sales", 0: "goodbye"}}


def test_options_keyed_yes_and_no_do_not_overwrite_1_and_0() -> None:
    document, found = read_yaml(OPTIONS_KEYED_BY_WORDS, PATH)
    assert [str(p) for p in found] == [
        f"{PATH}:2:3: F104 {number_key('1')}",
        f"{PATH}:3:3: F103 {ambiguous_key('yes')}",
        f"{PATH}:4:3: F104 {number_key('0')}",
        f"{PATH}:5:3: F103 {ambiguous_key('no')}",
    ]
    # Nothing was silently kept (and nothing reported as a duplicate of something else).
    assert document is not None
    assert document.data == {"options": {}}


def test_quoted_option_keys_are_four_different_keys() -> None:
    text = yaml_text("options:", '  "1": billing', '  "yes": sales', '  "0": agent', '  "no": bye')
    assert data(text) == {"options": {"1": "billing", "yes": "sales", "0": "agent", "no": "bye"}}


# --- F104: keys that are not text -------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        pytest.param("1", "1", id="int"),
        pytest.param("0", "0", id="zero"),
        pytest.param("-2", "-2", id="negative"),
        pytest.param("1.5", "1.5", id="float"),
        pytest.param("true", "true", id="bool"),
    ],
)
def test_non_text_key_is_refused(key: str, shown: str) -> None:
    text = yaml_text("open:", f"  {key}: closed")
    assert problems(text) == [f"{PATH}:2:3: F104 {number_key(shown)}"]


def test_integer_key_in_a_flow_mapping() -> None:
    text = yaml_text('menu: {1: billing, "2": sales}')
    assert problems(text) == [f"{PATH}:1:8: F104 {number_key('1')}"]


def test_collection_key_message_makes_sense() -> None:
    text = yaml_text("? [a, b]", ": 1")
    assert problems(text) == [f"{PATH}:1:3: F104 a key must be text, not a list or mapping"]


# --- F105: duplicate keys ---------------------------------------------------------------


def test_duplicate_key_names_the_first_line() -> None:
    text = yaml_text("id: a", "start: main", "id: b")
    document, found = read_yaml(text, PATH)
    assert [str(p) for p in found] == [f"{PATH}:3:1: F105 duplicate key 'id' (first at line 1)"]
    assert document is not None
    assert document.data["id"] == "a"  # the first value is the one kept, never the last


def test_duplicate_node_name() -> None:
    text = yaml_text(
        "nodes:",
        "  main: {queue: support}",
        "  other: {queue: sales}",
        "  main: {end: {}}",
    )
    document, found = read_yaml(text, PATH)
    assert [str(p) for p in found] == [f"{PATH}:4:3: F105 duplicate key 'main' (first at line 2)"]
    assert document is not None
    assert document.data["nodes"]["main"] == {"queue": "support"}


def test_duplicate_key_in_a_flow_mapping_and_three_times() -> None:
    text = yaml_text(
        "a: {x: 1, z: 2, x: 3}",
        "b:",
        "  k: 1",
        "  k: 2",
        "  k: 3",
    )
    assert problems(text) == [
        f"{PATH}:1:17: F105 duplicate key 'x' (first at line 1)",
        f"{PATH}:4:3: F105 duplicate key 'k' (first at line 3)",
        f"{PATH}:5:3: F105 duplicate key 'k' (first at line 3)",
    ]


def test_same_key_in_different_mappings_is_not_a_duplicate() -> None:
    text = yaml_text("a: {say: hi}", "b: {say: bye}")
    assert data(text) == {"a": {"say": "hi"}, "b": {"say": "bye"}}


# --- F108: anchors, tags, size, depth ---------------------------------------------------

ALIAS_MESSAGE = (
    "anchors and aliases (&name / *name) are not supported in flow files; write the value out"
)


def test_alias_is_refused_at_the_alias() -> None:
    text = yaml_text("base: &b {queue: support}", "other: *b")
    document, found = read_yaml(text, PATH)
    assert document is None
    assert [str(p) for p in found] == [f"{PATH}:2:8: F108 {ALIAS_MESSAGE}"]


def test_merge_key_is_refused() -> None:
    text = yaml_text("base: &b {queue: support}", "other:", "  <<: *b", "  say: hi")
    assert problems(text) == [f"{PATH}:3:7: F108 {ALIAS_MESSAGE}"]


def test_billion_laughs_is_refused_at_once() -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    started = time.perf_counter()
    found = problems(yaml_text(*lines))
    assert time.perf_counter() - started < 1.0
    assert found == [f"{PATH}:2:8: F108 {ALIAS_MESSAGE}"]


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        pytest.param(
            '!!python/object/apply:os.system ["echo hacked"]',
            "tag:yaml.org,2002:python/object/apply:os.system",
            id="python-apply",
        ),
        pytest.param(
            "!!python/object:collections.OrderedDict {}",
            "tag:yaml.org,2002:python/object:collections.OrderedDict",
            id="python-object",
        ),
        pytest.param(
            "!!python/name:os.system ''",
            "tag:yaml.org,2002:python/name:os.system",
            id="python-name",
        ),
        pytest.param("!!binary aGk=", "tag:yaml.org,2002:binary", id="binary"),
        pytest.param("!secret db-password", "!secret", id="custom"),
    ],
)
def test_tags_are_refused(value: str, tag: str) -> None:
    document, found = read_yaml(yaml_text("id: a", f"say: {value}"), PATH)
    assert [str(p) for p in found] == [f"{PATH}:2:6: F108 the tag {tag} is not allowed here"]
    assert document is not None
    assert document.data == {"id": "a", "say": None}  # nothing was constructed


def test_standard_tags_are_allowed() -> None:
    assert data(yaml_text("digit: !!str 1", "count: !!int 3")) == {"digit": "1", "count": 3}


def test_a_2_mb_file_is_refused_quickly() -> None:
    text = "id: big\nnodes:\n" + "".join(
        f'  n{i}: {{say: "{"x" * 40}", next: n{i + 1}}}\n' for i in range(30_000)
    )
    assert len(text.encode()) > 2_000_000
    started = time.perf_counter()
    document, found = read_yaml(text, PATH)
    assert time.perf_counter() - started < 0.5
    assert document is None
    assert [str(p) for p in found] == [f"{PATH}:1:1: F108 the file is larger than 1000 kB"]


def test_100_levels_of_block_mappings_are_refused_quickly() -> None:
    # Mapping k<d> is the value at depth d and starts on line d+1, column 2d+1; the first
    # one deeper than MAX_DEPTH (40) is k41: line 42, column 83.
    text = "".join("  " * i + f"k{i}:\n" for i in range(100)) + "  " * 100 + "x\n"
    started = time.perf_counter()
    document, found = read_yaml(text, PATH)
    assert time.perf_counter() - started < 1.0
    assert document is None
    assert [str(p) for p in found] == [
        f"{PATH}:42:83: F108 the file is nested more than {MAX_DEPTH} levels deep"
    ]


def test_100_levels_of_flow_sequences_are_refused_quickly() -> None:
    # The root mapping is depth 0, the n-th "[" is depth n at column 3 + n.
    text = "a: " + "[" * 100 + "]" * 100 + "\n"
    started = time.perf_counter()
    document, found = read_yaml(text, PATH)
    assert time.perf_counter() - started < 1.0
    assert document is None
    assert [str(p) for p in found] == [
        f"{PATH}:1:44: F108 the file is nested more than {MAX_DEPTH} levels deep"
    ]


def test_40_levels_are_still_allowed() -> None:
    text = "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n"
    assert problems(text) == []


def test_nesting_deeper_than_python_recursion_is_refused_not_crashed() -> None:
    text = "a: " + "[" * 20_000 + "]" * 20_000 + "\n"
    started = time.perf_counter()
    document, found = read_yaml(text, PATH)
    assert time.perf_counter() - started < 5.0
    assert document is None
    assert [str(p) for p in found] == [f"{PATH}:1:1: F108 the file is nested too deeply"]


def test_too_many_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # The root mapping is value 1, the list value 2, item i value 3 + i at column 5 + 2i:
    # value limit + 1 is item limit - 2. (A small limit keeps PyYAML's parsing fast.)
    limit = 50
    monkeypatch.setattr(yaml_reader, "MAX_NODES", limit)
    text = "a: [" + ",".join(["1"] * (limit + 10)) + "]\n"
    document, found = read_yaml(text, PATH)
    assert document is None
    column = 5 + 2 * (limit - 2)
    assert [str(p) for p in found] == [
        f"{PATH}:1:{column}: F108 the file has more than {limit} values"
    ]


def test_the_value_limit_allows_a_large_hand_written_flow() -> None:
    assert MAX_NODES >= 10_000


# --- F109: not a mapping -----------------------------------------------------------------

EMPTY = "the file is empty; a flow needs id, escape, start and nodes"
NOT_A_MAPPING = "a flow file must be a mapping of keys"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", EMPTY, id="empty"),
        pytest.param("   \n\n", EMPTY, id="blank"),
        pytest.param("# just a comment\n", EMPTY, id="comment-only"),
        pytest.param("- id: a\n- id: b\n", NOT_A_MAPPING, id="list"),
        pytest.param("hello\n", NOT_A_MAPPING, id="scalar"),
        pytest.param("~\n", NOT_A_MAPPING, id="null"),
    ],
)
def test_not_a_mapping_at_the_top(text: str, message: str) -> None:
    assert problems(text) == [f"{PATH}:1:1: F109 {message}"]


# --- YAML 1.2 values ---------------------------------------------------------------------


def test_yaml_12_values() -> None:
    text = yaml_text(
        "date: 2026-12-25",
        "time: 20:00",
        "range: 08:00-20:00",
        "sexagesimal: 1:30",
        "octal11: 0o17",
        "hex: 0x1F",
        "leading_zero: 010",
        "underscore: 1_000",
        "int: 42",
        "negative: -3",
        "float: 1.5",
        "exp: 1e3",
        "tilde: ~",
        "empty:",
        "phone: '+15005550006'",
    )
    assert data(text) == {
        "date": "2026-12-25",
        "time": "20:00",
        "range": "08:00-20:00",
        "sexagesimal": "1:30",
        "octal11": "0o17",
        "hex": "0x1F",
        "leading_zero": 10,
        "underscore": "1_000",
        "int": 42,
        "negative": -3,
        "float": 1.5,
        "exp": 1000.0,
        "tilde": None,
        "empty": None,
        "phone": "+15005550006",
    }


def test_a_yaml_11_reader_would_have_turned_dates_and_times_into_other_things() -> None:
    """Why this matters: PyYAML's safe_load reads a date object and 20:00 as 1200 (base 60)."""
    loaded = yaml.safe_load("date: 2026-12-25\ntime: 20:00\n")
    assert not isinstance(loaded["date"], str)
    assert loaded["time"] == 20 * 60


# --- All problems at once, each located ---------------------------------------------------


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    text = yaml_text(
        "id: a",
        "id: b",
        "nodes:",
        "  bye: {end: {resolved: yes}}",
        "  main:",
        "    options:",
        "      1: bye",
    )
    assert problems(text) == [
        f"{PATH}:2:1: F105 duplicate key 'id' (first at line 1)",
        f"{PATH}:4:25: F103 {ambiguous_value('yes')}",
        f"{PATH}:7:7: F104 {number_key('1')}",
    ]


def test_source_map_locates_keys_and_values() -> None:
    text = yaml_text(
        "id: a",
        "nodes:",
        "  main:",
        "    menu: {prompt: hi, options: [{digit: '1', goto: x}]}",
    )
    document, found = read_yaml(text, PATH)
    assert found == []
    assert isinstance(document, Document)
    source = document.source
    assert source.locate(("nodes", "main"), key=True) == (3, 3)
    assert source.locate(("nodes", "main")) == (4, 5)
    assert source.locate(("nodes", "main", "menu", "options", 0, "digit")) == (4, 42)
    # A missing key falls back to the nearest enclosing value that exists.
    assert source.locate(("nodes", "main", "menu", "timeout")) == (4, 11)
    assert source.locate(("nowhere",)) == (1, 1)
