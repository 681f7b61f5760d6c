"""The reference accept path of `ccx bench ingest`: `POST /v1/messages` the way most teams
would write it. FastAPI on uvicorn (uvloop, httptools, no access log), python-jsonschema
validating ccx's own message schema, a PyJWT bearer check, then for each request on its own:
Redis `SET NX` of the idempotency key (when one is given), one MongoDB `insert_one` of the
message document, one RabbitMQ publish awaiting its confirm, and the 202.

Clients are made once per process at start-up and shared by every request (pooled), and
the document, routing key and envelope are ccx's own, so the work per message matches
ccx's accept path; what differs is that nothing is batched: every request pays its own
round trip to each service, and validation is pure Python.

Like most such code it has no outbox: the document is written as `queued` straight away
and a failed publish is a 503 (the message stays stored but is never sent). Writing it as
`accepted` would also let the outbox relay of any `ccx serve` sharing the services
republish it, which would load the services during the measurement.

    python -m ccx.bench.reference_app --port 8100 --workers 1

Signing keys come from `CCX_AUTH_KEYS` (the HS256 `{kid, alg, secret}` entries), the
services from the usual `CCX_MONGO_URI`, `CCX_REDIS_URL` and `CCX_RABBITMQ_URL`.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aio_pika
import jsonschema
import jwt
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ccx.config import load_settings
from ccx.ids import new_message_id
from ccx.ingest.idempotency import redis_key
from ccx.ingest.schemas import MESSAGE
from ccx.queue.names import WORK_EXCHANGE, Tier, tier_routing_key
from ccx.queue.publisher import Dispatch, amqp_message
from ccx.store.messages import Message, Status, now_ms, to_document
from ccx.store.mongo import Document
from ccx.store.names import MESSAGES, tenant_db

#: Idempotency keys of the reference live beside ccx's, under their own prefix.
KEY_PREFIX = "ref:"
IDEMPOTENCY_TTL_S = 7 * 24 * 3600
WRITE_SCOPE = "messages:write"

VALIDATOR = jsonschema.Draft202012Validator(MESSAGE)


def hs256_keys(text: str) -> dict[str, bytes]:
    """kid → secret of the HS256 entries of a `CCX_AUTH_KEYS` JSON array."""
    if not text.strip():
        return {}
    return {
        spec["kid"]: spec["secret"].encode()
        for spec in json.loads(text)
        if spec.get("alg") == "HS256" and "secret" in spec
    }


def problem(status: int, title: str, detail: str = "", **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


@dataclass
class Clients:
    """One of each per process, made in the lifespan and shared by every request."""

    mongo: AsyncMongoClient[Document]
    redis: Redis
    rabbit: AbstractRobustConnection
    channel: AbstractChannel
    exchange: AbstractExchange
    keys: dict[str, bytes]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = load_settings()
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(
        settings.mongo.uri,
        serverSelectionTimeoutMS=settings.mongo.timeout_ms,
        socketTimeoutMS=settings.mongo.timeout_ms,
        maxPoolSize=100,
        appname="ccx-bench-reference",
    )
    redis = Redis.from_url(
        settings.redis.url, socket_timeout=settings.redis.timeout_s, max_connections=200
    )
    rabbit = await aio_pika.connect_robust(
        settings.rabbitmq.url, timeout=settings.rabbitmq.timeout_s
    )
    channel = await rabbit.channel(publisher_confirms=True, on_return_raises=True)
    exchange = await channel.declare_exchange(
        WORK_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
    )
    await mongo.admin.command("ping")
    await redis.ping()
    app.state.clients = Clients(
        mongo, redis, rabbit, channel, exchange, hs256_keys(settings.auth.keys)
    )
    try:
        yield
    finally:
        await rabbit.close()
        await redis.aclose()
        await mongo.close()


app = FastAPI(title="ccx bench reference accept path", lifespan=lifespan, openapi_url=None)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def authenticate(clients: Clients, header: str | None) -> str | JSONResponse:
    """The tenant of a valid bearer token with `messages:write`, or the 401/403 problem."""
    if not header or not header.startswith("Bearer "):
        return problem(401, "Unauthorized", "missing bearer token")
    token = header[7:]
    try:
        kid = str(jwt.get_unverified_header(token).get("kid"))
        secret = clients.keys[kid]
        claims = jwt.decode(token, secret, algorithms=["HS256"])
    except (jwt.PyJWTError, KeyError) as exc:
        return problem(401, "Unauthorized", type(exc).__name__)
    if WRITE_SCOPE not in str(claims.get("scope", "")).split():
        return problem(403, "Forbidden", f"scope {WRITE_SCOPE} required")
    return str(claims["tid"])


@app.post("/v1/messages", status_code=202)
async def accept(request: Request) -> JSONResponse:
    clients: Clients = request.app.state.clients
    tenant = authenticate(clients, request.headers.get("authorization"))
    if isinstance(tenant, JSONResponse):
        return tenant
    try:
        body = await request.json()
    except ValueError:
        return problem(400, "Bad Request", "body is not JSON")
    errors = [
        {"path": "/" + "/".join(map(str, e.absolute_path)), "message": e.message}
        for e in VALIDATOR.iter_errors(body)
    ]
    if errors:
        return problem(422, "Unprocessable Content", "invalid message", errors=errors)

    message = Message(
        id=new_message_id(),
        to=body["to"],
        type=body["type"],
        created_at=now_ms(),
        sender=body.get("from"),
        template=body.get("template"),
        text=body.get("text"),
        priority=body.get("priority") or str(Tier.DEFAULT),
        metadata=body.get("metadata"),
        on_ambiguous=body.get("on_ambiguous") or "hold",
        idempotency_key=request.headers.get("idempotency-key") or body.get("idempotency_key"),
    )
    message.status = Status.QUEUED
    message.queued_at = message.created_at
    answer = {
        "id": message.id,
        "status": str(Status.ACCEPTED),
        "created_at": message.created_at.isoformat().replace("+00:00", "Z"),
    }

    key = redis_key(KEY_PREFIX + tenant, message.idempotency_key or "")
    if message.idempotency_key:
        try:
            taken = await clients.redis.set(key, json.dumps(answer), nx=True, ex=IDEMPOTENCY_TTL_S)
            if not taken:
                original = await clients.redis.get(key)
                headers = {"idempotent-replayed": "true"}
                return JSONResponse(json.loads(original or "{}"), 202, headers=headers)
        except RedisError as exc:
            return problem(503, "Service Unavailable", f"redis: {type(exc).__name__}")

    try:
        await clients.mongo[tenant_db(tenant)][MESSAGES].insert_one(to_document(message))
    except PyMongoError as exc:
        if message.idempotency_key:
            await clients.redis.delete(key)
        return problem(503, "Service Unavailable", f"mongodb: {type(exc).__name__}")

    try:
        await clients.exchange.publish(
            amqp_message([Dispatch(message.id, tenant, message.priority)]),
            tier_routing_key(tenant, message.priority),
            mandatory=True,
        )
    except Exception as exc:  # the message is stored; a team would alert on this
        return problem(503, "Service Unavailable", f"rabbitmq: {type(exc).__name__}")

    return JSONResponse(answer, 202, headers={"location": f"/v1/messages/{message.id}"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ccx.bench.reference_app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)

    import uvicorn

    uvicorn.run(
        "ccx.bench.reference_app:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        log_level=os.environ.get("CCX_BENCH_REFERENCE_LOG", "warning"),
        access_log=False,
        backlog=2048,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
