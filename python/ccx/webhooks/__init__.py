"""Client webhooks: delivery of message state changes to tenant endpoints (ARCHITECTURE §7)."""
