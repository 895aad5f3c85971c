"""Code examples: a sentence that says what the code after it does ("Install it from PyPI using pip:", "The following
example demonstrates how to serve an SPA:") asked as a how-to, what a thing looks like ("A child template might look
like this:"), how to use a helper the page defined ("Example usage:"), and how to write a thing the code defines
("Caching Decorator" over `def cached(...)`). The answer carries the code."""
from __future__ import annotations

import builtins
import keyword
import re

from docsbot.qa.generators.base import Candidate
from docsbot.qa.generators.howto import TO_DO
from docsbot.qa.generators.instructions import is_instruction
from docsbot.qa.generators.text import (
    FUNCTION_WORDS,
    Block,
    clip,
    fenced,
    is_imperative,
    lower_first,
    sentences,
    strip_end,
    verb_base,
)
from docsbot.qa.generators.wording import CODEISH, page_name, task_phrase, vague

# Things a section shows how to write when its code defines them: "Caching Decorator" over `def cached(...)`.
_ARTIFACTS = {"decorator", "function", "class", "view", "middleware", "handler", "model", "form", "command", "fixture",
              "factory", "filter", "processor", "converter", "loader", "validator", "hook", "callback", "wrapper"}

_DEFINED_NAME = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+(?P<name>\w+)", re.MULTILINE)


def artifact_pair(heading: str, code: str, before: Block | None) -> Candidate | None:
    """'How do I write a caching decorator?' when the code under the heading defines one (a def or class whose name
    shares a word stem with the heading: `cached`, `login_required`); code that only uses it (`@templated()`) does
    not answer how to write it."""
    words = heading.lower().split()
    if not 2 <= len(words) <= 5 or words[-1] not in _ARTIFACTS or vague(heading):
        return None
    stems = [re.sub(r"(?:ing|ed|es|s|e)$", "", word) for word in words[:-1] if len(word) >= 4]
    stems = [stem for stem in stems if len(stem) >= 4]
    defined = [name.lower() for name in _DEFINED_NAME.findall(code)]
    if not stems or not any(stem in name for stem in stems for name in defined):
        return None
    intro = sentences(before.text)[-1] if before and before.kind == "paragraph" and before.text.endswith(":") else ""
    answer = (intro + "\n\n" if intro and len(intro) < 200 else "") + fenced(code)
    article = "an" if words[0][0] in "aeiou" else "a"
    return Candidate(f"How do I write {article} {' '.join(words)}?", clip(answer), "example")


_USE_THIS = re.compile(r"^To use (?:this|it)\b")

_CLASS_DEFINED = re.compile(r"^\s*class\s+(?P<name>[A-Z]\w*)", re.MULTILINE)

_CLASS_CALLED = re.compile(r"\b(?P<name>[A-Z]\w*[a-z]\w*)\(")


def this_named(text: str, code_before: str, code_after: str) -> str:
    """'To use this with Flask, wrap the app object with the middleware:' between the code defining one class and the
    code calling it -> 'To use `HTTPMethodOverrideMiddleware` with Flask, ...'; the text as it is otherwise."""
    if not _USE_THIS.match(text):
        return text
    defined = set(_CLASS_DEFINED.findall(code_before))
    called = set(_CLASS_CALLED.findall(code_after))
    names = defined if len(defined) == 1 and not code_after else (called & defined if defined else called)
    return _USE_THIS.sub(f"To use `{names.pop()}`", text) if len(names) == 1 else text


_USAGE_INTRO = re.compile(r"^(?:Example usage|Usage example|Usage|Here is how (?:you can|to) use (?:it|this|them)|"
                          r"Here's how (?:you can|to) use (?:it|this|them))\s*:$", re.IGNORECASE)

_BARE_CALL = re.compile(r"(?<![\w.])(?P<name>[a-z_]\w*)\(")

_PYTHON_NAMES = frozenset(dir(builtins)) | frozenset(keyword.kwlist)  # print(), len(), if (...): not the page's


def usage_pair(intro: str, code: str) -> Candidate | None:
    """'Example usage:' or 'Here is how you can use it:' before code that calls one function the page defined:
    'How do I use `query_db()`?' (the helper's name says what it is about), answered by the example."""
    if not _USAGE_INTRO.match(intro):
        return None
    defined = set(_DEFINED_NAME.findall(code))
    called = {name for name in _BARE_CALL.findall(code) if name not in defined and name not in _PYTHON_NAMES}
    if len(called) != 1:
        return None
    return Candidate(f"How do I use `{called.pop()}()`?", clip(f"{intro}\n\n{fenced(code)}"), "example")


# "... like this", and a means that is the code itself ("by executing the command", "using the registered()"): the code
# shown answers how.
_EXAMPLE_TAIL = re.compile(r"\s+(?:like this|like so|as follows|this way|for example|below|here|"
                           r"(?:by (?:executing|running|typing|calling|using)|using|with) the (?:following )?"
                           r"(?:command|code|snippet|\w+\(\)))\s*$")

_YOU_CAN_CODE = re.compile(r"^(?:(?:So|Then|Also|Alternatively|Instead),?\s+)?[Yy]ou can (?:also |simply |easily |then )?"
                           r"(?P<task>[a-z].+)$")

_TO_DO_YOU = re.compile(r"^To (?P<task>[a-z][^,]{6,120}?) (?:you|we) (?:can|could|should|need to|have to|must)\b")

_FOLLOWING_DOES = re.compile(r"^The (?:following|code below|example below)(?: \w+)? (?:(?:shows|demonstrates|illustrates) "
                             r"how to (?P<how>[a-z].+)|(?P<verb>[a-z]+s) (?P<rest>.+))$")


_AUXILIARIES = {"are", "is", "was", "were", "can", "will", "would", "do", "does", "have", "has", "should", "may"}


_OPENING = re.compile(r"^(?:begin|start|first) by (?P<doing>[a-z]+ing)\b")


def _without_opening(task: str) -> str:
    """'begin by importing the Requests module' -> 'import the Requests module': the tutorial's order is no task."""
    match = _OPENING.match(task)
    verb = verb_base(match.group("doing")) if match else None
    return verb + task[match.end():] if match and verb else task


def code_example_pair(last: str, code: str, paragraph: str, title: str) -> Candidate | None:
    """A sentence that says what the code after it does is a how-to answered by the sentence and the code:
    "Install it from PyPI using pip:" (it: the page's product), "You can also pass arguments to the factory like
    this:", "To create the database you can use the init_db function:", "The following example demonstrates how to
    serve an SPA along with an API:"."""
    answer = clip(last + "\n\n" + fenced(code))
    first_word = last.split()[0] if last.split() else ""
    # "Imagine an application like this:" and "Like this:" open an example; they are not steps.
    if is_imperative(first_word) and is_instruction(last) and not TO_DO.match(last) \
            and not re.match(r"^\S+ \d|[^:]*:\s", last):  # "Case 1: a module:" is a caption
        words = strip_end(last).split()
        if len(words) > 1 and words[1].lower() in {"it", "them"}:
            name = page_name(title)
            if not name or name.lower() not in paragraph.lower():
                return None  # "Install it from PyPI": what "it" is, only the page says
            words[1] = name
        # "Create a project directory and enter it", "Install your application so it is importable": the "it" is
        # what the sentence just named.
        if vague(re.sub(r" (?:and \w+|so(?: that)?) (?:it|them)\b.*$", "", " ".join(words))):
            return None  # "Add the Python functions that will run these SQL commands": which, the page says
        task = _without_opening(re.sub(r"\byour\b", "my", lower_first(" ".join(words))))
        if words[-1].lower() in FUNCTION_WORDS | {"as"} or re.search(r"\b(?:are|is)\b", " ".join(words[1:4])):
            return None  # "Log record keys are structured as:": "Log" is the subject's noun, not an instruction
        return Candidate(f"How do I {task}?", answer, "example")
    looks = _LOOKS_LIKE.match(last)
    if looks:
        return _looks_like_pair(looks, answer, paragraph)
    match = _FOLLOWING_DOES.match(strip_end(last))
    if match and match.group("verb") and match.group("rest").split()[0] in _AUXILIARIES:
        return None  # "The following two commands are equivalent:": "commands" is the subject's noun, not its verb
    if match:
        task = match.group("how") or (f"{verb_base(match.group('verb'))} {_before_pronoun_clause(match.group('rest'))}"
                                      if verb_base(match.group("verb")) else "")
    else:
        match = _YOU_CAN_CODE.match(strip_end(last)) or _TO_DO_YOU.match(last)
        task = match.group("task") if match else ""
    task = task_phrase(_EXAMPLE_TAIL.sub("", strip_end(task))) if task else None
    return Candidate(f"How do I {task}?", answer, "example") if task else None


# "... the SHA1 checksum of the incoming data as it gets read and stores it ...": the clause that leans on a pronoun
# is detail; what the code does is said before it.
_PRONOUN_CLAUSE = re.compile(r",? (?:as|while|when|and|which|so|because) (?=(?:\S+ ){0,3}?(?:it|they|them|this|that)\b)")


def _before_pronoun_clause(text: str) -> str:
    return _PRONOUN_CLAUSE.split(text, maxsplit=1)[0]


# "A child template might look like this:" shows what such a thing looks like; "this is what X would look like"
# and "the result looks like this" lean on the page.
_LOOKS_LIKE = re.compile(r"^(?P<article>An?|The) (?P<thing>[\w`.()-]+(?: [\w`.()-]+){0,4}?) (?:(?:might|would|could|"
                         r"will|should|may|can) )?looks? (?:something )?like (?:this|so|the following)\s*:$")


def _looks_like_pair(match: re.Match, answer: str, paragraph: str) -> Candidate | None:
    article, thing = match.group("article").lower(), match.group("thing")
    if vague(thing) or thing.lower() in {"result", "output", "code", "example", "file", "project"}:
        return None
    if article == "the" and not CODEISH.search(thing):
        return None  # "The result would look like this:": which result, only the page says
    return Candidate(f"What does {article} {thing} look like?", answer, "example")
