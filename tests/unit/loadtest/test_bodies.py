"""The bodies the scenarios send pass the API's own schemas and use the demo's templates."""

from __future__ import annotations

import random

import orjson
from loadtest import bodies

from ccx._native import CompiledSchema
from ccx.ingest.schemas import MESSAGE, MESSAGE_BATCH, schema_bytes
from ccx.stack.demo import TEMPLATES, messages

MESSAGE_SCHEMA = CompiledSchema(schema_bytes(MESSAGE))
BATCH_SCHEMA = CompiledSchema(schema_bytes(MESSAGE_BATCH))


def valid(body: dict[str, object], schema: CompiledSchema = MESSAGE_SCHEMA) -> bool:
    return bool(schema.validate(orjson.dumps(body)) == body)


def test_every_single_message_body_is_valid() -> None:
    rng = random.Random(7)
    for _ in range(50):
        assert valid(bodies.otp(rng))
        assert valid(bodies.notice(rng))
        assert valid(bodies.order_text(rng, rng.randrange(10**6)))


def test_a_campaign_is_a_valid_batch_of_low_priority_messages() -> None:
    rng = random.Random(7)
    for size in (1, 100, 1000):
        body = bodies.campaign(rng, size, "c1")
        assert valid(body, BATCH_SCHEMA)
        assert len(body["messages"]) == size
        assert {m["priority"] for m in body["messages"]} == {"low"}


def test_templates_and_variables_are_the_demos() -> None:
    names = {t["name"] for t in TEMPLATES}
    rng = random.Random(1)
    assert {bodies.OTP_TEMPLATE, bodies.NOTICE_TEMPLATE} <= names
    demo_otp = messages(1)[0]["template"]
    otp = bodies.otp(rng)
    assert otp["template"]["name"] == demo_otp["name"]
    assert otp["template"]["variables"].keys() == demo_otp["variables"].keys()
    assert otp["priority"] == "critical"


def test_recipients_spread_so_no_pair_limit_applies() -> None:
    rng = random.Random(3)
    seen = {bodies.recipient(rng) for _ in range(1000)}
    assert len(seen) > 990
