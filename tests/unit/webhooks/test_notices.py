"""The notice group commit: callers within one window share one publish per tenant."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from ccx.queue.hooks import HookNotifier, NoticeBatcher
from ccx.queue.names import HOOKS_ROUTING_KEY


class FakePublisher:
    def __init__(self, fail: bool = False) -> None:
        self.published: list[tuple[dict[str, Any], str]] = []
        self.fail = fail

    async def publish_body(self, body: bytes, routing_key: str, **_: Any) -> None:
        await asyncio.sleep(0.001)
        if self.fail:
            raise ConnectionError("broker gone")
        self.published.append((orjson.loads(body), routing_key))


async def test_concurrent_notices_share_one_publish_per_tenant() -> None:
    publisher = FakePublisher()
    batcher = NoticeBatcher(HookNotifier(publisher), window_s=0.01)  # type: ignore[arg-type]
    results = await asyncio.gather(
        batcher.changed("a", ["m1", "m2"]),
        batcher.changed("a", ["m2", "m3"]),
        batcher.changed("b", ["m9"]),
    )
    assert results == [True, True, True]
    bodies = {body["tenant"]: body["messages"] for body, _ in publisher.published}
    assert bodies == {"a": ["m1", "m2", "m3"], "b": ["m9"]}
    assert {key for _, key in publisher.published} == {HOOKS_ROUTING_KEY}

    later = await batcher.changed("a", ["m4"])  # a new window, a new publish
    assert later
    assert len(publisher.published) == 3


async def test_a_lost_publish_is_reported_not_raised() -> None:
    batcher = NoticeBatcher(HookNotifier(FakePublisher(fail=True)), window_s=0.001)  # type: ignore[arg-type]
    assert await batcher.changed("a", ["m1"]) is False
    assert await NoticeBatcher(HookNotifier(None)).changed("a", ["m1"]) is False
