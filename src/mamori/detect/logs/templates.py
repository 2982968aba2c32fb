"""Log templates: the constant text of a log line, its variable parts masked and mined.

A log line is mostly constant text written by one print statement, with variable parts
(addresses, numbers, paths, user names). Two steps recover the statement:

1. **Masking**, vectorised over a whole batch with Polars regular expressions: IPv4
   addresses (with a port), hex numbers, long hex strings, file paths and numbers become
   ``<IP>``, ``<HEX>``, ``<PATH>`` and ``<NUM>``.
2. **Drain** (He et al., ICWS 2017; the `drain3` package) groups the masked lines into
   clusters by length, first tokens and token similarity, and generalises the tokens that
   differ within a cluster to ``<*>`` (user names, host names that masking left).

Logs repeat: after masking, a batch of a million lines holds a few thousand distinct
texts. Drain sees each distinct masked text once (the miner remembers which cluster each
went to), so its per-line Python cost is paid per new pattern, not per line.

State is bounded (`max_clusters`, least recently used evicted; the memo of masked texts is
cut to its newest `max_memo` entries) and its snapshot is plain JSON — the Drain prefix tree,
clusters and memo as lists and dicts — never pickle (drain3's own state format is
jsonpickle, which can rebuild arbitrary objects; this one can only rebuild a tree).

>>> miner = TemplateMiner()
>>> lines = pl.Series(["Failed password for root from 10.0.0.1 port 22 ssh2",
...                    "Failed password for root from 10.0.0.7 port 4022 ssh2",
...                    "Failed password for admin from 10.0.0.9 port 80 ssh2"])
>>> mined = miner.mine(lines)
>>> mined["template"].to_list()[-1]
'Failed password for <*> from <IP> port <NUM> ssh2'
>>> mined["template_id"].n_unique()
1
"""

from __future__ import annotations

from typing import Any

import polars as pl
from drain3.drain import Drain, LogCluster, Node

#: Masks applied in order: (regular expression, replacement).
MASKS: tuple[tuple[str, str], ...] = (
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "<IP>"),
    (r"\b0[xX][0-9a-fA-F]+\b", "<HEX>"),
    (r"\b[0-9a-fA-F]{8,}\b", "<HEX>"),
    (r"(?:^|\s)(?:/[\w.+\-~]+)+/?", " <PATH>"),
    (r"\b\d+(?:\.\d+)?\b", "<NUM>"),
)


def mask(messages: pl.Expr) -> pl.Expr:
    """The messages with their variable parts masked (see `MASKS`).

    >>> line = pl.lit("read 4096 bytes at 0x1f from /dev/sda1 for 10.1.2.3:80")
    >>> pl.select(mask(line)).item()
    'read <NUM> bytes at <HEX> from <PATH> for <IP>'
    """
    out = messages.fill_null("")
    for pattern, replacement in MASKS:
        out = out.str.replace_all(pattern, replacement)
    return out.str.replace_all(r"\s+", " ").str.strip_chars()


class TemplateMiner:
    """Drain over masked log messages, mining each distinct masked text once."""

    def __init__(
        self,
        similarity: float = 0.5,
        depth: int = 4,
        max_children: int = 100,
        max_clusters: int = 50_000,
        max_memo: int = 200_000,
    ) -> None:
        self.params = {
            "similarity": similarity,
            "depth": depth,
            "max_children": max_children,
            "max_clusters": max_clusters,
            "max_memo": max_memo,
        }
        self.drain = self._new_drain()
        self.memo: dict[str, int] = {}  # masked text -> cluster id

    def _new_drain(self) -> Drain:
        p = self.params
        return Drain(
            depth=int(p["depth"]),
            sim_th=p["similarity"],
            max_children=int(p["max_children"]),
            max_clusters=int(p["max_clusters"]),
        )

    def mine(self, messages: pl.Series) -> pl.DataFrame:
        """`template_id` (``T`` and the cluster number) and `template` for each message."""
        masked = pl.select(mask(pl.lit(messages))).to_series().alias("masked")
        for text in masked.unique(maintain_order=True).to_list():
            if text not in self.memo:
                cluster, _ = self.drain.add_log_message(text)
                self.memo[text] = cluster.cluster_id
        if len(self.memo) > self.params["max_memo"]:
            keep = list(self.memo.items())[-int(self.params["max_memo"]) :]
            self.memo = dict(keep)
        ids = masked.replace_strict(self.memo, default=None, return_dtype=pl.Int64)
        templates = {
            cid: " ".join(c.log_template_tokens) for cid, c in self.drain.id_to_cluster.items()
        }
        return pl.DataFrame(
            {
                "template_id": ("T" + ids.cast(pl.String)),
                "template": ids.replace_strict(templates, default=None, return_dtype=pl.String)
                .fill_null(masked),
            }
        )

    def fill(self, batch: pl.DataFrame) -> pl.DataFrame:
        """A `log` batch with `template` and `template_id` mined where they are missing."""
        if batch.height == 0 or batch["template_id"].null_count() == 0:
            return batch
        mined = self.mine(batch["message"])
        return batch.with_columns(
            template_id=pl.coalesce(pl.col("template_id"), mined["template_id"]),
            template=pl.coalesce(pl.col("template"), mined["template"]),
        )

    # --- state ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The miner's state as JSON values: Drain's tree and clusters, and the memo."""
        clusters = [
            [cid, list(c.log_template_tokens), c.size]
            for cid, c in self.drain.id_to_cluster.items()
        ]
        return {
            "params": self.params,
            "counter": self.drain.clusters_counter,
            "clusters": clusters,
            "tree": _tree(self.drain.root_node),
            "memo": [[text, cid] for text, cid in self.memo.items()],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from `snapshot()`."""
        self.params = dict(state["params"])
        self.drain = self._new_drain()
        for cid, tokens, size in state["clusters"]:
            cluster = LogCluster(tokens, int(cid))
            cluster.size = int(size)
            self.drain.id_to_cluster[int(cid)] = cluster
        self.drain.clusters_counter = int(state["counter"])
        self.drain.root_node = _node(state["tree"])
        self.memo = {text: int(cid) for text, cid in state["memo"]}


def _tree(node: Node) -> dict[str, Any]:
    return {
        "ids": list(node.cluster_ids),
        "children": {key: _tree(child) for key, child in node.key_to_child_node.items()},
    }


def _node(doc: dict[str, Any]) -> Node:
    node = Node()
    node.cluster_ids = [int(i) for i in doc["ids"]]
    node.key_to_child_node = {key: _node(child) for key, child in doc["children"].items()}
    return node
