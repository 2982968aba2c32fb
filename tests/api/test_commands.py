"""The operator's commands: a tenant, a user and a token that the API then accepts."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient

from mamori.api.app import create_app
from mamori.cli import main
from tests.api.conftest import settings_for_tests


def test_tenant_user_and_token_from_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    folder = ["--data-dir", str(tmp_path)]
    assert runner.invoke(main, ["tenants", "create", "bank-a", *folder]).exit_code == 0
    made = runner.invoke(
        main, ["users", "create", "aiko", "--tenant", "bank-a", "--role", "analyst", *folder]
    )
    assert made.exit_code == 0, made.output
    token = runner.invoke(main, ["users", "token", "aiko", "--name", "feed", *folder])
    assert token.exit_code == 0
    bearer = token.stdout.strip().splitlines()[0]
    again = runner.invoke(main, ["tenants", "create", "bank-a", *folder])
    assert again.exit_code == 1 and "exists already" in again.output
    with TestClient(create_app(settings_for_tests(tmp_path))) as client:
        me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {bearer}"}).json()
    assert (me["username"], me["tenant"], me["roles"]) == ("aiko", "bank-a", ["analyst"])
