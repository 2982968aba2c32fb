"""Geometry for the console's inline SVG: the level trend, detector bars and entity graph.

Templates draw the shapes; this module only computes where they go, so nothing is fetched
and every label stays HTML-escaped by the template.

>>> trend([("2026-11-01", 2), ("2026-11-02", 4)], width=100, height=40)["points"]
'0.0,25.0 100.0,15.0'
>>> [b["width"] for b in bars({"sigma": 30, "fraud": 10}, width=90)]
[90.0, 30.0]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["TYPE_COLOURS", "bars", "entity_graph", "trend"]

#: Node colours per entity type.
TYPE_COLOURS = {
    "customer": "#1f6feb",
    "account": "#0b7a75",
    "card": "#8250df",
    "device": "#6e7781",
    "ip": "#bc4c00",
    "host": "#953800",
    "user": "#1a7f37",
    "domain": "#cf222e",
    "transaction": "#9a6700",
}


def trend(days: Sequence[tuple[str, int]], width: int = 320, height: int = 64) -> dict[str, Any]:
    """A polyline of the early-warning level (1–5) per day, with one dot per day."""
    if not days:
        return {"points": "", "dots": [], "width": width, "height": height}
    step = width / max(len(days) - 1, 1)
    dots = []
    for i, (day, level) in enumerate(days):
        x = round(i * step, 1) if len(days) > 1 else width / 2
        y = round(height - (level - 1) / 4 * (height - 20) - 10, 1)
        dots.append({"x": x, "y": y, "day": day, "level": level})
    points = " ".join(f"{d['x']},{d['y']}" for d in dots)
    return {"points": points, "dots": dots, "width": width, "height": height}


def bars(counts: Mapping[str, int], width: int = 260) -> list[dict[str, Any]]:
    """Horizontal bars, longest first, scaled so the largest count fills `width`."""
    if not counts:
        return []
    top = max(counts.values()) or 1
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [
        {"label": name, "count": n, "width": round(n / top * width, 1)} for name, n in ordered
    ]


def entity_graph(
    edges: Iterable[tuple[str, str]], size: int = 420, max_nodes: int = 24
) -> dict[str, Any]:
    """Nodes on a circle (most connected first) and the edges between them.

    `edges` are pairs of "type:id" keys; at most `max_nodes` nodes are drawn (the best
    connected), and `hidden` says how many were left out.
    """
    degree: dict[str, int] = {}
    pairs = {(a, b) if a < b else (b, a) for a, b in edges if a != b}
    for a, b in pairs:
        degree[a] = degree.get(a, 0) + 1
        degree[b] = degree.get(b, 0) + 1
    ranked = sorted(degree, key=lambda k: (-degree[k], k))
    shown = ranked[:max_nodes]
    centre, radius = size / 2, size / 2 - 70
    nodes = {}
    for i, key in enumerate(shown):
        angle = 2 * math.pi * i / max(len(shown), 1) - math.pi / 2
        kind, _, ident = key.partition(":")
        nodes[key] = {
            "key": key,
            "kind": kind,
            "label": ident if len(ident) <= 18 else ident[:17] + "…",
            "x": round(centre + radius * math.cos(angle), 1),
            "y": round(centre + radius * math.sin(angle), 1),
            "r": 6 + min(degree[key], 6) * 1.5,
            "colour": TYPE_COLOURS.get(kind, "#57606a"),
            "anchor": "start" if math.cos(angle) >= 0 else "end",
            "dx": 12 if math.cos(angle) >= 0 else -12,
        }
    lines = [
        {"x1": nodes[a]["x"], "y1": nodes[a]["y"], "x2": nodes[b]["x"], "y2": nodes[b]["y"]}
        for a, b in sorted(pairs)
        if a in nodes and b in nodes
    ]
    return {
        "size": size,
        "nodes": list(nodes.values()),
        "edges": lines,
        "hidden": len(ranked) - len(shown),
    }
