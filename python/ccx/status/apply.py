"""Applying one Meta status update to its message: find it, check precedence, record it.

The message is found by `biz_opaque_callback_data` (`<message_id>.<attempt>`, set on every
send, a lookup by `_id`), else by wamid. Its tenant is the owner of the callback's
`phone_number_id` (cached). The move itself is a fenced transition (`ccx.store.transitions`):
a duplicate, a late lower status or a race with the worker's own outcome write leaves
exactly one recorded change.

A callback that overtakes the worker's outcome (Meta's `sent` before its send answer was
recorded) finds the outcome's event with its projection still to come. The projection is an
update by `_id` alone, so it can land after this callback's newer one and leave the message
document a step behind its events. Such a callback checks the message again `settle_s` later
and repairs a projection left behind (one read when nothing was wrong).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pymongo import AsyncMongoClient

from ccx.cache.local import LoadingCache
from ccx.status.callbacks import NumberError, StatusUpdate, TemplateUpdate
from ccx.status.precedence import implied, sources
from ccx.store.messages import Message, MessageRepository, Status, from_document
from ccx.store.mongo import Document
from ccx.store.names import SENDERS, tenant_db
from ccx.store.number_errors import NumberErrorRecord, NumberErrorRepository
from ccx.store.templates import TemplateRepository
from ccx.store.tenants import TenantRepository
from ccx.store.transitions import Change, Transitions
from ccx.telemetry import metrics

log = logging.getLogger(__name__)


#: Projected states only callbacks move on from, forward: walking the events first would
#: cost a read per callback for a race the fenced insert catches anyway.
_SETTLED = frozenset({Status.SENT, Status.DELIVERED})


class Result(StrEnum):
    APPLIED = "applied"
    #: a duplicate, or a status lower than the message's (recorded in the log only)
    STALE = "stale"
    UNKNOWN_NUMBER = "unknown_number"
    UNKNOWN_MESSAGE = "unknown_message"


class StatusApplier:
    """Applies status updates to the messages of whichever tenant owns their number."""

    def __init__(
        self,
        mongo: AsyncMongoClient[Document],
        platform_db: str,
        owner_ttl_s: float = 60.0,
        settle_s: float = 2.0,
    ) -> None:
        self.mongo = mongo
        #: How long after a callback that overtook another writer's projection its message
        #: is checked for a projection that landed late (see the module doc).
        self.settle_s = settle_s
        self._settling: set[asyncio.Task[None]] = set()
        self._closing = asyncio.Event()
        self.tenants = TenantRepository(mongo, platform_db)
        self._owners: LoadingCache[str, str | None] = LoadingCache(self._owner, owner_ttl_s)
        self._wabas: LoadingCache[str, list[str]] = LoadingCache(self._tenants_of_waba, owner_ttl_s)

    async def _tenants_with_sender(self, query: Document) -> list[str]:
        # One read per tenant on a miss, then cached: fine for hundreds of tenants; a platform
        # index of numbers would replace it beyond that.
        found = []
        for tenant in await self.tenants.list():
            senders = self.mongo[tenant_db(tenant.id)][SENDERS]
            if await senders.find_one(query, {"_id": 1}) is not None:
                found.append(tenant.id)
        return found

    async def _owner(self, phone_number_id: str) -> str | None:
        owners = await self._tenants_with_sender({"_id": phone_number_id})
        return owners[0] if owners else None

    async def _tenants_of_waba(self, waba_id: str) -> list[str]:
        return await self._tenants_with_sender({"waba_id": waba_id})

    async def apply_template(self, update: TemplateUpdate) -> int:
        """Set the template's status in the registry of every tenant with a number of its
        WABA (so ingest refuses a PAUSED or DISABLED one at once); returns how many."""
        changed = 0
        for tenant in await self._wabas.get(update.waba_id):
            repo = TemplateRepository(self.mongo[tenant_db(tenant)])
            if await repo.set_status(update.name, update.language, update.status, update.reason):
                changed += 1
        metrics.status_template_updates_total.labels(update.status).inc()
        return changed

    async def record_error(self, error: NumberError, at: datetime) -> bool:
        """Keep a system-level error in the number's tenant (`number_errors`)."""
        if error.phone_number_id is None:
            return False
        tenant = await self._owners.get(error.phone_number_id)
        if tenant is None:
            return False
        record = NumberErrorRecord(
            error.phone_number_id, error.code, error.title, error.details, at
        )
        await NumberErrorRepository(self.mongo[tenant_db(tenant)]).record(record)
        return True

    async def find(self, repo: MessageRepository, update: StatusUpdate) -> Message | None:
        if update.message_id is not None:
            message = await repo.get(update.message_id)
            if message is not None:
                return message
        doc = await repo.messages.find_one({"wamid": update.wamid})
        return from_document(doc) if doc is not None else None

    async def apply(
        self, update: StatusUpdate, touched: list[tuple[str, str]] | None = None
    ) -> Result:
        """Record `update` on its message if it moves it forward; (tenant, message id) of
        the message it is about goes to `touched`, moved or not."""
        result = await self._apply(update, touched)
        metrics.status_callbacks_total.labels(update.status, str(result)).inc()
        if result is Result.APPLIED:
            lag = time.time() - update.at.timestamp()
            metrics.status_callback_lag_seconds.observe(max(0.0, lag))
        return result

    async def _apply(self, update: StatusUpdate, touched: list[tuple[str, str]] | None) -> Result:
        tenant = await self._owners.get(update.phone_number_id)
        if tenant is None:
            self._owners.invalidate(update.phone_number_id)  # a number added a moment ago
            return Result.UNKNOWN_NUMBER
        repo = MessageRepository(self.mongo[tenant_db(tenant)])
        message = await self.find(repo, update)
        if message is None:
            return Result.UNKNOWN_MESSAGE
        if touched is not None:
            touched.append((tenant, message.id))
        status = Status(update.status)
        moves = Transitions(repo)
        # Meta's `delivered` may never come, or come after `read`: the steps a status implies
        # are recorded first, so the history (and the client's webhooks) always read
        # sent → delivered → read. Steps the message is already past are skipped.
        steps = [
            (
                step,
                {"wamid": update.wamid, "lease": None, f"{step}_at": update.at.astimezone(UTC)},
                {"implied_by": update.status},
            )
            for step in implied(status)
        ]
        steps.append((status, fields_of(update, message), {}))
        if message.status in _SETTLED:
            # The fenced insert decides on the document's own state: a writer that moved the
            # message past it without projecting yet makes the insert fail (handled below),
            # and a status that does not apply to sent or delivered applies to no later state.
            state, seq = message.status, message.seq
        else:
            state, seq, _ = await moves.current_state(message)
            if seq > message.seq:  # another writer's projection is still to land
                self._settle_later(moves, message.id)
        applied = False
        for i, (step, fields, event_fields) in enumerate(steps):
            if state not in sources(step):
                continue
            change = Change(message.id, seq, state, step, message.trace_id, fields, event_fields)
            if (await moves.apply([change]))[0]:
                state, seq, applied = step, seq + 1, step == status
                continue
            # Another actor moved it meanwhile: the rest the careful way (re-read each time).
            self._settle_later(moves, message.id)
            for later, later_fields, later_event_fields in steps[i:]:
                moved = await moves.transition(
                    message.id,
                    sources(later),
                    later,
                    message.trace_id,
                    event_fields=later_event_fields,
                    **later_fields,
                )
                applied = moved is not None and later == status
            break
        return Result.APPLIED if applied else Result.STALE

    def _settle_later(self, moves: Transitions, message_id: str) -> None:
        task = asyncio.ensure_future(self._settle(moves, message_id))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _settle(self, moves: Transitions, message_id: str) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), self.settle_s)
        try:
            message = await moves.repo.get(message_id)
            if message is None:
                return
            repaired = await moves.repair(message)
        except Exception as exc:  # the message's next change repairs it as well
            log.warning("projection check of %s failed: %r", message_id, exc)
            return
        if repaired.seq != message.seq:
            metrics.status_projections_repaired_total.inc()
            log.info("%s: a late projection was repaired to %s", message_id, repaired.status)

    async def close(self, timeout_s: float = 5.0) -> None:
        """Run the pending projection checks now (at shutdown), for at most `timeout_s`."""
        self._closing.set()
        if self._settling:
            await asyncio.wait(set(self._settling), timeout=timeout_s)


def fields_of(update: StatusUpdate, message: Message) -> dict[str, Any]:
    """What a status update writes on the message (and its event)."""
    at = update.at.astimezone(UTC)
    fields: dict[str, Any] = {"wamid": update.wamid, "lease": None, f"{update.status}_at": at}
    if update.status == Status.READ and "delivered_at" not in message.extra:
        fields["delivered_at"] = at  # read without delivered is normal: delivered is implied
    if update.pricing is not None:
        fields["pricing"] = update.pricing
    if update.status == Status.FAILED:
        first = update.errors[0] if update.errors else {}
        details = first.get("error_data")
        error = {
            "class": "terminal",
            "reason": "meta_callback",
            "code": first.get("code"),
            "title": first.get("title") or first.get("message"),
            "details": details.get("details") if isinstance(details, dict) else None,
        }
        fields["error"] = {k: v for k, v in error.items() if v is not None}
    return fields
