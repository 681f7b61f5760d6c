"""Facts of Meta's WhatsApp Cloud API that both the gateway and the sandbox rely on
(reference: the shared `meta-cloud-api.md`, §7 templates)."""

from __future__ import annotations

#: Template review statuses; only APPROVED templates can be sent.
TEMPLATE_STATUSES: tuple[str, ...] = (
    "APPROVED",
    "PENDING",
    "REJECTED",
    "PAUSED",
    "DISABLED",
    "IN_APPEAL",
    "FLAGGED",
    "REINSTATED",
    "PENDING_DELETION",
    "DELETED",
    "ARCHIVED",
    "LIMIT_EXCEEDED",
    "LOCKED",
)

#: Template categories.
TEMPLATE_CATEGORIES: tuple[str, ...] = ("AUTHENTICATION", "MARKETING", "UTILITY")
