"""Serve a report folder read-only over HTTP with the standard library.

Only GET and HEAD are answered (anything else gets 501), paths are confined to the folder
(``..`` and symbolic links that lead outside it get 404), and responses tell browsers not to
sniff types, cache or send referrers. It is meant for a SOC analyst's workstation or a
jump host, bound to loopback by default; put a real web server in front for anything more.
"""

from __future__ import annotations

import functools
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO

__all__ = ["ReportRequestHandler", "make_server", "serve"]


class ReportRequestHandler(SimpleHTTPRequestHandler):
    """A read-only file handler confined to its directory."""

    server_version = "mamori"
    sys_version = ""

    def send_head(self) -> BinaryIO | None:
        """Refuse (404) a path that resolves outside the root, e.g. through a symlink."""
        root = Path(self.directory).resolve()
        target = Path(self.translate_path(self.path)).resolve()
        if target != root and root not in target.parents:
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        return super().send_head()

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


def make_server(directory: Path, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """An HTTP server for `directory` (port 0 picks a free port); the caller runs it."""
    root = Path(directory).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"nothing to serve: {root} is not a folder")
    handler = functools.partial(ReportRequestHandler, directory=str(root))
    return ThreadingHTTPServer((host, port), handler)


def serve(directory: Path, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve `directory` read-only until Ctrl-C, printing the URL to open."""
    server = make_server(directory, host, port)
    bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    print(f"Serving {Path(directory).resolve()} at http://{shown}:{bound_port}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nStopped.")
    finally:
        server.server_close()
