"""`ccx token` / `ccx keys` with configured keys only (the key store is covered in integration)."""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from ccx.auth import Authenticator, KeyRing, Scope
from ccx.auth.cli import keys_main, main, token_main
from ccx.config import load_settings

SECRET = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def config_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    ed_pem = Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    keys = [
        {"kid": "cfg-hs", "alg": "HS256", "secret": SECRET},
        {"kid": "cfg-ed", "alg": "EdDSA", "pem": ed_pem.decode()},
    ]
    monkeypatch.delenv("CCX_CONFIG", raising=False)
    monkeypatch.setenv("CCX_AUTH_KEYS", json.dumps(keys))
    monkeypatch.setenv("CCX_AUTH_ACTIVE_KID", "cfg-hs")
    monkeypatch.setenv("CCX_AUTH_USE_KEY_STORE", "false")


def configured_ring() -> KeyRing:
    return KeyRing.from_settings(load_settings().auth)


def test_token_issue_prints_a_verifiable_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert token_main(["issue", "--tenant", "acme", "--scope", "messages:write messages:read"]) == 0
    token = capsys.readouterr().out.strip()
    principal = Authenticator(configured_ring()).verify(token)
    assert principal.tenant == "acme"
    assert principal.scopes == {Scope.MESSAGES_WRITE, Scope.MESSAGES_READ}
    assert principal.kid == "cfg-hs"


def test_token_issue_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["token", "issue", "--tenant", "t1", "--scope", "admin,exports:read", "--ttl", "60"]
    assert main([*argv, "--subject", "ops", "--json"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert (out["tenant"], out["scope"], out["subject"]) == ("t1", "admin exports:read", "ops")
    assert out["expires_at"].endswith("Z")
    assert Authenticator(configured_ring()).verify(out["token"]).token_id == out["token_id"]


def test_token_issue_with_an_eddsa_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CCX_AUTH_ACTIVE_KID", "cfg-ed")
    assert token_main(["issue", "--tenant", "acme", "--scope", "admin"]) == 0
    token = capsys.readouterr().out.strip()
    assert Authenticator(configured_ring()).verify(token).kid == "cfg-ed"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tenant", "acme", "--scope", "messages:wrte"], "unknown scope"),
        (["--tenant", "Acme", "--scope", "admin"], "tenant"),
        (["--tenant", "acme", "--scope", "admin", "--ttl", "0"], "--ttl"),
        (["--tenant", "acme", "--scope", "admin", "--ttl", "86401"], "max_token_ttl_s"),
    ],
)
def test_token_issue_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert token_main(["issue", *argv]) == 2
    assert message in capsys.readouterr().err


def test_token_issue_without_a_signing_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CCX_AUTH_ACTIVE_KID", "")
    monkeypatch.setenv("CCX_AUTH_USE_KEY_STORE", "false")  # a local store may hold a key
    assert token_main(["issue", "--tenant", "acme", "--scope", "admin"]) == 1
    gc.collect()
    assert "no active signing key" in capsys.readouterr().err


def test_bad_auth_settings_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CCX_AUTH_ALGORITHMS", "HS256,none")
    assert token_main(["issue", "--tenant", "acme", "--scope", "admin"]) == 2
    assert "none" in capsys.readouterr().err


def test_keys_list_without_the_store(capsys: pytest.CaptureFixture[str]) -> None:
    assert keys_main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["kid"], r["source"], r["active"]) for r in rows] == [
        ("cfg-hs", "config", True),
        ("cfg-ed", "config", False),
    ]
    assert SECRET not in json.dumps(rows)
    assert keys_main(["list"]) == 0
    table = capsys.readouterr().out
    assert "cfg-ed" in table
    assert SECRET not in table


def test_keys_jwks_publishes_only_public_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert keys_main(["jwks"]) == 0
    jwks = json.loads(capsys.readouterr().out)
    assert [k["kid"] for k in jwks["keys"]] == ["cfg-ed"]
    assert "d" not in jwks["keys"][0]


# pymongo 4.20's monitor leaks its socket when the client closes during a refused connect
# (CancelledError skips the `except OSError: sock.close()` in pool_shared.py); collect it
# here so the ResourceWarning is attributed to, and ignored in, this test only.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_store_commands_report_an_unreachable_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CCX_MONGO_URI", "mongodb://127.0.0.1:9/")
    monkeypatch.setenv("CCX_MONGO_TIMEOUT_MS", "200")
    monkeypatch.setenv("CCX_AUTH_USE_KEY_STORE", "true")
    assert keys_main(["rotate"]) == 1
    assert "MongoDB" in capsys.readouterr().err
    assert token_main(["issue", "--tenant", "acme", "--scope", "admin"]) == 1
    gc.collect()


def test_main_dispatch_and_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nope"]) == 2
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        keys_main(["rotate", "--alg", "none"])
