"""The `number_errors` collection of a tenant database: system-level errors Meta reported
about one of the tenant's sender numbers (a callback's `value.errors`, not about a message).

They are rare (a number's quality rating dropped, its payment method failed, ...) and say why
a number stopped sending, so they are kept as they came, newest read first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from ccx.store.messages import utc_ms
from ccx.store.mongo import Document
from ccx.store.names import NUMBER_ERRORS


@dataclass(frozen=True, slots=True)
class NumberErrorRecord:
    phone_number_id: str
    code: int | None
    title: str | None
    details: str | None
    at: datetime


def _number_error(doc: Document) -> NumberErrorRecord:
    code: Any = doc.get("code")
    return NumberErrorRecord(
        str(doc["phone_number_id"]),
        int(code) if isinstance(code, int) else None,
        doc.get("title"),
        doc.get("details"),
        utc_ms(doc["at"]),
    )


class NumberErrorRepository:
    """One tenant's number errors."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[NUMBER_ERRORS]

    async def record(self, error: NumberErrorRecord) -> None:
        await self.collection.insert_one(
            {
                "phone_number_id": error.phone_number_id,
                "code": error.code,
                "title": error.title,
                "details": error.details,
                "at": error.at,
            }
        )

    async def recent(self, phone_number_id: str, limit: int = 50) -> list[NumberErrorRecord]:
        """The number's errors, newest first."""
        found = (
            self.collection.find({"phone_number_id": phone_number_id})
            .sort([("at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [_number_error(doc) async for doc in found]
