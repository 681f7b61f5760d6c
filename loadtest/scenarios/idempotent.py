"""`idempotent`: a client that retries after a timeout. Each round sends a new request
with a fresh `Idempotency-Key`, sends it again (the API must answer the same 202 with
`idempotent-replayed: true`), then sends another body under the same key (409)."""

from __future__ import annotations

import uuid

from locust import between, task

from loadtest import bodies
from loadtest.scenarios import MIX_WEIGHTS, params
from loadtest.scenarios.base import CcxUser, accepted_id, expect

P = params("idempotent")
FIRST = "/v1/messages (new key)"
REPLAY = "/v1/messages (same key, same body)"
CONFLICT = "/v1/messages (same key, other body)"


class IdempotentUser(CcxUser):
    weight = MIX_WEIGHTS["IdempotentUser"]
    wait_time = between(*P["pause_s"])

    @task
    def retried_request(self) -> None:
        key = {"idempotency-key": f"loadtest-{uuid.uuid4().hex}"}
        body = bodies.order_text(self.rng, self.rng.randrange(10**6))
        with self.post_json("/v1/messages", body, FIRST, key) as reply:
            message_id = accepted_id(reply, expect(reply, 202))
            if message_id and reply.headers and reply.headers.get("idempotent-replayed"):
                reply.failure("a new key was answered as a replay")
                message_id = None
        if not message_id:
            return
        self.accepted()
        for _ in range(P["replays"]):
            with self.post_json("/v1/messages", body, REPLAY, key) as reply:
                again = accepted_id(reply, expect(reply, 202))
                if again is None:
                    continue
                if again != message_id:
                    reply.failure(f"the replay answered another id than {message_id}")
                elif (reply.headers or {}).get("idempotent-replayed") != "true":
                    reply.failure("the replay lacks `idempotent-replayed: true`")
        other = {**body, "text": {"body": body["text"]["body"] + " Sorry, it is late."}}
        with self.post_json("/v1/messages", other, CONFLICT, key) as reply:
            expect(reply, 409)
