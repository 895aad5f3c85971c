"""Statements about a named thing, asked the way a user asks them: what it does not do ("Is async inherently faster
than sync code?"), which named thing it uses, how it does something, what it does automatically, where things are
kept."""
from __future__ import annotations

import re

from docsbot.qa.generators.base import Candidate
from docsbot.qa.generators.text import FUNCTION_WORDS, verb_base
from docsbot.qa.generators.wording import CODEISH, NOT_SUBJECTS, VAGUE, sentence_case, vague

# A path of the page's own project ("flaskr/static", "/etc/nginx/nginx.conf"), not a URL.
_PAGE_PATH = re.compile(r"(?<![:/\w])/?[\w.-]+/[\w./-]+")


def statement_pair(sentence: str, after: str, api_name: str, names: tuple[str, ...]) -> Candidate | None:
    """A statement about a named thing asked the way a user asks it: what it does not do, which named thing it uses,
    how it does something, what it does automatically, where things are kept. The question names the page when the
    answer holds the page's own paths or its subject is the page's ("The test code is located in ...": which
    project's, only the page says). An API entry's side remarks ("Python does not support ...") are about the entry,
    which such a question would not name."""
    if api_name:
        return None
    for rule in (_negation_pair, _uses_which_pair, _by_means_pair, _automatically_pair, _kept_where_pair):
        candidate = rule(sentence, after)
        if candidate:
            break
    else:
        return None
    if names and (_PAGE_PATH.search(candidate.answer) or sentence.startswith("The ")):
        return None  # the page's own paths, or "The ..." of the page's subject: only the page says whose
    return candidate


def _no_named_subject(subject: str) -> bool:
    """'This', 'There', 'When', 'The': the word opening a statement names nothing a question could ask about."""
    return subject.lower() in VAGUE | FUNCTION_WORDS | NOT_SUBJECTS


# "JSON cannot represent binary data directly, so ...", "Note that run_simple is not intended for use in production.",
# "Flask will never have a database layer.": what a named thing does not do, asked the way a user asks it.
_NEGATION = re.compile(r"^(?:(?:By default|However|Note that|Also),?\s+)?(?P<subject>[A-Z][\w-]*|`?[a-z_][\w.]*(?:\(\))?`?) "
                       r"(?P<negation>does not|doesn't|do not|don't|cannot|can't|is not|isn't|are not|aren't|will never|"
                       r"will not|won't) (?:just |really )?(?P<rest>[a-z][^,;:()]{5,100}?)"
                       r"(?P<tail>(?:[,;]| because | since | which | but ).*)?\.$")

_YES_NO = {"does not": "Does", "doesn't": "Does", "do not": "Do", "don't": "Do", "cannot": "Can", "can't": "Can",
           "is not": "Is", "isn't": "Is", "are not": "Are", "aren't": "Are", "will never": "Will ever",
           "will not": "Will", "won't": "Will"}


_HEDGE = re.compile(r"(?:typically|usually|normally|generally|simply|necessarily|always|often)\b")


def _negation_pair(sentence: str, after: str) -> Candidate | None:
    """'Async is not inherently faster than sync code.' -> 'Is async inherently faster than sync code?', answered
    by the sentence (and the next one when this one is short: "It will not have a form library ...")."""
    match = _NEGATION.match(re.sub(r"\b(is|are|does|do) just not\b", r"\1 not", sentence))
    if not match:
        return None
    subject, rest = match.group("subject"), match.group("rest")
    if _no_named_subject(subject) or vague(rest) or rest.startswith("to be "):
        return None  # "This does not ...", "X is not to be confused with ...": no question of its own
    if subject[:1].islower() and not CODEISH.search(subject):
        return None  # "flask does not ...": a lowercase subject must be code
    if subject == "You" and _HEDGE.match(rest):
        return None  # "You won't typically need to ...": advice about the page's case, "Will you typically ...?" no question
    auxiliary, *ever = _YES_NO[match.group("negation")].split()
    return Candidate(f"{auxiliary} {sentence_case(subject)} {' '.join([*ever, rest])}?", f"{sentence} {after}".strip(),
                     "what-is")


# "Flask uses the Jinja template library to render templates." -> "Which template library does Flask use?"
_USES_NAMED = re.compile(r"^(?P<subject>[A-Z]\w+) uses (?:the |its )?(?P<name>[A-Z][\w.]*) (?P<kind>[a-z]+(?: [a-z]+)?)"
                         r"(?: (?:which|that|to|for|as|in)\b.*)?\.$")


def _uses_which_pair(sentence: str, after: str) -> Candidate | None:
    match = _USES_NAMED.match(sentence)
    if not match or _no_named_subject(match.group("subject")) or vague(match.group("kind")):
        return None
    return Candidate(f"Which {match.group('kind')} does {match.group('subject')} use?", f"{sentence} {after}".strip(),
                     "what-is")


# "Flask supports async coroutines for view functions by executing the coroutine on a separate thread ...",
# "Pytest uses fixtures by matching their function names ...": how a named thing does something.
_BY_MEANS = re.compile(r"^(?P<subject>[A-Z]\w+) (?P<verb>supports|handles|implements|uses|stores|loads|finds|detects|"
                       r"tracks|avoids|achieves|manages|resolves|serves|runs|orders|matches) (?P<object>[^,]{3,60}?) "
                       r"by [a-z]+ing\b.{8,}$")


def _by_means_pair(sentence: str, after: str) -> Candidate | None:
    match = _BY_MEANS.match(sentence)
    verb = verb_base(match.group("verb")) if match else None
    if not match or not verb or _no_named_subject(match.group("subject")) or vague(match.group("object")):
        return None
    return Candidate(f"How does {match.group('subject')} {verb} {match.group('object')}?", f"{sentence} {after}".strip(),
                     "what-is")  # how it works, not what to do


# "Flask automatically pushes an application context when handling a request.": asked the way a user asks it.
_AUTOMATICALLY = re.compile(r"^(?P<subject>[A-Z][\w.]*|`?[a-z_][\w.]*\(\)`?) (?P<will>will )?automatically "
                            r"(?P<verb>[a-z]+) (?P<rest>[^,;:]{5,120}?)\.$")


def _automatically_pair(sentence: str, after: str) -> Candidate | None:
    """'Does Flask automatically push an application context when handling a request?'; a relative clause that leans
    on a pronoun is left out of the question ("a static view that takes a path ... and serves it")."""
    match = _AUTOMATICALLY.match(sentence)
    if not match or _no_named_subject(match.group("subject")):
        return None
    rest = match.group("rest")
    if vague(rest) or re.search(r"\b(?:us|we|our)\b", rest):
        rest = re.split(r" (?:that|which|who) ", rest, maxsplit=1)[0]
        if rest == match.group("rest") or vague(rest) or len(rest.split()) < 2:
            return None
    verb = match.group("verb") if match.group("will") else verb_base(match.group("verb"))
    if not verb:
        return None
    auxiliary = "Will" if match.group("will") else "Does"
    return Candidate(f"{auxiliary} {match.group('subject')} automatically {verb} {rest}?",
                     f"{sentence} {after}".strip(), "what-is")


# "Uploaded files are stored in memory or at a temporary location on the filesystem.", "Tests are typically located
# in the tests folder.": where a named thing is kept.
_KEPT_WHERE = re.compile(r"^(?P<subject>[A-Z][a-z]+(?: [a-z]+){0,2}|The [a-z]+(?: [a-z]+){1,2}) (?P<be>is|are) "
                         r"(?:all |usually |typically |normally )?(?P<verb>placed|stored|kept|located|saved) "
                         r"(?:in|under|inside|at|on) (?P<where>.{4,})$")


def _kept_where_pair(sentence: str, after: str) -> Candidate | None:
    match = _KEPT_WHERE.match(sentence)
    if not match or vague(match.group("subject")) or vague(match.group("where")) \
            or match.group("subject").split()[0].lower() in NOT_SUBJECTS | {"each", "every", "some", "all"}:
        return None
    first, _, more = match.group("subject").partition(" ")
    subject = " ".join(filter(None, [sentence_case(first), more]))  # "Uploaded files" -> "uploaded files"
    return Candidate(f"Where {match.group('be')} {subject} {match.group('verb')}?", sentence, "what-is")
