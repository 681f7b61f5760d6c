"""The accept path: validation, idempotency, group commit to the store and the broker."""
