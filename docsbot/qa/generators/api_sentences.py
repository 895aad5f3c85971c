"""Sentences about a named API in prose: "`flash()` stores messages ..." ("What does `flash()` do?"), "The method
is_endpoint_expecting() ... can be used to ...", "Calling View.as_view() will create ...", "The first argument to
as_view is ...", a template tag ("{% extends %} tells Jinja ..."), and a pronoun after the sentence that names the
API ("They are executed right after ...")."""
from __future__ import annotations

import re
import sys

from docsbot.qa.generators.base import Candidate
from docsbot.qa.generators.text import verb_base
from docsbot.qa.generators.wording import CODEISH, VAGUE, class_name, split_words, vague

_DOES = re.compile(r"^(?P<subject>`?[A-Za-z_][\w.]*(?:\(\))?`?) (?P<verb>[a-z]+s) (?P<rest>.{12,})$")

_PAGE_SPECIFIC = re.compile(r"[`()_]|\w\.\w|\b[A-Z]{3,}\b")  # the page's own names: app.instance_path, DATABASE


# "Calling View.as_view() method will create a view function ...", "Setting View.methods is equivalent to ...".
_GERUND_DOES = re.compile(r"^(?P<gerund>Calling|Setting|Passing|Using|Returning|Raising|Overriding) "
                          r"(?P<name>`?[A-Za-z_][\w.]*(?:\(\))?`?)(?: (?:method|function|attribute|decorator))? "
                          r"(?:will (?!not\b)[a-z]+|is equivalent to|(?!does\b|has\b|is\b|was\b)[a-z]+s) .{8,}$")

# "The View.dispatch_request() method is the equivalent of the view function."
_THE_API_IS = re.compile(r"^The (?P<name>`?[A-Za-z_][\w.]*\(\)`?) (?P<kind>method|function|decorator) "
                         r"(?P<rest>(?:is (?:the|a|an)|returns) .{8,})$")

# "The first argument to as_view is the name to use to refer to the view with url_for()."
_NTH_ARGUMENT = re.compile(r"^The (?P<nth>first|second|third|only) (?P<thing>argument|parameter) (?:to|of) "
                           r"(?P<name>`?[A-Za-z_][\w.]*(?:\(\))?`?) is .{8,}$")


def api_sentence_pair(sentence: str) -> Candidate | None:
    """A sentence about a named API that does not open on the name itself."""
    gerund = _GERUND_DOES.match(sentence)
    if gerund and (CODEISH.search(gerund.group("name")) or class_name(gerund.group("name"))):
        return Candidate(f"What does {gerund.group('gerund').lower()} `{gerund.group('name').strip('`')}` do?",
                         sentence, "what-is")
    the_api = _THE_API_IS.match(sentence)
    if the_api and not vague(the_api.group("rest")):  # "is the one you probably used already"
        return Candidate(f"What is the `{the_api.group('name').strip('`')}` {the_api.group('kind')}?", sentence,
                         "what-is")
    nth = _NTH_ARGUMENT.match(sentence)
    if nth:
        return Candidate(f"What is the {nth.group('nth')} {nth.group('thing')} to `{nth.group('name').strip('`')}`?",
                         sentence, "api")
    return None


def does_pair(sentence: str, after: str = "") -> Candidate | None:
    """'`flash()` stores messages ...' -> 'What does `flash()` do?' (code names only: prose subjects are vague)."""
    match = _DOES.match(sentence)
    if not match or not (CODEISH.search(match.group("subject")) or class_name(match.group("subject"))):
        return None
    verb = match.group("verb")
    if verb in {"is", "has", "does", "was"} or not verb_base(verb) or verb_base(verb) == verb:
        return None
    name = match.group("subject").strip("`")
    if split_words(match.group("rest"))[0].lower() in {"this", "that", "these", "those", "it", "them", "such"}:
        return None  # "SecureCookieSessionInterface uses this to serialize ...": what "this" is, the text before says
    if _PLACEHOLDER_NAME.search(name.removesuffix("()")):
        return None  # "get_X() ..." in a pattern: X stands for whatever the reader stores
    if name.split(".")[0] in sys.stdlib_module_names and _PAGE_SPECIFIC.search(match.group("rest")):
        return None  # "os.makedirs() ensures that app.instance_path exists": the page's call, not what it does
    # "close_db checks if a connection was created ... If the connection exists, it is closed.": the rest of what it does.
    return Candidate(f"What does `{name}` do?", f"{sentence} {after}".strip(), "what-is")


_PLACEHOLDER_NAME = re.compile(r"(?:^|[._])[A-Z](?:\(\))?$")  # `get_X()`, `E`: a pattern's stand-in, no real API

# "{% extends 'base.html' %} tells Jinja that ...", "{% block content %} is where the content of each page goes": a
# template tag is a name like a function's.
_TEMPLATE_TAG = re.compile(r"^(?P<tag>\{%[^%]{2,40}%\}|\{\{[^}]{2,40}\}\}) (?:(?P<is>is (?:where|used|the|a|an|similar))|"
                           r"(?P<verb>(?!is\b)[a-z]+s|will [a-z]+))\b.{10,}$")


def template_tag_pair(sentence: str) -> Candidate | None:
    match = _TEMPLATE_TAG.match(sentence)
    if not match:
        return None
    verb = (match.group("verb") or "").removeprefix("will ")
    if verb and not verb_base(verb):
        return None
    question = f"What is `{match.group('tag')}`?" if match.group("is") else f"What does `{match.group('tag')}` do?"
    return Candidate(question, sentence, "what-is")


_USED_FOR = re.compile(r"^(?:The )?(?:\w+ )?(?P<name>`?[A-Za-z_][\w.]*(?:\(\))?`?)(?: \w+)?(?: of [^,]{3,40})? "
                       r"(?:is|are|can be) used (?P<what>to|for) (?P<rest>.{8,})$")


def used_for_pair(sentence: str) -> Candidate | None:
    """'The method is_endpoint_expecting() of the URL map can be used to ...' -> 'What is `is_endpoint_expecting()`
    used for?' (code names only: "The method is used for" names nothing)."""
    match = _USED_FOR.match(sentence)
    if not match or not CODEISH.search(match.group("name")) or vague(" ".join(split_words(match.group("rest"))[:3])):
        return None
    return Candidate(f"What is `{match.group('name').strip('`')}` used for?", sentence, "what-is")


_CODE_NAME = re.compile(r"(?<![\w.])(?P<name>[a-z_][\w.]*\(\))(?P<plural>s)?")

_NAME_IS = re.compile(r"^(?P<name>[a-z_][\w.]*) (?:is|are) (?:a|an|the)\b")  # "g is a special object ..."

_PRONOUN_DOES = re.compile(r"^(?:It|They) (?:(?P<used>is|are) used (?:to|for) |(?P<when>is|are) (?P<done>executed|called|"
                           r"invoked|run) (?:\w+ )?(?:after|before|when|whenever|for|once|at)\b|(?P<can>can|will) "
                           r"(?:\w+ly )?[a-z]+ )")


def pronoun_pair(sentence: str, before: str) -> Candidate | None:
    """'They are executed right after the request was matched ...' after a sentence naming one API
    ('The reverse of that function are url_value_preprocessor()s.'), or 'It is used to store data ...' after
    'g is a special object ...': asked with the name, answered by both sentences."""
    match = _PRONOUN_DOES.match(sentence)
    if not match:
        return None
    names = {m.group("name") for m in _CODE_NAME.finditer(before)}
    subject = _NAME_IS.match(before)
    # "The reverse of that function are url_value_preprocessor()s.": the sentence before leans on its own before.
    leaning = vague(" ".join(before.split()[:4]))
    if len(names) == 1:
        name = names.pop()
    elif not names and subject and subject.group("name") not in VAGUE:
        name = subject.group("name")
    else:
        return None
    plural = sentence.startswith("They") and name.endswith("()")
    answer = f"{before} {sentence}" if not leaning else re.sub(r"^(?:It|They)\b", f"{name} functions" if plural else name,
                                                               sentence)
    if match.group("used"):
        return Candidate(f"What {match.group('used')} `{name}` used for?", answer, "what-is")
    if match.group("when"):
        things = " functions" if match.group("when") == "are" and name.endswith("()") else ""
        return Candidate(f"When {match.group('when')} `{name}`{things} {match.group('done')}?", answer, "what-happens")
    return Candidate(f"What does `{name}` do?", answer, "what-is")
