"""`otp`: bursts of critical one-time passwords, as after a login storm: a burst of 5-20
requests posted concurrently, then a pause."""

from __future__ import annotations

from gevent.pool import Pool
from locust import between, task

from loadtest import bodies
from loadtest.scenarios import MIX_WEIGHTS, params
from loadtest.scenarios.base import CcxUser, accepted_id, expect

P = params("otp")
NAME = "/v1/messages (otp)"


class OtpUser(CcxUser):
    weight = MIX_WEIGHTS["OtpUser"]
    wait_time = between(*P["pause_s"])

    @task
    def burst(self) -> None:
        pool = Pool(P["burst_concurrency"])
        try:
            for _ in range(self.rng.randint(*P["burst"])):
                pool.spawn(self.send_otp)
        finally:
            # also when locust kills this user: its requests are in flight, let them land
            # in the statistics rather than in the database only
            pool.join()

    def send_otp(self) -> None:
        with self.post_json("/v1/messages", bodies.otp(self.rng), NAME) as reply:
            if accepted_id(reply, expect(reply, 202)):
                self.accepted()
