"""Database and collection names (ARCHITECTURE §6): one database per tenant."""

from __future__ import annotations

import re

PLATFORM_TENANTS = "tenants"
PLATFORM_AUDIT = "audit_log"

MESSAGES = "messages"
EVENTS = "events"
WEBHOOK_DELIVERIES = "webhook_deliveries"
WEBHOOK_ENDPOINTS = "webhook_endpoints"
WEBHOOK_STREAMS = "webhook_streams"
TEMPLATES = "templates"
IDEMPOTENCY = "idempotency"
SENDERS = "senders"
SUPPRESSIONS = "suppressions"
#: System-level errors Meta reported about the tenant's numbers (callbacks, append-only).
NUMBER_ERRORS = "number_errors"


#: Tenant ids become database and queue names, so they are restricted (same rule as `tid`).
TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def tenant_db(tenant: str) -> str:
    """`ccx_t_<tenant>`; ValueError for an id that is not a safe name."""
    if not TENANT_ID.match(tenant):
        raise ValueError(f"invalid tenant id {tenant!r}: lowercase letters, digits, _ and -")
    return f"ccx_t_{tenant}"
