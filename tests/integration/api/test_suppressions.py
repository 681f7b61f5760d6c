"""/v1/suppressions on the real services: opt-outs added, read, listed in pages, lifted."""

from __future__ import annotations

from tests.integration.api.conftest import Client


async def test_suppress_read_list_and_lift(client: Client) -> None:
    created = await client.request("PUT", "/v1/suppressions/5511999990001", {"reason": "STOP"})
    assert created.status == 201
    assert created.json()["recipient"] == "5511999990001"
    assert created.json()["reason"] == "STOP"
    again = await client.request("PUT", "/v1/suppressions/5511999990001", {"reason": "asked twice"})
    assert again.status == 200
    assert again.json()["reason"] == "asked twice"
    assert again.json()["created_at"] == created.json()["created_at"]
    no_body = await client.request("PUT", "/v1/suppressions/5511999990002")
    assert no_body.status == 201

    one = await client.get("/v1/suppressions/5511999990001")
    assert (one.status, one.json()["reason"]) == (200, "asked twice")

    first = await client.get("/v1/suppressions", query={"limit": "1"})
    assert [s["recipient"] for s in first.json()["data"]] == ["5511999990001"]
    assert first.json()["next_after"] == "5511999990001"
    rest = await client.get("/v1/suppressions", query={"limit": "1", "after": "5511999990001"})
    assert [s["recipient"] for s in rest.json()["data"]] == ["5511999990002"]

    assert (await client.request("DELETE", "/v1/suppressions/5511999990001")).status == 204
    assert (await client.request("DELETE", "/v1/suppressions/5511999990001")).status == 404
    assert (await client.get("/v1/suppressions/5511999990001")).status == 404


async def test_bad_input_is_a_clear_client_error(client: Client) -> None:
    assert (await client.request("PUT", "/v1/suppressions/+5511999990001")).status == 404
    assert (await client.request("PUT", "/v1/suppressions/123")).status == 404
    long = await client.request("PUT", "/v1/suppressions/5511999990003", {"reason": "x" * 300})
    assert long.status == 422
    assert long.json()["errors"][0]["path"] == "/reason"
    extra = await client.request("PUT", "/v1/suppressions/5511999990003", {"why": "x"})
    assert extra.status == 422
    bad_after = await client.get("/v1/suppressions", query={"after": "abc"})
    assert bad_after.status == 422
    assert bad_after.json()["errors"][0]["path"] == "?after"


async def test_reading_needs_messages_read_and_writing_messages_write(client: Client) -> None:
    reader = client.token_for("messages:read")
    denied = await client.request("PUT", "/v1/suppressions/5511999990004", {}, token=reader)
    assert denied.status == 403
    assert (await client.get("/v1/suppressions", token=reader)).status == 200
