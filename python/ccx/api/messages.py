"""/v1/messages routes (registered in the next step)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ccx.api.app import App


def register_message_routes(app: App) -> None:
    """Register the v1 message routes."""
