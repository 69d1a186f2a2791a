"""Webhook signatures: `PSP-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`.

The signed message is `f"{t}.".encode() + body`, as in Stripe's scheme, so a replayed body with a
fresh timestamp or a fresh body with an old signature both fail. Pure functions, no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

SIGNATURE_HEADER = "PSP-Signature"
SIGNATURE_SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300


class SignatureError(Exception):
    """A webhook signature that must not be trusted; `reason` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedSignatureError(SignatureError):
    """The header is missing parts or is not `t=<int>,v1=<hex>`."""


class StaleSignatureError(SignatureError):
    """The timestamp lies outside the tolerance window, in the past or in the future."""


class SignatureMismatchError(SignatureError):
    """No v1 entry matches the body and timestamp under the secret."""


def _expected_signature(secret: str, body: bytes, timestamp: int) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_payload(secret: str, body: bytes, timestamp: int) -> str:
    """The `PSP-Signature` header value for `body` sent at `timestamp` (unix seconds)."""
    return f"t={timestamp},{SIGNATURE_SCHEME}={_expected_signature(secret, body, timestamp)}"


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, separator, value = part.strip().partition("=")
        if not separator or not value:
            raise MalformedSignatureError(f"header part {part.strip()!r} is not key=value")
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                raise MalformedSignatureError("timestamp must appear once as an integer")
            timestamp = int(value)
        elif key == SIGNATURE_SCHEME:
            signatures.append(value)
        # Other schemes (e.g. a future v2) are ignored, as Stripe's clients do.
    if timestamp is None:
        raise MalformedSignatureError("header has no t= timestamp")
    if not signatures:
        raise MalformedSignatureError(f"header has no {SIGNATURE_SCHEME}= signature")
    return timestamp, signatures


def verify_signature(
    secret: str, header: str, body: bytes, now: int, tolerance_s: int = DEFAULT_TOLERANCE_S
) -> None:
    """Raise a SignatureError unless one v1 entry signs `body` and `t` is within tolerance of now.

    Several v1 entries are accepted so that a secret can be rotated without lost webhooks.
    """
    timestamp, signatures = _parse_header(header)
    if abs(now - timestamp) > tolerance_s:
        raise StaleSignatureError(f"timestamp is {now - timestamp} s away from now")
    expected = _expected_signature(secret, body, timestamp).encode()
    matched = False
    for candidate in signatures:
        # Compare every entry so the time taken does not reveal which one matched.
        matched |= hmac.compare_digest(expected, candidate.encode("ascii", "replace"))
    if not matched:
        raise SignatureMismatchError("no signature matches the body")


def sign_with_each(secrets: Sequence[str], body: bytes, timestamp: int) -> str:
    """One header signing `body` under each secret (a v1 entry each): the receiver accepts it
    with whichever of them it holds, as verify_signature does, so a secret can be rotated."""
    entries = ",".join(
        f"{SIGNATURE_SCHEME}={_expected_signature(secret, body, timestamp)}" for secret in secrets
    )
    return f"t={timestamp},{entries}"
