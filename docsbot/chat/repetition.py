"""Stop an answer once it starts repeating itself.

Small models decoding greedily fall into loops ("The document is stored in a database." twenty
times, until max_tokens). vLLM's repetition_penalty would also penalise the prompt's tokens and so
punish quoting the documents, so loops are caught on the answer text instead: generation stops at
the first sentence or line that repeats an earlier one, and the answer keeps the text before it.
"""
from __future__ import annotations

import re

# A sentence ends at . ! ? followed by a space (not a list number's "4. "), or at a line break.
_UNIT_END = re.compile(r"(?<=\D[.!?])\s+|\n+")
_LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")
# Shorter units ("Yes.", "```", "- [1]") legitimately repeat.
MIN_UNIT_CHARS = 20


def _normalized(unit: str) -> str:
    return " ".join(_LIST_MARKER.sub("", unit).lower().split())


def repetition_start(text: str) -> int | None:
    """Offset of the first complete sentence or line that repeats an earlier one, else None.

    Only complete units count (followed by a separator), so a sentence still being generated is
    never cut early; text inside fenced code blocks is never treated as repetition.
    """
    seen: set[str] = set()
    in_code = False
    start = 0
    for separator in _UNIT_END.finditer(text):
        unit = text[start:separator.start()]
        if unit.strip().startswith("```"):
            in_code = not in_code
        elif not in_code:
            key = _normalized(unit)
            if len(key) >= MIN_UNIT_CHARS:
                if key in seen:
                    return start
                seen.add(key)
        start = separator.end()
    return None


def without_repetition(text: str) -> str:
    """The text up to its first repeated sentence or line."""
    cut = repetition_start(text)
    return text if cut is None else text[:cut].rstrip()
