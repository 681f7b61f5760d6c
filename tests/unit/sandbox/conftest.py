"""Example payloads from the Meta reference (§1.2, §1.3), shared by the sandbox unit tests."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from tests.meta_examples import TEMPLATE_EXAMPLE, TEXT_EXAMPLE


@pytest.fixture
def text_payload() -> dict[str, Any]:
    return copy.deepcopy(TEXT_EXAMPLE)


@pytest.fixture
def template_payload() -> dict[str, Any]:
    return copy.deepcopy(TEMPLATE_EXAMPLE)
