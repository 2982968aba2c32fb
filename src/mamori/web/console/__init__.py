"""The SOC console's templates, static assets (CSS, JS: no CDN, nothing fetched from
elsewhere) and message catalogues (English and Japanese); served by `mamori.api.console`."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

__all__ = ["LANGUAGES", "STATIC", "TEMPLATES", "messages", "translate"]

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
LANGUAGES = ("en", "ja")


@cache
def messages(language: str) -> dict[str, str]:
    """The message catalogue of a language (English for an unknown one)."""
    chosen = language if language in LANGUAGES else "en"
    return dict(json.loads((HERE / "messages" / f"{chosen}.json").read_text("utf-8")))


def translate(language: str, key: str, **values: object) -> str:
    """One message, with ``{name}`` placeholders filled; the key itself if it is missing.

    >>> translate("ja", "nav.alerts"), translate("en", "overview.incidents_open", count=3)
    ('アラート', '3 open incidents')
    """
    text = messages(language).get(key) or messages("en").get(key) or key
    return text.format(**values) if values else text
