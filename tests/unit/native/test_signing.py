"""ccx._native signing: known vectors, tampering, rotation, agreement with the reference and
with the `standardwebhooks` library."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook, WebhookVerificationError

from ccx import _native
from ccx.native_ref import signing as ref

SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TS = 1614265330
SW_BODY = b'{"test": 2432232314}'
SW_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


# ------------------------------------------------------------------ Meta X-Hub-Signature-256


def test_rfc4231_case_2() -> None:
    tag = _native.hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert tag.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_hub_signature_matches_stdlib() -> None:
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    expected = "sha256=" + hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    assert _native.hub_signature(b"app-secret", body) == expected
    assert _native.verify_hub_signature(b"app-secret", body, expected)
    assert _native.verify_hub_signature(b"app-secret", body, expected.upper().replace("SHA", "sha"))


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha1=0bf7374433906636bed1653bc7c64affb42fa5da9a39e251ab95c2e3a9c06923",
        "SHA256=0bf7374433906636bed1653bc7c64affb42fa5da9a39e251ab95c2e3a9c06923",
        "0bf7374433906636bed1653bc7c64affb42fa5da9a39e251ab95c2e3a9c06923",
        "sha256=0bf7374433906636bed1653bc7c64affb42fa5da9a39e251ab95c2e3a9c0692",
        "sha256=0bf7374433906636bed1653bc7c64affb42fa5da9a39e251ab95c2e3a9c069233",
        "sha256=0bf7374433906636bed1653bc7c64affb42fa5da9a39e251ab95c2e3a9c0692g",
        "sha256=0bf7374433906636bed1653bc7c64affb42fa5da9a39e251ab95c2e3a9c06924",
        " sha256=0bf7374433906636bed1653bc7c64affb42fa5da9a39e251ab95c2e3a9c06923",
        "sha256=0bf7374433906636bed1653bc7c64affb42fa5da9a39e251ab95c2e3a9c069é",
    ],
)
def test_hub_verify_rejects_bad_headers(header: str | None) -> None:
    body = b'{"object":"whatsapp_business_account"}'
    good = _native.hub_signature(b"app-secret", body)
    assert good == "sha256=0bf7374433906636bed1653bc7c64affb42fa5da9a39e251ab95c2e3a9c06923"
    assert not _native.verify_hub_signature(b"app-secret", body, header)
    assert not ref.verify_hub_signature(b"app-secret", body, header)


def test_hub_verify_rejects_tampered_body_and_wrong_secret() -> None:
    sig = _native.hub_signature(b"s", b"body")
    assert not _native.verify_hub_signature(b"s", b"body ", sig)
    assert not _native.verify_hub_signature(b"t", b"body", sig)


def test_hub_batch() -> None:
    items: list[tuple[bytes, str | None]] = [
        (b"a", _native.hub_signature(b"k", b"a")),
        (b"b", _native.hub_signature(b"k", b"a")),
        (b"c", None),
        (b"", _native.hub_signature(b"k", b"")),
    ]
    assert _native.verify_hub_signature_batch(b"k", items) == [True, False, False, True]
    assert _native.verify_hub_signature_batch(b"k", ()) == []
    with pytest.raises(TypeError):
        _native.verify_hub_signature_batch(b"k", [(b"a", 1)])  # type: ignore[list-item]


# ------------------------------------------------------------------ Standard Webhooks


def test_standard_webhooks_vector() -> None:
    signer = _native.WebhookSigner([SW_SECRET])
    assert signer.sign(SW_ID, SW_TS, SW_BODY) == SW_SIG
    assert signer.verify(SW_ID, SW_TS, SW_BODY, SW_SIG, now=SW_TS + 299)
    assert not signer.verify(SW_ID, SW_TS, SW_BODY, SW_SIG, now=SW_TS + 301)
    assert not signer.verify(SW_ID, SW_TS, SW_BODY, SW_SIG)  # 2021 is long past
    assert signer.verify(SW_ID, SW_TS, SW_BODY, SW_SIG, now=SW_TS + 10**9, tolerance_s=10**9)


def test_secret_forms() -> None:
    raw = base64.b64decode(SW_SECRET.removeprefix("whsec_"))
    forms: list[str | bytes] = [SW_SECRET, SW_SECRET.removeprefix("whsec_"), SW_SECRET + "==", raw]
    for secret in forms:
        assert _native.WebhookSigner([secret]).sign(SW_ID, SW_TS, SW_BODY) == SW_SIG


@pytest.mark.parametrize(
    "secrets", [[], [""], [b""], ["whsec_"], ["whsec_not base64!"], ["whsec_QQ=QQ"], [b"k", "é"]]
)
def test_bad_secrets_raise_native_error(secrets: list[str | bytes]) -> None:
    with pytest.raises(_native.NativeError):
        _native.WebhookSigner(secrets)
    with pytest.raises(ValueError, match="secret"):
        ref.WebhookSigner(secrets)


def test_single_secret_is_not_a_sequence_of_secrets() -> None:
    with pytest.raises(TypeError):
        _native.WebhookSigner(SW_SECRET)
    with pytest.raises(TypeError):
        _native.WebhookSigner([SW_SECRET, 3])  # type: ignore[list-item]


def test_repr_hides_secrets() -> None:
    assert repr(_native.WebhookSigner([SW_SECRET, b"x"])) == "WebhookSigner(<2 secret(s)>)"


def test_rotation() -> None:
    old, new = _native.generate_webhook_secret(), _native.generate_webhook_secret()
    both = _native.WebhookSigner([old, new])
    header = both.sign("msg_1", 1000, b"{}")
    first, second = header.split(" ")
    assert first == _native.WebhookSigner([old]).sign("msg_1", 1000, b"{}")
    assert second == _native.WebhookSigner([new]).sign("msg_1", 1000, b"{}")
    assert _native.WebhookSigner([new]).verify("msg_1", 1000, b"{}", header, now=1000)
    assert both.verify("msg_1", 1000, b"{}", second, now=1000)
    assert not _native.WebhookSigner([b"other"]).verify("msg_1", 1000, b"{}", header, now=1000)


@pytest.mark.parametrize(
    "header",
    [
        "",
        SW_SIG.replace("v1,", "v2,"),
        SW_SIG.replace("v1,", "v1a,"),
        SW_SIG[3:],
        SW_SIG + ",",
        SW_SIG.replace("g0h", "g0H"),
        SW_SIG[:-8] + "=",
        "v1,!!!",
    ],
)
def test_verify_rejects_bad_headers(header: str) -> None:
    signer = _native.WebhookSigner([SW_SECRET])
    assert not signer.verify(SW_ID, SW_TS, SW_BODY, header, now=SW_TS)
    assert signer.verify(SW_ID, SW_TS, SW_BODY, f"{header} {SW_SIG}", now=SW_TS)


def test_verify_rejects_tampering() -> None:
    signer = _native.WebhookSigner([SW_SECRET])
    assert not signer.verify(SW_ID, SW_TS, SW_BODY + b" ", SW_SIG, now=SW_TS)
    assert not signer.verify(SW_ID + "x", SW_TS, SW_BODY, SW_SIG, now=SW_TS)
    assert not signer.verify(SW_ID, SW_TS + 1, SW_BODY, SW_SIG, now=SW_TS)
    with pytest.raises(ValueError, match="tolerance_s"):
        signer.verify(SW_ID, SW_TS, SW_BODY, SW_SIG, now=SW_TS, tolerance_s=-1)


def test_verify_defaults_now_to_the_clock() -> None:
    signer = _native.WebhookSigner([SW_SECRET])
    now = int(time.time())
    assert signer.verify("m", now - 5, b"x", signer.sign("m", now - 5, b"x"))


def test_sign_batch() -> None:
    signer = _native.WebhookSigner([SW_SECRET, b"second"])
    items = [(SW_ID, SW_TS, SW_BODY), ("msg_2", 0, b""), ("msg_3", -5, b"\xff")]
    assert signer.sign_batch(items) == [signer.sign(*item) for item in items]
    assert signer.sign_batch([]) == []


def test_generate_webhook_secret() -> None:
    secret = _native.generate_webhook_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert secret != _native.generate_webhook_secret()


@pytest.mark.parametrize("rotation", [False, True])
def test_standardwebhooks_library_accepts_our_signatures(rotation: bool) -> None:
    secret = _native.generate_webhook_secret()
    secrets = [_native.generate_webhook_secret(), secret] if rotation else [secret]
    now = int(time.time())
    body = b'{"type": "message.status", "data": {"id": "wamid.X", "status": "read"}}'
    headers = {
        "webhook-id": "msg_2b7Zyq",
        "webhook-timestamp": str(now),
        "webhook-signature": _native.WebhookSigner(secrets).sign("msg_2b7Zyq", now, body),
    }
    assert Webhook(secret).verify(body, headers) == {
        "type": "message.status",
        "data": {"id": "wamid.X", "status": "read"},
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(_native.generate_webhook_secret()).verify(body, headers)


def test_standardwebhooks_library_signatures_verify_natively() -> None:
    when = datetime.fromtimestamp(SW_TS, tz=UTC)
    header = Webhook(SW_SECRET).sign(SW_ID, when, SW_BODY.decode())
    assert _native.WebhookSigner([SW_SECRET]).verify(SW_ID, SW_TS, SW_BODY, header, now=SW_TS)


# ------------------------------------------------------------------ agreement with the reference

KEY = st.binary(max_size=100)
BODY = st.binary(max_size=2000)
MSG_ID = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
TIMESTAMP = st.integers(-(2**62), 2**62)
B64_TEXT = st.text(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= -_é", max_size=48
)
SECRET = st.one_of(
    st.binary(max_size=40),
    st.binary(min_size=1, max_size=40).map(lambda b: "whsec_" + base64.b64encode(b).decode()),
    st.builds(lambda p, t: p + t, st.sampled_from(["", "whsec_"]), B64_TEXT),
)
AGREE = settings(max_examples=300, deadline=None)


def mutate(text: str, data: st.DataObject) -> str:
    """A header variant: unchanged, one character replaced, cut, or extended."""
    action = data.draw(st.sampled_from(["same", "replace", "cut", "extend", "upper"]))
    if action == "replace" and text:
        at = data.draw(st.integers(0, len(text) - 1))
        return text[:at] + data.draw(st.characters(codec="ascii")) + text[at + 1 :]
    if action == "cut":
        return text[: data.draw(st.integers(0, len(text)))]
    if action == "extend":
        return text + data.draw(st.text(max_size=3))
    if action == "upper":
        return text.upper()
    return text


@AGREE
@given(KEY, BODY, st.data())
def test_hub_agrees_with_reference(key: bytes, body: bytes, data: st.DataObject) -> None:
    assert _native.hmac_sha256(key, body) == ref.hmac_sha256(key, body)
    sig = _native.hub_signature(key, body)
    assert sig == ref.hub_signature(key, body)
    assert _native.verify_hub_signature(key, body, sig)
    header = data.draw(st.one_of(st.none(), st.just(sig).map(lambda s: mutate(s, data))))
    tampered = data.draw(st.one_of(st.just(body), BODY))
    expected = ref.verify_hub_signature(key, tampered, header)
    assert _native.verify_hub_signature(key, tampered, header) == expected
    assert _native.verify_hub_signature_batch(key, [(tampered, header)]) == [expected]


@AGREE
@given(st.lists(SECRET, max_size=3))
def test_secret_parsing_agrees_with_reference(secrets: list[str | bytes]) -> None:
    try:
        reference = ref.WebhookSigner(secrets)
    except ValueError:
        with pytest.raises(_native.NativeError):
            _native.WebhookSigner(secrets)
        return
    assert _native.WebhookSigner(secrets).sign("m", 1, b"b") == reference.sign("m", 1, b"b")


@AGREE
@given(
    st.lists(SECRET, min_size=1, max_size=3),
    MSG_ID,
    TIMESTAMP,
    BODY,
    st.integers(-400, 400),
    st.integers(0, 400),
    st.data(),
)
def test_standard_agrees_with_reference(
    secrets: list[str | bytes],
    msg_id: str,
    ts: int,
    body: bytes,
    skew: int,
    tolerance: int,
    data: st.DataObject,
) -> None:
    try:
        reference = ref.WebhookSigner(secrets)
    except ValueError:
        return
    native = _native.WebhookSigner(secrets)
    header = native.sign(msg_id, ts, body)
    assert header == reference.sign(msg_id, ts, body)
    assert native.sign_batch([(msg_id, ts, body)]) == [header]
    assert native.verify(msg_id, ts, body, header, now=ts)
    # the verifier may hold only some of the secrets (rotation), and the message may be tampered
    verifier_secrets = data.draw(st.lists(st.sampled_from(secrets), min_size=1, max_size=2))
    verifier, ref_verifier = (
        _native.WebhookSigner(verifier_secrets),
        ref.WebhookSigner(verifier_secrets),
    )
    got = mutate(header, data)
    v_id = data.draw(st.one_of(st.just(msg_id), MSG_ID))
    v_ts = data.draw(st.one_of(st.just(ts), TIMESTAMP))
    v_body = data.draw(st.one_of(st.just(body), BODY))
    args = (v_id, v_ts, v_body, got)
    expected = ref_verifier.verify(*args, now=ts + skew, tolerance_s=tolerance)
    assert verifier.verify(*args, now=ts + skew, tolerance_s=tolerance) == expected
