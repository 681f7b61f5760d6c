"""Meta's status callbacks (reference §4): the parts of one POST that concern ccx.

One POST carries any number of `entry[].changes[].value` blocks; each may hold `statuses`
(one per message status) or `errors` (system-level errors with no message), or, for the
`message_template_status_update` field, a template's new review status. Everything is
parsed defensively: an unknown status or a malformed item is skipped and counted, never a
reason to refuse the rest of the POST (Meta would retry it for days).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ccx.ids import is_message_id

#: The statuses ccx tracks; `played` (first play of a voice message) counts as `read`.
KNOWN = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "read",
    "failed": "failed",
}


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One `statuses[]` item."""

    phone_number_id: str
    wamid: str
    status: str
    at: datetime
    #: From `biz_opaque_callback_data` = `<message_id>.<attempt>`, when it has that form.
    message_id: str | None = None
    attempt: int | None = None
    recipient_id: str | None = None
    pricing: dict[str, Any] | None = None
    conversation: dict[str, Any] | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NumberError:
    """A `value.errors[]` item: an error about a number, not about one message."""

    phone_number_id: str | None
    code: int | None
    title: str | None
    details: str | None


@dataclass(frozen=True, slots=True)
class TemplateUpdate:
    """A `message_template_status_update`: template `name`/`language` of WABA `waba_id` is
    now `status` (APPROVED, PAUSED, DISABLED, REJECTED, ...)."""

    waba_id: str
    name: str
    language: str
    status: str
    reason: str | None
    at: datetime | None


@dataclass(slots=True)
class Parsed:
    updates: list[StatusUpdate] = field(default_factory=list)
    errors: list[NumberError] = field(default_factory=list)
    templates: list[TemplateUpdate] = field(default_factory=list)
    skipped: int = 0


TEMPLATE_FIELD = "message_template_status_update"


def _template(value: dict[str, Any], entry: dict[str, Any]) -> TemplateUpdate | None:
    waba, name = entry.get("id"), value.get("message_template_name")
    language, event = value.get("message_template_language"), value.get("event")
    if not all(isinstance(v, str) and v for v in (waba, name, language, event)):
        return None
    reason = value.get("reason")
    return TemplateUpdate(
        str(waba),
        str(name),
        str(language),
        str(event).upper(),
        reason if isinstance(reason, str) else None,
        _timestamp(entry.get("time")),
    )


def opaque_reference(value: Any) -> tuple[str | None, int | None]:
    """(message_id, attempt) from `biz_opaque_callback_data`, or (None, None)."""
    if not isinstance(value, str):
        return None, None
    message_id, _, attempt = value.rpartition(".")
    if not is_message_id(message_id) or not attempt.isdigit():
        return None, None
    return message_id, int(attempt)


def _timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _status(item: Any, phone_number_id: str) -> StatusUpdate | None:
    if not isinstance(item, dict):
        return None
    wamid, status, at = (
        item.get("id"),
        KNOWN.get(item.get("status", "")),
        _timestamp(item.get("timestamp")),
    )
    if not isinstance(wamid, str) or not wamid or status is None or at is None:
        return None
    message_id, attempt = opaque_reference(item.get("biz_opaque_callback_data"))
    errors = item.get("errors")
    recipient = item.get("recipient_id")
    return StatusUpdate(
        phone_number_id=phone_number_id,
        wamid=wamid,
        status=status,
        at=at,
        message_id=message_id,
        attempt=attempt,
        recipient_id=recipient if isinstance(recipient, str) else None,
        pricing=_dict(item.get("pricing")),
        conversation=_dict(item.get("conversation")),
        errors=[e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else [],
    )


def _system_error(item: Any, phone_number_id: str | None) -> NumberError | None:
    if not isinstance(item, dict):
        return None
    code = item.get("code")
    data = _dict(item.get("error_data")) or {}
    details = data.get("details")
    title = item.get("title") or item.get("message")
    return NumberError(
        phone_number_id,
        code if isinstance(code, int) else None,
        title if isinstance(title, str) else None,
        details if isinstance(details, str) else None,
    )


def parse(payload: Any) -> Parsed:
    """Every status update and system error of one callback POST (already JSON-decoded)."""
    parsed = Parsed()
    entries = payload.get("entry") if isinstance(payload, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            value = _dict(change.get("value")) if isinstance(change, dict) else None
            if value is None:
                parsed.skipped += 1
                continue
            if isinstance(change, dict) and change.get("field") == TEMPLATE_FIELD:
                template = _template(value, entry)
                if template is None:
                    parsed.skipped += 1
                else:
                    parsed.templates.append(template)
                continue
            number = (_dict(value.get("metadata")) or {}).get("phone_number_id")
            number = number if isinstance(number, str) else None
            statuses = value.get("statuses")
            for item in statuses if isinstance(statuses, list) else []:
                update = _status(item, number) if number else None
                if update is None:
                    parsed.skipped += 1
                else:
                    parsed.updates.append(update)
            errors = value.get("errors")
            for item in errors if isinstance(errors, list) else []:
                error = _system_error(item, number)
                if error is not None:
                    parsed.errors.append(error)
    return parsed
