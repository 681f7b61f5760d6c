"""The dispatch stage: send queued messages to Meta's Cloud API (work in progress)."""
