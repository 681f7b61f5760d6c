"""The request bodies the scenarios send, built from the demo's templates
(`ccx.stack.demo.TEMPLATES`: `otp_code`, `hello_world`). Recipients are random numbers, so
the pair rate limit (sender, recipient) never holds a message back."""

from __future__ import annotations

import random
from typing import Any

OTP_TEMPLATE = "otp_code"
NOTICE_TEMPLATE = "hello_world"
LANGUAGE = "en_US"


def recipient(rng: random.Random) -> str:
    """A UK mobile number (+44 7…), one of 10^9."""
    return f"+447{rng.randrange(10**9):09d}"


def otp(rng: random.Random) -> dict[str, Any]:
    """A one-time password: critical, resent when its outcome is unknown."""
    code = f"{rng.randrange(10**6):06d}"
    return {
        "to": recipient(rng),
        "type": "template",
        "template": {
            "name": OTP_TEMPLATE,
            "language": LANGUAGE,
            "variables": {"body": [code], "buttons": [code]},
        },
        "priority": "critical",
        "on_ambiguous": "resend",
        "metadata": {"loadtest": "otp"},
    }


def campaign(rng: random.Random, size: int, campaign_id: str) -> dict[str, Any]:
    """A marketing campaign of `size` low-priority template messages (one batch request)."""
    return {
        "messages": [
            {
                "to": recipient(rng),
                "type": "template",
                "template": {"name": NOTICE_TEMPLATE, "language": LANGUAGE, "variables": {}},
                "priority": "low",
                "metadata": {"loadtest": "campaign", "campaign": campaign_id, "n": i},
            }
            for i in range(size)
        ]
    }


def notice(rng: random.Random) -> dict[str, Any]:
    """A utility template at high priority, the kind a client follows to `read`."""
    return {
        "to": recipient(rng),
        "type": "template",
        "template": {"name": NOTICE_TEMPLATE, "language": LANGUAGE, "variables": {}},
        "priority": "high",
        "metadata": {"loadtest": "polling"},
    }


def order_text(rng: random.Random, order: int) -> dict[str, Any]:
    """A plain text about an order, what a client retries after a timeout."""
    return {
        "to": recipient(rng),
        "type": "text",
        "text": {"body": f"Your order #{order} has shipped."},
        "metadata": {"loadtest": "idempotent", "order": order},
    }
