"""Country rules: which calling code a recipient falls under."""

from __future__ import annotations

import pytest

from ccx.store.tenants import CALLING_CODE, blocked


@pytest.mark.parametrize(
    ("recipient", "codes", "match"),
    [
        ("+989121234567", ["98"], "98"),
        ("989121234567", ["98"], "98"),  # wa_id form
        ("+18765551234", ["1876"], "1876"),  # Jamaica inside +1
        ("+16505551234", ["1876"], None),
        ("+447700900001", ["53", "98"], None),
        ("+447700900001", [], None),
    ],
)
def test_blocked(recipient: str, codes: list[str], match: str | None) -> None:
    assert blocked(recipient, codes) == match


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("1", True),
        ("98", True),
        ("1876", True),
        ("0", False),
        ("12345", False),
        ("+98", False),
        ("", False),
    ],
)
def test_calling_code_shape(code: str, ok: bool) -> None:
    assert bool(CALLING_CODE.match(code)) is ok
