"""Redis access: idempotency keys, distributed rate limits and circuit state."""
