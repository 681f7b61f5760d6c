"""The key store against the real MongoDB-compatible server (FerretDB from scripts/services.sh).

Each test uses a throw-away database `ccx_test_auth_<random>` and drops it. Without a server
the tests skip locally and fail in CI (`CI` set), like dramatiq's service fixtures.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pymongo
import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from ccx.auth import Authenticator, AuthError, ErrorCode, Key, KeyRing, issue
from ccx.auth.cli import keys_main, token_main
from ccx.auth.keystore import (
    COLLECTION,
    Database,
    ensure_indexes,
    list_keys,
    load_keyring,
    purge_expired,
    refresh,
    rotate,
)
from ccx.config import load_settings

pytestmark = [
    pytest.mark.integration,
    # pymongo 4.20 leaks a monitor socket when a client closes while the server is down.
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

T0 = datetime.now(UTC).replace(microsecond=0)
TTL = 600  # max token lifetime, hence how long a retired key keeps verifying


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def clock_at(seconds: float) -> Any:
    return lambda: at(seconds).timestamp()


def _unreachable(uri: str, exc: Exception) -> None:
    gc.collect()
    message = (
        f"no MongoDB-compatible server at {uri} ({type(exc).__name__}); run scripts/services.sh"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
async def db() -> AsyncIterator[Database]:
    settings = load_settings()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo.uri, serverSelectionTimeoutMS=settings.mongo.timeout_ms
    )
    try:
        await client.admin.command("ping")
    except PyMongoError as exc:
        await client.close()
        _unreachable(settings.mongo.uri, exc)
    name = f"ccx_test_auth_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


async def test_rotate_twice_keeps_both_keys_valid(db: Database) -> None:
    first = await rotate(db, "HS256", TTL, now=at(0))
    old_token = issue(
        await load_keyring(db, now=at(1)), "acme", "messages:write", TTL, clock=clock_at(1)
    )
    second = await rotate(db, "EdDSA", TTL, now=at(10))

    ring = await load_keyring(db, now=at(20))
    assert {k.kid for k in ring} == {first, second}
    assert ring.signing_key().kid == second
    new_token = issue(ring, "acme", "messages:read", 60, clock=clock_at(20))
    auth = Authenticator(ring, clock=clock_at(20))
    assert auth.verify(old_token).kid == first
    assert auth.verify(new_token).kid == second

    stored = {k.kid: k for k in await list_keys(db)}
    assert stored[first].active is False
    assert stored[first].not_after == at(10 + TTL)
    assert (stored[second].active, stored[second].not_after) == (True, None)


async def test_old_tokens_verify_until_not_after(db: Database) -> None:
    first = await rotate(db, "RS256", TTL, now=at(0))
    # A token that outlives max_token_ttl (the CLI refuses to issue one) shows the key's limit.
    token = issue(await load_keyring(db, now=at(0)), "acme", "admin", 10 * TTL, clock=clock_at(0))
    await rotate(db, "HS256", TTL, now=at(100))
    retired_at = 100 + TTL

    ring = await load_keyring(db, now=at(retired_at - 1))
    assert ring.get(first) is not None
    assert Authenticator(ring, clock=clock_at(retired_at - 1)).verify(token).kid == first
    # A long-running process that loaded the ring earlier stops trusting the key on time.
    with pytest.raises(AuthError) as info:
        Authenticator(ring, leeway_s=30, clock=clock_at(retired_at + 31)).verify(token)
    assert info.value.code is ErrorCode.KEY_RETIRED
    # A reload after not_after no longer contains the key at all.
    later = await load_keyring(db, now=at(retired_at + 1))
    assert first not in later
    with pytest.raises(AuthError) as info:
        Authenticator(later, clock=clock_at(retired_at + 1)).verify(token)
    assert info.value.code is ErrorCode.UNKNOWN_KID


async def test_purge_removes_only_expired_keys(db: Database) -> None:
    k1 = await rotate(db, "HS256", 100, now=at(0))
    k2 = await rotate(db, "HS256", 100, now=at(50))  # k1 retires at 150
    k3 = await rotate(db, "HS256", 100, now=at(120))  # k2 retires at 220
    assert await purge_expired(db, now=at(149)) == 0
    assert await purge_expired(db, now=at(150)) == 1
    assert [k.kid for k in await list_keys(db)] == [k2, k3]
    assert await purge_expired(db, now=at(10_000)) == 1
    assert [k.kid for k in await list_keys(db)] == [k3]  # the active key is never purged
    assert k1 not in await load_keyring(db, now=at(10_000))


async def test_refresh_swaps_the_ring_only_when_it_changed(db: Database) -> None:
    first = await rotate(db, "HS256", TTL, now=at(0))
    auth = Authenticator(await load_keyring(db, now=at(1)), clock=clock_at(1))
    auth.verify(issue(auth.keyring, "acme", "admin", 60, clock=clock_at(1)))
    assert await refresh(db, auth, now=at(2)) is False
    assert auth.cached == 1
    second = await rotate(db, "EdDSA", TTL, now=at(3))
    assert await refresh(db, auth, now=at(4)) is True
    assert auth.cached == 0
    assert auth.keyring.signing_key().kid == second
    assert auth.keyring.get(first) is not None
    assert await refresh(db, auth, now=at(5)) is False


async def test_indexes_are_idempotent(db: Database) -> None:
    await ensure_indexes(db)
    await ensure_indexes(db)
    await rotate(db)
    names = set(await db[COLLECTION].index_information())
    assert {"active_created_at", "not_after"} <= names


async def test_store_active_key_wins_over_the_configured_one(db: Database) -> None:
    config_key = Key.from_secret("cfg", b"c" * 32)
    configured = KeyRing([config_key], active_kid="cfg")
    ring = await load_keyring(db, configured)
    assert ring.signing_key().kid == "cfg"  # empty store: configuration signs
    stored = await rotate(db, "EdDSA")
    ring = await load_keyring(db, configured)
    assert ring.signing_key().kid == stored
    assert "cfg" in ring


async def test_concurrent_rotations_leave_one_signing_key(db: Database) -> None:
    kids = await asyncio.gather(*(rotate(db, "HS256", TTL, now=at(0)) for _ in range(4)))
    ring = await load_keyring(db, now=at(1))
    assert ring.signing_key().kid == max(kids)  # same created_at: the highest kid is newest
    assert {k.kid for k in ring} == set(kids)  # the others keep verifying
    newer = await rotate(db, "HS256", TTL, now=at(5))
    assert [k.kid for k in await list_keys(db) if k.active] == [newer]


async def test_unusable_stored_keys_are_skipped(db: Database) -> None:
    good = await rotate(db, "EdDSA", now=at(0))
    await db[COLLECTION].insert_one(
        {
            "_id": "broken",
            "alg": "HS256",
            "created_at": at(1),
            "not_after": None,
            "active": False,
            "jwk": {"kty": "oct", "kid": "broken", "alg": "HS256", "k": "c2hvcnQ"},
        }
    )
    ring = await load_keyring(db, now=at(2))
    assert [k.kid for k in ring] == [good]
    hs_only = await load_keyring(db, KeyRing(algorithms={"HS256"}), now=at(2))
    assert len(hs_only) == 0
    assert hs_only.active is None


# --- the CLI against the store ----------------------------------------------------------


@pytest.fixture
def cli_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    settings = load_settings()
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        settings.mongo.uri, serverSelectionTimeoutMS=settings.mongo.timeout_ms
    )
    try:
        client.admin.command("ping")
    except PyMongoError as exc:
        client.close()
        _unreachable(settings.mongo.uri, exc)
    name = f"ccx_test_auth_{uuid.uuid4().hex[:12]}"
    monkeypatch.delenv("CCX_CONFIG", raising=False)
    monkeypatch.setenv("CCX_MONGO_PLATFORM_DB", name)
    monkeypatch.setenv("CCX_AUTH_USE_KEY_STORE", "true")
    try:
        yield name
    finally:
        client.drop_database(name)
        client.close()


def test_cli_rotate_issue_list_purge(cli_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert keys_main(["rotate", "--alg", "EdDSA"]) == 0
    first = capsys.readouterr().out.strip()
    assert token_main(["issue", "--tenant", "acme", "--scope", "messages:write", "--json"]) == 0
    issued = json.loads(capsys.readouterr().out)
    assert issued["kid"] == first

    assert keys_main(["rotate"]) == 0
    captured = capsys.readouterr()
    second = captured.out.strip()
    assert f"{first} retired" in captured.err

    assert keys_main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["kid"], r["active"]) for r in rows] == [(first, False), (second, True)]

    assert keys_main(["jwks"]) == 0  # the retired EdDSA key is still published
    assert [k["kid"] for k in json.loads(capsys.readouterr().out)["keys"]] == [first]

    assert keys_main(["purge"]) == 0
    assert capsys.readouterr().out.strip() == "0"  # still within max_token_ttl_s
    assert token_main(["issue", "--tenant", "acme", "--scope", "admin", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kid"] == second
