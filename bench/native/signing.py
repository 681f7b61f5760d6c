"""Signing path: Meta's X-Hub-Signature-256 and Standard Webhooks signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from bench.harness import Case
from ccx import _native
from ccx.native_ref import signing as ref

BATCH = 256
BODY_BYTES = 1024


def cases() -> list[Case]:
    rng = os.urandom
    app_secret = rng(32)
    bodies = [rng(BODY_BYTES) for _ in range(BATCH)]
    body = bodies[0]
    headers: list[str | None] = [ref.hub_signature(app_secret, b) for b in bodies]
    headers[7] = headers[8]  # a few mismatches, so both outcomes are measured
    headers[9] = None
    items = list(zip(bodies, headers, strict=True))
    whsec = _native.generate_webhook_secret()
    key = base64.b64decode(whsec.removeprefix("whsec_"))
    signer = _native.WebhookSigner([whsec])
    ref_signer = ref.WebhookSigner([whsec])
    events = [(f"msg_{i:024d}", 1_718_000_000 + i, b) for i, b in enumerate(bodies)]

    def stdlib_hub() -> str:
        return "sha256=" + hmac.new(app_secret, body, hashlib.sha256).hexdigest()

    def stdlib_verify_loop() -> list[bool]:
        out = []
        for b, header in items:
            expected = "sha256=" + hmac.new(app_secret, b, hashlib.sha256).hexdigest()
            out.append(header is not None and hmac.compare_digest(expected, header))
        return out

    def stdlib_digest_verify_loop() -> list[bool]:
        out = []
        for b, header in items:
            if header is None or not header.startswith("sha256="):
                out.append(False)
                continue
            expected = hmac.digest(app_secret, b, "sha256").hex()
            out.append(hmac.compare_digest(expected, header[7:]))
        return out

    def stdlib_sign_loop() -> list[str]:
        out = []
        for msg_id, ts, b in events:
            tag = hmac.digest(key, f"{msg_id}.{ts}.".encode() + b, "sha256")
            out.append("v1," + base64.b64encode(tag).decode())
        return out

    return [
        Case(
            path="signing",
            name=f"hub_signature of one {BODY_BYTES} B body",
            native=lambda: _native.hub_signature(app_secret, body),
            rivals={"hmac.new().hexdigest()": stdlib_hub},
            check=lambda: _native.hub_signature(app_secret, body) == stdlib_hub(),
            headline=False,
        ),
        Case(
            path="signing",
            name=f"verify_hub_signature_batch {BATCH} x {BODY_BYTES} B (GIL released)",
            native=lambda: _native.verify_hub_signature_batch(app_secret, items),
            rivals={
                "hmac.new+compare_digest loop": stdlib_verify_loop,
                "hmac.digest+compare_digest loop": stdlib_digest_verify_loop,
            },
            check=lambda: (
                _native.verify_hub_signature_batch(app_secret, items)
                == ref.verify_hub_signature_batch(app_secret, items)
                == stdlib_verify_loop()
                == stdlib_digest_verify_loop()
            ),
            ops=BATCH,
        ),
        Case(
            path="signing",
            name=f"WebhookSigner.sign_batch {BATCH} x {BODY_BYTES} B (GIL released)",
            native=lambda: signer.sign_batch(events),
            rivals={"hmac.digest+b64encode loop": stdlib_sign_loop},
            check=lambda: (
                signer.sign_batch(events) == ref_signer.sign_batch(events) == stdlib_sign_loop()
            ),
            ops=BATCH,
        ),
    ]
