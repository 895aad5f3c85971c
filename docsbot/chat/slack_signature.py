"""Slack request signing (v0): HMAC-SHA256 over the raw body, checked in constant time."""
from __future__ import annotations

import hashlib
import hmac
import time

MAX_SKEW_SECONDS = 300


def slack_signature(*, signing_secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def slack_signature_valid(*, signing_secret: str, timestamp: str | None, signature: str | None,
                          body: bytes, now: float | None = None) -> bool:
    """Verify X-Slack-Signature against the raw bytes, before anything parses them."""
    if not signing_secret or not timestamp or not signature:
        return False
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent_at) > MAX_SKEW_SECONDS:
        return False
    expected = slack_signature(signing_secret=signing_secret, timestamp=timestamp, body=body)
    return hmac.compare_digest(expected.encode(), signature.encode())
