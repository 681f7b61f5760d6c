"""`polling`: a client that follows each message it sends: one message at a time, polled by
id (`GET /v1/messages/{id}`) and through the listing of its current state
(`GET /v1/messages?status=…`) until it is final. Each poll is one locust task, so a
stopping user never waits out a message."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from locust import constant, task

from ccx.stack.demo import FINAL
from loadtest import bodies
from loadtest.scenarios import MIX_WEIGHTS, params
from loadtest.scenarios.base import CcxUser, accepted_id, expect
from loadtest.scenarios.tally import TALLY

P = params("polling")
POST = "/v1/messages (polled)"
GET_ONE = "/v1/messages/{id}"
LIST = "/v1/messages?status="


@dataclass
class Followed:
    id: str
    since: float
    polls: int = 0


def server_ms(view: dict[str, Any]) -> float | None:
    """From the first recorded transition to the last one, by the server's clock."""
    events = view.get("events") or []
    if len(events) < 2:
        return None
    first, last = (datetime.fromisoformat(events[i]["at"]) for i in (0, -1))
    return (last - first).total_seconds() * 1000


class PollingUser(CcxUser):
    weight = MIX_WEIGHTS["PollingUser"]
    wait_time = constant(P["poll_s"])

    def on_start(self) -> None:
        super().on_start()
        self.followed: Followed | None = None

    @task
    def step(self) -> None:
        if self.followed is None:
            self.send()
        else:
            self.poll(self.followed)

    def send(self) -> None:
        with self.post_json("/v1/messages", bodies.notice(self.rng), POST) as reply:
            message_id = accepted_id(reply, expect(reply, 202))
        if message_id:
            self.accepted()
            self.followed = Followed(message_id, time.monotonic())

    def poll(self, followed: Followed) -> None:
        followed.polls += 1
        with self.client.get(
            f"/v1/messages/{followed.id}", headers=self.auth, name=GET_ONE, catch_response=True
        ) as reply:
            view = expect(reply, 200)
            if view is not None and view.get("id") != followed.id:
                reply.failure(f"asked for {followed.id}, got {view.get('id')}")
                view = None
        if view is None:
            return
        status = str(view.get("status"))
        if followed.polls % 2 == 0:
            self.list_by(status)
        waited_ms = (time.monotonic() - followed.since) * 1000
        if status in FINAL:
            self.flow(f"accepted → {status}", server_ms(view) or waited_ms)
            TALLY.finish(status)
            self.followed = None
        elif waited_ms > P["final_within_s"] * 1000:
            limit = P["final_within_s"]
            self.flow("accepted → final", waited_ms, f"not final after {limit:g} s: {status}")
            self.followed = None

    def list_by(self, status: str) -> None:
        with self.client.get(
            f"/v1/messages?status={status}&limit=20",
            headers=self.auth,
            name=LIST,
            catch_response=True,
        ) as reply:
            page = expect(reply, 200)
            if page is None:
                return
            data = page.get("data")
            if not isinstance(data, list):
                reply.failure("listing without a data array")
                return
            other = next((m.get("status") for m in data if m.get("status") != status), None)
            if other is not None:
                reply.failure(f"?status={status} listed a message in {other}")
