"""The API app on the real services, driven in-process through `App.handle`."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest_asyncio

from ccx.api.app import App, create_app
from ccx.auth import KeyRing, issue
from ccx.config import AuthSettings, Settings

SECRET = "integration-test-secret-0123456789abcdef"
KEYS = orjson.dumps([{"kid": "it-1", "alg": "HS256", "secret": SECRET}]).decode()
ALL_SCOPES = "messages:write messages:read templates:write webhooks:write webhooks:read admin"
SENDER = "15550001111"

OTP_TEMPLATE: dict[str, Any] = {
    "name": "otp_code",
    "language": "en_US",
    "category": "AUTHENTICATION",
    "components": [
        {"type": "BODY", "text": "{{1}} is your verification code."},
        {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy"}]},
    ],
}
PROMO_TEMPLATE: dict[str, Any] = {
    "name": "promo",
    "language": "en_US",
    "category": "MARKETING",
    "components": [{"type": "BODY", "text": "Hi {{1}}, {{2}} off this week."}],
}


@dataclass
class Scope:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    query_string: str = ""
    proto: str = "http"


class Proto:
    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __call__(self) -> bytes:
        return self.body


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


class Client:
    """Requests against one in-process app, authenticated as one tenant."""

    def __init__(self, app: App, tenant: str, token: str) -> None:
        self.app = app
        self.tenant = tenant
        self.token = token

    def token_for(self, scopes: str, tenant: str | None = None) -> str:
        return issue(self.app.services.authenticator.keyring, tenant or self.tenant, scopes, 600)

    async def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        token: str | None = "default",
    ) -> Reply:
        raw = body if body is not None else (orjson.dumps(json) if json is not None else b"")
        hdrs = {"content-length": str(len(raw)), **(headers or {})}
        if token is not None:
            hdrs["authorization"] = f"Bearer {self.token if token == 'default' else token}"
        scope = Scope(method, path, hdrs, urlencode(query or {}))
        status, out, data = await self.app.handle(scope, Proto(raw))
        return Reply(status, {k: v for k, v in out}, data)

    async def post(self, path: str, json: Any = None, **kw: Any) -> Reply:
        return await self.request("POST", path, json, **kw)

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.request("GET", path, **kw)


def api_settings(settings: Settings) -> Settings:
    auth = dataclasses.replace(settings.auth, keys=KEYS, active_kid="it-1", use_key_store=False)
    return dataclasses.replace(settings, auth=auth)


async def started_app(settings: Settings, *, relay: bool = False) -> App:
    from ccx.api.services import Services

    app = create_app(settings, Services(settings, relay=relay))
    await app.startup()
    for _ in range(200):
        if app.services.committer is not None:
            break
        await asyncio.sleep(0.05)
    return app


@pytest_asyncio.fixture
async def client(settings: Settings, tenant: str) -> AsyncIterator[Client]:
    """A started app and a client of a fresh tenant with a default sender and two templates."""
    app = await started_app(api_settings(settings))
    ring = KeyRing.from_settings(AuthSettings(keys=KEYS, active_kid="it-1"))
    client = Client(app, tenant, issue(ring, tenant, ALL_SCOPES, 600))
    try:
        reply = await client.request(
            "PUT",
            f"/v1/senders/{SENDER}",
            {"waba_id": "100200300", "access_token": "EAAG-test", "is_default": True},
        )
        assert reply.status in (200, 201), reply.json()
        for template in (OTP_TEMPLATE, PROMO_TEMPLATE):
            reply = await client.post("/v1/templates", template)
            assert reply.status in (200, 201), reply.json()
        yield client
    finally:
        await app.shutdown()
