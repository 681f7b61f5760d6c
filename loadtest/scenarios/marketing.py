"""`marketing`: campaigns of 100-1000 low-priority template messages, each one batch
request keyed by its campaign id, then a pause."""

from __future__ import annotations

import uuid

from locust import between, task

from loadtest import bodies
from loadtest.scenarios import MIX_WEIGHTS, params
from loadtest.scenarios.base import CcxUser, expect

P = params("marketing")
NAME = "/v1/messages/batch (campaign)"


class MarketingUser(CcxUser):
    weight = MIX_WEIGHTS["MarketingUser"]
    wait_time = between(*P["pause_s"])

    @task
    def campaign(self) -> None:
        size = self.rng.randint(*P["campaign"])
        campaign_id = uuid.uuid4().hex[:16]
        body = bodies.campaign(self.rng, size, campaign_id)
        key = {"idempotency-key": f"campaign-{campaign_id}"}
        with self.post_json("/v1/messages/batch", body, NAME, key) as reply:
            data = expect(reply, 207)
            if data is None:
                return
            accepted = data.get("accepted")
            if not isinstance(accepted, int):
                reply.failure("207 without an accepted count")
                return
            self.accepted(accepted)
            if accepted != size:
                refused = [r for r in data.get("results", []) if r.get("http_status") != 202]
                first = refused[0] if refused else {}
                reply.failure(
                    f"{size - accepted} of {size} items refused, e.g. "
                    f"{first.get('http_status')} {first.get('title')}"
                )
