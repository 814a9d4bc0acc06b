"""Signatures: pure functions of a secret, a webhook delivery's identity and its raw body; and the one
constant-time comparison every check of a client's key or signature uses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"


def same_text(given: str, expected: str) -> bool:
    """Constant-time equality of text a client sent and ours. On bytes: `hmac.compare_digest` refuses
    str with non-ASCII characters (a TypeError), and any text, lone surrogates too, can arrive."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _secret_keys(secret: str) -> list[bytes]:
    """The HMAC keys a receiver may derive from `secret`.

    The Standard Webhooks libraries base64-decode what follows `whsec_`;
    imagekitio's `webhooks.unwrap` uses the secret's own UTF-8 bytes. One
    signature per key lets both verify the same delivery.
    """
    keys = [secret.encode()]
    if secret.startswith(SECRET_PREFIX):
        try:
            keys.insert(0, base64.b64decode(secret[len(SECRET_PREFIX) :] + "==", validate=False))
        except ValueError:
            pass
    return [k for k in dict.fromkeys(keys) if k]


def standard_headers(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """`webhook-id`, `webhook-timestamp` and `webhook-signature`: space-separated `v1,<base64>` entries, one
    per key of each secret (a receiver accepts the delivery when any entry verifies with its secret)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    keys = dict.fromkeys(key for secret in secrets for key in _secret_keys(secret))
    signatures = ["v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode() for key in keys]
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": " ".join(signatures)}


def imagekit_signature(secret: str, timestamp_ms: int, body: bytes) -> str:
    """`x-ik-signature`: `t=<unix ms>,v1=<hex HMAC-SHA256(secret, "t.body")>`."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp_ms},v1={digest}"


def uploadcare_signature(secret: str, body: bytes) -> str:
    """`X-Uc-Signature`: `v1=<hex HMAC-SHA256(signing secret, raw body)>`."""
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
