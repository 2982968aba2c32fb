"""`mamori demo --no-serve`: the simulated bank's incidents and five console users whose
printed passwords open the console."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient

from mamori.api.app import create_app
from mamori.api.settings import ApiSettings
from mamori.cli import main

ROLES = {
    "analyst": "analyst",
    "responder1": "responder",
    "responder2": "responder",
    "admin": "admin",
    "auditor": "auditor",
}


def _printed_users(output: str) -> dict[str, tuple[str, str]]:
    """username -> (role, password) from the demo's table."""
    users = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) == 6 and cells[1] in ROLES:
            users[cells[1]] = (cells[2], cells[3])
    return users


def test_the_demo_prints_users_whose_passwords_open_the_console(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    result = CliRunner().invoke(
        main, ["demo", "--customers", "300", "--no-serve", "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    users = _printed_users(result.output)
    assert {name: role for name, (role, _) in users.items()} == ROLES
    assert len({password for _, password in users.values()}) == 5
    assert "http://127.0.0.1:8000/console" in result.output
    assert "Secure flag for this demo" in result.output

    app = create_app(ApiSettings(data_dir, secure_cookies=False))
    with TestClient(app) as client:
        wrong = client.post("/v1/auth/login", json={"username": "analyst", "password": "x" * 12})
        assert wrong.status_code == 401
        for name, (role, password) in users.items():
            login = client.post("/v1/auth/login", json={"username": name, "password": password})
            assert login.status_code == 200, login.text
            assert login.json()["roles"] == [role] and login.json()["tenant"] == "bank-a"
        incidents = client.get("/v1/incidents").json()
        assert incidents["count"] > 0  # the simulated attacks' incidents, on the console
        assert client.get("/console/incidents").status_code == 200
