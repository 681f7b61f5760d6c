"""Schemathesis against `/openapi.json` of a real `ccx serve` on the real services: generated
requests (valid and invalid) never get a 5xx, and every response matches the document."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks
from tests.e2e.test_serve import free_port
from tests.integration.api.conftest import ALL_SCOPES, KEYS, OTP_TEMPLATE, SENDER

from ccx.admin.cli import create_tenant
from ccx.auth import KeyRing, issue
from ccx.config import AuthSettings, load_settings

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[2]
TENANT = f"contract-{os.getpid()}"


def _services_or_skip() -> None:
    settings = load_settings()
    from ccx.health import check_dependencies

    health = asyncio.run(check_dependencies(settings))
    down = [name for name, h in health.items() if not h.ok]
    if down:
        message = f"services down: {down}; start them with `make services`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    _services_or_skip()
    settings = load_settings()
    asyncio.run(create_tenant(settings, TENANT, None))
    token = issue(
        KeyRing.from_settings(AuthSettings(keys=KEYS, active_kid="it-1")), TENANT, ALL_SCOPES, 3600
    )
    port = free_port()
    env = {
        **os.environ,
        "CCX_AUTH_KEYS": KEYS,
        "CCX_AUTH_ACTIVE_KID": "it-1",
        "CCX_AUTH_USE_KEY_STORE": "false",
        "CCX_LOG_LEVEL": "WARNING",
    }
    log = tmp_path_factory.mktemp("contract") / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ccx.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc, log)
        auth = {"authorization": f"Bearer {token}"}
        sender = {"waba_id": "100200300", "access_token": "EAAG-test", "is_default": True}
        reply = httpx.put(f"{base}/v1/senders/{SENDER}", json=sender, headers=auth)
        assert reply.status_code < 300, reply.text
        reply = httpx.post(f"{base}/v1/templates", json=OTP_TEMPLATE, headers=auth)
        assert reply.status_code < 300, reply.text
        yield base, token
    finally:
        proc.terminate()
        proc.wait(15)
        from pymongo import MongoClient

        with MongoClient(settings.mongo.uri) as client:
            client.drop_database(f"ccx_t_{TENANT}")
            client[settings.mongo.platform_db]["tenants"].delete_one({"_id": TENANT})


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"ccx serve did not become ready:\n{log.read_text()}")


def _document() -> dict[str, Any]:
    from ccx.api.app import create_app
    from ccx.api.openapi import openapi_document

    return openapi_document(create_app(load_settings()))


SCHEMA = schemathesis.openapi.from_dict(_document())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]

CHECKS = [
    checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
]


def _has_inputs(operation: Any) -> bool:
    raw = operation.definition.raw
    return bool(raw.get("parameters") or raw.get("requestBody"))


# Negative cases need something to break: operations without parameters or body get none.
CASES = [
    pytest.param(op, mode, id=f"{op.label}-{mode.value}")
    for op in OPERATIONS
    for mode in GenerationMode
    if mode is GenerationMode.POSITIVE or _has_inputs(op)
]


@pytest.mark.parametrize(("operation", "mode"), CASES)
def test_api_contract(operation: Any, mode: GenerationMode, server: tuple[str, str]) -> None:
    base, token = server
    headers = {"authorization": f"Bearer {token}"}
    # A batch answers 207 with per-item results, also when items are invalid.
    negative = mode is GenerationMode.NEGATIVE and operation.path != "/v1/messages/batch"
    extra = [openapi_checks.negative_data_rejection] if negative else []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=int(os.environ.get("CCX_CONTRACT_EXAMPLES", "25")),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: Any) -> None:
        case.call_and_validate(base_url=base, headers=headers, checks=CHECKS + extra)

    run()
