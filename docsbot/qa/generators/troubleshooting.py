"""Troubleshooting: errors and what they mean. A heading that quotes an error ("What does the error “Address already
in use” mean?"), an error printed in code with its explanation, and a sentence saying when an API raises one ("When
is `KeyError` raised?")."""
from __future__ import annotations

import re

from docsbot.qa.generators.base import Candidate
from docsbot.qa.generators.text import Block, clip, first_paragraphs, lead

_ERROR_WORDS = re.compile(r"\b(error|exception|warning|failed|failure|cannot|can't|unable)\b|\b[A-Z]{2,}-\d+\b|"
                          r"\b[A-Z]\w+(Error|Exception)\b", re.IGNORECASE)

# What makes a heading an error message rather than a topic ("Blueprint Error Handlers"): a code, an
# exception name, an HTTP status, or a quoted message.
_ERROR_TOKEN = re.compile(r"\b[A-Z]{2,}-?\d+\b|\b[A-Z]\w*(?:Error|Exception|Warning)\b|\b[1-5]\d\d\b|[\"“'`].{4,}[\"”'`]|"
                          r"^(?:error|exception)\s*:")

_ERROR_LINE = re.compile(r"^(?:[\w.]+\.)?(?P<name>\w*(?:Error|Exception|Warning)):\s*(?P<msg>.+)$")


def is_error_heading(heading: str) -> bool:
    return bool(_ERROR_WORDS.search(heading)) and len(heading.split()) >= 2 and bool(_ERROR_TOKEN.search(heading))


def error_block_pair(code: str, following: list[Block]) -> Candidate | None:
    lines = [line.strip() for line in code.strip().splitlines() if line.strip()]
    error_at = next((i for i, line in enumerate(lines[:3]) if _ERROR_LINE.match(line)), None)
    if error_at is None:
        return None
    # The explanation is either printed with the error (Flask's RuntimeErrors) or the text after it.
    explanation = " ".join(lines[error_at + 1:])
    if len(explanation) < 40 or not re.search(r"[a-z]{3,} [a-z]{3,} [a-z]{3,}", explanation):
        explanation = lead(first_paragraphs(following)) if first_paragraphs(following) else ""
    if len(explanation) < 20:
        return None
    return Candidate(f"What does the error “{lines[error_at]}” mean?", clip(explanation), "troubleshooting")


def error_heading_pair(heading: str, answer: str) -> Candidate | None:
    """'What does the error “<message>” mean?' for a heading that names an error, answered by the section."""
    if not is_error_heading(heading):
        return None
    message = re.sub(r"^(error|exception)\s*[:\-]?\s*", "", heading, flags=re.IGNORECASE)
    return Candidate(f"What does the error “{message}” mean?", answer, "troubleshooting")


_RAISED = re.compile(r"\braises?\s+(?:an?\s+)?`?(?P<exc>[A-Z]\w*(?:Error|Exception))`?\s+(?P<when>if|when)\b")


def raised_pair(sentence: str) -> Candidate | None:
    """'When is `KeyError` raised?' for a sentence that says when something raises it."""
    raised = _RAISED.search(sentence)
    return Candidate(f"When is `{raised.group('exc')}` raised?", clip(sentence), "troubleshooting") if raised else None
