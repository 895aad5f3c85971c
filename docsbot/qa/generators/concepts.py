"""Concepts: what a term is or means. A sentence that defines one ("A decorator is a function ...", "Editable mode
means that ...", "... is called a “reverse proxy.”"), a heading the section's opening defines ("Template Inheritance"),
a project layout's item ("flaskr/, a Python package ..."), a glossary's term, and a thing a section is named after
that its opening describes ("This hook is invoked by ...")."""
from __future__ import annotations

import re

from docsbot.qa.generators import vocabulary
from docsbot.qa.generators.base import MAN_PAGE_TITLE, Candidate
from docsbot.qa.generators.text import (
    Block,
    clip,
    first_paragraphs,
    lower_first,
    mend_cut_answer,
    sentences,
    verb_base,
)
from docsbot.qa.generators.wording import (
    CODEISH,
    NOT_SUBJECTS,
    PRONOUNS,
    SUBORDINATORS,
    heading_phrase,
    vague,
)

NOT_TERMS = {
    "this", "it", "that", "there", "which", "what", "here", "these", "those", "one", "each", "default",
    "following", "example", "result", "reason", "idea", "goal", "problem", "difference", "answer", "rest",
    "other", "same", "first", "second", "last", "next", "only", "main", "thing", "way", "code", "value",
    "output", "solution", "case", "advantage", "downside", "benefit", "purpose", "point", "catch", "trick",
    "they", "we", "you", "he", "she", "all", "both", "most", "some", "many", "any", "another", "such",
    "so", "then", "now", "thus", "also", "however", "but", "and", "or", "who", "if", "when",
    "function", "method", "class", "object", "file", "name", "argument", "parameter", "decorator",
    "below", "above", "neither", "either", "none", "nothing", "everything", "something",
}

_DEFINITION = re.compile(
    r"^(?:(?P<article>An?|The)\s+)?[`“\"]?(?P<term>[A-Za-z][\w.\-]*(?: [A-Za-z][\w.\-]*){0,3}?)[`”\"]?\s+"
    r"(?P<verb>is|are)\s+(?P<next>an?|the|used|responsible|one|simply|basically)\b"
)


def _common_noun_phrase(definition: re.Match) -> bool:
    """'Special delimiters' (capitalised only as the sentence's first word); not 'The Pragma general-header field',
    'A JOIN' or a code name."""
    words = definition.group("term").split()
    named = words if definition.group("article") else words[1:]
    return not any(w[:1].isupper() or CODEISH.search(w) for w in named) and not (
        words[0].isupper() or CODEISH.search(words[0]) or words[0] in vocabulary.names())


def _defines_term(definition: re.Match) -> bool:
    """'Flask is a ...', 'A decorator is a function ...'; not 'The result is a ...' (a word that needs its page):
    a generic noun defines itself only with an indefinite article on both sides."""
    words = definition.group("term").split()
    if words[0].lower().endswith("ing") or words[0].lower() in SUBORDINATORS | _WH_WORDS \
            or (len(words[0]) == 1 and words[0].isupper()):
        # "Since g is a single global namespace, ..." defines nothing called "Since g"; "where BBBBBB is"; "M is a
        # descendant of Z": a commit of the drawing above
        return False
    if not any(word.lower() in NOT_TERMS for word in words):
        return True
    generic_definition = (definition.group("article") or "").lower() in {"a", "an"} and len(words) == 1 \
        and definition.group("next").lower() in {"a", "an"} and words[0].lower() not in PRONOUNS
    return generic_definition and words[0].lower() in _GENERIC_NOUNS


_WH_WORDS = {"where", "which", "what", "who", "whose", "when", "how"}

# Nouns of the NOT_TERMS list that a sentence "A <noun> is a ..." really defines.
_GENERIC_NOUNS = {"function", "method", "class", "object", "file", "decorator", "argument", "parameter", "value"}

_QUOTES = "\"'`“”‘’"


def _defining_answer(heading: str, blocks: list[Block]) -> str:
    """The section's opening from the sentence that defines its heading ("Template inheritance allows you to ...",
    "A “favicon” is an icon ..."), or '' when no opening sentence does."""
    lowered = heading.lower()
    term = lowered.rstrip("s") if len(lowered) > 3 else lowered
    # Between the term and its verb an apposition or an adverb may stand, not a noun: "Security issues are handled
    # ..." is about security issues, not security.
    defining = re.compile(rf"^(?:an?\s+|the\s+)?[{_QUOTES}]?{re.escape(term)}s?[{_QUOTES}]?(?:\s*[,(][^.;]{{0,20}}?\s|"
                          rf"\s(?:\w+ly\s)?)(is|are|refers to|means|provides|lets|allows|gives|enables)\b")
    # "REST framework introduces a Request object that extends ..." under "Request objects": the product brings it in.
    introducing = re.compile(rf"^[\w .-]{{2,40}}? (?:also )?(?:introduces|provides|offers) an? {re.escape(term)}"
                             rf"(?:,? (?:that|which)\b|, a\b)")
    # A lowercase heading is a name ("eventlet", "age" of a header class): "Age values are ..." does not define it.
    case_sensitive = heading.islower()
    opening = [sentence for paragraph in first_paragraphs(blocks)[:3] for sentence in sentences(paragraph)][:6]
    for index, sentence in enumerate(opening):
        introduces = index == 0 and not case_sensitive and introducing.match(sentence.lower())
        if introduces or defining.match(sentence.lower()) and (not case_sensitive or sentence.startswith(heading)):
            if sentence.endswith(":"):
                return ""  # "... is slightly different from the other classes:" then a list: one item is no answer
            return clip(" ".join(opening[index:index + 2]) if len(sentence) < 120 else sentence)
    return ""


# "The system that enables having a central URL map is the add_url_rule() function.": what enables it.
_ROLE_DEFINITION = re.compile(r"^The (?:[a-z]+ ){1,2}(?:that|which) (?P<does>[a-z]+s [^,]{5,80}?) (?:is|are) "
                              r"(?P<what>(?:the |a |an )?\S[^,]{2,80})\.$")


def role_pair(sentence: str) -> Candidate | None:
    match = _ROLE_DEFINITION.match(sentence)
    verb = match.group("does").split()[0] if match else ""
    if not match or vague(match.group("does")) or not verb_base(verb) or verb in {"is", "was", "has", "does"}:
        return None  # "The title that is used in the browsable API is generated ...": no role, a passive
    return Candidate(f"What {match.group('does')}?", sentence, "what-is")


# A project layout's list: "flaskr/, a Python package containing your application code and files."
_LAYOUT_ITEM = re.compile(r"^`?(?P<name>[\w.-]+/|[\w-]+\.[a-z]{2,4})`?, (?:a|an|the) (?P<what>[A-Za-z][^,]{8,})\.?$")


def layout_item_pair(sentence: str) -> Candidate | None:
    """'What is the `flaskr/` directory?' answered by the item that names it and says what it is."""
    match = _LAYOUT_ITEM.match(sentence)
    if not match or vague(match.group("what")):
        return None
    name = match.group("name")
    return Candidate(f"What is the `{name}` {'directory' if name.endswith('/') else 'file'}?", sentence, "what-is")


# "Editable mode means that ...", "404 means “Not Found”": what a term means. A gerund ("Installing means you can
# ...") says what a task brings, not what a word means.
_TERM_MEANS = re.compile(r"^(?:(?P<term>[A-Z][a-z]+(?: [a-z]+){0,2}|\d{3})|[“\"](?P<quoted>[A-Za-z][\w-]*(?: [\w-]+){0,2})"
                         r"[”\"]) means (?:that )?(?P<rest>\S.{8,})$")


_COMPARATIVES = {"lower", "higher", "larger", "smaller", "bigger", "greater", "fewer", "more", "less", "longer",
                 "shorter", "faster", "slower"}


def term_means_pair(sentence: str) -> Candidate | None:
    """'What does editable mode mean?'; a quoted term keeps its quotes: '“Production” means “not development”, ...'
    -> 'What does “production” mean?'"""
    match = _TERM_MEANS.match(sentence)
    if not match:
        return None
    if match.group("quoted"):
        term = match.group("quoted")
        term = term if term.split()[0] in vocabulary.names() else lower_first(term)
        return None if vague(term) else Candidate(f"What does “{term}” mean?", sentence, "what-is")
    term = match.group("term")
    first = term.split()[0].lower()
    if vague(term) or (first.endswith("ing") and verb_base(first)) or first in NOT_SUBJECTS | {"which", "what"} \
            or first in _COMPARATIVES:
        return None  # "Lower index means higher precedence": a comparison of values the page is about, no term
    term = term if term.split()[0] in vocabulary.names() else lower_first(term)
    return Candidate(f"What does {term} mean?", sentence, "what-is")


# "Putting an HTTP server in front of the WSGI server is called a “reverse proxy.”": a term named where it is defined.
_CALLED = re.compile(r"^(?P<what>[A-Z][^,;:]{10,150}?) (?:is|are) (?:often |usually |commonly |also )?called "
                     r"(?P<article>an? |the )?[“\"](?P<term>[A-Za-z][\w -]{2,40}?)[.,]?[”\"][.,]?$")


def called_pair(sentence: str) -> Candidate | None:
    match = _CALLED.match(sentence)
    if not match or vague(match.group("what")) or vague(match.group("term")):
        return None
    return Candidate(f"What is {match.group('article') or ''}{match.group('term')}?", sentence, "what-is")


# "Millisecond precision timestamps are a good example.": an example of what the text before says, no definition.
_AN_EXAMPLE = re.compile(r"(?:an?|one|another) (?:\w+ )?examples?\b|(?:an?|one) (?:\w+ )?case in point\b")


def definition_pair(sentence: str, tail: str) -> Candidate | None:
    """'What is a decorator?' for a sentence that defines a term ("A decorator is a function ..."), answered by it
    (with the next sentence when it is short: ``tail``)."""
    definition = _DEFINITION.match(sentence)
    # "Special delimiters are used to ..." says what they are for, not what they are: only a name is defined so.
    if definition and definition.group("next") == "used" and (
            _common_noun_phrase(definition) or re.match(r"\s*(?:so|because|when|here)\b",
                                                         sentence[definition.end():])):
        definition = None  # "A JOIN is used so that ...": why it is used here, not what it is
    if definition and definition.group("next").lower() == "the" \
            and sentence[definition.end():].lstrip().lower().startswith("same"):
        definition = None  # "The content is the same as what's found there.": the same as what, the page says
    if not definition or not _defines_term(definition) or _AN_EXAMPLE.match(sentence[definition.start("next"):]):
        return None
    article = (definition.group("article") or "").lower()
    subject = f"{article} {definition.group('term')}".strip()
    return Candidate(f"What {definition.group('verb')} {subject}?", clip(tail), "what-is")


def heading_definition_pair(heading: str, blocks: list[Block]) -> Candidate | None:
    """'What is the application context?' for a heading that the section's opening defines."""
    definition = _defining_answer(heading, blocks)
    if not definition or _one_of_the_page(heading, definition):
        return None
    lowered = heading.lower()
    plural = lowered.endswith("s") and not lowered.endswith("ss") and not heading.isupper()  # "SQS", "DNS"
    phrase = heading if heading.isupper() else heading_phrase(heading)
    if plural and phrase.startswith("the "):
        phrase = phrase[4:]  # "What are error handlers?": a kind of thing, not the ones one page means
    return Candidate(f"What {'are' if plural else 'is'} {phrase}?", definition, "what-is")


def _one_of_the_page(heading: str, definition: str) -> bool:
    """A one-word heading that is a plain word ("Output", "SYNTAX", "application") opened by "The output is ...": the
    section is about this page's one, so "What is output?" asks nothing a reader could place. A name ("The
    AnonRateThrottle will ...") is still defined so."""
    word = heading.strip()
    plain = word.isalpha() and (word.isupper() or word.islower() or word.istitle())
    return len(word.split()) == 1 and plain and (
        word.lower() in NOT_TERMS or definition.lower().startswith(f"the {word.lower()}"))


def _is_glossary(headings: list[str]) -> bool:
    return any("glossary" in heading.lower() for heading in headings)


# A glossary's term: a few words, no sentence ("cherry-picking", "early ack", "object database").
_GLOSSARY_TERM = re.compile(r"^[`“\"]?(?P<term>[\w$<>][\w$<>.'’/-]*(?: [\w$<>][\w$<>.'’/-]*){0,4})[`”\"]?$")


def glossary_pair(term: str, description: str, headings: list[str]) -> Candidate | None:
    """'What does “early ack” mean in Celery?' for a term of a glossary page (a heading under "Glossary", or a term
    of gitglossary(7)'s definition list), answered by its definition."""
    match = _GLOSSARY_TERM.match(term.strip())
    if not match or not _is_glossary(headings) or "glossary" in term.lower():
        return None
    answer = mend_cut_answer(description.strip(), how_to=False)
    if len(answer) < 10:
        return None
    product = vocabulary.product()
    where = f" in {product}" if product and product.lower() not in match["term"].lower() else ""
    return Candidate(f"What does “{match['term']}” mean{where}?", clip(answer), "what-is")


def glossary_entry_pair(text: str, following: list[Block], headings: list[str]) -> Candidate | None:
    """A glossary's definition-list entry: the term alone on its paragraph, ending with a colon, then its definition."""
    term = text.strip()
    if not term.endswith(":") or not following or following[0].kind != "paragraph":
        return None
    return glossary_pair(term[:-1], following[0].text, headings)


def glossary_heading_pair(heading: str, blocks: list[Block], parents: list[str]) -> Candidate | None:
    """A term as a heading right under the glossary's ("Glossary > early ack"); not a man page's section
    ("gitglossary(7) > DESCRIPTION")."""
    paragraphs = first_paragraphs(blocks)
    if not paragraphs or not parents or MAN_PAGE_TITLE.match(parents[-1].strip()):
        return None
    return glossary_pair(heading, paragraphs[0], parents[-1:])


# "This hook is invoked by git-am(1).", "This fixture starts a Celery worker ...": a section named by a thing's own name
# that opens by saying what kind of thing it is and what it does.
_SELF_DESCRIBED = re.compile(r"^This (?P<noun>[a-z]{3,}) (?:is|are|was|will|can|takes|runs|lets|allows|returns|starts|"
                             r"provides|gives|makes|sets|holds|contains|does|should|must|has|may|gets|receives)\b")
_NAME_HEADING = re.compile(r"^[a-z][a-z0-9]*(?:[-_.][a-z0-9]+)+$|^[a-z]{3,}$")
_MIN_DESCRIPTION_CHARS = 60
_NOT_THINGS = {"document", "section", "page", "chapter", "example", "tutorial", "guide", "step", "part", "release",
               "version", "change", "feature", "approach", "way", "means", "list", "table", "behavior", "behaviour"}


def named_thing_pair(heading: str, blocks: list[Block]) -> Candidate | None:
    """'What is the `applypatch-msg` hook?' for a section named by a lowercase name ("applypatch-msg", "pre-commit")
    whose opening says "This hook is invoked by ...", answered by that opening paragraph."""
    paragraphs = first_paragraphs(blocks)
    if not paragraphs or not _NAME_HEADING.match(heading.strip()):
        return None
    match = _SELF_DESCRIBED.match(paragraphs[0])
    if not match or match["noun"] in _NOT_THINGS:
        return None
    answer = mend_cut_answer(paragraphs[0], how_to=False)
    if len(answer) < _MIN_DESCRIPTION_CHARS:
        return None  # "This hook is invoked by git-p4 submit.": when it runs, not what it is for
    return Candidate(f"What is the `{heading.strip()}` {match['noun']}?", clip(answer), "what-is")


def named_section_pairs(heading: str, blocks: list[Block], parents: list[str]) -> list[Candidate]:
    """A glossary's term or a named thing, for a section whose heading asks nothing else."""
    named = glossary_heading_pair(heading, blocks, parents) or named_thing_pair(heading, blocks)
    return [named] if named else []
