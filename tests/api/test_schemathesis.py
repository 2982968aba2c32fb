"""Schemathesis against /openapi.json: generated requests on every operation, as a bank A
admin (the widest role). No server error, and no answer carries anything of bank B."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.api.conftest import World
from tests.api.test_isolation import _secrets_of

EXAMPLES = 12  # per operation: keeps the whole run to a few seconds


def test_generated_requests_cause_no_server_error_and_no_cross_tenant_read(world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.client.app)
    secrets = _secrets_of(world, "bank-b")
    headers = world.auth("bank-a-admin")
    problems: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            if response.status_code >= 500:
                problems.append(f"{case.method} {case.formatted_path}: {response.status_code}")
            leaked = [s for s in secrets if s in response.text]
            if leaked:
                problems.append(f"{case.method} {case.formatted_path} leaked {leaked}")

        check()
    assert operations >= 15
    assert problems == []
