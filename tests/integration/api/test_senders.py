"""/v1/senders against the real FerretDB, driven through `App.handle`; and SenderDirectory."""

from __future__ import annotations

import base64
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect

from ccx.api.app import App, create_app
from ccx.auth import KeyRing, issue
from ccx.config import AuthSettings, SecuritySettings, Settings
from ccx.ingest.senders import SenderDirectory, UnknownSender
from ccx.security import DecryptError
from ccx.status.apply import StatusApplier
from ccx.status.callbacks import NumberError
from ccx.store.mongo import Document
from ccx.store.names import PLATFORM_TENANTS, SENDERS, tenant_db
from ccx.store.senders import SenderRepository
from ccx.store.tenants import TenantRepository
from tests.integration.api.conftest import Proto, Scope

pytestmark = pytest.mark.integration

TOKEN = "EAAG-meta-access-token-" + "x" * 40
Call = Callable[..., Awaitable[tuple[int, dict[str, str], Any]]]


@pytest.fixture(scope="module")
def app_settings(settings: Settings) -> Settings:
    secret = base64.b64encode(os.urandom(32)).decode()
    keys = orjson.dumps([{"kid": "it", "alg": "HS256", "secret": secret}]).decode()
    data_key = base64.b64encode(os.urandom(32)).decode()
    return dataclasses.replace(
        settings,
        auth=AuthSettings(keys=keys, active_kid="it", use_key_store=False),
        security=SecuritySettings(data_keys=f"it1:{data_key}"),
    )


@pytest_asyncio.fixture(scope="module")
async def app(app_settings: Settings, mongo: AsyncMongoClient[Document]) -> AsyncIterator[App]:
    application = create_app(app_settings)
    await application.startup()
    yield application
    await application.shutdown()


@pytest_asyncio.fixture
async def tenants(
    app_settings: Settings, mongo: AsyncMongoClient[Document]
) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    created: list[str] = []

    async def make() -> str:
        tid = f"snd-{uuid.uuid4().hex[:12]}"
        await TenantRepository(mongo, app_settings.mongo.platform_db).create(tid)
        created.append(tid)
        return tid

    yield make
    for tid in created:
        await mongo.drop_database(tenant_db(tid))
        await mongo[app_settings.mongo.platform_db][PLATFORM_TENANTS].delete_one({"_id": tid})


@pytest_asyncio.fixture
async def tenant(tenants: Callable[[], Awaitable[str]]) -> str:
    return await tenants()


def bearer(settings: Settings, tenant: str, scope: str = "admin") -> str:
    return "Bearer " + issue(KeyRing.from_settings(settings.auth), tenant, scope, 300)


@pytest.fixture
def call(app: App, app_settings: Settings, tenant: str) -> Call:
    """Request helper: admin token of `tenant` unless `auth` says otherwise."""

    async def send(
        method: str, path: str, body: Any = None, *, auth: str | None = "", raw: bytes = b""
    ) -> tuple[int, dict[str, str], Any]:
        headers: dict[str, str] = {}
        if auth == "":
            auth = bearer(app_settings, tenant)
        if auth is not None:
            headers["authorization"] = auth
        payload = raw or (orjson.dumps(body) if body is not None else b"")
        headers["content-length"] = str(len(payload))
        path, _, query = path.partition("?")
        scope = Scope(method, path, headers, query)
        status, out, data = await app.handle(scope, Proto(payload))
        return status, dict(out), orjson.loads(data) if data else None

    return send


def sender_body(**extra: Any) -> dict[str, Any]:
    return {"waba_id": "100200300", "access_token": TOKEN, **extra}


def directory(app: App) -> SenderDirectory:
    return app.services.senders


# -- HTTP ----------------------------------------------------------------------------------------


async def test_create_returns_201_and_never_the_token(call: Call) -> None:
    status, headers, doc = await call("PUT", "/v1/senders/111", sender_body(display_name="Shop"))
    assert status == 201
    assert headers["location"] == "/v1/senders/111"
    assert doc["phone_number_id"] == "111"
    assert doc["waba_id"] == "100200300"
    assert (doc["throughput"], doc["is_default"], doc["has_token"]) == (80, True, True)
    assert doc["display_name"] == "Shop"
    assert doc["created_at"].endswith("Z")
    assert "access_token" not in doc
    assert TOKEN not in orjson.dumps(doc).decode()


async def test_update_keeps_the_stored_token(app: App, call: Call, tenant: str) -> None:
    await call("PUT", "/v1/senders/111", sender_body())
    status, _, doc = await call("PUT", "/v1/senders/111", {"throughput": 1000, "display_name": ""})
    assert status == 200
    assert (doc["throughput"], doc["has_token"], doc["display_name"]) == (1000, True, None)
    assert doc["updated_at"] >= doc["created_at"]
    repo = directory(app).repository(tenant)
    assert await repo.access_token("111") == TOKEN
    await call("PUT", "/v1/senders/111", {"access_token": "new-token"})
    assert await repo.access_token("111") == "new-token"


async def test_default_switches_to_the_one_marked_last(call: Call) -> None:
    await call("PUT", "/v1/senders/111", sender_body())
    _, _, second = await call("PUT", "/v1/senders/222", sender_body())
    assert second["is_default"] is False
    _, _, third = await call("PUT", "/v1/senders/333", sender_body(is_default=True))
    assert third["is_default"] is True
    _, _, listed = await call("GET", "/v1/senders")
    assert [(s["phone_number_id"], s["is_default"]) for s in listed["data"]] == [
        ("111", False),
        ("222", False),
        ("333", True),
    ]
    _, _, back = await call("PUT", "/v1/senders/111", {"is_default": True})
    assert back["is_default"] is True
    _, _, listed = await call("GET", "/v1/senders")
    assert [s["phone_number_id"] for s in listed["data"] if s["is_default"]] == ["111"]


async def test_first_sender_can_opt_out_of_being_default(app: App, call: Call, tenant: str) -> None:
    _, _, doc = await call("PUT", "/v1/senders/111", sender_body(is_default=False))
    assert doc["is_default"] is False
    assert await directory(app).repository(tenant).default() is None


async def test_list_and_get(call: Call) -> None:
    status, _, empty = await call("GET", "/v1/senders")
    assert (status, empty) == (200, {"data": []})
    await call("PUT", "/v1/senders/222", sender_body(throughput=20))
    await call("PUT", "/v1/senders/111", sender_body())
    _, _, listed = await call("GET", "/v1/senders")
    assert [s["phone_number_id"] for s in listed["data"]] == ["111", "222"]
    assert TOKEN not in orjson.dumps(listed).decode()
    status, _, one = await call("GET", "/v1/senders/222")
    assert (status, one["throughput"], one["has_token"]) == (200, 20, True)


async def test_delete_and_404s(app: App, call: Call, tenant: str) -> None:
    await call("PUT", "/v1/senders/111", sender_body())
    status, _, body = await call("DELETE", "/v1/senders/111")
    assert (status, body) == (204, None)
    for method in ("GET", "DELETE"):
        status, headers, problem = await call(method, "/v1/senders/111")
        assert status == 404
        assert headers["content-type"] == "application/problem+json"
        assert problem["type"].endswith("/not-found")
    # The deleted default is not replaced: messages must name `from` until one is set.
    with pytest.raises(UnknownSender):
        await directory(app).resolve(tenant, None)


@pytest.mark.parametrize("path", ["/v1/senders/abc", "/v1/senders/" + "1" * 33])
async def test_ids_that_are_not_digits_are_404(call: Call, path: str) -> None:
    for method, body in (("GET", None), ("PUT", sender_body()), ("DELETE", None)):
        status, _, _ = await call(method, path, body)
        assert status == 404


async def test_schema_violations_are_422_with_field_paths(call: Call) -> None:
    bad = {"waba_id": "abc", "access_token": "", "throughput": 50, "is_default": "yes", "x": 1}
    status, _, problem = await call("PUT", "/v1/senders/111", bad)
    assert status == 422
    assert problem["type"].endswith("/validation-error")
    paths = {e["path"] for e in problem["errors"]}
    assert {"/waba_id", "/access_token", "/throughput", "/is_default"} <= paths
    assert len(paths) == 5  # the unknown member is reported too


async def test_new_sender_needs_waba_id_and_token(call: Call) -> None:
    status, _, problem = await call("PUT", "/v1/senders/111", {"throughput": 20})
    assert status == 422
    assert [e["path"] for e in problem["errors"]] == ["/waba_id", "/access_token"]
    status, _, _ = await call("GET", "/v1/senders/111")
    assert status == 404


@pytest.mark.parametrize("raw", [b"{not json", b"\xff"])
async def test_bad_json_is_400(call: Call, raw: bytes) -> None:
    status, _, problem = await call("PUT", "/v1/senders/111", raw=raw)
    assert status == 400
    assert problem["detail"].startswith("invalid JSON")


async def test_no_token_is_401(call: Call) -> None:
    for method, path in (("GET", "/v1/senders"), ("PUT", "/v1/senders/111")):
        status, headers, _ = await call(method, path, sender_body(), auth=None)
        assert status == 401
        assert headers["www-authenticate"].startswith("Bearer")


async def test_without_admin_scope_is_403(call: Call, app_settings: Settings, tenant: str) -> None:
    token = bearer(app_settings, tenant, "messages:write messages:read")
    status, _, problem = await call("PUT", "/v1/senders/111", sender_body(), auth=token)
    assert status == 403
    assert problem["code"] == "missing_scope"


async def test_token_is_encrypted_at_rest(
    call: Call, mongo: AsyncMongoClient[Document], tenant: str
) -> None:
    await call("PUT", "/v1/senders/111", sender_body())
    raw = await mongo[tenant_db(tenant)][SENDERS].find_one({"_id": "111"})
    assert raw is not None
    assert raw["access_token"].startswith("v1.it1.")
    assert TOKEN not in repr(raw)
    assert "EAAG" not in repr(raw)


async def test_other_tenants_cannot_see_or_reuse_a_sender(
    app: App,
    call: Call,
    app_settings: Settings,
    mongo: AsyncMongoClient[Document],
    tenant: str,
    tenants: Callable[[], Awaitable[str]],
) -> None:
    await call("PUT", "/v1/senders/111", sender_body())
    other = await tenants()
    auth = bearer(app_settings, other)
    assert (await call("GET", "/v1/senders/111", auth=auth))[0] == 404
    assert (await call("GET", "/v1/senders", auth=auth))[2] == {"data": []}
    assert (await call("DELETE", "/v1/senders/111", auth=auth))[0] == 404
    assert (await call("GET", "/v1/senders/111"))[0] == 200
    # A stored token copied into another tenant's database does not decrypt there.
    raw = await mongo[tenant_db(tenant)][SENDERS].find_one({"_id": "111"})
    await mongo[tenant_db(other)][SENDERS].insert_one(raw)  # type: ignore[arg-type]
    with pytest.raises(DecryptError):
        await directory(app).repository(other).access_token("111")


async def test_openapi_embeds_the_sender_schema(call: Call) -> None:
    _, _, doc = await call("GET", "/openapi.json", auth=None)
    assert "SenderRequest" in doc["components"]["schemas"]
    assert {"put", "get", "delete"} <= set(doc["paths"]["/v1/senders/{phone_number_id}"])


# -- repository and directory ------------------------------------------------------------------


async def test_two_marked_defaults_resolve_deterministically(
    app: App, mongo: AsyncMongoClient[Document], tenant: str
) -> None:
    """What a crash between 'mark new default' and 'clear the old one' leaves behind."""
    repo = directory(app).repository(tenant)
    for pid in ("111", "222", "333"):
        await repo.put(pid, waba_id="1", access_token="t", is_default=False)
    senders = mongo[tenant_db(tenant)][SENDERS]
    at = datetime.now(UTC).replace(microsecond=0)
    await senders.update_one({"_id": "333"}, {"$set": {"is_default": True, "default_since": at}})
    newer = at + timedelta(seconds=1)
    await senders.update_one({"_id": "222"}, {"$set": {"is_default": True, "default_since": newer}})
    assert (await repo.default()).phone_number_id == "222"  # type: ignore[union-attr]
    await senders.update_one({"_id": "111"}, {"$set": {"is_default": True, "default_since": newer}})
    assert (await repo.default()).phone_number_id == "111"  # type: ignore[union-attr]


async def test_access_token_of_a_missing_sender_is_none(app: App, tenant: str) -> None:
    assert await directory(app).repository(tenant).access_token("999") is None


async def test_resolve(app: App, call: Call, tenant: str) -> None:
    senders = SenderDirectory(app.services.database, app.services.data_keys)
    with pytest.raises(UnknownSender) as caught:
        await senders.resolve(tenant, None)
    assert caught.value.path == "/from"
    assert "PUT /v1/senders/{phone_number_id}" in caught.value.message
    await call("PUT", "/v1/senders/111", sender_body())
    await call("PUT", "/v1/senders/222", sender_body())
    senders.invalidate(tenant)
    assert await senders.resolve(tenant, None) == "111"
    assert await senders.resolve(tenant, "222") == "222"
    with pytest.raises(UnknownSender, match="sender 333 is not registered") as caught:
        await senders.resolve(tenant, "333")
    assert caught.value.path == "/from"


async def test_resolve_caches_per_tenant_until_ttl_or_invalidate(
    app: App, call: Call, tenant: str
) -> None:
    now = [1000.0]
    senders = SenderDirectory(
        app.services.database, app.services.data_keys, ttl_s=5.0, clock=lambda: now[0]
    )
    await call("PUT", "/v1/senders/111", sender_body())
    assert await senders.resolve(tenant, None) == "111"
    await call("PUT", "/v1/senders/222", sender_body(is_default=True))  # "another process"
    assert await senders.resolve(tenant, None) == "111"  # cached
    now[0] += 5.0
    assert await senders.resolve(tenant, None) == "222"  # TTL over
    await call("DELETE", "/v1/senders/222")
    assert await senders.resolve(tenant, "222") == "222"  # cached, within the TTL
    senders.invalidate(tenant)
    with pytest.raises(UnknownSender):
        await senders.resolve(tenant, "222")


async def test_resolve_reloads_on_a_miss_after_a_moment(app: App, call: Call, tenant: str) -> None:
    now = [1000.0]
    senders = SenderDirectory(
        app.services.database, app.services.data_keys, ttl_s=60.0, clock=lambda: now[0]
    )
    with pytest.raises(UnknownSender):
        await senders.resolve(tenant, "111")
    await call("PUT", "/v1/senders/111", sender_body())
    with pytest.raises(UnknownSender):  # just loaded: a miss does not hit the store again
        await senders.resolve(tenant, "111")
    now[0] += 1.5
    assert await senders.resolve(tenant, "111") == "111"


async def test_routes_invalidate_the_process_cache(app: App, call: Call, tenant: str) -> None:
    await call("PUT", "/v1/senders/111", sender_body())
    assert await directory(app).resolve(tenant, None) == "111"
    await call("PUT", "/v1/senders/222", sender_body(is_default=True))
    assert await directory(app).resolve(tenant, None) == "222"


async def test_store_errors_are_503_not_500(call: Call, monkeypatch: pytest.MonkeyPatch) -> None:
    async def down(*_: Any, **__: Any) -> None:
        raise AutoReconnect("connection refused")

    for name in ("put", "list", "get", "delete"):
        monkeypatch.setattr(SenderRepository, name, down)
    for method, path, body in (
        ("PUT", "/v1/senders/111", sender_body()),
        ("GET", "/v1/senders", None),
        ("GET", "/v1/senders/111", None),
        ("DELETE", "/v1/senders/111", None),
    ):
        status, headers, problem = await call(method, path, body)
        assert (status, headers["retry-after"]) == (503, "1")
        assert problem["dependency"] == "mongodb"


async def test_what_meta_reported_about_a_number_is_listed_newest_first(
    app: App,
    app_settings: Settings,
    call: Call,
    mongo: AsyncMongoClient[Document],
    tenants: Callable[[], Awaitable[str]],
) -> None:
    number = str(400000000000 + int(uuid.uuid4().int % 10**9))
    assert (await call("PUT", f"/v1/senders/{number}", sender_body()))[0] == 201
    status, _, empty = await call("GET", f"/v1/senders/{number}/errors")
    assert (status, empty) == (200, {"data": []})

    applier = StatusApplier(mongo, app_settings.mongo.platform_db)
    first = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    for minutes, code in ((0, 131042), (5, 131045)):
        error = NumberError(number, code, f"title {code}", f"details {code}")
        assert await applier.record_error(error, first + timedelta(minutes=minutes))

    status, _, listed = await call("GET", f"/v1/senders/{number}/errors")
    assert status == 200
    assert listed["data"] == [
        {"code": 131045, "title": "title 131045", "details": "details 131045",
         "at": "2026-11-29T09:05:00.000Z"},
        {"code": 131042, "title": "title 131042", "details": "details 131042",
         "at": "2026-11-29T09:00:00.000Z"},
    ]  # fmt: skip
    _, _, one = await call("GET", f"/v1/senders/{number}/errors?limit=1")
    assert [e["code"] for e in one["data"]] == [131045]

    status, _, problem = await call("GET", f"/v1/senders/{number}/errors?limit=0")
    assert status == 422
    assert problem["errors"][0]["path"] == "?limit"
    status, _, problem = await call("GET", f"/v1/senders/{number}/errors?since=1")
    assert (status, problem["errors"][0]["path"]) == (422, "?since")
    assert (await call("GET", f"/v1/senders/{number}/errors?limit=1&limit=2"))[0] == 400
    other = await tenants()
    status, _, theirs = await call(
        "GET", f"/v1/senders/{number}/errors", auth=bearer(app_settings, other)
    )
    assert (status, theirs) == (200, {"data": []})  # errors stay with the number's tenant
    status, _, _ = await call(
        "GET", f"/v1/senders/{number}/errors", auth=bearer(app_settings, other, "messages:read")
    )
    assert status == 403
