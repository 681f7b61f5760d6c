"""Request payloads from the Meta reference (§1.2 text, §1.3 template), shared by tests."""

from __future__ import annotations

from typing import Any

TEXT_EXAMPLE: dict[str, Any] = {
    "messaging_product": "whatsapp",
    "recipient_type": "individual",
    "to": "+16505555555",
    "type": "text",
    "text": {"preview_url": False, "body": "Hello"},
    "biz_opaque_callback_data": "gw-msg-01HZX",
}

TEMPLATE_EXAMPLE: dict[str, Any] = {
    "messaging_product": "whatsapp",
    "recipient_type": "individual",
    "to": "14085551234",
    "type": "template",
    "template": {
        "name": "order_update",
        "language": {"code": "en_US", "policy": "deterministic"},
        "components": [
            {
                "type": "header",
                "parameters": [{"type": "image", "image": {"link": "https://example.com/p.jpg"}}],
            },
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "#1234"}],
            },
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": "0",
                "parameters": [{"type": "payload", "payload": "TRACK_1234"}],
            },
            {
                "type": "button",
                "sub_type": "url",
                "index": "1",
                "parameters": [{"type": "text", "text": "1234"}],
            },
        ],
    },
    "biz_opaque_callback_data": "tenant42:msg:9f1c",
}
