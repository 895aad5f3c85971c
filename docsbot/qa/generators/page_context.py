"""Does a question stand without its page? Questions about something only their page pins down ("How do I create the
tables?") are not asked. Used by the structural generator when it words a question."""
from __future__ import annotations

import re

from docsbot.qa.generators import vocabulary
from docsbot.qa.generators.text import FUNCTION_WORDS, verb_base
from docsbot.qa.generators.wording import CODEISH, split_words, vague


def _stem(word: str) -> str:
    """'debugger', 'debuggers', 'Debugging' -> 'debug'."""
    return re.sub(r"(?:ging|ger|ing|er|ed|e)$", "", re.sub(r"ies$", "y", re.sub(r"(?<!ie)s$", "", word.lower())))


def named_on_page(phrase: str, names: tuple[str, ...]) -> bool:
    """A name (code, a known product) or a noun phrase whose head noun the page's title or headings name:
    "the built-in debugger" on "Debugging Application Errors"; not "the decorated function" there."""
    words = [w.strip("`") for w in split_words(phrase)]
    if not words or vague(phrase):
        return False
    if CODEISH.search(phrase) or any(w in vocabulary.names() for w in words):
        return True
    head = _stem(words[-1])
    return len(head) >= 4 and head in {_stem(w) for name in names for w in re.findall(r"[A-Za-z]+", name)}


# Nouns any page of a product's docs can say "the" of and be understood: "the application", "the request".
_SHARED_NOUNS = {"application", "app", "request", "response", "session", "server", "database", "browser", "user",
                 "client", "config", "configuration", "project", "code", "docs", "documentation", "shell", "terminal",
                 "command", "url", "template", "view", "error", "exception", "package", "debugger",
                 "cli", "api", "web", "page", "site", "form", "data", "file", "folder", "directory",
                 "way", "default", "defaults"}
_SHARED_STEMS = {_stem(noun) for noun in _SHARED_NOUNS}
_STATE_WORDS = {"previous", "current", "last", "latest", "next", "new", "same", "whole", "entire", "following"}
_NP_STOP = {"is", "are", "was", "were", "be", "been", "can", "could", "will", "would", "should", "does", "do", "did",
            "has", "have", "had", "until", "when", "if", "whether", "so", "that", "which", "who", "after", "before"}


def leans_on_page(question: str, names: tuple[str, ...]) -> bool:
    """'How do I create the tables?', 'How do I preserve the contexts until the with block exits?': a definite noun
    phrase that is no product-wide thing (the application, the request), so the reader cannot tell which."""
    text = re.sub(r"`[^`]*`", "1", question)  # "the `region` option" names its option
    for match in re.finditer(r"\bthe\s+([^?]+)", text):  # "my X" is the reader's own
        phrase: list[str] = []
        for raw in match.group(1).split()[:3]:
            word = raw.strip(",.;:()").lower()
            participle = phrase and word.endswith(("ed", "ing")) and verb_base(word)
            if not word.isalpha() or word in FUNCTION_WORDS or word in _NP_STOP or participle:
                phrase = [] if not word.isalpha() and not phrase else phrase  # "the `region` option": named
                break
            phrase.append(word)
            if raw[-1:] in ",.;:)":
                break
        # Named by a heading is not enough: "How do I create the tables?" under "Create the Tables" still leaves
        # the reader asking which tables.
        if phrase and phrase[0] not in _STATE_WORDS and _stem(phrase[-1]) not in _SHARED_STEMS \
                and not any(word in vocabulary.lower_names() for word in phrase):
            return True
    return False


# "How do I store data?": a bare task on a bare noun fits any page; its page says where and how long.
_BARE_TASK = re.compile(r"^How do I [a-z]+ (?:[a-z]+ )?(?:data|things|values|items|objects|information|files)\?$")


# "What does `{% block header %}` do?": a block is one site's template's, which the page names.
_TEMPLATE_BLOCK = re.compile(r"`\{%-? block \w+ -?%\}`")


_REFERENCE_TITLES = {"api", "api reference", "reference"}


def needs_page(question: str, names: tuple[str, ...]) -> bool:
    """'How do I create the tables?' on "Define and Access the Database": only the page says which tables, so the
    question is not asked. (Asked about its page instead, "In “Define and Access the Database”, how do I ...",
    blind readers rejected it as a template artefact: 17 of 17 in the last sample of three corpora.)"""
    if not names or names[0].lower() in _REFERENCE_TITLES:  # an entry's heading names what the question asks about
        return False
    return bool(leans_on_page(question, names) or _BARE_TASK.match(question) or _TEMPLATE_BLOCK.search(question))
