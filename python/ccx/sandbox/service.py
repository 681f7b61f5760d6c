"""The simulated Cloud API, independent of the HTTP framework.

`Sandbox.send` decides everything about one `POST /{version}/{phone_number_id}/messages`
synchronously (faults, validation, limits, ledger, callback schedule) and returns what the
transport must do: answer after a delay, reset the connection, or hold it and then reset.
"""

from __future__ import annotations

import base64
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from ccx.sandbox import ids
from ccx.sandbox.callbacks import CallbackDispatcher, CallbackStats, plan
from ccx.sandbox.envelope import StatusEvent
from ccx.sandbox.errors import MetaError
from ccx.sandbox.faults import Action, FaultInjector
from ccx.sandbox.ledger import Ledger, LedgerEntry
from ccx.sandbox.limits import RateLimits
from ccx.sandbox.models.validation import SendRequest, parse_json, validate_send
from ccx.sandbox.options import SandboxOptions

_VERSION = re.compile(r"^v\d{1,2}\.\d$")
_NUMERIC_ID = re.compile(r"^\d{1,20}$")


class Transport(StrEnum):
    ANSWER = "answer"
    RESET = "reset"
    #: Hold the request for `hang_s`, then reset: the client never gets an answer.
    HANG = "hang"


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes
    content_type: str | None = "application/json"


@dataclass(slots=True)
class SendOutcome:
    reply: Reply
    delay_s: float = 0.0
    transport: Transport = Transport.ANSWER
    hang_s: float = 0.0


def display_number(phone_number_id: str) -> str:
    """The display phone number the sandbox reports for a phone number id."""
    return "1555" + phone_number_id[-7:].rjust(7, "0")


def json_reply(status: int, payload: Any) -> Reply:
    return Reply(status, orjson.dumps(payload))


class Sandbox:
    """State of one sandbox process: registry, limits, faults, ledger, callbacks."""

    def __init__(
        self,
        options: SandboxOptions,
        dispatcher: CallbackDispatcher | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self.tokens = options.tokens
        self.seed = options.seed
        self.templates = options.templates
        self.limits = RateLimits(options.limits, clock)
        self.faults = FaultInjector(options.faults, options.seed)
        self.ledger = Ledger(options.ledger_max_entries)
        self.callbacks = dispatcher or CallbackDispatcher(options.callbacks, options.app_secret)
        self._wall = wall
        self.started_at = wall()
        self.reset_counters()

    def uptime_s(self) -> float:
        return self._wall() - self.started_at

    def reset_counters(self) -> None:
        self._trace_seq = 0
        self.requests = 0
        self.responses: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()

    def reset(self, seed: int | None = None) -> None:
        """Empty the ledger, refill the limits, cancel pending callbacks, re-seed."""
        if seed is not None:
            self.seed = seed
        self.ledger.reset()
        self.limits.reset()
        self.callbacks.cancel_all()
        self.callbacks.stats = CallbackStats()
        self.faults.reseed(self.seed)
        self.reset_counters()

    # -- helpers -------------------------------------------------------------------------

    def _error(self, exc: MetaError, count: bool = True) -> Reply:
        self._trace_seq += 1
        if count:
            self.responses[str(exc.code)] += 1
        return json_reply(exc.http_status, exc.body(ids.fbtrace_id(self.seed, self._trace_seq)))

    def _authorize(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise MetaError(190, message="Invalid OAuth access token - Cannot parse access token")
        if token.strip() not in self.tokens:
            raise MetaError(
                190,
                message="Error validating access token: The session is invalid or the access "
                "token was not recognised.",
            )

    @staticmethod
    def _check_path(version: str, object_id: str) -> None:
        if not _VERSION.match(version):
            raise MetaError(100, message=f"(#100) Unknown Graph API version {version!r}")
        if not _NUMERIC_ID.match(object_id):
            raise MetaError(
                100,
                message=f"Unsupported post request. Object with ID '{object_id}' does not exist, "
                "cannot be loaded due to missing permissions, or does not support this operation.",
                error_type="GraphMethodException",
                subcode=33,
            )

    # -- POST /{version}/{phone_number_id}/messages --------------------------------------

    def send(
        self, version: str, phone_number_id: str, authorization: str | None, body: str | bytes
    ) -> SendOutcome:
        self.requests += 1
        try:
            self._authorize(authorization)
            self._check_path(version, phone_number_id)
        except MetaError as exc:
            return SendOutcome(self._error(exc))
        fault = self.faults.for_request(phone_number_id)
        delay = fault.latency_s
        hang_s = self.faults.config.hang_s
        if fault.action is not Action.NONE:
            self.injected[fault.action.value] += 1
        if fault.action is Action.ERROR:
            assert fault.error_code is not None
            return SendOutcome(self._error(MetaError(fault.error_code)), delay)
        if fault.action is Action.TIMEOUT:
            return SendOutcome(Reply(504, b"", None), delay, Transport.HANG, hang_s)
        if fault.action is Action.RESET:
            return SendOutcome(Reply(502, b"", None), delay, Transport.RESET)
        if fault.action is Action.EMPTY_5XX:
            status = self.faults.config.for_number(phone_number_id).empty_5xx_status
            self.responses[str(status)] += 1
            return SendOutcome(Reply(status, b"", None), delay)
        try:
            request = validate_send(parse_json(body))
            category, rendered, template = self._content(request)
            if request.wa_id == display_number(phone_number_id):
                raise MetaError(131021, "The recipient is the sending phone number")
            limited = self.limits.check(phone_number_id, request.wa_id)
            if limited is not None:
                raise MetaError(limited)
        except MetaError as exc:
            return SendOutcome(self._error(exc), delay)
        answered = fault.action is not Action.ACCEPT_NO_ANSWER
        wamid = self._accept(phone_number_id, request, category, rendered, template, answered)
        self.responses["200"] += 1
        reply = json_reply(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": request.to, "wa_id": request.wa_id}],
                "messages": [{"id": wamid, "message_status": "accepted"}],
            },
        )
        if not answered:
            return SendOutcome(reply, delay, Transport.HANG, hang_s)
        return SendOutcome(reply, delay)

    def _content(self, request: SendRequest) -> tuple[str, str, str | None]:
        """(pricing category, ledger body, template key) of a valid request."""
        if request.template is None:
            return "service", request.text_body or "", None
        tpl = self.templates.resolve(request.template.name, request.template.language)
        rendered = self.templates.check_send(tpl, request.template.components)
        return tpl.category.lower(), rendered, f"{tpl.name}/{tpl.language}"

    def _accept(
        self,
        phone_number_id: str,
        request: SendRequest,
        category: str,
        body: str,
        template: str | None,
        answered: bool,
    ) -> str:
        seq = self.ledger.count + 1
        wamid = ids.wamid(self.seed, seq, request.wa_id)
        now = self._wall()
        self.ledger.record(
            LedgerEntry(
                seq=seq,
                wamid=wamid,
                to=request.to,
                wa_id=request.wa_id,
                phone_number_id=phone_number_id,
                type=request.type,
                body=body,
                template=template,
                biz_opaque_callback_data=request.biz_opaque_callback_data,
                at=now,
                answered=answered,
            )
        )
        decision = self.faults.for_callbacks(phone_number_id)
        for name, hit in (
            ("callback_drop", decision.drop),
            ("callback_fail", decision.fail_code is not None),
            ("callback_skip_delivered", decision.skip_delivered),
            ("callback_reorder", decision.reorder),
            ("callback_duplicate", decision.duplicate),
        ):
            if hit:
                self.injected[name] += 1
        conversation = ids.conversation_id(self.seed, phone_number_id, request.wa_id, category)
        for step in plan(decision, self.callbacks.settings):
            event = StatusEvent(
                wamid=wamid,
                status=step.status,
                timestamp=int(now + step.happened_after_s),
                recipient_id=request.wa_id,
                phone_number_id=phone_number_id,
                display_phone_number=display_number(phone_number_id),
                waba_id=self.options.waba_id,
                category=category,
                conversation_id=conversation,
                biz_opaque_callback_data=request.biz_opaque_callback_data,
                error_code=step.error_code,
            )
            self.callbacks.schedule(event, step.send_after_s, step.separate)
        return wamid

    # -- GET /{version}/{waba_id}/message_templates --------------------------------------

    def list_templates(
        self,
        version: str,
        waba_id: str,
        authorization: str | None,
        query: Mapping[str, str],
    ) -> Reply:
        try:
            self._authorize(authorization)
            self._check_path(version, waba_id)
            limit = int(query.get("limit", "25"))
            start = (
                int(base64.urlsafe_b64decode(query["after"]).decode()) if "after" in query else 0
            )
        except MetaError as exc:
            return self._error(exc, count=False)
        except ValueError:
            return self._error(MetaError(100, message="(#100) Invalid limit or cursor"), False)
        items = [
            t
            for t in self.templates.all()
            if all(
                query.get(k) in (None, getattr(t, k))
                for k in ("name", "language", "status", "category")
            )
        ]
        page = items[start : start + max(1, limit)]
        paging: dict[str, Any] = {}
        if page:

            def cursor(i: int) -> str:
                return base64.urlsafe_b64encode(str(i).encode()).decode()

            paging = {"cursors": {"before": cursor(start), "after": cursor(start + len(page))}}
        return json_reply(200, {"data": [t.to_graph() for t in page], "paging": paging})
