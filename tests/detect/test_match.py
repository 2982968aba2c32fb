import polars as pl
import pytest

from mamori.detect.match import RuleError, apply_match, compile_match, network

ROWS = pl.DataFrame(
    {
        "Image": [r"C:\Windows\System32\CMD.EXE", r"C:\x\powershell.exe", None, r"D:\cmd.exe.bak"],
        "CommandLine": [
            "whoami /all",
            "powershell -EncodedCommand AAA",
            "x",
            "SEKURLSA::logonpasswords",
        ],
        "EventID": [1, 1, 10, 1],
        "ip": ["203.0.113.9", "10.0.0.1", "172.20.1.1", "8.8.8.8"],
    }
)


@pytest.mark.parametrize(
    "spec, rows",
    [
        ({"Image": {"endswith": ["\\cmd.exe", "\\powershell.exe"]}}, [0, 1]),
        ({"Image": {"startswith": "c:\\windows"}}, [0]),
        ({"CommandLine": {"contains": ["-encodedcommand", "sekurlsa"]}}, [1, 3]),
        ({"EventID": 1, "CommandLine": {"contains": "WHOAMI"}}, [0]),
        ({"EventID": {"gte": 2}}, [2]),
        ({"Image": {"exists": False}}, [2]),
        ({"Image": {"not": {"endswith": ".exe"}}}, [2, 3]),
        ({"ip": {"external": True}}, [0, 3]),
        ({"ip": ["203.0.113.9", "8.8.8.8"], "EventID": [1]}, [0, 3]),
        ({"Image": {"endswith": "a.b*c"}}, []),  # needles are literal, not patterns
    ],
)
def test_conditions_and_the_staged_filter_agree(spec, rows):
    indexed = ROWS.with_row_index("i")
    assert indexed.filter(compile_match(spec))["i"].to_list() == rows
    assert apply_match(indexed, spec)["i"].to_list() == rows


def test_unknown_operator_is_refused():
    with pytest.raises(RuleError, match="unknown operator"):
        compile_match({"Image": {"regex": "x"}})


def test_networks():
    out = pl.DataFrame({"ip": ["203.0.113.9", "fe80::1"]}).select(network("ip/16"))
    assert out["ip/16"].to_list() == ["203.0.0.0/16", None]
    with pytest.raises(RuleError):
        network("ip/12")
