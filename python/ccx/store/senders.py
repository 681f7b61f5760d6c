"""The `senders` collection of a tenant database: WhatsApp sender numbers (ARCHITECTURE §3).

`_id` is Meta's phone_number_id. The access token is stored only as a data-key token
(`ccx.security`) bound to `<tenant>:<phone_number_id>`, so a stored token copied to another
sender or tenant does not decrypt. Nothing here returns or logs the plaintext except
`access_token`, which the dispatch worker calls.

Default sender without transactions: making X the default first marks X (with the time it
became default), then clears the mark on the others. A crash in between leaves two marked
senders for a moment, never none, and `default()` picks the most recently marked one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ccx.security import DataKeys
from ccx.store.messages import now_ms, utc_ms
from ccx.store.mongo import Document
from ccx.store.names import SENDERS

PHONE_NUMBER_ID = re.compile(r"^[0-9]{1,32}$")
WABA_ID = re.compile(r"^[0-9]{1,32}$")
THROUGHPUT_TIERS = (20, 80, 1000)
DEFAULT_THROUGHPUT = 80
#: Order of `default()` when more than one sender is marked: newest mark first, then by id.
_DEFAULT_ORDER = [("default_since", DESCENDING), ("_id", ASCENDING)]


class MissingFields(ValueError):
    """A new sender needs these fields (`waba_id`, `access_token`)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"a new sender needs {', '.join(names)}")
        self.names = names


@dataclass(frozen=True, slots=True)
class Sender:
    """A sender number as the API shows it (never the token itself)."""

    phone_number_id: str
    waba_id: str
    throughput: int
    is_default: bool
    display_name: str | None
    created_at: datetime
    updated_at: datetime
    has_token: bool


def _sender(doc: Document) -> Sender:
    return Sender(
        phone_number_id=str(doc["_id"]),
        waba_id=str(doc["waba_id"]),
        throughput=int(doc.get("throughput", DEFAULT_THROUGHPUT)),
        is_default=bool(doc.get("is_default", False)),
        display_name=doc.get("display_name"),
        created_at=utc_ms(doc["created_at"]),
        updated_at=utc_ms(doc["updated_at"]),
        has_token=doc.get("access_token") is not None,
    )


def _check(phone_number_id: str, waba_id: str | None, throughput: int | None) -> None:
    if not PHONE_NUMBER_ID.match(phone_number_id):
        raise ValueError("phone_number_id must be 1 to 32 digits")
    if waba_id is not None and not WABA_ID.match(waba_id):
        raise ValueError("waba_id must be 1 to 32 digits")
    if throughput is not None and throughput not in THROUGHPUT_TIERS:
        raise ValueError(f"throughput must be one of {THROUGHPUT_TIERS}")


class SenderRepository:
    """A tenant's sender numbers; tokens are sealed with the tenant's data keys."""

    def __init__(self, db: AsyncDatabase[Document], keys: DataKeys, tenant: str) -> None:
        self.collection = db[SENDERS]
        self.keys = keys
        self.tenant = tenant

    def _seal(self, phone_number_id: str, token: str) -> str:
        return self.keys.encrypt(token.encode(), self._aad(phone_number_id))

    def _aad(self, phone_number_id: str) -> bytes:
        return f"{self.tenant}:{phone_number_id}".encode()

    async def put(
        self,
        phone_number_id: str,
        *,
        waba_id: str | None = None,
        access_token: str | None = None,
        throughput: int | None = None,
        is_default: bool | None = None,
        display_name: str | None = None,
    ) -> tuple[Sender, bool]:
        """Create or update a sender; returns (sender, created).

        Omitted (None) fields keep their stored values; a new sender needs `waba_id` and
        `access_token` (MissingFields otherwise) and gets throughput 80. The tenant's first
        sender becomes the default unless `is_default=False`. `display_name=""` clears it.
        ValueError for ids or a throughput tier out of range.
        """
        _check(phone_number_id, waba_id, throughput)
        now = now_ms()
        changes: Document = {"updated_at": now}
        if waba_id is not None:
            changes["waba_id"] = waba_id
        if access_token is not None:
            changes["access_token"] = self._seal(phone_number_id, access_token)
        if throughput is not None:
            changes["throughput"] = throughput
        if display_name is not None:
            changes["display_name"] = display_name or None
        if is_default is not None:
            changes["is_default"] = is_default
        if is_default:
            changes["default_since"] = now
        created = False
        result = await self.collection.update_one({"_id": phone_number_id}, {"$set": changes})
        if result.matched_count == 0:
            created = await self._insert(phone_number_id, changes, is_default, now)
            if not created:  # lost a race with a concurrent create: update the winner's row
                await self.collection.update_one({"_id": phone_number_id}, {"$set": changes})
        doc = await self.collection.find_one({"_id": phone_number_id})
        if doc is None:  # deleted concurrently
            raise LookupError(f"sender {phone_number_id} was deleted while being written")
        if doc.get("is_default") and (is_default or created):
            await self._clear_other_defaults(phone_number_id, doc["default_since"])
        return _sender(doc), created

    async def _insert(
        self, phone_number_id: str, changes: Document, is_default: bool | None, now: datetime
    ) -> bool:
        missing = [n for n in ("waba_id", "access_token") if n not in changes]
        if missing:
            raise MissingFields(missing)
        if is_default is None:
            is_default = await self.collection.find_one({}, {"_id": 1}) is None
        doc: Document = {
            "_id": phone_number_id,
            "throughput": DEFAULT_THROUGHPUT,
            "display_name": None,
            **changes,
            "is_default": is_default,
            "default_since": now if is_default else None,
            "created_at": now,
        }
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def _clear_other_defaults(self, phone_number_id: str, since: datetime) -> None:
        # Only marks that rank below ours in `default()`: of two concurrent switches, the
        # later one wins instead of each clearing the other.
        await self.collection.update_many(
            {
                "_id": {"$ne": phone_number_id},
                "is_default": True,
                "$or": [
                    {"default_since": {"$lt": since}},
                    {"default_since": None},
                    {"default_since": since, "_id": {"$gt": phone_number_id}},
                ],
            },
            {"$set": {"is_default": False}},
        )

    async def get(self, phone_number_id: str) -> Sender | None:
        doc = await self.collection.find_one({"_id": phone_number_id})
        return _sender(doc) if doc else None

    async def list(self) -> list[Sender]:
        """Every sender of the tenant, by phone_number_id."""
        return [_sender(doc) async for doc in self.collection.find().sort("_id", ASCENDING)]

    async def delete(self, phone_number_id: str) -> bool:
        """Remove a sender; False when there was none. Deleting the default promotes no other
        sender: the tenant has no default until one is set, and messages must name `from`."""
        result = await self.collection.delete_one({"_id": phone_number_id})
        return bool(result.deleted_count)

    async def default(self) -> Sender | None:
        """The default sender (the most recently marked one if a crash left two)."""
        doc = await self.collection.find_one({"is_default": True}, sort=_DEFAULT_ORDER)
        return _sender(doc) if doc else None

    async def access_token(self, phone_number_id: str) -> str | None:
        """The decrypted access token (for the dispatch worker), or None when the sender does
        not exist. Raises DecryptError when the stored token does not open with these keys."""
        doc: Any = await self.collection.find_one({"_id": phone_number_id}, {"access_token": 1})
        if doc is None or doc.get("access_token") is None:
            return None
        return self.keys.decrypt(doc["access_token"], self._aad(phone_number_id)).decode()
