"""Shared sentence helpers of the structural rules: whether a phrase leans on the page (a pronoun, "such", "the
following"), what a page is about (its product's name), and how a heading or a task is worded in a question
("Configuring the Project" -> "configure the project"; a how-to on a product's page names the product; "They ..."
named by the heading it refers to). Every question family imports these; they import no family."""
from __future__ import annotations

import re
from functools import lru_cache

from docsbot.qa.generators import vocabulary
from docsbot.qa.generators.base import MAN_PAGE_TITLE
from docsbot.qa.generators.text import FUNCTION_WORDS, is_imperative, strip_end, verb_base

VAGUE = {"this", "that", "these", "those", "it", "its", "they", "them", "their", "such", "above", "below",
         "following", "here", "there", "same", "other", "one"}


def vague(phrase: str) -> bool:
    return bool(VAGUE & set(re.findall(r"[a-z']+", phrase.lower())))


def split_words(text: str) -> list[str]:
    return text.split()


CODEISH = re.compile(r"[`()_]|\w\.\w")

# A clause that opens with one of these is not "subject verb ...": no question can be formed from it.
NOT_SUBJECTS = {"when", "if", "further", "everything", "since", "while", "although", "as", "after", "before", "once",
                "then", "now", "also", "here", "in", "for", "with", "by", "on", "at", "because", "so", "but", "and",
                "or", "unlike", "like", "instead", "even", "just", "only", "there", "note"}

# Verbs a task heading opens with ("Install Flask"); a heading like "Address already in use" is not a task.
TASK_VERBS = {"install", "configure", "run", "deploy", "use", "create", "add", "set", "enable", "disable", "write",
              "register", "define", "test", "build", "return", "handle", "store", "connect", "activate", "upgrade",
              "debug", "serve", "log", "open", "load", "close", "make", "start", "stop", "call", "pass", "send",
              "read", "render", "generate", "initialize", "initialise", "tell", "protect", "keep", "choose", "manage",
              "update", "delete", "remove", "check", "validate", "upload", "download", "import", "export", "move",
              "rename", "change", "customize", "customise", "extend", "secure", "avoid", "access", "get", "follow"}

SUBORDINATORS = {"since", "if", "when", "while", "although", "because", "as", "once", "unless", "whereas", "though"}

GENERIC_HEADINGS = {
    "introduction", "overview", "summary", "example", "examples", "notes", "note", "see also", "usage",
    "basics", "details", "more", "next steps", "conclusion", "background", "contents", "api", "faq",
    "reference", "troubleshooting", "the basics", "a minimal application", "quickstart", "tutorial",
    "getting started", "changes", "changelog", "license", "warning", "caution", "tip", "important",
}

PRONOUNS = {"this", "that", "it", "these", "those", "them", "they", "so"}
_DETERMINERS = {"a", "an", "the", "any", "each", "every", "some"}


# What follows a relative "that" ("a file that is tracked", "the branch that you named"), not a demonstrative one
# ("that state").
_CLAUSE_OPENERS = {"is", "are", "was", "were", "has", "have", "had", "can", "could", "will", "would", "should", "may",
                   "might", "must", "does", "do", "did", "you", "we", "i", "it", "they", "contains", "matches"}


def pronouns_in(phrase: str) -> set[str]:
    """The pronouns of a phrase, which only the text before it resolves ("to do that", "to run it", "with that state
    applied"); a relative "that" after a noun ("to stop tracking a file that is currently tracked") refers to that noun
    and is left out."""
    words = phrase.lower().split()
    return {word for index, word in enumerate(words) if word in PRONOUNS
            and not (word == "that" and _DETERMINERS & set(words[max(0, index - 3):index - 1])
                     and index + 1 < len(words) and words[index + 1] in _CLAUSE_OPENERS)
            and not _opens_a_clause(words, index)}


# Verbs a "that" clause follows ("check that a request is successful", "make sure that the file exists").
_THAT_CLAUSE_VERBS = {"check", "ensure", "verify", "confirm", "sure", "assert", "test", "know", "note", "guarantee"}


def _opens_a_clause(words: list[str], index: int) -> bool:
    """'that' as a conjunction after a verb of checking or knowing, before the clause's own subject: no pronoun."""
    return words[index] == "that" and index > 0 and words[index - 1] in _THAT_CLAUSE_VERBS \
        and index + 1 < len(words) and words[index + 1] in _DETERMINERS | {"you", "your", "we", "our", "all", "no"}


# "You may want to make X dynamic, by ..." is no way "to want to make X dynamic"; "bind when creating the serializer"
# has no object: what is bound, only the sentence before the "to" says.
_WISH_VERBS = {"want", "need", "wish", "like", "hope", "prefer", "try", "have", "choose", "decide"}

# "Upload an image to go along with a post": "go along with" is no task a reader asks how to do.
_NOT_TASK_VERBS = {"go", "come", "be", "seem", "happen"}

# "return another JSON type": another than what the page just showed.
_RELATIVE_OBJECT = re.compile(r"\b(?:another|the other|other such)\b", re.IGNORECASE)


def class_name(word: str) -> bool:
    """'MethodView', 'HTTPMethodOverrideMiddleware': a class named in CamelCase, not a product ("JavaScript")."""
    return bool(re.fullmatch(r"[A-Z][A-Za-z]*[a-z][A-Z]\w*", word)) and word not in vocabulary.names()


def first_person(text: str) -> str:
    """'send your own cookies' -> 'send my own cookies': a question asks as the reader ("How do I ...?")."""
    return re.sub(r"\byourself\b", "myself", re.sub(r"\byour\b", "my", text))


_FILLER = re.compile(r"^(?:even|also|simply|just|easily|still|actually|additionally|further)\s+(?=[a-z])")


def task_phrase(text: str) -> str | None:
    """'switch traffic back to the previous bundle' when it starts with a verb and leans on no pronoun."""
    task = _FILLER.sub("", first_person(strip_end(text)))  # "You can even add ..." asks how to add
    words = split_words(task)
    # "override the default" leans on the page for what the default is, like a pronoun does.
    if not (3 <= len(words) <= 14) or vague(task) or not is_imperative(words[0]) or task.endswith(("'s", "’s")) \
            or re.search(r"\bthe default\b", task) or words[0].lower() in _WISH_VERBS \
            or words[1].lower() in SUBORDINATORS - {"as"} or words[0].lower() in _NOT_TASK_VERBS \
            or _RELATIVE_OBJECT.search(task):
        return None
    return task


_STRUCTURE_NOUNS = {"format", "formats", "layout", "structure", "overview", "syntax", "internals"}


def heading_task(heading: str) -> str | None:
    """'Install Flask' or 'Installing Flask' -> 'install Flask'."""
    words = split_words(heading)
    if len(words) < 2 or len(words) > 8 or vague(heading) or heading.endswith("?"):
        return None
    first = words[0]
    if len(words) == 3 and words[1].lower() in {"and", "or"}:
        return None  # "Build and Install": build and install what, the page says
    if words[-1].lower() in _STRUCTURE_NOUNS and not first.lower().endswith("ing"):
        return None  # "Log block format", "Index block format", "Project layout": a thing's shape, not a task
    if first.lower() in TASK_VERBS:
        return " ".join([first.lower(), *words[1:]])
    base = verb_base(first) if first.lower().endswith("ing") else None
    return " ".join([base, *words[1:]]) if base else None


def with_page_name(task: str, parents: list[str]) -> str:
    """'create data' on the MongoEngine page -> 'create data with MongoEngine': a heading's task is about the product
    the page is about, and without its name the question is one that any page could answer."""
    name = page_name(parents[0]) if parents else ""
    return f"{task} with {name}" if name and name.lower() not in task.lower() else task


# Acronyms that name a technique, not a product: "Using URL Processors" is not about a product called URL.
_GENERIC_ACRONYMS = {"HTTP", "HTTPS", "URL", "URLS", "API", "APIS", "HTML", "CSS", "JSON", "WSGI", "ASGI", "SQL", "CLI",
                     "SPA", "JS", "ID"}


def page_name(title: str) -> str:
    """The product a page is about ('' for a man page: it documents a command or a file, which its own text names
    where it matters; "How do I stop tracking a file ...?" on gitignore(5) is not done with gitignore)."""
    return "" if MAN_PAGE_TITLE.match(title.strip()) else _page_name(title, vocabulary.current())


@lru_cache(maxsize=1024)
def _page_name(title: str, words_known: vocabulary.Vocabulary) -> str:
    """The product a page is about, from its title: 'MongoDB with MongoEngine' -> 'MongoEngine', 'Celery Background
    Tasks' -> 'Celery', 'SQLAlchemy in Flask' -> 'SQLAlchemy', 'Apache httpd' -> 'Apache httpd'; '' when the title
    names none ('Message Flashing', 'Using URL Processors', 'Adding a favicon')."""
    words = re.findall(r"[\w.-]+", re.sub(r"\(.*?\)", "", title)) or [""]
    short_thing = len(words) <= 2 and not heading_task(title) and not words[0].lower().endswith("ing")
    runs: list[list[str]] = [[]]
    for word in words:
        if _is_name(word, words_known, unknown_words_are_names=short_thing):
            runs[-1].append(word)
        elif runs[-1]:
            runs.append([])
    # "MongoDB with MongoEngine": the tool the page uses is named last.
    return " ".join(next((run for run in reversed(runs) if run), []))


def _is_name(word: str, words_known: vocabulary.Vocabulary, *, unknown_words_are_names: bool) -> bool:
    # The product and what it runs on are named all over its docs ("Flask", "Python"): no page is about them alone.
    if word in words_known.platforms or word.upper() in _GENERIC_ACRONYMS or len(word) < 3:
        return False
    if word in words_known.names or re.search(r"[a-z][A-Z]|^[A-Z]{2,}[a-z]", word):
        return True  # Celery, MongoEngine, uWSGI, SQLite
    # "Apache httpd", "gevent", "mod_wsgi": lowercase words no dictionary knows.
    return unknown_words_are_names and bool(re.fullmatch(r"[a-z][a-z0-9_]*", word)) and not _lemmas(word)


@lru_cache(maxsize=4096)
def _lemmas(word: str) -> dict:
    from lemminflect import getAllLemmas

    return getAllLemmas(word.lower())


def modifier_only(word: str) -> bool:
    """'Externally', 'Late': a word known only as an adverb or adjective."""
    lemmas = _lemmas(word)
    return word.lower().endswith("ly") or bool(lemmas) and not {"NOUN", "PROPN"} & set(lemmas)


def sentence_case(word: str) -> str:
    """'Data' -> 'data' in "How do I create data?"; names stay ("Flask", "URL", "MongoDB")."""
    if word[:1].isupper() and word[1:].islower() and word not in vocabulary.names() \
            and (_lemmas(word) or word.lower() in FUNCTION_WORDS):
        return word.lower()
    return word


def heading_phrase(heading: str) -> str:
   # "Application Context" reads better as "the application context" in a question; names stay as they are
   # ("Apache httpd", "MongoDB with MongoEngine").
    if any(ch in heading for ch in "`._()") or any(w[:1].isupper() and w[1:].isupper() for w in heading.split()) \
            or any(w in vocabulary.names() or re.search(r"[a-z][A-Z]", w) for w in heading.split()):
        return heading
    return "the " + heading.lower() if len(heading.split()) > 1 else heading.lower()


_LANGUAGES = {"JavaScript", "Python", "HTML", "CSS", "JSON", "SQL"}  # pages about using one with the product


def on_product_page(question: str, kind: str, title: str) -> str:
    """'How do I show access logs on stdout with Gunicorn?': a how-to on a page about one product is about that
    product, which the question must name (the heading how-tos name it already, see with_page_name)."""
    if kind not in {"how-to", "example"} or page_name(title) in _LANGUAGES or not question.startswith("How do I ") \
            or not question.endswith("?"):
        return question
    return f"{with_page_name(question[:-1], [title])}?"


def they_named(sentence: str, before: str, headings: tuple[str, ...]) -> str:
    """'They are all placed under the flaskr/static directory ...' after a sentence that names the heading's plural
    subject ('... other types of static files ...' under "Static Files") -> 'Static files are all placed ...'."""
    if not sentence.startswith("They "):
        return sentence
    named = [h for h in headings if 1 <= len(h.split()) <= 3 and h.endswith("s") and h.lower() in before.lower()]
    return f"{named[-1][:1].upper()}{named[-1][1:].lower()}{sentence[4:]}" if len(named) == 1 else sentence


_SHOUTED = re.compile(r"^[A-Z][A-Z'’-]*(?: [A-Z][A-Z'’-]*)+$")


def unshouted(heading: str, text: str) -> str:
    """'CREATING REPLACEMENT OBJECTS', a man page's section, as 'Creating replacement objects': a question copies a
    heading's words, and no one asks in capitals. A word the section's ``text`` also spells in capitals ('HTTP GET')
    keeps them."""
    if not _SHOUTED.match(heading):
        return heading
    spelled = set(re.findall(r"\b[A-Z][A-Z]+\b", text))
    words = [word if word in spelled else word.lower() for word in heading.split()]
    return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]])
