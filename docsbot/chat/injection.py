"""Heuristics that flag prompt-injection attempts, for logging and review (never for blocking).

The prompt already declares document text untrusted; these patterns only make the
attempts visible in the logs and the admin.
"""
from __future__ import annotations

import re

_PATTERNS = re.compile(
    r"ignore (?:all |any |the |your )?(?:(?:previous|prior|above|earlier|system) (?:instructions|prompts?|rules)"
    r"|instructions)"
    r"|reveal (?:\w+ )?(?:other|another|all) (?:teams?|tenants?|customers?|users?)\b"
    r"|disregard (?:all |any |the )?(?:previous|prior|above|system)"
    r"|(?:reveal|print|show|repeat) (?:me )?(?:your|the) (?:system )?(?:prompt|instructions)"
    r"|you are now (?:a|an|in)\b"
    r"|</?document\b|<\|im_(?:start|end)\|>|\[/?INST\]"
    r"|new (?:system )?instructions?:",
    re.IGNORECASE,
)


def injection_suspected(text: str) -> bool:
    return bool(_PATTERNS.search(text or ""))
