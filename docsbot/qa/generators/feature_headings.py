"""Sections named by a feature or technique: 'How do I use Digest Authentication?' for a section whose opening says
the product supports it and introduces the code that uses it ("Another very popular form of HTTP Authentication is
Digest Authentication, and Requests supports this out of the box as well:" then the code; the answer is that opening
with its code), and 'When is adding HTTP method overrides useful?' for a page that opens on the problem its technique
solves."""
from __future__ import annotations

import re

from docsbot.qa.generators import vocabulary
from docsbot.qa.generators.api_entries import SIGNATURE
from docsbot.qa.generators.base import Candidate
from docsbot.qa.generators.task_headings import answer_under
from docsbot.qa.generators.text import (
    FUNCTION_WORDS,
    Block,
    clip,
    first_paragraphs,
    is_gerund,
    sentences,
    verb_base,
)
from docsbot.qa.generators.wording import GENERIC_HEADINGS, heading_task, sentence_case, vague

# The opening says the feature is there to use: "supports it out of the box", "allows ... to make OAuth 1
# authenticated requests", "Making requests with HTTP Basic Auth is very simple".
_OFFERED = re.compile(r"\b(?:supports?|supported|allows?|lets|enables?|out of the box|making \w+ with)\b",
                      re.IGNORECASE)
# "New Forms of Authentication", "Other Authentication": a heading that points at what the page has not said yet.
# A heading joining things ("Async with gevent or eventlet", "named remote in configuration file") names no one
# feature ("Environment Variables From virtualenv"); a lowercase one is a man page's description of output.
_JOINS = re.compile(r"\b(?:with|from|or|and|in|for|of|vs|on|to)\b", re.IGNORECASE)
_NOT_A_FEATURE = re.compile(r"^(?:New|Other|More|Further|Additional|Miscellaneous|Some|Advanced|Custom|Your|My|A|An)\b")


def use_pair(heading: str, blocks: list[Block]) -> Candidate | None:
    words = heading.split()
    if not 2 <= len(words) <= 5 or heading.lower() in GENERIC_HEADINGS or vague(heading) \
            or _NOT_A_FEATURE.match(heading) or any(ch in heading for ch in "?:!`()") or SIGNATURE.match(heading) \
            or _JOINS.search(heading) or not heading[0].isupper():
        return None
    if is_gerund(words[0]) or heading_task(heading):
        return None  # a task ("Configuring logging"), asked by task_headings
    if words[0].lower().endswith("ed"):
        return None  # "Changed Tracked Entries": what a command prints, no feature to use
    paragraphs = first_paragraphs(blocks)
    opening = " ".join(paragraphs)
    said = sentences(opening)
    if not said or not said[-1].endswith(":") or not _OFFERED.search(opening) or not _names_feature(words, opening):
        return None
    answer = answer_under(blocks, how_to=True)
    if "```" not in answer:
        return None
    return Candidate(f"How do I use {' '.join(sentence_case(word) for word in words)}?", answer, "how-to")


def _names_feature(words: list[str], opening: str) -> bool:
    """Every content word of the heading is in the opening, or a word the opening abbreviates it to ("Basic
    Authentication" is named by "HTTP Basic Auth")."""
    said = {word.lower() for word in re.findall(r"[\w-]+", opening)}
    return all(any(word.lower() == other or (len(other) >= 4 and word.lower().startswith(other)) for other in said)
               for word in words if word.lower() not in FUNCTION_WORDS)


# A page that opens on the problem its technique solves: "there is a downside to this approach", "Some HTTP proxies do
# not support ...", "code quickly becomes very hard to read".
_PROBLEM = re.compile(r"\b(?:(?:can|could) be a problem|downside|inconvenient|do(?:es)? not support|tedious|"
                      r"repetition|hard to (?:read|maintain|manage|test))\b", re.IGNORECASE)

_NOT_TECHNIQUES = {"considerations", "overview", "introduction", "guide", "notes", "tutorial", "basics", "foreword"}


def useful_when_pair(title: str, blocks: list[Block]) -> Candidate | None:
    """'When is adding HTTP method overrides useful?' answered by the page's opening up to the problem it names."""
    opening = [sentence for paragraph in first_paragraphs(blocks)[:3] for sentence in sentences(paragraph)]
    problem = next((index for index, sentence in enumerate(opening) if _PROBLEM.search(sentence)), None)
    words = title.split()
    if problem is None or not 2 <= len(words) <= 6 or title.lower() in GENERIC_HEADINGS or vague(title) \
            or _NOT_TECHNIQUES & {word.lower() for word in words} or any(ch in title for ch in "?!:()`"):
        return None
    phrase = " ".join(word.lower() if word[1:].islower() and word not in vocabulary.names() else word
                      for word in words)
    head = re.split(r" (?:with|in|for|of|on) ", phrase)[0].split()[-1]
    gerund = any(word.lower().endswith("ing") and verb_base(word.lower()) for word in words[:2])
    plural = head.endswith("s") and not head.endswith("ss") and not gerund
    answer = " ".join(opening[:problem + 3])
    return Candidate(f"When {'are' if plural else 'is'} {phrase} useful?", clip(answer), "what-is")
