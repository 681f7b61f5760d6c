"""AES-256-GCM data-key envelopes: round trips, tampering, rotation, settings and key file."""

import base64
import logging
import os
import stat
from pathlib import Path

import orjson
import pytest

from ccx.config import SecuritySettings, load_settings
from ccx.security import DataKeyError, DataKeys, DecryptError
from ccx.security.datakeys import parse_data_keys

AAD = b"acme:123456"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_round_trip_and_token_shape() -> None:
    keys = DataKeys.generate("k1")
    token = keys.encrypt(b"secret token", AAD)
    version, kid, nonce, sealed = token.split(".")
    assert (version, kid) == ("v1", "k1")
    assert "=" not in nonce + sealed
    assert b"secret" not in token.encode()
    assert keys.decrypt(token, AAD) == b"secret token"


def test_each_encryption_uses_a_fresh_nonce() -> None:
    keys = DataKeys.generate()
    assert keys.encrypt(b"x", AAD) != keys.encrypt(b"x", AAD)


def test_empty_plaintext_round_trips() -> None:
    keys = DataKeys.generate()
    assert keys.decrypt(keys.encrypt(b"", AAD), AAD) == b""


@pytest.mark.parametrize("part", [2, 3])
def test_tampering_is_detected(part: int) -> None:
    keys = DataKeys.generate()
    parts = keys.encrypt(b"secret token", AAD).split(".")
    raw = bytearray(base64.urlsafe_b64decode(parts[part] + "=" * (-len(parts[part]) % 4)))
    raw[0] ^= 1
    parts[part] = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(DecryptError, match="authentication failed"):
        keys.decrypt(".".join(parts), AAD)


def test_wrong_aad_fails() -> None:
    keys = DataKeys.generate()
    token = keys.encrypt(b"secret token", AAD)
    with pytest.raises(DecryptError, match="authentication failed"):
        keys.decrypt(token, b"other:123456")


def test_kid_is_bound_to_the_ciphertext() -> None:
    key = os.urandom(32)
    keys = DataKeys({"a": key, "b": key}, "a")
    token = keys.encrypt(b"secret", AAD)
    with pytest.raises(DecryptError, match="authentication failed"):
        keys.decrypt(token.replace("v1.a.", "v1.b."), AAD)


def test_unknown_kid_is_named() -> None:
    token = DataKeys.generate("old").encrypt(b"secret", AAD)
    with pytest.raises(DecryptError, match="unknown data key id 'old'"):
        DataKeys.generate("new").decrypt(token, AAD)


@pytest.mark.parametrize(
    "token", ["", "v1.k1.abc", "v2.k1.AAAA.AAAA", "v1.k!.AAAA.AAAA", "v1.k1.A.AAAA", "v1.k1.@@.AA"]
)
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(DecryptError):
        DataKeys.generate("k1").decrypt(token, AAD)


def test_rotation_old_kid_decrypts_active_encrypts() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    before = DataKeys({"k1": old_key})
    old_token = before.encrypt(b"secret", AAD)
    after = DataKeys({"k1": old_key, "k2": new_key})
    assert after.active_kid == "k2"
    assert after.decrypt(old_token, AAD) == b"secret"
    assert after.encrypt(b"secret", AAD).startswith("v1.k2.")
    pinned = DataKeys({"k1": old_key, "k2": new_key}, "k1")
    assert pinned.encrypt(b"secret", AAD).startswith("v1.k1.")


def test_repr_shows_no_key_material() -> None:
    key = os.urandom(32)
    text = repr(DataKeys({"k1": key}))
    assert text == "DataKeys(kids=['k1'], active='k1')"


def test_settings_keys_parse_with_active_default_last() -> None:
    k1, k2 = os.urandom(32), os.urandom(32)
    urlsafe = base64.urlsafe_b64encode(k2).rstrip(b"=").decode()
    settings = SecuritySettings(data_keys=f"k1:{b64(k1)}, k2:{urlsafe}")
    keys = DataKeys.from_settings(settings)
    assert (keys.kids, keys.active_kid) == (("k1", "k2"), "k2")
    pinned = DataKeys.from_settings(
        SecuritySettings(data_keys=settings.data_keys, active_data_key="k1")
    )
    assert pinned.active_kid == "k1"


def test_settings_come_from_the_environment() -> None:
    value = f"prod1:{b64(os.urandom(32))}"
    settings = load_settings(env={"CCX_SECURITY_DATA_KEYS": value})
    assert DataKeys.from_settings(settings.security).kids == ("prod1",)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("nokey", "expected `kid:base64key`"),
        (":abc", "expected `kid:base64key`"),
        ("bad.kid:" + b64(bytes(32)), "must match"),
        ("k1:not base64!", "not valid base64"),
        ("k1:" + b64(bytes(16)), "needs 32 bytes, got 16"),
        (f"k1:{b64(bytes(32))},k1:{b64(bytes(32))}", "duplicate data key id"),
        (" , ", "no data keys"),
    ],
)
def test_malformed_settings(text: str, fragment: str) -> None:
    with pytest.raises(DataKeyError, match=fragment):
        parse_data_keys(text)


def test_errors_never_quote_key_material() -> None:
    secret = b64(os.urandom(20))
    with pytest.raises(DataKeyError) as caught:
        parse_data_keys(f"k1:{secret}")
    assert secret not in str(caught.value)


def test_unknown_active_kid_is_refused() -> None:
    settings = SecuritySettings(data_keys=f"k1:{b64(os.urandom(32))}", active_data_key="k9")
    with pytest.raises(DataKeyError, match="active data key 'k9'"):
        DataKeys.from_settings(settings)


def test_missing_key_file_is_created_0600_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "nested" / "dir" / "keys.json"
    settings = SecuritySettings(data_key_file=str(path))
    with caplog.at_level(logging.WARNING, logger="ccx.security.datakeys"):
        keys = DataKeys.from_settings(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "CCX_SECURITY_DATA_KEYS" in caplog.text
    assert "local development" in caplog.text
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    doc = orjson.loads(path.read_bytes())
    assert doc["active"] == keys.active_kid
    again = DataKeys.from_settings(settings)  # the second start reads the same key
    assert again.decrypt(keys.encrypt(b"secret", AAD), AAD) == b"secret"


def test_key_file_is_only_created_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = SecuritySettings(data_key_file=str(tmp_path / "keys.json"))
    DataKeys.from_settings(settings)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ccx.security.datakeys"):
        DataKeys.from_settings(settings)
    assert caplog.text == ""


def test_configured_keys_ignore_the_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    DataKeys.from_settings(
        SecuritySettings(data_keys=f"k1:{b64(os.urandom(32))}", data_key_file=str(path))
    )
    assert not path.exists()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"not json", "cannot read data key file"),
        (b"[]", "expected"),
        (b'{"keys": {"k1": 5}}', "must be a base64 string"),
        (b'{"keys": {}}', "no data keys"),
        (b'{"keys": {"k1": "AAAA"}}', "needs 32 bytes"),
        (b'{"keys": {"k1": "' + b64(bytes(32)).encode() + b'"}, "active": 3}', "must be a string"),
    ],
)
def test_malformed_key_file(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "keys.json"
    path.write_bytes(content)
    with pytest.raises(DataKeyError, match=fragment):
        DataKeys.from_settings(SecuritySettings(data_key_file=str(path)))
