from __future__ import annotations

import pytest

from ccx.sandbox.errors import CATALOG, ERROR_HREF, MetaError, async_error

# Reference §2.3: HTTP status per code.
HTTP_STATUS = {
    400: [
        *(1, 4, 33, 100, 80007, 130429, 130472, 131008, 131009, 131021, 131026, 131042),
        *(131047, 131048, 131051, 131052, 131053, 131056, 132000, 132005, 132007, 132012),
        *(132015, 132016, 132068, 132069, 133010, 135000),
    ],
    401: [0, 190],
    403: [10, 200, 131005, 368, 131031],
    404: [132001],
    500: [3, 131000, 131016, 131045, 131057, 133000],
    503: [2, 133004],
}


@pytest.mark.parametrize(
    ("code", "status"), [(c, s) for s, codes in HTTP_STATUS.items() for c in codes]
)
def test_http_status_follows_the_reference_table(code: int, status: int) -> None:
    assert CATALOG[code].http_status == status
    assert MetaError(code).http_status == status


def test_whatsapp_error_body_has_error_data() -> None:
    body = MetaError(131056).body("AbC123")
    err = body["error"]
    assert err["message"] == "(#131056) (Business Account, Consumer Account) pair rate limit hit"
    assert err["type"] == "OAuthException"
    assert err["code"] == 131056
    assert err["error_data"]["messaging_product"] == "whatsapp"
    assert "same phone number" in err["error_data"]["details"]
    assert err["fbtrace_id"] == "AbC123"
    assert list(body) == ["error"]


def test_graph_layer_errors_have_no_error_data() -> None:
    err = MetaError(190, message="Invalid OAuth access token").body("x")["error"]
    assert "error_data" not in err
    assert err["code"] == 190
    assert err["message"] == "Invalid OAuth access token"


def test_subcode_and_type_override() -> None:
    err = MetaError(100, error_type="GraphMethodException", subcode=33).body("t")["error"]
    assert err["type"] == "GraphMethodException"
    assert err["error_subcode"] == 33


def test_details_override() -> None:
    exc = MetaError(132000, "body: mismatch")
    assert exc.body("t")["error"]["error_data"]["details"] == "body: mismatch"


def test_async_error_object() -> None:
    obj = async_error(131047)
    assert obj["code"] == 131047
    assert obj["title"] == obj["message"] == "Re-engagement message"
    assert "24 hours" in obj["error_data"]["details"]
    assert obj["href"] == ERROR_HREF
