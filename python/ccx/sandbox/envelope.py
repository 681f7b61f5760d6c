"""Status webhook payloads (reference §4.1): status objects, batched envelopes, signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ccx.sandbox.errors import async_error

CONVERSATION_TTL_S = 24 * 3600


@dataclass(slots=True)  # not frozen: built on every send, frozen init is slower
class StatusEvent:
    """One status of one message, with everything its webhook object needs."""

    wamid: str
    status: str
    timestamp: int
    recipient_id: str
    phone_number_id: str
    display_phone_number: str
    waba_id: str
    #: Pricing category: authentication, marketing, utility or service (free-form text).
    category: str
    conversation_id: str
    biz_opaque_callback_data: str | None = None
    error_code: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The `statuses[]` object."""
        out: dict[str, Any] = {
            "id": self.wamid,
            "status": self.status,
            "timestamp": str(self.timestamp),
            "recipient_id": self.recipient_id,
        }
        if self.biz_opaque_callback_data is not None:
            out["biz_opaque_callback_data"] = self.biz_opaque_callback_data
        if self.status == "failed":
            out["errors"] = [async_error(self.error_code or 131000)]
            return out
        conversation: dict[str, Any] = {"id": self.conversation_id}
        if self.status == "sent":
            conversation["expiration_timestamp"] = str(self.timestamp + CONVERSATION_TTL_S)
        conversation["origin"] = {"type": self.category}
        out["conversation"] = conversation
        service = self.category == "service"
        out["pricing"] = {
            "billable": not service,
            "pricing_model": "PMP",
            "category": self.category,
            "type": "free_customer_service" if service else "regular",
        }
        return out


def build_envelope(events: Sequence[StatusEvent]) -> dict[str, Any]:
    """One webhook body: an entry per WABA, a change per phone number, statuses in order."""
    entries: dict[str, dict[str, dict[str, Any]]] = {}
    for ev in events:
        changes = entries.setdefault(ev.waba_id, {})
        value = changes.get(ev.phone_number_id)
        if value is None:
            value = changes[ev.phone_number_id] = {
                "messaging_product": "whatsapp",
                "metadata": {
                    "display_phone_number": ev.display_phone_number,
                    "phone_number_id": ev.phone_number_id,
                },
                "statuses": [],
            }
        value["statuses"].append(ev.to_json())
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": waba, "changes": [{"field": "messages", "value": v} for v in changes.values()]}
            for waba, changes in entries.items()
        ],
    }


def encode(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent: compact JSON with every non-ASCII character escaped (\\uXXXX)."""
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def signature(body: bytes, app_secret: str) -> str:
    """The `X-Hub-Signature-256` header value for `body`."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
