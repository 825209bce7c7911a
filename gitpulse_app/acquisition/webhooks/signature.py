"""Webhook signatures: `X-Hub-Signature-256` over the raw request body.

GitHub signs every delivery with HMAC-SHA256 under the App's webhook secret and sends
`sha256=<64 hex digits>`. We compare the decoded digest bytes in constant time, trying the current
secret and then the previous one (secret rotation). The demo seed may sign with a key
derived from `GITPULSE_SECRET_KEY` instead; that key is accepted only when the caller says the
request came from the in-process seed, never because of anything the request itself carries.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

SIGNATURE_PREFIX = "sha256="
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
_DEMO_SEED_LABEL = "gitpulse-demo-seed:"


def sign(body: bytes, secret: str) -> str:
    """The `X-Hub-Signature-256` value GitHub would send for `body` under `secret`.

    Args:
        body: The exact request body.
        secret: The webhook secret.

    Returns:
        `sha256=` followed by the lower-case hex HMAC-SHA256 digest.
    """
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def demo_seed_secret(secret_key: str) -> str:
    """The key the in-process demo seed signs with when no webhook secret is configured.

    Args:
        secret_key: The instance secret (`GITPULSE_SECRET_KEY` or the generated local one).

    Returns:
        `sha256_hex("gitpulse-demo-seed:" + secret_key)`.
    """
    return hashlib.sha256((_DEMO_SEED_LABEL + secret_key).encode("utf-8")).hexdigest()


def _decoded(header: str | None) -> bytes | None:
    # Anything but `sha256=` + exactly 64 hex digits is a mismatch, never an error.
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return None
    hex_part = header[len(SIGNATURE_PREFIX) :]
    if not _HEX_DIGEST.fullmatch(hex_part):
        return None
    return bytes.fromhex(hex_part)


def signature_matches(body: bytes, header: str | None, secret: str) -> bool:
    """Whether `header` is a valid signature of `body` under `secret`.

    Args:
        body: The raw request body, before any parsing.
        header: The `X-Hub-Signature-256` value (may be malformed or absent).
        secret: One candidate secret.

    Returns:
        True only for `sha256=` + the hex digest of HMAC-SHA256(secret, body).
    """
    given = _decoded(header)
    if given is None:
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)


def candidate_secrets(
    current: str | None,
    previous: str | None = None,
    *,
    demo_secret_key: str | None = None,
    allow_demo_key: bool = False,
) -> list[str]:
    """The secrets a signature may be made with, in the order they are tried.

    Args:
        current: `GITHUB_WEBHOOK_SECRET`.
        previous: `GITHUB_WEBHOOK_SECRET_PREVIOUS` (during a rotation).
        demo_secret_key: The instance secret the demo seed key derives from.
        allow_demo_key: True only for in-process demo seed calls.

    Returns:
        The non-empty secrets to try.
    """
    secrets: list[str] = [s for s in (current, previous) if s]
    if allow_demo_key and demo_secret_key:
        secrets.append(demo_seed_secret(demo_secret_key))
    return secrets


def verify_signature(body: bytes, header: str | None, secrets: Iterable[str]) -> bool:
    """Whether `header` signs `body` under any of `secrets` (each compared in constant time).

    Args:
        body: The raw request body.
        header: The `X-Hub-Signature-256` value.
        secrets: Candidate secrets, e.g. from `candidate_secrets`.

    Returns:
        True when one secret matches.
    """
    # Every candidate is checked, so timing does not reveal which secret matched.
    results = [signature_matches(body, header, secret) for secret in secrets]
    return any(results)
