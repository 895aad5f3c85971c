"""Stop an answer once it starts repeating itself.

Small models decoding greedily fall into loops ("The document is stored in a database." twenty
times, until max_tokens; "a wrapper around the function, which is a wrapper around the function,
which is ..."). vLLM's repetition_penalty would also penalise the prompt's tokens and so punish
quoting the documents, so loops are caught on the answer text instead: generation stops at the
first sentence or line that repeats an earlier one, at a phrase's third occurrence, or at a run of
bare citation markers ("[1]. [2]. [3]. [4]. ..." counting up to max_tokens), and the answer keeps
the complete sentences before the loop.
"""
from __future__ import annotations

import re

# A sentence ends at . ! ? followed by a space (not a list number's "4. "), or at a line break.
_UNIT_END = re.compile(r"(?<=\D[.!?])\s+|\n+")
_LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")
# Shorter units ("Yes.", "```", "- [1]") legitimately repeat.
MIN_UNIT_CHARS = 20
# A run of this many words seen for the third time is a loop inside a sentence.
PHRASE_WORDS = 6
PHRASE_REPEATS = 3
_WORD = re.compile(r"\S+")
_CODE_BLOCK = re.compile(r"```.*?(?:```|$)", re.DOTALL)
# Citation markers with nothing but punctuation between them: one cites, a run of three is a loop.
_CITATION_RUN = re.compile(r"\[\d+\](?:[\s.,;:]*\[\d+\]){2,}")


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


def phrase_loop_start(text: str) -> int | None:
    """Offset of the second occurrence of a PHRASE_WORDS-word run that occurs PHRASE_REPEATS times
    (code blocks excluded), else None."""
    prose = _CODE_BLOCK.sub(lambda block: " " * len(block.group()), text)
    words = [(match.start(), match.group().lower().strip(".,;:!?")) for match in _WORD.finditer(prose)]
    occurrences: dict[tuple[str, ...], list[int]] = {}
    for index in range(len(words) - PHRASE_WORDS + 1):
        key = tuple(word for _, word in words[index:index + PHRASE_WORDS])
        seen = occurrences.setdefault(key, [])
        seen.append(words[index][0])
        if len(seen) == PHRASE_REPEATS:
            return seen[1]
    return None


def citation_run_start(text: str) -> int | None:
    """Offset of the second marker of the first run of three or more bare citation markers, else None."""
    match = _CITATION_RUN.search(text)
    return None if match is None else text.index("[", match.start() + 1)


def loop_start(text: str) -> int | None:
    """Where the answer starts looping, by any rule."""
    starts = [start for start in (repetition_start(text), phrase_loop_start(text), citation_run_start(text))
              if start is not None]
    return min(starts, default=None)


def without_repetition(text: str) -> str:
    """The complete sentences before the answer starts looping (the text up to the loop when the
    loop starts inside the first sentence)."""
    cut = loop_start(text)
    if cut is None:
        return text
    head = text[:cut]
    ends = [match.start() for match in _UNIT_END.finditer(head)]
    return (head[:ends[-1]] if ends else head).rstrip()
