"""The webhook connector: signed payloads delivered to a loopback receiver and verified."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mamori.govern.audit import AuditLog
from mamori.respond.connectors import SIGNATURE_HEADER, WebhookConnector, sign, verify_signature
from mamori.respond.desk import ResponseDesk

SECRET = b"shared-with-the-firewall-manager"


class Receiver:
    """A loopback HTTP server that records each POST and answers with `status`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.received.append((dict(self.headers), body))
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ticket": "FW-1042"}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/mamori"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _approved(desk: ResponseDesk) -> str:
    r = desk.propose(
        "bank-a",
        "block_ip",
        "ip:198.51.100.7",
        actor="aoki",
        role="analyst",
        reason="C2 beacon",
        incident_id="inc-3",
    )
    desk.approve("bank-a", r["request_id"], actor="sato", role="responder")
    return str(r["request_id"])


def test_live_webhook_delivers_a_signed_payload(tmp_path: Path, receiver: Receiver) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    desk = ResponseDesk(url, AuditLog(url), WebhookConnector(receiver.url, SECRET, dry_run=False))
    request_id = _approved(desk)
    done = desk.execute("bank-a", request_id, actor="sato", role="responder")
    assert done["status"] == "executed" and done["dry_run"] is False
    assert done["result"] == {"url": receiver.url, "status": 200, "response": {"ticket": "FW-1042"}}
    ((headers, body),) = receiver.received
    assert verify_signature(SECRET, headers[SIGNATURE_HEADER], body)
    assert not verify_signature(b"another secret", headers[SIGNATURE_HEADER], body)
    assert not verify_signature(SECRET, headers[SIGNATURE_HEADER], body.replace(b"198", b"199"))
    payload = json.loads(body)
    assert payload["action"] == "block_ip" and payload["target"] == "ip:198.51.100.7"
    assert payload["approved_by"] == ["sato"] and payload["inputs"] == {"duration_hours": 24}


def test_dry_run_webhook_sends_nothing(tmp_path: Path, receiver: Receiver) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    desk = ResponseDesk(url, AuditLog(url), WebhookConnector(receiver.url, SECRET))
    done = desk.execute("bank-a", _approved(desk), actor="sato", role="responder")
    assert done["dry_run"] is True and receiver.received == []
    assert done["result"]["would_post_to"] == receiver.url
    body = json.dumps(done["result"]["body"], sort_keys=True, separators=(",", ":")).encode()
    assert verify_signature(SECRET, done["result"]["signature"], body)


def test_receiver_error_is_recorded_as_a_failure(tmp_path: Path, receiver: Receiver) -> None:
    receiver.status = 503
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    desk = ResponseDesk(url, AuditLog(url), WebhookConnector(receiver.url, SECRET, dry_run=False))
    request_id = _approved(desk)
    failed = desk.execute("bank-a", request_id, actor="sato", role="responder")
    assert failed["status"] == "failed" and failed["result"]["status"] == 503
    last = desk.audit.records(subject=request_id)[-1].data()
    assert last["step"] == "failed" and last["result"]["status"] == 503


def test_unreachable_receiver_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    dead = WebhookConnector("http://127.0.0.1:9/none", SECRET, dry_run=False, timeout_s=2)
    desk = ResponseDesk(url, AuditLog(url), dead)
    failed = desk.execute("bank-a", _approved(desk), actor="sato", role="responder")
    assert failed["status"] == "failed" and "error" in failed["result"]


def test_signatures_expire() -> None:
    header = sign(SECRET, b"{}", timestamp=1_000)
    assert verify_signature(SECRET, header, b"{}", now=1_200)
    assert not verify_signature(SECRET, header, b"{}", now=1_400)
    assert not verify_signature(SECRET, "garbage", b"{}", now=1_000)
