"""Template hydration: native render_json against pure-Python string-based hydration."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from bench.harness import Case
from ccx import _native
from ccx.native_ref import template as ref

DEFINITION = orjson.dumps(
    {
        "name": "order_shipped",
        "language": "en_US",
        "category": "UTILITY",
        "status": "APPROVED",
        "components": [
            {"type": "BODY", "text": "Hi {{1}}, your order {{2}} has shipped and arrives {{3}}."},
            {"type": "FOOTER", "text": "Reply STOP to unsubscribe"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "URL", "text": "Track", "url": "https://shop.example/t/{{1}}"},
                    {"type": "QUICK_REPLY", "text": "Stop updates"},
                ],
            },
        ],
    }
)


def variables(i: int) -> bytes:
    order = f"A-{10400 + i}"
    return orjson.dumps(
        {
            "body": [f"Customer {i}", f"#{order}", "tomorrow, Feb 3"],
            "buttons": [f"{order}?src=wa", None],
        }
    )


class FastPython:
    """The quickest pure-Python hydration we could write for positional text templates:
    `str.format` for the preview, one precompiled regex for Meta's text rule, orjson both
    ways, and the same checks and errors as the native module (minus typed/media params,
    which this template does not use)."""

    _bad_text = re.compile(r"[\n\r\t]|     ")

    def __init__(self, definition: bytes) -> None:
        d = orjson.loads(definition)
        comps = {c["type"].upper(): c for c in d["components"]}
        body = comps["BODY"]["text"]
        self.n = len(set(re.findall(r"\{\{(\d+)\}\}", body)))
        self.body_fmt = re.sub(r"\{\{(\d+)\}\}", lambda m: f"{{{int(m[1]) - 1}}}", body)
        self.footer = comps.get("FOOTER", {}).get("text", "")
        self.buttons = [
            ("url", 2000) if b["type"] == "URL" and "{{" in b.get("url", "") else ("qr", 128)
            for b in comps.get("BUTTONS", {}).get("buttons", [])
        ]

    def text(
        self, errors: list[tuple[str, str]], path: str, v: Any, rule: bool, limit: int
    ) -> bool:
        if not isinstance(v, str):
            errors.append((path, ref.EXPECTED_STRING if limit else ref.EXPECTED_BODY_VALUE))
            return False
        if not v.strip() and all(c in ref.WHITESPACE for c in v):
            errors.append((path, ref.EMPTY))
            return False
        if rule and self._bad_text.search(v):
            errors.append((path, "text rule"))
            return False
        if limit and len(v) > limit:
            errors.append((path, f"must be at most {limit} characters"))
            return False
        return True

    def render_json(self, data: bytes) -> tuple[bytes, str]:
        v = orjson.loads(data)
        errors: list[tuple[str, str]] = []
        if not isinstance(v, dict):
            raise ref.RefHydrationError([("", ref.EXPECTED_OBJECT)])
        errors.extend((f"/{k}", ref.EXTRA) for k in v if k not in ("header", "body", "buttons"))
        body = v.get("body") or []
        if not isinstance(body, list) or len(body) != self.n:
            errors.append(("/body", "wrong number of values"))
            body = []
        params = []
        for i, value in enumerate(body):
            if self.text(errors, f"/body/{i}", value, True, 0):
                params.append({"type": "text", "text": value})
        components: list[dict[str, Any]] = [{"type": "body", "parameters": params}]
        buttons = v.get("buttons") or []
        for i, (kind, limit) in enumerate(self.buttons):
            value = buttons[i] if i < len(buttons) else None
            if value is None:
                if kind == "url":
                    errors.append((f"/buttons/{i}", ref.MISSING))
                continue
            if self.text(errors, f"/buttons/{i}", value, False, limit):
                sub, ptype = ("url", "text") if kind == "url" else ("quick_reply", "payload")
                components.append(
                    {
                        "type": "button",
                        "sub_type": sub,
                        "index": str(i),
                        "parameters": [{"type": ptype, ptype: value}],
                    }
                )
        text = self.body_fmt.format(*body) if not errors else ""
        if len(text) > ref.BODY_RENDERED_MAX:
            errors.append(("/body", "too long"))
        if errors:
            raise ref.RefHydrationError(errors)
        preview = "\n\n".join(p for p in (text, self.footer) if p)
        return orjson.dumps(components), preview


def _batch(render: Callable[[bytes], tuple[bytes, str]], items: Sequence[bytes]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        try:
            out.append((*render(item), []))
        except ref.RefHydrationError as e:
            out.append((None, None, e.errors))
    return out


def cases() -> list[Case]:
    native = _native.CompiledTemplate(DEFINITION)
    reference = ref.CompiledTemplate(DEFINITION)
    fast = FastPython(DEFINITION)
    one = variables(7)
    batch = [variables(i) for i in range(256)]

    def check() -> bool:
        for item in [one, *batch[:32]]:
            n_json, n_preview = native.render_json(item)
            for rival in (reference.render_json, fast.render_json):
                r_json, r_preview = rival(item)
                if orjson.loads(n_json) != orjson.loads(r_json) or n_preview != r_preview:
                    return False
        results = native.render_batch(batch)
        return [(j, p) for j, p, _ in results] == [reference.render_json(b) for b in batch]

    return [
        Case(
            path="template",
            name="render_json: 3-variable utility template + URL button",
            native=lambda: native.render_json(one),
            rivals={
                "python str.format + regex + orjson": lambda: fast.render_json(one),
                "python reference (regex segments)": lambda: reference.render_json(one),
            },
            check=check,
        ),
        Case(
            path="template",
            name="render_batch(256), GIL released",
            native=lambda: native.render_batch(batch),
            rivals={
                "python str.format loop": lambda: _batch(fast.render_json, batch),
                "python reference render_batch": lambda: reference.render_batch(batch),
            },
            check=check,
            ops=256,
        ),
    ]
