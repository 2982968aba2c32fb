"""Every Sigma modifier and condition form on small hand-built batches.

Each test asserts the exact rows matched, with rows that must not match next to those that
must, so a wrong implementation fails.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from sigma.policy import SigmaPolicy
from sigma.policy.regex_engine import PythonRegexEngine

from mamori.detect.sigma import SigmaCompileError

from .helpers import hits, rule

CMD = r"C:\Windows\System32\cmd.exe"
IMAGES = [
    {"Image": CMD},
    {"Image": r"C:\Windows\System32\CMD.EXE"},
    {"Image": r"C:\Tools\notcmd.exe"},
    {"Image": None},
    {},
]


def sel(**fields):
    return {"sel": fields, "condition": "sel"}


# --- plain values, wildcards, case ------------------------------------------------------


def test_exact_match_is_case_insensitive():
    assert hits(sel(Image=CMD.lower()), IMAGES) == [0, 1]


def test_cased_makes_matching_case_sensitive():
    assert hits({"sel": {"Image|cased": CMD}, "condition": "sel"}, IMAGES) == [0]
    assert hits({"sel": {"Image|cased|endswith": ".EXE"}, "condition": "sel"}, IMAGES) == [1]


def test_contains_startswith_endswith():
    assert hits({"sel": {"Image|contains": "system32"}, "condition": "sel"}, IMAGES) == [0, 1]
    assert hits({"sel": {"Image|startswith": "c:\\tools"}, "condition": "sel"}, IMAGES) == [2]
    assert hits({"sel": {"Image|endswith": "\\cmd.exe"}, "condition": "sel"}, IMAGES) == [0, 1]


def test_wildcards_star_and_question_mark():
    rows = [{"Image": "abc"}, {"Image": "aXc"}, {"Image": "ac"}, {"Image": "aXYc"}]
    assert hits(sel(Image="a?c"), rows) == [0, 1]
    assert hits(sel(Image="a*c"), rows) == [0, 1, 2, 3]
    assert hits(sel(Image="*"), [*rows, {"Image": None}]) == [0, 1, 2, 3]


def test_escaped_wildcards_are_literal():
    rows = [{"CommandLine": "what?"}, {"CommandLine": "whatX"}, {"CommandLine": "a*b"}]
    assert hits(sel(CommandLine="what\\?"), rows) == [0]
    assert hits(sel(CommandLine="a\\*b"), rows) == [2]
    # a backslash before an ordinary character stays a backslash
    assert hits(sel(Image="C:\\Win*"), [{"Image": "C:\\Windows"}, {"Image": "C:/Windows"}]) == [0]


def test_value_list_is_or_and_all_makes_it_and():
    rows = [{"CommandLine": "a b"}, {"CommandLine": "a"}, {"CommandLine": "b"}, {}]
    assert hits({"sel": {"CommandLine|contains": ["a", "b"]}, "condition": "sel"}, rows) == [
        0,
        1,
        2,
    ]
    assert hits({"sel": {"CommandLine|contains|all": ["a", "b"]}, "condition": "sel"}, rows) == [0]


def test_fields_in_one_map_are_and_list_of_maps_is_or():
    rows = [
        {"Image": "x.exe", "User": "alice"},
        {"Image": "x.exe", "User": "bob"},
        {"Image": "y.exe", "User": "bob"},
    ]
    assert hits(sel(Image="x.exe", User="bob"), rows) == [1]
    det = {"sel": [{"Image": "y.exe"}, {"User": "alice"}], "condition": "sel"}
    assert hits(det, rows) == [0, 2]


# --- null, exists, missing fields ----------------------------------------------------------


def test_null_value_matches_missing_or_null_field():
    rows = [{"OriginalFileName": None, "Image": "a"}, {"OriginalFileName": "x", "Image": "a"}]
    assert hits(sel(OriginalFileName=None), rows) == [0]
    assert hits(sel(NotInBatch=None), rows) == [0, 1]


def test_exists_true_and_false():
    rows = [{"Hashes": "MD5=1"}, {"Hashes": None}]
    assert hits({"sel": {"Hashes|exists": True}, "condition": "sel"}, rows) == [0]
    assert hits({"sel": {"Hashes|exists": False}, "condition": "sel"}, rows) == [1]
    assert hits({"sel": {"Missing|exists": False}, "condition": "sel"}, rows) == [0, 1]
    assert hits({"sel": {"Missing|exists": True}, "condition": "sel"}, rows) == []


def test_condition_on_missing_field_is_false_and_its_negation_true():
    rows = [{"Image": "a.exe"}, {"Image": "b.exe"}]
    det = {"sel": {"Image": "a.exe"}, "filter": {"Missing": "x"}, "condition": "sel and not filter"}
    assert hits(det, rows) == [0]
    assert hits({"sel": {"Missing|contains": "x"}, "condition": "sel"}, rows) == []


# --- numbers --------------------------------------------------------------------------------


def test_numbers_compare_numerically_on_numeric_columns_and_as_strings_otherwise():
    rows = [{"EventID": 1, "ProcessId": "0042"}, {"EventID": 4688, "ProcessId": "42"}]
    assert hits(sel(EventID=4688), rows) == [1]
    assert hits(sel(EventID="4688"), rows) == [1]  # a quoted number on a numeric field
    assert hits(sel(ProcessId=42), rows) == [1]  # string column: "0042" is not "42"
    # a numeric field given as strings in the batch is read as numbers
    assert hits(sel(EventID=1), [{"EventID": "1"}, {"EventID": "01"}, {"EventID": "x"}]) == [0, 1]


@pytest.mark.parametrize(
    ("modifier", "expected"), [("gt", [2, 3]), ("gte", [1, 2, 3]), ("lt", [0]), ("lte", [0, 1])]
)
def test_numeric_comparisons(modifier, expected):
    rows = [{"LogonType": 2}, {"LogonType": 3}, {"LogonType": 10}, {"LogonType": 11}, {}]
    assert hits({"sel": {f"LogonType|{modifier}": 3}, "condition": "sel"}, rows) == expected
    # on a string field the values are parsed as numbers ("10" > "3" numerically)
    text = [{"Size": "2"}, {"Size": "3"}, {"Size": "10"}, {"Size": "11"}, {"Size": "n/a"}]
    assert hits({"sel": {f"Size|{modifier}": 3}, "condition": "sel"}, text) == expected


# --- regular expressions ---------------------------------------------------------------------


def test_regex_is_case_sensitive_unanchored_search():
    rows = [{"CommandLine": "powershell -enc AAA"}, {"CommandLine": "POWERSHELL -ENC AAA"}]
    assert hits({"sel": {"CommandLine|re": r"-enc\s+A+"}, "condition": "sel"}, rows) == [0]
    assert hits({"sel": {"CommandLine|re": r"^-enc"}, "condition": "sel"}, rows) == []


def test_regex_flags_i_m_s():
    rows = [{"CommandLine": "first\nSecond line"}, {"CommandLine": "second"}]
    assert hits({"sel": {"CommandLine|re|i": "^SECOND$"}, "condition": "sel"}, rows) == [1]
    assert hits({"sel": {"CommandLine|re|i|m": "^SECOND"}, "condition": "sel"}, rows) == [0, 1]
    assert hits({"sel": {"CommandLine|re": "first.Second"}, "condition": "sel"}, rows) == []
    assert hits({"sel": {"CommandLine|re|s": "first.Second"}, "condition": "sel"}, rows) == [0]


def test_regex_with_lookahead_is_refused_by_default_and_runs_under_a_python_policy():
    det = {"sel": {"CommandLine|re": "foo(?!bar)"}, "condition": "sel"}
    with pytest.raises(SigmaCompileError, match="invalid"):  # pySigma's default engine: RE2
        rule(det)
    rows = [{"CommandLine": "foobar"}, {"CommandLine": "foobaz"}, {}]
    policy = SigmaPolicy(regex_engine=PythonRegexEngine())
    assert hits(det, rows, policy=policy) == [1]  # Polars refuses it: Python's re runs it


# --- encodings -----------------------------------------------------------------------------


def test_base64_and_base64offset():
    plain = "Invoke-Mimikatz"
    enc = base64.b64encode(plain.encode()).decode()
    shifted = base64.b64encode(b"xx" + plain.encode()).decode()
    rows = [{"CommandLine": f"-e {enc}"}, {"CommandLine": f"-e {shifted}"}, {"CommandLine": "x"}]
    assert hits({"sel": {"CommandLine|base64|contains": plain}, "condition": "sel"}, rows) == [0]
    det = {"sel": {"CommandLine|base64offset|contains": plain}, "condition": "sel"}
    assert hits(det, rows) == [0, 1]


@pytest.mark.parametrize(
    ("modifier", "encoding", "bom"),
    [("wide", "utf-16le", b""), ("utf16le", "utf-16le", b""), ("utf16be", "utf-16be", b"")],
)
def test_utf16_encodings_with_base64(modifier, encoding, bom):
    data = base64.b64encode(bom + "whoami".encode(encoding)).decode()
    other = base64.b64encode(b"whoami").decode()
    rows = [{"CommandLine": data}, {"CommandLine": other}]
    det = {"sel": {f"CommandLine|{modifier}|base64offset|contains": "whoami"}, "condition": "sel"}
    assert hits(det, rows) == [0]


def test_utf16_adds_a_byte_order_mark():
    data = base64.b64encode(b"\xff\xfe" + "whoami".encode("utf-16le")).decode()
    plain = base64.b64encode("whoami".encode("utf-16le")).decode()
    rows = [{"CommandLine": data}, {"CommandLine": plain}]
    det = {"sel": {"CommandLine|utf16|base64": "whoami"}, "condition": "sel"}
    assert hits(det, rows) == [0]


def test_windash_matches_dash_slash_and_unicode_dashes():
    rows = [
        {"CommandLine": "net user -add"},
        {"CommandLine": "net user /add"},
        {"CommandLine": "net user \u2013add"},
        {"CommandLine": "net user add"},
    ]
    det = {"sel": {"CommandLine|windash|contains": " -add"}, "condition": "sel"}
    assert hits(det, rows) == [0, 1, 2]


# --- networks, field references, placeholders, time ----------------------------------------


def test_cidr_ipv4_and_ipv6():
    rows = [
        {"DestinationIp": "10.1.2.3"},
        {"DestinationIp": "172.16.0.1"},
        {"DestinationIp": "172.32.0.1"},
        {"DestinationIp": "fe80::1"},
        {"DestinationIp": "8.8.8.8"},
    ]
    det = {
        "sel": {"DestinationIp|cidr": ["10.0.0.0/8", "172.16.0.0/12", "fe80::/10"]},
        "condition": "sel",
    }
    assert hits(det, rows) == [0, 1, 3]


def test_fieldref_equality_and_contains():
    rows = [
        {"SourceImage": "a.exe", "TargetImage": "A.EXE"},
        {"SourceImage": "a.exe", "TargetImage": "b.exe"},
        {"SourceImage": "c:\\x\\a.exe", "TargetImage": "a.exe"},
    ]
    assert hits({"sel": {"SourceImage|fieldref": "TargetImage"}, "condition": "sel"}, rows) == [0]
    det = {"sel": {"SourceImage|fieldref|endswith": "TargetImage"}, "condition": "sel"}
    assert hits(det, rows) == [0, 2]


def test_expand_uses_placeholder_mapping_and_unknown_placeholders_fail():
    rows = [{"Computer": "DC01"}, {"Computer": "WS7"}]
    det = {"sel": {"Computer|expand": "%domain_controllers%"}, "condition": "sel"}
    assert hits(det, rows, placeholders={"domain_controllers": ["dc01", "dc02"]}) == [0]
    with pytest.raises(SigmaCompileError, match="domain_controllers"):
        rule(det)


def test_timestamp_modifier_on_event_time():
    rows = [
        {"time": datetime(2026, 1, 1, 3, tzinfo=UTC)},
        {"time": datetime(2026, 1, 1, 14, tzinfo=UTC)},
    ]
    assert hits({"sel": {"time|hour": 3}, "condition": "sel"}, rows) == [0]


# --- keywords --------------------------------------------------------------------------------


def test_keywords_search_every_string_field():
    rows = [
        {"CommandLine": "x", "ScriptBlockText": "Invoke-MIMIKATZ now"},
        {"CommandLine": "mimi katz", "ScriptBlockText": None},
        {
            "CommandLine": "y",
            "ScriptBlockText": "y",
            "tenant": "mimikatz",
        },  # envelope: not searched
    ]
    assert hits({"keywords": ["mimikatz"], "condition": "keywords"}, rows) == [0]
    assert hits({"keywords": ["mimi*katz"], "condition": "keywords"}, rows) == [0, 1]


# --- conditions ------------------------------------------------------------------------------

ROWS = [
    {"Image": "a", "User": "u1"},  # 0: sel_a
    {"Image": "b", "User": "u1"},  # 1: sel_b
    {"Image": "a", "User": "admin"},  # 2: sel_a, filter
    {"Image": "c", "User": "u1"},  # 3: nothing
]
DET = {"sel_a": {"Image": "a"}, "sel_b": {"Image": "b"}, "filter": {"User": "admin"}}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("sel_a", [0, 2]),
        ("sel_a or sel_b", [0, 1, 2]),
        ("sel_a and not filter", [0]),
        ("not sel_a", [1, 3]),
        ("1 of sel_*", [0, 1, 2]),
        ("all of sel_*", []),
        ("1 of sel_* and not filter", [0, 1]),
        ("(sel_a or sel_b) and not filter", [0, 1]),
        ("sel_a or (sel_b and not filter)", [0, 1, 2]),
        ("1 of them", [0, 1, 2]),
        ("all of them", []),
        ("not 1 of them", [3]),
        ("all of sel_a", [0, 2]),
    ],
)
def test_condition_forms(condition, expected):
    assert hits({**DET, "condition": condition}, ROWS) == expected


def test_all_of_them_when_all_true():
    det = {"one": {"Image": "a"}, "two": {"User": "u1"}, "condition": "all of them"}
    assert hits(det, ROWS) == [0]


def test_several_conditions_are_or_linked():
    assert hits({**DET, "condition": ["sel_a and filter", "sel_b"]}, ROWS) == [1, 2]


def test_neq_modifier_negates_the_item():
    assert hits({"sel": {"User|neq": "admin"}, "condition": "sel"}, ROWS) == [0, 1, 3]


def test_selection_expressions_are_kept_for_explanations():
    compiled = rule({**DET, "condition": "sel_a and not filter"})
    assert set(compiled.selections) == {"sel_a", "sel_b", "filter"}
    assert compiled.selection_fields["filter"] == ("User",)
    assert compiled.fields == {"Image", "User"}
