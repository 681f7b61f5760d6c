"""The ledger: every accepted send, with exact counts and the sends that look duplicated.

Two sends are duplicates when they carry the same `biz_opaque_callback_data`, or go to the
same recipient with the same body (text body, or the rendered template text plus template
name and language). Counts and duplicate groups stay exact however many entries are kept.
"""

from __future__ import annotations

import hashlib
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)  # not frozen: built on every send, frozen init is slower
class LedgerEntry:
    seq: int
    wamid: str
    to: str
    wa_id: str
    phone_number_id: str
    type: str
    body: str
    template: str | None
    biz_opaque_callback_data: str | None
    at: float
    #: False for "accept, then never answer": recorded, but the client got no answer.
    answered: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "wamid": self.wamid,
            "to": self.to,
            "wa_id": self.wa_id,
            "phone_number_id": self.phone_number_id,
            "type": self.type,
            "template": self.template,
            "body": self.body,
            "biz_opaque_callback_data": self.biz_opaque_callback_data,
            "at": self.at,
            "answered": self.answered,
        }


@dataclass(slots=True)
class _Group:
    """All wamids sharing one duplicate key (kept as a single wamid until a second arrives)."""

    label: dict[str, Any]
    wamids: list[str]


def _key(*parts: str) -> bytes:
    return hashlib.blake2b("\x00".join(parts).encode(), digest_size=12).digest()


class Ledger:
    """Append-only record of accepted sends (single process, single event loop)."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self.reset()

    def reset(self) -> None:
        self._entries: deque[LedgerEntry] = deque(maxlen=self.max_entries or None)
        self.count = 0
        self.unanswered = 0
        self.by_number: Counter[str] = Counter()
        self.by_type: Counter[str] = Counter()
        self._by_opaque: dict[bytes, str | _Group] = {}
        self._by_to_body: dict[bytes, str | _Group] = {}

    def record(self, entry: LedgerEntry) -> None:
        if self.max_entries:
            self._entries.append(entry)
        self.count += 1
        self.unanswered += not entry.answered
        self.by_number[entry.phone_number_id] += 1
        self.by_type[entry.type] += 1
        if entry.biz_opaque_callback_data:
            self._index(
                self._by_opaque,
                _key(entry.biz_opaque_callback_data),
                entry.wamid,
                {"biz_opaque_callback_data": entry.biz_opaque_callback_data},
            )
        self._index(
            self._by_to_body,
            _key(entry.wa_id, entry.template or "", entry.body),
            entry.wamid,
            {"to": entry.wa_id, "template": entry.template, "body": entry.body},
        )

    @staticmethod
    def _index(
        index: dict[bytes, str | _Group], key: bytes, wamid: str, label: dict[str, Any]
    ) -> None:
        seen = index.get(key)
        if seen is None:
            index[key] = wamid
        elif isinstance(seen, str):
            index[key] = _Group(label, [seen, wamid])
        else:
            seen.wamids.append(wamid)

    def duplicates(self) -> dict[str, list[dict[str, Any]]]:
        def groups(index: dict[bytes, str | _Group]) -> list[dict[str, Any]]:
            return [
                {**g.label, "count": len(g.wamids), "wamids": g.wamids}
                for g in index.values()
                if isinstance(g, _Group)
            ]

        return {
            "biz_opaque_callback_data": groups(self._by_opaque),
            "to_body": groups(self._by_to_body),
        }

    def entries(
        self,
        *,
        phone_number_id: str | None = None,
        to: str | None = None,
        biz_opaque_callback_data: str | None = None,
        wamid: str | None = None,
        after_seq: int = 0,
    ) -> Iterator[LedgerEntry]:
        wa_id = "".join(ch for ch in to if ch.isdigit()) if to else None
        for e in self._entries:
            if (
                e.seq > after_seq
                and (phone_number_id is None or e.phone_number_id == phone_number_id)
                and (wa_id is None or e.wa_id == wa_id)
                and (
                    biz_opaque_callback_data is None
                    or e.biz_opaque_callback_data == biz_opaque_callback_data
                )
                and (wamid is None or e.wamid == wamid)
            ):
                yield e

    def summary(self) -> dict[str, Any]:
        dups = self.duplicates()
        return {
            "count": self.count,
            "unanswered": self.unanswered,
            "by_phone_number_id": dict(self.by_number),
            "by_type": dict(self.by_type),
            "duplicate_count": {k: sum(g["count"] - 1 for g in v) for k, v in dups.items()},
            "duplicates": dups,
        }
