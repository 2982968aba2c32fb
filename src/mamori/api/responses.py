"""JSON responses written with orjson (datetimes as RFC 3339), and frames as rows."""

from __future__ import annotations

from typing import Any

import orjson
import polars as pl
from fastapi.responses import JSONResponse


def json_bytes(content: Any) -> bytes:
    """`content` as JSON by orjson (datetimes as RFC 3339, unknown values as text)."""
    return orjson.dumps(content, default=str, option=orjson.OPT_NON_STR_KEYS)


class OrjsonResponse(JSONResponse):
    """A JSON response encoded by orjson; values it does not know are written as text."""

    def render(self, content: Any) -> bytes:
        return json_bytes(content)


def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as dicts."""
    return frame.to_dicts()


def error_body(status: int, message: str) -> dict[str, Any]:
    """The body of every error: ``{"error": {"status": ..., "message": ...}}``."""
    return {"error": {"status": status, "message": message}}
