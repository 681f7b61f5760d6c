"""`ccx serve` as a real granian process."""

from collections.abc import Iterator

import httpx
import pytest
from tests.e2e.serving import serve

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"CCX_API_MAX_BODY_BYTES": "1024"}
    with serve(tmp_path_factory.mktemp("serve"), env, ready_path="/healthz") as base:
        yield base


def test_health_metrics_docs(server: str) -> None:
    r = httpx.get(server + "/healthz")
    assert r.status_code == 200
    assert r.headers["x-request-id"]
    assert r.headers["traceparent"].startswith("00-")
    assert "ccx_http_request_seconds" in httpx.get(server + "/metrics").text
    assert httpx.get(server + "/openapi.json").json()["openapi"] == "3.1.0"
    assert "text/html" in httpx.get(server + "/docs").headers["content-type"]


def test_problem_json_over_the_wire(server: str) -> None:
    r = httpx.get(server + "/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 404
