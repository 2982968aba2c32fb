"""An app served on a free loopback port from a thread, for demos, tests and benchmarks.

`mamori serve` is the way to run the API; this is for code that needs a real HTTP server
for a moment inside its own process (`mamori sector demo`, the TAXII tests, the
benchmarks), so that requests go through uvicorn and the network stack as in production.

>>> from fastapi import FastAPI
>>> import httpx
>>> app = FastAPI()
>>> _ = app.get("/ping")(lambda: {"ok": True})
>>> with serving(app) as url:
...     httpx.get(url + "/ping").json()
{'ok': True}
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["free_port", "serving"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Any, *, log_level: str = "error", start_timeout_s: float = 20.0
            ) -> Iterator[str]:  # fmt: skip
    """Serve `app` with uvicorn on a free loopback port until the block ends; its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level=log_level))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the server on 127.0.0.1:{port} did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
