"""Vetting: the checks a grounded candidate still has to pass. Its answer is mended where chunking cut it, and a
pair is dropped when it is bad however well grounded: a how-to answer that says nothing to do, a pointer to another
page, an answer that leans on the previous section, a question cut at an abbreviation or in the tutorial's voice."""
from __future__ import annotations

import re

from docsbot.qa.generators.base import Candidate
from docsbot.qa.generators.instructions import OBJECT_FOLLOWS, has_instruction
from docsbot.qa.generators.text import ABBREVIATIONS, mend_cut_answer, sentences

# "Making your project installable means that ...": what the task is, not how to do it.
_TASK_MEANS = re.compile(r"^[A-Z][a-z]+ing\b[^.:]{0,80}\bmeans\b")

_BUILTIN_DOC = re.compile(r"\bD\[k\]|\bdict/iterable\b|\bE is present\b|\bD\.(?:keys|items|values|get|pop|"
                          r"popitem|setdefault|copy|update)\(|\bcopy of D\b|\[E, \]|\(k\[, d\]\)|"
                          r"\bv defaults to None\b|\bx\.__\w+__\(|\bIf the key is not found, return the default\b")

_POINTS_BACK = re.compile(r"\b(?:(?:shown|described|mentioned|explained|given|listed) (?:in the previous (?:section|"
                          r"chapter|step)|above|earlier)|(?:in|from) the previous (?:section|chapter|step)|see above)\b",
                          re.IGNORECASE)


def vetted(candidate: Candidate) -> Candidate | None:
    """The candidate, its answer trimmed where chunking cut it, or None when it is a bad pair however well it is
    grounded."""
    how_to = candidate.kind in {"how-to", "example"}
    mended = mend_cut_answer(candidate.answer, how_to)  # "...:" whose code went to the next chunk
    if not mended:
        return None
    candidate = Candidate(candidate.question, mended, candidate.kind)
    # A how-to answer that does not say what to do (an intro sentence under a task heading).
    if how_to and (not has_instruction(candidate.answer) or _TASK_MEANS.match(candidate.answer)):
        return None
    # dict/list methods inherited by a documented class carry CPython's docstrings ("If E is present and has a
    # .keys() method ..."): nothing a user of the documented API asks.
    if _BUILTIN_DOC.search(candidate.answer) or _BUILTIN_DOC.search(candidate.question):
        return None
    # "You can use the adapter by wrapping the Flask app," ends where ingestion cut it from its code.
    if candidate.answer.rstrip().endswith(",") or OBJECT_FOLLOWS.search(candidate.answer.rstrip()):
        return None  # "..., use" with its command left behind
    if "```" not in candidate.answer and _POINTS_BACK.search(candidate.answer):
        return None  # "... in the server arguments shown in the previous section": which, the answer does not hold
    if how_to and _POINTER_ONLY.search(candidate.answer):
        return None  # "Read Flask Extension Development to ...": the way is on another page
    if candidate.kind == "how-to" and _LEANS_BACK.match(candidate.answer):
        return None  # "This is identical to the register template except ...": what "this" is, the page says
    if candidate.question.count("(") != candidate.question.count(")") or _CUT_AT_ABBREVIATION.search(candidate.question) \
            or _RUN_ON.search(candidate.question):
        return None  # "how do I invalidate the cache manually (e.g?": a task cut out of its sentence, or run on
    if _cut_at_an_aside(candidate.question, candidate.answer):
        return None  # "How do I add Acked-by lines to?" from "add Acked-by lines to, say, the last 10 commits"
    if _VERB_WITHOUT_OBJECT.match(candidate.question):
        return None  # "How do I use with i18n_patterns?", "How do I set as handler400?": a heading's task, its object lost
    if candidate.question.endswith(".?"):  # "... the set of supported languages.?": the task's own full stop
        candidate = Candidate(candidate.question[:-2] + "?", candidate.answer, candidate.kind)
    story = _STORY_AFTER.search(candidate.answer)
    if story and story.start() > 0:  # "Httpie is a user friendly http client ... Let's install that.": the story goes on
        candidate = Candidate(candidate.question, candidate.answer[:story.start()], candidate.kind)
    if how_to and _NARRATION.match(candidate.answer.lstrip()):
        return None  # "Let's start by creating a simple object ...": the tutorial's story, not how to do the task
    if _LETS.search(next(iter(sentences(candidate.answer)), "")):
        return None  # "Namespaces are one honking great idea - let's do more of those!": a cheer, no answer
    if _FRAGMENT.match(candidate.answer):
        return None  # "as a 2-tuple; but raise KeyError if D is empty.": the rest of a sentence cut before it
    if _TUTORIAL_VOICE.search(candidate.question):
        return None  # "How do I add endpoints for our user models?": whose models, only the tutorial knows
    return candidate


# An answer whose last word is a pointer to another page: "See Deploying to Production.", "Read Flask Extension
# Development to develop your own Flask extension."
_POINTER_ONLY = re.compile(r"(?:^|[.?!]\s+)(?:See|Read|Refer to|Check out|Head over to|Have a look at|Continue to)\s+"
                           r"(?:the\s+)?[A-Z][\w’'-]*(?:\s+(?:[A-Z][\w’'-]*|and|to|with|in|for|of|the|a))*"
                           r"(?:\s+(?:to|for)\s+[^.]+)?\.?\s*$")

_ENDS_IN_PREPOSITION = re.compile(r"\b(?P<end>(?:\w+ ){0,2}(?:to|of|with|for|into|from|at|by|as in))\?$")


def _cut_at_an_aside(question: str, answer: str) -> bool:
    """A question ending in a preposition whose sentence goes on after a comma or colon there ("... lines to, say,
    the last 10 commits", "... as in:"): the task lost its object. Where the sentence ends there ("a remote to push
    your work to."), the preposition's object came before it. "in" and "on" are left out: "logged in," and "is on,"
    end a condition, their particle no preposition."""
    match = _ENDS_IN_PREPOSITION.search(question)
    return bool(match) and re.search(rf"\b{re.escape(match.group('end'))}\s*[,:]", answer) is not None


# "What is the the queryset argument?"; "How do I use the X scheme you'll need to configure ...?" (a comma missing).
_RUN_ON = re.compile(r"\b(\w+) \1\b|\byou(?:['’]ll| will| need| must| should)\b", re.IGNORECASE)

_CUT_AT_ABBREVIATION = re.compile(rf"\b(?:{ABBREVIATIONS})\??$", re.IGNORECASE)

_VERB_WITHOUT_OBJECT = re.compile(r"^How (?:do|can|should) I (?:use|set|add|create|configure|pass|define|register|enable|"
                                  r"disable|replace|specify|provide|make) (?:with|as|for|by|from|into|in|on|to)\b")

# A how-to answer that opens in the tutorial's voice: on all labelled kept pairs, 0 of 12 were good.
_NARRATION = re.compile(r"^(?:Let[’']s|Let us|Now (?:that )?(?:we|our)\b|Before we|We|Our|So (?:we|let[’']s))\b")

_LETS = re.compile(r"\blet[’']s\b", re.IGNORECASE)

_STORY_AFTER = re.compile(r"\s+(?:Let[’']s|Let us) [^.`:]*\.$")

_FRAGMENT = re.compile(r"^(?:as|but|and|or|than|whereas|because|so that)\s")

# "our models", and "my new style" (the style the page made a paragraph before).
_TUTORIAL_VOICE = re.compile(r"\b(?:our|we|us|let[’']s|(?:my|your) new)\b", re.IGNORECASE)

_LEANS_BACK = re.compile(r"^(?:This|That|It) (?:is|was|works) (?:identical|similar|the same|just like|like)\b")
