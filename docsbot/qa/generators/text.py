"""Reading documentation text: the blocks rules read (paragraphs, code, tables, headings), sentences, answer-sized
quotes, and the verb forms the question rules need. Shared by every rule module."""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from functools import lru_cache

from docsbot.qa.generators.base import NAMES_CODE

MAX_CODE_LINES = 30
MAX_ANSWER_CHARS = 700
MAX_CODE_ANSWER_CHARS = 1400  # an answer carrying code: the code whole is the answer; cut, it answers nothing


ADMONITION = re.compile(r"^(Note|Warning|Tip|Important|Danger|Caution|See also|Attention|Hint|Todo)\s*:?$",
                         re.IGNORECASE)
# What follows "See also" points elsewhere ("iterkeys() and itervalues()."): it ends a description, never joins it.
_POINTER_LABEL = re.compile(r"^See also\s*:?$", re.IGNORECASE)


@dataclass
class Block:
    kind: str  # paragraph | code | table | heading
    text: str = ""
    rows: list[list[str]] = field(default_factory=list)


LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


# A sentence may also open with a lowercase code name: "... to include. find_packages() finds these directories".
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`\"'(\[]|[a-z_][\w.]*\(\)\s)")
ABBREVIATIONS = r"e\.g|i\.e|etc|vs|cf"  # a full stop after them ends no sentence
_ABBREV = re.compile(rf"\b(?:{ABBREVIATIONS})\.$", re.IGNORECASE)


def sentences(paragraph: str) -> list[str]:
    parts = _SENTENCE_END.split(paragraph.strip())
    merged: list[str] = []
    for part in parts:
        if merged and _ABBREV.search(merged[-1]):
            merged[-1] += " " + part
        else:
            merged.append(part)
    return [s.strip() for s in merged if s.strip()]


def lead(paragraphs: list[str], *, min_chars: int = 120) -> str:
    """The first sentences of a section, enough to answer, short enough to quote."""
    picked: list[str] = []
    for index, paragraph in enumerate(paragraphs):
        if not picked and _OPENS_LIST.search(paragraph):
            return clip_items(paragraph)  # "Blueprints are intended for these cases: - ... - ...": all the cases
        items = list(itertools.takewhile(lambda p: p.startswith("- "), paragraphs[index + 1:]))
        if not picked and paragraph.endswith(":") and items:
            return clip_items(" ".join([paragraph, *items]))  # the same list, one paragraph per item
        for sentence in sentences(paragraph):
            picked.append(sentence)
            if sum(len(s) for s in picked) >= min_chars:
                return clip(" ".join(picked))
    return clip(" ".join(picked))


_OPENS_LIST = re.compile(r"^[^:]{10,200}:\s+-\s")


def clip_items(paragraph: str) -> str:
    """A flattened list clipped at an item boundary, never in the middle of one."""
    if len(paragraph) <= MAX_ANSWER_CHARS:
        return paragraph
    items = re.split(r"\s+(?=-\s)", paragraph)
    kept = items[:1]
    for item in items[1:]:
        if len(" ".join([*kept, item])) > MAX_ANSWER_CHARS:
            break
        kept.append(item)
    return " ".join(kept) if len(kept) > 1 else clip(paragraph)


def clip(text: str) -> str:
    fence = text.find("```")
    if fence >= 0:
        if len(text) <= MAX_CODE_ANSWER_CHARS:
            return text
        if fence < MAX_ANSWER_CHARS:  # keep whole code lines and close the fence, never cut inside a line
            lines, kept = text[fence:].split("\n"), []
            for line in lines[1:]:
                if fence + len("\n".join(["```", *kept, line, "...", "```"])) > MAX_CODE_ANSWER_CHARS or line == "```":
                    break
                kept.append(line)
            return text[:fence] + "\n".join(["```", *kept, "...", "```"])
    if len(text) <= MAX_ANSWER_CHARS:
        return text
    cut = text[:MAX_ANSWER_CHARS]
    end = max(cut.rfind(". "), cut.rfind(".\n"))
    return cut[: end + 1] if end > 100 else cut.rsplit(" ", 1)[0] + " …"


def fenced(code: str) -> str:
    lines = code.strip("\n").splitlines()
    if len(lines) > MAX_CODE_LINES:
        lines = lines[:MAX_CODE_LINES] + ["..."]
    return "```\n" + "\n".join(lines) + "\n```"


# --- wording ---------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def verb_base(word: str) -> str | None:
    """'configuring' -> 'configure'; None when the word is not a verb form we know."""
    from lemminflect import getAllLemmas

    lemmas = getAllLemmas(word.lower(), upos="VERB").get("VERB")
    if not lemmas:
        return None
    return word.lower() if word.lower() in lemmas else max(lemmas, key=len)  # "override", not "over-ride"


def is_gerund(word: str) -> bool:
    return word.lower().endswith("ing") and verb_base(word) is not None


def is_imperative(word: str) -> bool:
    lower = word.lower()
    return lower.isalpha() and verb_base(lower) == lower and lower not in {"see", "note", "be", "do", "let"}


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def strip_end(text: str) -> str:
    return text.rstrip(" :.;,")


# --- rules -----------------------------------------------------------------------------


# A sentence whose colon points at what came after it: "the following", "like this", "copy the output of this to
# your config:" (a bare "this", not "this dictionary").
_POINTS_AHEAD = re.compile(r"\b(?:the following|as follows|like this|like so|below|here)\b|^(?:for example|e\.g\.)\W*$|"
                           r"\b(?:this|these|that)\b(?=\s*(?:[,.:;]|to\b|in\b|$))", re.IGNORECASE)


def mend_cut_answer(answer: str, how_to: bool) -> str:
    """An answer ending on the colon that introduced code or a list the chunk does not hold ends there: its last
    sentence stands, with a full stop, when it says its point itself ("... merged with the template context, for all
    templates in the app."; for a how-to, only when it names the means: "... you can use the errorhandler()
    decorator."), and goes when its point was what followed ("The following signals exist in Flask:", "Create a file
    with the SQL commands needed to create empty tables:"); '' when nothing is left."""
    if "```" in answer:
        return answer
    # "Search for option by name. Example": a docstring's heading for an example the chunk does not hold.
    answer = _EXAMPLE_HEADING_END.sub("", answer)
    said = sentences(" ".join(answer.split("\n\n")))
    if said and _ENDS_POINTING_AHEAD.search(said[-1]):  # "... replace the class with the following.": what follows
        return " ".join(said[:-1])
    if not answer.rstrip().endswith(":"):
        return answer
    if not _POINTS_AHEAD.search(said[-1]) and (not how_to or NAMES_CODE.search(said[-1])):
        return answer.rstrip()[:-1] + "."
    return " ".join(said[:-1])


# A last sentence whose point is what comes after it, ended with a full stop instead of a colon.
# "... with the following.", "To enable it add the following lines to tutorial/settings.py", "... like so."
_ENDS_POINTING_AHEAD = re.compile(r"\b(?:the following|as follows)(?: [\w-]+){0,2}(?: (?:to|in|into|at|on) \S+"
                                  r"(?: [\w-]+){0,3})?\s*\.?$|\blike (?:this|so)\.$", re.IGNORECASE)
_EXAMPLE_HEADING_END = re.compile(r"(?<=[.!?])\s+(?:Examples?|Usage|Example usage)\s*$")


METADATA = re.compile(r"^(New in version|Changed in version|Deprecated since|Parameters:|Return type:|Returns?:|"
                       r"Raises:|Yields:|Type:|Default:|Example:)", re.IGNORECASE)


_VERSION_NOTE = re.compile(r"^(?:New in version|Changed in version)\s+[\d.]+\.?$")


def first_paragraphs(blocks: list[Block]) -> list[str]:
    """The prose a section opens with, without admonition labels and version notes."""
    return [block.text for block in blocks[:opening_end(blocks)]
            if not ADMONITION.match(block.text) and not _VERSION_NOTE.match(block.text)]


def opening_end(blocks: list[Block]) -> int:
    """Where a section's opening prose ends: at the first code, table or version note after its text."""
    has_text = False
    for index, block in enumerate(blocks):
        if _POINTER_LABEL.match(block.text):
            return index
        # "New in version 0.9." before a section's text is a note on the section, not the end of its prose.
        if ADMONITION.match(block.text) or (not has_text and block.kind == "paragraph"
                                             and _VERSION_NOTE.match(block.text)):
            continue
        if block.kind != "paragraph" or METADATA.match(block.text):
            return index
        has_text = True
    return len(blocks)


FUNCTION_WORDS = {"the", "a", "an", "with", "from", "to", "in", "on", "for", "of", "and", "or", "by", "as", "at", "into",
                   "your", "my"}
