"""Does a text say what to do? An imperative ("Run ...", "- Then add ..."), code, "you can ..." with a means ("with the
shell command"), a means in the passive ("This can be accomplished with a middleware"), or the ways listed. How-to
answers must, and several families ask it of the sentences they read."""
from __future__ import annotations

import re
from functools import lru_cache

from docsbot.qa.generators import vocabulary
from docsbot.qa.generators.base import LISTS_THE_WAYS
from docsbot.qa.generators.text import is_imperative, sentences, verb_base
from docsbot.qa.generators.wording import vague

_STEP_LEAD = re.compile(r"^(?:-\s+|\d+[.)]\s+)?(?:(?:first|then|next|finally|now|also|optionally),?\s+)?",
                        re.IGNORECASE)

_LIST_MARK = re.compile(r"^(?:-\s+|\d+[.)]\s+)")

# Nouns that lemminflect also knows as verbs, which open descriptive sentences in any docs ("Output is written ...");
# the team's own nouns (vocabulary.is_noun: "Task queues are used ...", see _noun_subject) and names ("Flask
# provides", "Git stores") open them too.
_NOUN_OPENERS = {"process", "output", "record", "object", "state", "type", "version", "address", "document",
                 "documents", "package", "packages", "name", "error", "errors", "file", "files", "data", "value",
                 "values", "rule", "rules", "host", "config"}

# Sentence openers lemminflect also knows as verbs ("while away", "since" is not, but cheap to list).
_NOT_IMPERATIVE = {"imagine", "remember", "consult", "take", "sooner", "while", "since", "unless", "whether", "consider",
                   "like", "even", "well"}


def is_instruction(sentence: str) -> bool:
    """An imperative sentence, possibly a list step ("- Run ...", "Then add ...")."""
    words = _STEP_LEAD.sub("", sentence.strip()).split()
    # The sentence starts with a capital ("Then call save()."), its verb need not ("call").
    if not words or not _LIST_MARK.sub("", sentence.strip())[:1].isupper():
        return False
    first = words[0].strip("`*,:")
    if first.lower() in _NOUN_OPENERS or _noun_subject(first, words) or first in vocabulary.names() \
            or first.lower() in _NOT_IMPERATIVE or _OWN_SUBJECT.match(" ".join(words)) or _has_verb_after_first(words):
        return False
    return is_imperative(first)


_FINITE = {"is", "are", "was", "were", "has", "should", "must", "can", "will", "would", "may", "might", "could",
           "cannot", "does"}


# Verbs a noun phrase's predicate opens with ("REST framework provides ...", "Group also supports ...").
_PREDICATE_VERBS = {"provides", "supports", "includes", "allows", "offers", "uses", "lets", "makes", "takes", "has",
                    "does", "needs", "requires", "contains", "returns", "accepts"}


def _noun_subject(first: str, words: list[str]) -> bool:
    """'Task queues are used ...', 'Message properties can be passed ...', 'Project layout:': a word the team's docs use
    as a noun opens a noun phrase with its verb a few words on, or a caption. 'Merge branch maint into the current
    branch' (a noun in Git's docs, too) has no such verb: an instruction."""
    if not vocabulary.is_noun(first):
        return False
    if len(words) <= 3 and words[-1].endswith(":"):
        return True
    for word in words[1:5]:
        bare = word.lower().strip("`*")
        if bare.rstrip(",;:") in _FINITE | _PREDICATE_VERBS:
            return True
        if bare.endswith((",", ";", ":")):
            return False
    return False


def _has_verb_after_first(words: list[str]) -> bool:
    """'Code quickly becomes hard to read', 'create should insert the post': the first word is the subject of the
    verb after it (a modal, or a verb in -s after an adverb), not a verb in the imperative."""
    rest = [word.lower().strip(",") for word in words[1:3]]
    if rest and rest[0].endswith("ly") and len(rest) > 1:
        verb = rest[1]
        return verb in _FINITE or (verb.endswith("s") and verb_base(verb) not in {None, verb})
    return bool(rest) and rest[0] in _FINITE


# "Even more simply, we could place this ...": the clause after the opening phrase has its own subject, so the
# first word ("Even") is no verb in the imperative.
_OWN_SUBJECT = re.compile(r"^[A-Z][\w ]{0,30}, (?:we|you|I|they|one|it) (?:can|could|should|would|may|might|will|"
                          r"need|have|must|\w+s)\b")

YOU_DO = re.compile(r"\byou (?:can|should|must|need to|have to|may|will need to)\b|```|\$ |>>> ")

_CODE_SHOWN = re.compile(r"```|\$ |>>> ")

# "To update the index with a file's contents, use" then the command: the sentence's object is the code after it.
# Not "... a path to a CA bundle to use": a verb that ends its clause whole.
OBJECT_FOLLOWS = re.compile(r"(?:(?:^|[,;]\s*|\b(?:then|simply|just|and|or)\s+)(?:use|run|type|enter|execute|call)|"
                            r"(?<![\w-])(?:with|using|via|like|running|typing))$")


# "you can X" says how only with a means: a code name, a command, or "with/using/by ..." ("you can create
# your own" does not; "you can start a shell with the shell command" does).
@lru_cache(maxsize=64)
def _you_do_with_means(product: str) -> re.Pattern:
    # "handle uploaded files with <the product> easily" names no means: the whole product is no way to do a task.
    with_ = r"with(?! (?:" + vocabulary.alternation(frozenset({product} - {""})) + r"|ease|it|them)\b)"
    return re.compile(r"\b(?:[Yy]ou|[A-Za-z]+ (?:authors|developers|users)) (?:can|should|must|need to|have to|may|"
                      r"will need to)\b[^.;]*?(?:`|\w\(|\w\.\w|--\w|\b(?:" + with_ + r"|using|by|via|through|"
                      r"command|option|setting|function|method|decorator|file)\b)")


# A means said in the passive: "This can be accomplished with an HTTP middleware", "The way this works is by letting".
_PASSIVE_MEANS = re.compile(r"\b(?:can|could|may|should) (?:also )?be (?:done|accomplished|achieved|implemented|solved|"
                            r"handled|\w+ed)(?: from [A-Z`][\w.`]*)?"
                            r"\s+(?:with|by|using|through|via)\b|\bis by \w+ing\b|"
                            r"\bway is (?:to|by) \w+|\bway to [^.;]{3,80}? is (?:by|to|with|using|"
                            r"the [\w ]{1,30}?(?:command|function|method|option|decorator))\b")

# "Here is a simple example of how you can use X with Flask:" introduces a way; it does not give one.
_EXAMPLE_INTRO = re.compile(r"^(?:Here is|Here's|Here are|Below is|The following)\b")


def _says_means(sentence: str) -> bool:
    """'you can start a shell with the shell command'; not 'you have to replace them by ...' (a pronoun object)."""
    match = _you_do_with_means(vocabulary.product()).search(sentence)
    return bool(match) and not _EXAMPLE_INTRO.match(sentence) and not vague(match.group(0))


def has_instruction(answer: str) -> bool:
    """A how-to answer must say what to do: an imperative, code, "you can/should ..." with a means, a means in the
    passive, or the ways listed."""
    if _CODE_SHOWN.search(answer) or _PASSIVE_MEANS.search(answer) or LISTS_THE_WAYS.search(answer) or any(
            _says_means(sentence) for line in answer.splitlines() for sentence in sentences(line)):
        return True
    return any(is_instruction(sentence) or is_instruction(_main_clause(sentence)) or _possible_with_means(sentence)
               or _lets_you_with_means(sentence) or ENABLES.match(sentence)
               for line in answer.splitlines() for sentence in sentences(line))


@lru_cache(maxsize=64)
def _means(product: str) -> re.Pattern:
    with_ = r"with(?! (?:" + vocabulary.alternation(frozenset({product} - {""})) + r"|ease|it|them)\b)"
    return re.compile(r"`|\w\(|\w\.\w|--\w|\b(?:" + with_ + r"|using|by|via|through|command|option|setting|function|"
                      r"method|decorator|file|argument|parameter)\b")


def _possible_with_means(sentence: str) -> bool:
    """'It is possible to override X with Y' says how; 'It is also possible to provide categories when flashing a
    message' only says that it can be done."""
    clause = possible_clause(sentence)
    return is_instruction(clause) and bool(_means(vocabulary.product()).search(clause))


_LETS_YOU_TO = re.compile(r"\b(?:allows|lets|enables) you to (?P<clause>[a-z].+)$")


def _lets_you_with_means(sentence: str) -> bool:
    """'Requests allows you to provide these arguments as a dictionary, using the params keyword argument' says how;
    'Blueprints let you organise an application' only says what can be done."""
    match = _LETS_YOU_TO.search(sentence)
    return bool(match) and bool(_means(vocabulary.product()).search(match.group("clause")))


def _main_clause(sentence: str) -> str:
    """'To delete a widget, send DELETE to its URL.' -> 'Send DELETE to its URL.'"""
    match = re.match(r"^(?:(?:For instance|For example), )?(?:To|In order to|in order to|If|When|Before|After|Once|Then|"
                     r"First|Next|Finally)\b[^,]*,\s+(?P<main>.+)$", sentence)
    return match.group("main")[:1].upper() + match.group("main")[1:] if match else ""


# "You can call render_field(...) to add a class" and "It's possible to override X to change Y" say what to do, too.
_POSSIBLE = re.compile(r"^(?:(?:So|Also|Alternatively|Optionally|Instead|In general|Generally|Usually|Typically),?\s+)?"
                       r"(?:however,?\s+)?(?:for example,?\s+)?"
                       r"(?:you can|you could|you should|it[’']s possible to|it is possible to)(?: also)?\s+",
                       re.IGNORECASE)

ELSEWHERE = re.compile(r"\b(?:follow|see|read|check|consult|refer to|head over to|go to|visit)\b.*\b(?:instructions|documentation|docs|"
                       r"guide|section|chapter|page|tutorial)\b", re.IGNORECASE)


def possible_clause(sentence: str) -> str:
    """'You can call X to do Y' (or 'you should') -> 'Call X to do Y'; '' when the sentence does not open that way."""
    clause = _POSSIBLE.sub("", sentence)
    return clause[:1].upper() + clause[1:] if clause != sentence else ""


# "passing debug=True enables debug mode": a setting in code that turns a feature on or off.
ENABLES = re.compile(r"^(?:(?:When|If) [^,]{3,60}, )?(?P<means>(?:passing|setting|using|adding|calling) `?[\w.\-]+"
                     r"(?:=\w+|\(\))`?(?: (?:to|on) [\w.`]+)?) (?P<verb>enables|disables|turns on|turns off|activates|"
                     r"deactivates) (?P<what>[a-z][\w\- ]{3,40}?)(?:,.*|\.)?$")
