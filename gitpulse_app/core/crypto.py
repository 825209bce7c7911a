"""Tokens at rest: Fernet with a key derived from GITPULSE_SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from gitpulse_app.core.config import get_settings

KEY_CONTEXT = "gitpulse-token-encryption:"


def fernet_for(secret_key: str) -> Fernet:
    digest = hashlib.sha256((KEY_CONTEXT + secret_key).encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_token(token: str, secret_key: str | None = None) -> str:
    return fernet_for(secret_key or get_settings().secret_key).encrypt(token.encode()).decode()


def decrypt_token(value: str | None, secret_key: str | None = None) -> str | None:
    """The plain token, or None when absent or unreadable (the secret changed: ask to reconnect)."""
    if not value:
        return None
    try:
        return fernet_for(secret_key or get_settings().secret_key).decrypt(value.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def token_hint(token: str) -> str:
    """What the UI may show of a token: "…last4"."""
    return "…" + token[-4:]
