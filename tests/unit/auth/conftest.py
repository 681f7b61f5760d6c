from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, generate_private_key

from ccx.auth import Authenticator, Key, KeyRing

NOW = 1_800_000_000.0


class FakeClock:
    """A settable wall clock (Unix seconds)."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def rsa_private() -> RSAPrivateKey:
    return generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def rsa_other() -> RSAPrivateKey:
    return generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def hs() -> Key:
    return Key.from_secret("hs-1", b"s" * 16 + b"e" * 16)


@pytest.fixture
def ed() -> Key:
    return Key.from_private_key("ed-1", Ed25519PrivateKey.generate())


@pytest.fixture
def rs(rsa_private: RSAPrivateKey) -> Key:
    return Key.from_private_key("rs-1", rsa_private)


@pytest.fixture
def ring(hs: Key, ed: Key, rs: Key) -> KeyRing:
    return KeyRing([hs, ed, rs], active_kid=hs.kid)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def auth(ring: KeyRing, clock: FakeClock) -> Authenticator:
    return Authenticator(ring, clock=clock)
