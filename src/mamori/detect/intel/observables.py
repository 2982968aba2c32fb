"""Where indicators' values appear in events, and how to read them out of a column.

Each stream kind names the columns that can carry an indicator's value, how to read them
(`ip`, `host` for a DNS name or URL, `hashes` for Sysmon's `SHA256=…,MD5=…`, `file` for a
path whose last part is a file name, `text` for a raw log line), the entity an alert is
about and the kill-chain stage a match suggests. A flow whose destination is a known-bad
address is about its source host, and the reverse; a logon from one is about the user.

Readers work on the distinct values of a column (a bank's events repeat their addresses,
names and hashes many times), each returning rows (`raw`, `type`, `value`) of candidates.
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl

from mamori.detect.intel.model import HASH_TYPES


class Field(NamedTuple):
    """One event column that can carry indicator values."""

    column: str
    reader: str  # ip, host, hashes, file or text
    entity_type: str
    entity_column: str
    stage: str


_C2, _ACCESS, _EXEC = "command_and_control", "initial_access", "execution"

FIELDS: dict[str, tuple[Field, ...]] = {
    "flow": (
        Field("dst_ip", "ip", "ip", "src_ip", _C2),
        Field("src_ip", "ip", "ip", "dst_ip", _ACCESS),
        Field("query", "host", "ip", "src_ip", _C2),
    ),
    "auth": (Field("src_ip", "ip", "user", "user", _ACCESS),),
    "transaction": (Field("ip", "ip", "customer", "customer", _ACCESS),),
    "winlog": (
        Field("IpAddress", "ip", "host", "Computer", _ACCESS),
        Field("DestinationIp", "ip", "host", "Computer", _C2),
        Field("SourceIp", "ip", "host", "Computer", _ACCESS),
        Field("QueryName", "host", "host", "Computer", _C2),
        Field("DestinationHostname", "host", "host", "Computer", _C2),
        Field("Hashes", "hashes", "host", "Computer", _EXEC),
        Field("Hash", "hashes", "host", "Computer", _EXEC),
        Field("Image", "file", "host", "Computer", _EXEC),
        Field("TargetFilename", "file", "host", "Computer", _EXEC),
        Field("ImageLoaded", "file", "host", "Computer", _EXEC),
    ),
    "log": (Field("message", "text", "host", "host", _C2),),
}

_SCHEME = r"^[A-Za-z][A-Za-z0-9+.-]*://"
_HEX_LENGTH = {32: "md5", 40: "sha1", 64: "sha256"}
_IPV4_TEXT = r"\b(?:\d{1,3}\.){3}\d{1,3}\b"
_URL_TEXT = r"(?i)\bhttps?://[^\s\"'<>]+"
_DOMAIN_TEXT = r"(?i)\b(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}\b"
_HEX_TEXT = r"\b(?:[0-9A-Fa-f]{64}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{32})\b"

CANDIDATE = {"raw": pl.String(), "type": pl.String(), "value": pl.String()}


def url_value(text: pl.Expr) -> pl.Expr:
    """URLs normalised as indicators are (see `model.normal_url`)."""
    rest = text.str.strip_chars().str.replace(_SCHEME, "")
    host = rest.str.extract(r"^([^/]*)", 1).str.to_lowercase()
    path = rest.str.extract(r"^[^/]*(/.*)$", 1).fill_null("")
    return (host + path).str.strip_chars_end("/")


def host_value(text: pl.Expr) -> pl.Expr:
    """The DNS name in a name, a host:port or a URL, lower case, without a trailing dot."""
    rest = text.str.strip_chars().str.replace(_SCHEME, "")
    return (
        rest.str.extract(r"^([^/:?#]*)", 1).str.to_lowercase().str.strip_chars_end(".")
    )


def _rows(frame: pl.DataFrame, kind: str | pl.Expr, value: pl.Expr) -> pl.DataFrame:
    typed = pl.lit(kind) if isinstance(kind, str) else kind
    return frame.select("raw", type=typed, value=value).filter(
        pl.col("value").is_not_null() & (pl.col("value") != "")
    )


def candidates(values: pl.Series, reader: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Candidates read from distinct `values`: strings (`raw`, `type`, `value`) and address
    texts still to parse (`raw`, `address`)."""
    raw = pl.DataFrame({"raw": values.cast(pl.String)})
    empty_ips = pl.DataFrame(schema={"raw": pl.String(), "address": pl.String()})
    if reader == "ip":
        return pl.DataFrame(schema=CANDIDATE), raw.select("raw", address="raw")
    if reader == "host":
        bare = pl.col("raw").str.contains(r"[/:?#\s]").not_()  # a plain DNS name
        plain = raw.filter(bare).with_columns(_name=pl.col("raw").str.to_lowercase())
        rich = raw.filter(~bare)
        parts = [
            _rows(plain, "domain", pl.col("_name").str.strip_chars_end(".")),
            _rows(plain, "url", pl.col("_name")),
            _rows(rich, "domain", host_value(pl.col("raw"))),
            _rows(rich, "url", url_value(pl.col("raw"))),
        ]
        return pl.concat(parts), empty_ips
    if reader == "hashes":
        return _hashes(raw), empty_ips
    if reader == "file":
        name = pl.col("raw").str.replace(r"^.*[\\/]", "").str.strip_chars().str.to_lowercase()
        return _rows(raw, "file", name), empty_ips
    if reader == "text":
        return _text(raw)
    raise ValueError(f"unknown field reader {reader!r}")


def _hashes(raw: pl.DataFrame) -> pl.DataFrame:
    """Hashes as Sysmon writes them (`SHA1=…,MD5=…,SHA256=…,IMPHASH=…`) or a bare hex hash."""
    pairs = (
        raw.select("raw", _pair=pl.col("raw").str.split(","))
        .explode("_pair")
        .with_columns(_pair=pl.col("_pair").str.split_exact("=", 1))
        .unnest("_pair")
    )
    labelled = pairs.filter(pl.col("field_1").is_not_null()).select(
        "raw",
        type=pl.col("field_0").str.strip_chars().str.to_lowercase().replace("sha-256", "sha256"),
        value=pl.col("field_1").str.strip_chars().str.to_lowercase(),
    )
    bare = pairs.filter(pl.col("field_1").is_null()).select(
        "raw", value=pl.col("field_0").str.strip_chars().str.to_lowercase()
    )
    return pl.concat(
        [
            labelled.filter(pl.col("type").is_in(HASH_TYPES)),
            _rows(bare, pl.col("value").str.len_chars().replace_strict(_HEX_LENGTH, default=None),
                  pl.col("value")),
        ]
    ).filter(pl.col("type").is_not_null())


def _text(raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Addresses, URLs, DNS names and hashes written anywhere in a log line."""

    def found(pattern: str) -> pl.DataFrame:
        return (
            raw.select("raw", token=pl.col("raw").str.extract_all(pattern))
            .explode("token")
            .filter(pl.col("token").is_not_null())
        )

    urls = found(_URL_TEXT)
    names = found(_DOMAIN_TEXT)
    hexes = found(_HEX_TEXT).with_columns(pl.col("token").str.to_lowercase())
    parts = [
        _rows(urls, "url", url_value(pl.col("token"))),
        _rows(names, "domain", host_value(pl.col("token"))),
        _rows(hexes, pl.col("token").str.len_chars().replace_strict(_HEX_LENGTH), pl.col("token")),
        _rows(hexes.filter(pl.col("token").str.len_chars() == 32), "imphash", pl.col("token")),
    ]
    return pl.concat(parts), found(_IPV4_TEXT).select("raw", address="token")
