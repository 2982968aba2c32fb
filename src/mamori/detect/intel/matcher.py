"""IntelMatcher: every stream kind against loaded threat-intel indicators.

For each column that can carry an indicator's value (see `observables.FIELDS`), the
matcher reads the column's distinct values, turns them into candidates, and looks them up
all at once: addresses by a sorted interval search over integer ranges (an exact address
is a one-address range, so a /32 inside a listed /16 matches both), domains by exact name
and by each parent name (a `domain` indicator covers its subdomains, a `hostname` does
not), URLs, hashes and file names by an exact join. Only the rows holding a hit are then
picked out of the batch, so the cost grows with the distinct values, not with the hits.

A match counts when the event's time lies in the indicator's validity window, and, for an
AND pattern, when every value of the branch matched the same event. Matches are grouped
into one alert per indicator, observed value, entity and `cooldown` window, carrying up to
`max_event_ids` event ids; the alert names the indicator, its source report and its TLP.

Severity follows the indicator's confidence (unknown counts as 70): a score of at least 0.6
is high, 0.3 medium, less low; a network broader than one address scores at most 0.5 and a
file name at most 0.4, since both also catch the innocent.

>>> from mamori.detect.intel.model import indicator_frame, indicator_rows, observable
>>> from mamori.events.schema import conform
>>> bad = indicator_rows([observable("ip", "203.0.113.0/24")], {"indicator_id": "i1",
...     "name": "C2 range", "report": "Op Heron", "tlp": "TLP:AMBER", "confidence": 80})
>>> flows = conform(pl.DataFrame({"event_id": ["f1", "f2"], "tenant": ["bank-a"] * 2,
...     "time": [0, 1], "src_ip": ["10.0.0.5"] * 2, "dst_ip": ["203.0.113.255", "8.8.8.8"]}),
...     "flow")
>>> alert = IntelMatcher(indicator_frame(bad)).process(flows).row(0, named=True)
>>> alert["title"], alert["entity_id"], alert["severity"], alert["event_ids"]
('Known-bad ip 203.0.113.255 (Op Heron)', '10.0.0.5', 'medium', ['f1'])
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import polars as pl

from mamori.detect.base import Detector, Snapshot, make_alerts, once_per_bucket
from mamori.detect.intel.addresses import IntervalIndex, parse_addresses
from mamori.detect.intel.model import INDICATOR, IntelSet
from mamori.detect.intel.observables import FIELDS, Field, candidates
from mamori.events.schema import TIME, empty_alerts

#: Parent names tried for a domain: a.b.c.d.example.org looks up to this many levels up.
MAX_LABELS = 10
#: What an alert calls each indicator type, in its rule id, title and related entities.
LABELS = {
    "ipv4": "ip",
    "ipv6": "ip",
    "domain": "domain",
    "hostname": "domain",
    "url": "url",
    "md5": "hash",
    "sha1": "hash",
    "sha256": "hash",
    "imphash": "hash",
    "file": "file",
}
_KEYS = ["tenant", "indicator_id", "observed", "entity_id", "field"]
_HIT = {"raw": pl.String(), "_row": pl.UInt32(), "observed": pl.String()}


class IntelMatcher(Detector):
    """Threat-intel indicator matches in flows, logons, transactions, Windows events, logs."""

    name: ClassVar[str] = "intel"
    kinds: ClassVar[frozenset[str]] = frozenset(FIELDS)

    def __init__(
        self,
        intel: IntelSet | pl.DataFrame,
        cooldown: timedelta = timedelta(hours=1),
        max_event_ids: int = 50,
    ) -> None:
        frame = intel.indicators if isinstance(intel, IntelSet) else intel
        self.indicators = frame.select(list(INDICATOR)).with_row_index("_row")
        self.cooldown, self.max_event_ids = cooldown, max_event_ids
        self._addresses = {
            family: self._address_index(family) for family in ("ipv4", "ipv6")
        }
        self._strings = self.indicators.filter(
            ~pl.col("type").is_in(["ipv4", "ipv6"])
        ).select(
            pl.col("type").replace("hostname", "domain"),
            "value",
            "_row",
            _sub=pl.col("subdomains").fill_null(False),
        )
        #: label counts of the domains that cover their subdomains: the parents to look up
        covering = self.indicators.filter(pl.col("subdomains").fill_null(False))["value"]
        self._parent_labels = sorted(
            set((covering.str.count_matches(".", literal=True) + 1).to_list())
        )
        self._has_and = bool((self.indicators["need"].fill_null(1) > 1).any())
        self.fired = pl.DataFrame(
            schema={k: pl.String() for k in _KEYS} | {"_bucket": TIME}
        )

    def _address_index(self, family: str) -> tuple[IntervalIndex, pl.DataFrame] | None:
        nets = self.indicators.filter(pl.col("type") == family).select(
            "_row", "k1_lo", "k1_hi", "k2_lo", "k2_hi"
        )
        if nets.height == 0:
            return None
        return IntervalIndex(nets["k1_lo"].to_numpy(), nets["k1_hi"].to_numpy()), nets

    # --- matching values ---------------------------------------------------------------------

    def _address_hits(self, addresses: pl.DataFrame) -> pl.DataFrame:
        """(raw, _row, observed) for the address texts inside the ranges of an indicator."""
        if addresses.height == 0 or all(v is None for v in self._addresses.values()):
            return pl.DataFrame(schema=_HIT)
        parsed = parse_addresses(addresses["address"].unique())
        found = []
        for family, entry in self._addresses.items():
            keys = parsed.filter(pl.col("family") == family)
            if entry is None or keys.height == 0:
                continue
            index, nets = entry
            at, member = index.lookup(keys["k1"].to_numpy())
            if len(at) == 0:
                continue
            pairs = pl.concat(
                [
                    keys[at].select(pl.col("raw").alias("address"), "k2"),
                    nets[member].select("_row", "k2_lo", "k2_hi"),
                ],
                how="horizontal",
            ).filter(pl.col("k2").is_between(pl.col("k2_lo"), pl.col("k2_hi")))
            found.append(pairs.select("address", "_row"))
        if not found:
            return pl.DataFrame(schema=_HIT)
        return (
            addresses.join(pl.concat(found), on="address")
            .select("raw", "_row", observed=pl.col("address").str.strip_chars())
            .cast(_HIT)  # type: ignore[arg-type]
        )

    def _string_hits(self, cands: pl.DataFrame) -> pl.DataFrame:
        """(raw, _row, observed) for names, URLs, hashes and file names an indicator lists."""
        if cands.height == 0 or self._strings.height == 0:
            return pl.DataFrame(schema=_HIT)
        domains = cands.filter(pl.col("type") == "domain").select(
            "raw", "type", observed="value", _labels=pl.col("value").str.split(".")
        )
        parents = [
            domains.filter(pl.col("_labels").list.len() > n).select(
                "raw",
                "type",
                "observed",
                _key=pl.col("_labels").list.slice(-n).list.join("."),
                _exact=pl.lit(False),
            )
            for n in self._parent_labels
        ]
        exact = cands.select(
            "raw", "type", observed="value", _key="value", _exact=pl.lit(True)
        )
        looked = pl.concat([exact, *parents]).join(
            self._strings, left_on=["type", "_key"], right_on=["type", "value"]
        )
        hits = looked.filter(pl.col("_exact") | pl.col("_sub")).select(list(_HIT))
        return hits.cast(_HIT)  # type: ignore[arg-type]

    def _field_matches(self, batch: pl.DataFrame, field: Field) -> pl.DataFrame | None:
        column = pl.col(field.column).cast(pl.String)
        values = batch.select(column.unique().drop_nulls())[field.column]
        if values.len() == 0:
            return None
        strings, addresses = candidates(values, field.reader)
        hits = pl.concat([self._string_hits(strings), self._address_hits(addresses)])
        if hits.height == 0:
            return None
        entity = (
            pl.col(field.entity_column).cast(pl.String)
            if field.entity_column in batch.columns
            else pl.lit(None, pl.String)
        )
        rows = batch.filter(column.is_in(hits["raw"].unique().implode())).select(
            "event_id", "time", "tenant", raw=column, entity_id=entity
        )
        return rows.join(hits, on="raw").select(
            pl.exclude("raw"),
            field=pl.lit(field.column),
            entity_type=pl.lit(field.entity_type),
            stage=pl.lit(field.stage),
        )

    def matches(self, batch: pl.DataFrame) -> pl.DataFrame:
        """Every (event, indicator value) match in a batch, valid at the event's time."""
        kind = batch["kind"][0] if batch.height else None
        found = [
            m
            for f in FIELDS.get(str(kind), ())
            if f.column in batch.columns
            and (m := self._field_matches(batch, f)) is not None
        ]
        if not found:
            return pl.DataFrame()
        hits = pl.concat(found).join(self.indicators, on="_row")
        hits = hits.filter(
            (pl.col("valid_from").is_null() | (pl.col("time") >= pl.col("valid_from")))
            & (pl.col("valid_until").is_null() | (pl.col("time") < pl.col("valid_until")))
        )
        if self._has_and:
            branch = ["event_id", "indicator_id", "clause"]
            hits = hits.filter(
                pl.col("_row").n_unique().over(branch) >= pl.col("need").fill_null(1)
            )
        return hits.unique(subset=["event_id", "_row", "field"], maintain_order=True).sort(
            "time", maintain_order=True
        )

    # --- alerts --------------------------------------------------------------------------------

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0 or self.indicators.height == 0:
            return empty_alerts()
        hits = self.matches(batch)
        if hits.height == 0:
            return empty_alerts()
        period = f"{int(self.cooldown.total_seconds() * 1_000_000)}us"
        grouped = (
            hits.with_columns(_window=pl.col("time").dt.truncate(period))
            .group_by([*_KEYS, "_window"], maintain_order=True)
            .agg(
                pl.col("time").first(),
                event_ids=pl.col("event_id").head(self.max_event_ids),
                _events=pl.len(),
                **{
                    c: pl.col(c).first()
                    for c in (
                        "type", "value", "name", "pattern", "report", "tlp",
                        "confidence", "entity_type", "stage",
                    )
                },
            )
            .sort("time", maintain_order=True)
        )
        kept, self.fired = once_per_bucket(grouped, _KEYS, self.cooldown, self.fired)
        if kept.height == 0:
            return empty_alerts()
        return make_alerts(self._alerts(kept), self.name, [*_KEYS, "_bucket"])

    def _alerts(self, kept: pl.DataFrame) -> pl.DataFrame:
        label = pl.col("type").replace_strict(LABELS, default="value")
        base = pl.col("confidence").cast(pl.Float64).fill_null(70.0).clip(0, 100) / 100
        network = pl.col("value").str.contains("/", literal=True) & label.eq("ip")
        score = (
            pl.when(network)
            .then(pl.min_horizontal(base, pl.lit(0.5)))
            .when(pl.col("type") == "file")
            .then(pl.min_horizontal(base, pl.lit(0.4)))
            .otherwise(base)
        )
        source = pl.col("report").fill_null(pl.col("name"))
        return kept.with_columns(_score=score.round(2)).select(
            "time",
            "tenant",
            "event_ids",
            "_bucket",
            *_KEYS[1:],
            rule_id=pl.lit("intel-") + label,
            title=pl.format("Known-bad {} {} ({})", label, pl.col("observed"), source),
            severity=pl.when(pl.col("_score") >= 0.6)
            .then(pl.lit("high"))
            .when(pl.col("_score") >= 0.3)
            .then(pl.lit("medium"))
            .otherwise(pl.lit("low")),
            score=pl.col("_score"),
            stage="stage",
            attack=pl.lit([], pl.List(pl.String)),
            entity_type="entity_type",
            related=pl.concat_list(label + pl.lit(":") + pl.col("observed")),
            explanation=pl.format(
                "{} {} matched indicator '{}' ({}) from report '{}', {}, confidence {}; "
                "{} event(s) in this window (indicator {})",
                pl.col("field"),
                pl.col("observed"),
                pl.col("name").fill_null(""),
                pl.col("pattern").fill_null(""),
                pl.col("report").fill_null("unknown"),
                pl.col("tlp").fill_null("TLP unmarked"),
                pl.col("confidence").cast(pl.String).fill_null("not given"),
                pl.col("_events"),
                pl.col("indicator_id"),
            ),
        )

    def snapshot(self) -> Snapshot:
        return {"frames": {"fired": self.fired}}

    def restore(self, state: Snapshot) -> None:
        self.fired = state["frames"]["fired"]
