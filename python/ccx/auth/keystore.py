"""ccx-issued signing keys in the platform database's `keys` collection, and their rotation.

One document per key::

    {_id: kid, alg, created_at, not_after, active, jwk}

`not_after` is None while the key signs; a rotation sets it to the moment the key stops
verifying. `jwk` is the private JWK (RFC 7517) with the secret or private key. It is stored
as is for now: at-rest encryption of this field slots in at this store boundary
(`_to_document` / `_key_of`) together with the PII encryption of ARCHITECTURE.md §6.

FerretDB v1 (the test server) has no TTL or partial indexes and no transactions, so expired
keys are removed by `purge_expired` (a sweeper), and "exactly one active key" is kept without
a unique partial index: a rotation inserts the new key first, then retires every *older*
active key. Concurrent rotations therefore converge on the newest key, and readers that see
two active keys for a moment pick the newest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pymongo.asynchronous.database import AsyncDatabase

from ccx.auth.keyring import DEFAULT_ALGORITHMS, HS256, Key, KeyRing, KeyRingError
from ccx.auth.tokens import Authenticator

log = logging.getLogger("ccx.auth")

COLLECTION: Final = "keys"
#: Default for how long a retired key keeps verifying: the longest token lifetime.
DEFAULT_MAX_TOKEN_TTL_S: Final = 86_400

Database = AsyncDatabase[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class StoredKey:
    """What `list_keys` shows of a stored key (never its material)."""

    kid: str
    alg: str
    active: bool
    created_at: datetime
    not_after: datetime | None


def _utc(value: datetime) -> datetime:
    """BSON dates have millisecond precision and come back naive (UTC) by default."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _now(now: datetime | None) -> datetime:
    return _utc(now or datetime.now(UTC))


async def ensure_indexes(db: Database) -> None:
    """Create the `keys` indexes (idempotent: same name and spec is a no-op)."""
    keys = db[COLLECTION]
    await keys.create_index([("active", 1), ("created_at", -1)], name="active_created_at")
    await keys.create_index([("not_after", 1)], name="not_after")


def _to_document(key: Key, created_at: datetime) -> dict[str, Any]:
    return {
        "_id": key.kid,
        "alg": key.alg,
        "created_at": created_at,
        "not_after": None,
        "active": True,
        "jwk": key.to_jwk(private=True),
    }


def _key_of(doc: dict[str, Any]) -> Key:
    jwk = doc.get("jwk")
    if not isinstance(jwk, dict) or jwk.get("kid") != doc["_id"] or jwk.get("alg") != doc["alg"]:
        raise KeyRingError(f"stored key {doc['_id']}: jwk does not match the document")
    not_after = doc.get("not_after")
    return Key.from_jwk(jwk, not_after=_utc(not_after).timestamp() if not_after else None)


async def rotate(
    db: Database,
    alg: str = HS256,
    max_token_ttl_s: int = DEFAULT_MAX_TOKEN_TTL_S,
    *,
    now: datetime | None = None,
) -> str:
    """Create a new active signing key and retire the older active ones; returns the new kid.

    A retired key keeps verifying until `not_after` = now + `max_token_ttl_s`, so every token
    it signed stays valid until it expires, provided no token outlives `max_token_ttl_s`.
    """
    if max_token_ttl_s < 0:
        raise ValueError("max_token_ttl_s must not be negative")
    created_at = _now(now)
    key = Key.generate(alg)
    await ensure_indexes(db)
    keys = db[COLLECTION]
    await keys.insert_one(_to_document(key, created_at))
    older = {
        "active": True,
        "$or": [
            {"created_at": {"$lt": created_at}},
            {"created_at": created_at, "_id": {"$lt": key.kid}},
        ],
    }
    not_after = created_at + timedelta(seconds=max_token_ttl_s)
    result = await keys.update_many(older, {"$set": {"active": False, "not_after": not_after}})
    log.info(
        "signing key rotated",
        extra={"kid": key.kid, "alg": alg, "retired": result.modified_count},
    )
    return key.kid


async def load_keyring(
    db: Database,
    extra: KeyRing | None = None,
    *,
    now: datetime | None = None,
) -> KeyRing:
    """A ring of the stored keys that still verify, plus the keys of `extra` (configuration).

    The newest stored active key signs; when the store has none, `extra`'s active key does.
    The allow-list is `extra`'s (default: all supported); stored keys outside it, or with
    unreadable material, are skipped with a log line rather than failing every request.
    """
    algorithms = extra.algorithms if extra is not None else DEFAULT_ALGORITHMS
    query = {"$or": [{"not_after": None}, {"not_after": {"$gt": _now(now)}}]}
    cursor = db[COLLECTION].find(query).sort([("created_at", 1), ("_id", 1)])
    keys: list[Key] = list(extra) if extra is not None else []
    active_kid: str | None = None
    async for doc in cursor:
        if doc.get("alg") not in algorithms:
            log.warning("stored key skipped: algorithm not allowed", extra={"kid": doc["_id"]})
            continue
        try:
            key = _key_of(doc)
        except KeyRingError as exc:
            log.error("stored key skipped: %s", exc, extra={"kid": doc["_id"]})
            continue
        keys.append(key)
        if doc.get("active") is True and key.not_after is None:
            active_kid = key.kid  # sorted by creation: the last one is the newest
    if active_kid is None and extra is not None and extra.active is not None:
        active_kid = extra.active.kid
    return KeyRing(keys, active_kid=active_kid, algorithms=algorithms)


def _state(ring: KeyRing) -> tuple[object, ...]:
    active = ring.active.kid if ring.active else None
    return (active, ring.algorithms, sorted((k.kid, k.alg, k.not_after or 0.0) for k in ring))


async def refresh(
    db: Database,
    authenticator: Authenticator,
    extra: KeyRing | None = None,
    *,
    now: datetime | None = None,
) -> bool:
    """Reload the ring into a running `Authenticator`; True if it changed (cache dropped).

    Meant for a periodic task in the API (`auth.keyring_refresh_s`): a rotation done with
    `ccx keys rotate` reaches every process within one period. Key material of an existing
    kid never changes, so comparing kids, algorithms and `not_after` is enough.
    """
    ring = await load_keyring(db, extra, now=now)
    if _state(ring) == _state(authenticator.keyring):
        return False
    authenticator.replace_keyring(ring)
    log.info("key ring reloaded", extra={"kids": sorted(k.kid for k in ring)})
    return True


async def purge_expired(db: Database, *, now: datetime | None = None) -> int:
    """Delete retired keys whose `not_after` has passed (the sweeper FerretDB needs)."""
    result = await db[COLLECTION].delete_many({"active": False, "not_after": {"$lte": _now(now)}})
    if result.deleted_count:
        log.info("expired signing keys purged", extra={"count": result.deleted_count})
    return result.deleted_count


async def list_keys(db: Database) -> list[StoredKey]:
    """Every stored key, oldest first, without key material."""
    cursor = db[COLLECTION].find({}, {"jwk": 0}).sort([("created_at", 1), ("_id", 1)])
    return [
        StoredKey(
            kid=doc["_id"],
            alg=doc["alg"],
            active=bool(doc.get("active")),
            created_at=_utc(doc["created_at"]),
            not_after=_utc(doc["not_after"]) if doc.get("not_after") else None,
        )
        async for doc in cursor
    ]
