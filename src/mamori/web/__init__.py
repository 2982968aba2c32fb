"""The web console: the self-contained HTML report and a read-only server for it."""

from mamori.web.report import render_report
from mamori.web.serve import serve

__all__ = ["render_report", "serve"]
