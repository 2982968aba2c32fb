"""The read-only report server: serves its folder, nothing outside it, and no writes."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mamori.web.serve import make_server


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "report"
    root.mkdir()
    (root / "index.html").write_text("<h1>report</h1>", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("outside", encoding="utf-8")
    (root / "escape").symlink_to(tmp_path)  # a link that leads out of the folder
    server = make_server(root, port=0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def fetch(url: str, method: str = "GET") -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method, data=b"x" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def test_serves_the_report(base_url: str) -> None:
    status, body = fetch(f"{base_url}/")
    assert (status, body) == (200, b"<h1>report</h1>")
    assert fetch(f"{base_url}/index.html")[0] == 200


def test_nothing_outside_the_folder(base_url: str) -> None:
    assert fetch(f"{base_url}/../secret.txt")[0] == 404
    assert fetch(f"{base_url}/%2e%2e/secret.txt")[0] == 404
    assert fetch(f"{base_url}/escape/secret.txt")[0] == 404
    assert fetch(f"{base_url}/escape/")[0] == 404


def test_read_only(base_url: str) -> None:
    assert fetch(f"{base_url}/index.html", method="POST")[0] == 501
    assert fetch(f"{base_url}/index.html", method="PUT")[0] == 501
    assert fetch(f"{base_url}/index.html", method="DELETE")[0] == 501


def test_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        make_server(tmp_path / "nope", port=0)
