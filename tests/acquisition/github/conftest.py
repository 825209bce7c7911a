"""Fixtures for the GitHub tests: a hand-moved clock, a sleep that only records, an App key."""

from __future__ import annotations

import datetime as dt
import functools

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


class Clock:
    """A clock that starts at the real time (so JWTs verify) and moves only when told."""

    def __init__(self) -> None:
        self.moment = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += dt.timedelta(**delta)


class SleepRecorder:
    """Stands in for `asyncio.sleep`: remembers every wait, waits for none."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@functools.cache
def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def app_key() -> rsa.RSAPrivateKey:
    """The test App's RSA key (generated once per session)."""
    return _rsa_key()


@pytest.fixture
def app_key_pem(app_key: rsa.RSAPrivateKey) -> str:
    return app_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
