"""A team's own vocabulary: which words of its docs name a product, tool or platform ("Flask", "Git", "SQLite").

Nothing here knows any product. The names are learned from the team's chunks after each ingestion and stored with the
team's QA settings (``qa.services.team_vocabulary_refresh``): a word the prose
writes capitalised in the middle of a sentence, again and again and on the whole more often than in lower case, is a
name ("Jinja", "PyPI"); a word capitalised only where a sentence starts, or in a title-cased heading or a reference
to one ("see Application Factories"), is not. The product itself is the name that most pages mention.

The structural rules read the vocabulary of the chunk they are working on through ``names()`` and ``product()``;
``StructuralGenerator`` makes a chunk's vocabulary the current one while it generates (``using``).
"""
from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property, lru_cache

MIN_MENTIONS = 3  # capitalised mid-sentence uses before a word counts as a name
LOWER_SHARE_MAX = 0.34  # of all its mid-sentence uses, the share a name may have in lower case ("flask run")
# Documents above this share of the corpus that name a word make it the corpus's platform ("Flask", "Python"), not
# what one page is about ("JavaScript" on the Flask docs' page about it, named on 9 of 74 pages).
PLATFORM_SHARE = 0.3
# A paragraph of prose found word for word on this many documents (and this share of them) is the site's boilerplate
# ("This document describes the current stable version of Celery (5.2). For development docs, go here."): it answers
# nothing on any one page.
# Git's pages include one option list in up to 7 of 242 pages: that is shared documentation, not boilerplate.
REPEATED_MIN_DOCUMENTS = 5
REPEATED_SHARE = 0.1
REPEATED_MIN_CHARS = 30
# A word is a noun of the docs when they put a determiner before it this often, and a verb cue ("to", "can") at most
# a quarter as often.
NOUN_MIN_USES = 3
NOUN_PER_VERB_USE = 4
_DETERMINERS = {"the", "a", "an", "each", "every", "this", "these", "those", "your", "its", "their", "our", "any"}
_VERB_CUES = {"to", "can", "cannot", "should", "must", "will", "would", "could", "may", "might", "please", "and", "or",
              "don't", "not"}


@dataclass(frozen=True)
class Vocabulary:
    names: frozenset[str] = frozenset()  # as the docs write them: "Flask", "SQLite", "PyPI"
    product: str = ""  # the name most pages mention ("Flask", "Git"); '' when there is none
    platforms: frozenset[str] = frozenset()  # names on many pages: the product and what it runs on ("Python")
    repeated: frozenset[str] = frozenset()  # paragraphs on many pages, whitespace collapsed (``paragraph_key``)
    # Lowercase words the prose uses as nouns and hardly ever as verbs ("the task", "a blueprint"; not "to use"): a
    # sentence they open with a verb a few words on describes ("Task queues are used ..."), it does not instruct.
    nouns: frozenset[str] = frozenset()

    def is_name(self, word: str) -> bool:
        return word in self.names

    @cached_property
    def lower_names(self) -> frozenset[str]:
        return frozenset(name.lower() for name in self.names)

    def as_json(self) -> dict:
        return {"names": sorted(self.names), "product": self.product, "platforms": sorted(self.platforms),
                "repeated": sorted(self.repeated), "nouns": sorted(self.nouns)}

    @classmethod
    def from_json(cls, data: dict) -> Vocabulary:
        return cls(names=frozenset(data.get("names", ())), product=data.get("product", ""),
                   platforms=frozenset(data.get("platforms", ())), repeated=frozenset(data.get("repeated", ())),
                   nouns=frozenset(data.get("nouns", ())))


EMPTY = Vocabulary()

_FENCED = re.compile(r"^\s*(```|~~~).*?^\s*\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_LINE = re.compile(r"^(?: {4}|\t|\s*(?:>>>|\$ |\.\.\. ))")
_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+|\s+[–—-]\s+|\s*[(\[]\s*|\s*[)\]]\s*")
_LIST_MARK = re.compile(r"^\s*(?:[-*•+]|\d+[.)])\s+")
_TOKEN_EDGES = "\"'“”‘’`*,.;:!?"
_CAPITALISED = re.compile(r"[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*")
_LOWER = re.compile(r"[a-z][a-z0-9]*")
_NOT_NAMES = {"I", "OK"}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SIGNATURE_HEADING = re.compile(r"[(=]|\w\.\w")
_CODE_TOKEN = re.compile(r"\w[\[(<{=]|\]|\w[.:]\w|\w_\w")  # "Optional[ValueError]", "flask.Flask", "app.run()"
# Where code names a package or a program: `from celery import Celery`, `pip install waitress`, `$ gunicorn -w 4`.
_PACKAGE = re.compile(r"^\s*(?:from\s+([a-z]\w*)\S*\s+import\b|import\s+([a-z]\w*)|"
                      r"\$\s+(?:sudo\s+)?(?:pip3?\s+install\s+(?:-\S+\s+)*)?([a-z][\w-]*))", re.MULTILINE)


def paragraph_key(text: str) -> str:
    """A paragraph as ``Vocabulary.repeated`` holds it: whitespace collapsed."""
    return " ".join(text.split())


def _repeated_paragraphs(chunks: list[tuple[object, list[str], str]], documents: int) -> frozenset[str]:
    pages: dict[str, set] = {}
    for key, _, body in chunks:
        for paragraph in _FENCED.sub("\n", body).split("\n\n"):
            text = paragraph_key(paragraph)
            if len(text) >= REPEATED_MIN_CHARS and not _CODE_LINE.match(paragraph):
                pages.setdefault(text, set()).add(key)
    least = max(REPEATED_MIN_DOCUMENTS, REPEATED_SHARE * documents)
    return frozenset(text for text, keys in pages.items() if len(keys) >= least)


def _code_of(body: str) -> str:
    fenced = [match.group(0) for match in _FENCED.finditer(body)]
    return "\n".join([*fenced, *(line for line in body.splitlines() if _CODE_LINE.match(line))])


def learn(chunks: Iterable[tuple[object, Iterable[str], str]]) -> Vocabulary:
    """The names in a team's chunks, given as (document key, headings and title, body text without headings)."""
    chunks = [(key, [h.strip() for h in hs if h and h.strip()], body) for key, hs, body in chunks]
    headings = {h for _, hs, _ in chunks for h in hs if len(h.split()) >= 2}
    # Code says which capitalised words are API names (`BadRequest`, `Markup`) and which are also packages, written in
    # lower case where they are imported or run (`from celery import Celery`, `gunicorn -w 4`, `waitress-serve`).
    code_words: set[str] = set()
    packages: set[str] = set()
    programs: Counter[str] = Counter()  # run at a shell prompt: `$ git log`, `$ flask run`
    for _, hs, body in chunks:
        code = _code_of(body)
        code_words.update(_IDENTIFIER.findall(code))
        found = _PACKAGE.findall(code)
        packages.update(next(filter(None, groups)) for groups in found)
        programs.update(groups[2] for groups in found if groups[2])
        code_words.update(w for h in hs if _SIGNATURE_HEADING.search(h) for w in _IDENTIFIER.findall(h))
        code_words.update(w for token in body.split() if _CODE_TOKEN.search(token) for w in _IDENTIFIER.findall(token))
    code_parts = {part.lower() for word in code_words for part in re.split(r"[_\d-]+", word) if part}
    single_word_titles = {hs[0] for _, hs, _ in chunks if hs and len(hs[0].split()) == 1}
    # References to a heading ("see Modular Applications with Blueprints") are title case, not names: longest first.
    heading_pattern = re.compile("|".join(re.escape(h) for h in sorted(headings, key=len, reverse=True))) \
        if headings else None
    capitalised: Counter[str] = Counter()
    lower: Counter[str] = Counter()
    as_noun: Counter[str] = Counter()
    as_verb: Counter[str] = Counter()
    documents: dict[str, set] = {}
    all_documents = set()
    for key, _, body in chunks:
        all_documents.add(key)
        prose = _FENCED.sub("\n", body)
        for line in prose.splitlines():
            if _CODE_LINE.match(line) or not line.strip():
                continue
            line = _LIST_MARK.sub("", line)
            if heading_pattern is not None:
                line = heading_pattern.sub(" . ", line)
            for sentence in _SENTENCE_END.split(line):
                words = [w.strip(_TOKEN_EDGES).removesuffix("’s").removesuffix("'s") for w in sentence.split()
                         if not _CODE_TOKEN.search(w.strip(_TOKEN_EDGES))]
                for before, word in itertools.pairwise(words):  # every word but the sentence's first
                    if _CAPITALISED.fullmatch(word) and word not in _NOT_NAMES:
                        capitalised[word] += 1
                        documents.setdefault(word, set()).add(key)
                    elif _LOWER.fullmatch(word):
                        lower[word] += 1
                        cue = before.lower()
                        if cue in _DETERMINERS:
                            as_noun[word] += 1
                        elif cue in _VERB_CUES:
                            as_verb[word] += 1
    main_programs = {program for program, runs in programs.most_common(1)}

    def is_name(word: str, count: int) -> bool:
        # The program the docs run most is written in lower case where prose names the command ("run git log", "flask
        # run"): those uses do not count against its name.
        lowered = 0 if word.lower() in main_programs else lower[word.lower()]
        if count < MIN_MENTIONS or lowered > LOWER_SHARE_MAX * (count + lowered):
            return False
        if word in code_words and word.lower() not in packages:
            return False  # an API name (`BadRequest`, `None`), not a product (`from celery import Celery`)
        # A page titled by one word ("Quickstart", "Waitress") names a product only if the product shows in code.
        return word not in single_word_titles or word.lower() in code_parts

    names = frozenset(word for word, count in capitalised.items() if is_name(word, count))
    by_pages = sorted(names, key=lambda word: (-len(documents[word]), -capitalised[word], word))
    platforms = frozenset(word for word in names if len(documents[word]) > PLATFORM_SHARE * len(all_documents)
                          and len(documents[word]) >= 2)
    nouns = frozenset(word for word, uses in as_noun.items()
                      if uses >= NOUN_MIN_USES and as_verb[word] * NOUN_PER_VERB_USE <= uses)
    return Vocabulary(names=names, product=by_pages[0] if by_pages else "", platforms=platforms,
                      repeated=_repeated_paragraphs(chunks, len(all_documents)), nouns=nouns)


_CURRENT: ContextVar[Vocabulary] = ContextVar("vocabulary", default=EMPTY)


@contextmanager
def using(vocabulary: Vocabulary) -> Iterator[Vocabulary]:
    token = _CURRENT.set(vocabulary)
    try:
        yield vocabulary
    finally:
        _CURRENT.reset(token)


def current() -> Vocabulary:
    return _CURRENT.get()


def names() -> frozenset[str]:
    """The current team's names ("Flask", "Werkzeug", "SQLite")."""
    return _CURRENT.get().names


def lower_names() -> frozenset[str]:
    return _CURRENT.get().lower_names


def is_noun(word: str) -> bool:
    """Whether the current team's docs use the word (or its singular) as a noun, not a verb."""
    nouns, lowered = _CURRENT.get().nouns, word.lower()
    return lowered in nouns or (lowered.endswith("s") and lowered[:-1] in nouns)


def product() -> str:
    return _CURRENT.get().product


@lru_cache(maxsize=256)
def alternation(words: frozenset[str]) -> str:
    """A regex alternation of the words, longest first ('(?!)' when there are none: it matches nothing)."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) or "(?!)"
