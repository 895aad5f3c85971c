"""Narrative rules of the structural generator: questions from prose, not from headings or tables.

Each rule matches one sentence (or one list of steps) and asks about it; the answer is that
source text verbatim, so it is grounded by construction. Rules are deliberately strict about
what they ask: a question whose subject is "this" or "it" cannot be understood without the
page, so sentences whose key phrase leans on a pronoun are skipped. Over 400 lines: one table of
rules per sentence family (to-do sentences, option sentences, definitions, steps), kept together
because they share the pronoun and vagueness checks.
"""
from __future__ import annotations

import re
import sys
from functools import lru_cache

from docsbot.qa.generators import (
    LISTS_THE_WAYS,
    Candidate,
    page_context,
    vocabulary,
)
from docsbot.qa.generators import (
    structural as s,  # module import: structural calls back into this module
)
from docsbot.qa.generators.text import (
    FUNCTION_WORDS,
    clip,
    fenced,
    is_imperative,
    lower_first,
    sentences,
    strip_end,
    verb_base,
)

VAGUE = {"this", "that", "these", "those", "it", "its", "they", "them", "their", "such", "above", "below",
         "following", "here", "there", "same", "other", "one"}
_AUX = {"is", "are", "can", "should", "must", "will", "would", "may", "might", "could"}
_NOT_VERBS = {"does", "do", "did", "has", "have", "had", "was", "were", "cannot", "needs"}
# A clause that opens with one of these is not "subject verb ...": no question can be formed from it.
_NOT_SUBJECTS = {"when", "if", "further", "everything", "since", "while", "although", "as", "after", "before", "once",
                 "then", "now", "also", "here", "in", "for", "with", "by", "on", "at", "because", "so", "but", "and",
                 "or", "unlike", "like", "instead", "even", "just", "only", "there", "note"}
_STEP_LEAD = re.compile(r"^(?:-\s+|\d+[.)]\s+)?(?:(?:first|then|next|finally|now|also|optionally),?\s+)?",
                        re.IGNORECASE)
_LIST_MARK = re.compile(r"^(?:-\s+|\d+[.)]\s+)")
_CODEISH = re.compile(r"[`()_]|\w\.\w")


def _vague(phrase: str) -> bool:
    return bool(VAGUE & set(re.findall(r"[a-z']+", phrase.lower())))


def _words(text: str) -> list[str]:
    return text.split()


# Nouns that lemminflect also knows as verbs, which open descriptive sentences in docs ("Request objects ..."); the
# team's names open them too ("Flask provides", "Git stores"): vocabulary.names().
_NOUN_OPENERS = {"request", "requests", "response", "session",
                 "sessions", "view", "views", "form", "forms", "cookie", "cookies", "template", "templates", "signal",
                 "signals", "blueprint", "blueprints", "config", "process", "output", "record", "object", "state",
                 "type", "version", "address", "document", "documents", "package", "packages", "name", "error",
                 "errors", "file", "files", "data", "value", "values", "route", "routes", "rule", "rules", "host"}
# Verbs a task heading opens with ("Install Flask"); a heading like "Address already in use" is not a task.
TASK_VERBS = {"install", "configure", "run", "deploy", "use", "create", "add", "set", "enable", "disable", "write",
              "register", "define", "test", "build", "return", "handle", "store", "connect", "activate", "upgrade",
              "debug", "serve", "log", "open", "load", "close", "make", "start", "stop", "call", "pass", "send",
              "read", "render", "generate", "initialize", "initialise", "tell", "protect", "keep", "choose", "manage",
              "update", "delete", "remove", "check", "validate", "upload", "download", "import", "export", "move",
              "rename", "change", "customize", "customise", "extend", "secure", "avoid", "access", "get", "follow"}


# Sentence openers lemminflect also knows as verbs ("while away", "since" is not, but cheap to list).
_NOT_IMPERATIVE = {"imagine", "remember", "consult", "take", "sooner", "while", "since", "unless", "whether", "consider",
                   "like", "even", "well"}
SUBORDINATORS = {"since", "if", "when", "while", "although", "because", "as", "once", "unless", "whereas", "though"}


def is_instruction(sentence: str) -> bool:
    """An imperative sentence, possibly a list step ("- Run ...", "Then add ...")."""
    words = _STEP_LEAD.sub("", sentence.strip()).split()
    # The sentence starts with a capital ("Then call save()."), its verb need not ("call").
    if not words or not _LIST_MARK.sub("", sentence.strip())[:1].isupper():
        return False
    first = words[0].strip("`*,:")
    if first.lower() in _NOUN_OPENERS or first in vocabulary.names() or first.lower() in _NOT_IMPERATIVE or _OWN_SUBJECT.match(" ".join(words)) \
            or _has_verb_after_first(words):
        return False
    return is_imperative(first)


_FINITE = {"is", "are", "was", "were", "has", "should", "must", "can", "will", "would", "may", "might", "could",
           "cannot", "does"}


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


_YOU_DO = re.compile(r"\byou (?:can|should|must|need to|have to|may|will need to)\b|```|\$ |>>> ")
_CODE_SHOWN = re.compile(r"```|\$ |>>> ")
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
    return bool(match) and not _EXAMPLE_INTRO.match(sentence) and not _vague(match.group(0))


def has_instruction(answer: str) -> bool:
    """A how-to answer must say what to do: an imperative, code, "you can/should ..." with a means, a means in the
    passive, or the ways listed."""
    if _CODE_SHOWN.search(answer) or _PASSIVE_MEANS.search(answer) or LISTS_THE_WAYS.search(answer) or any(
            _says_means(sentence) for line in answer.splitlines() for sentence in sentences(line)):
        return True
    return any(is_instruction(sentence) or is_instruction(_main_clause(sentence)) or _possible_with_means(sentence)
               or _ENABLES.match(sentence) for line in answer.splitlines() for sentence in sentences(line))


@lru_cache(maxsize=64)
def _means(product: str) -> re.Pattern:
    with_ = r"with(?! (?:" + vocabulary.alternation(frozenset({product} - {""})) + r"|ease|it|them)\b)"
    return re.compile(r"`|\w\(|\w\.\w|--\w|\b(?:" + with_ + r"|using|by|via|through|command|option|setting|function|"
                      r"method|decorator|file|argument|parameter)\b")


def _possible_with_means(sentence: str) -> bool:
    """'It is possible to override X with Y' says how; 'It is also possible to provide categories when flashing a
    message' only says that it can be done."""
    clause = _possible(sentence)
    return is_instruction(clause) and bool(_means(vocabulary.product()).search(clause))


def _main_clause(sentence: str) -> str:
    """'To delete a widget, send DELETE to its URL.' -> 'Send DELETE to its URL.'"""
    match = re.match(r"^(?:(?:For instance|For example), )?(?:To|In order to|in order to|If|When|Before|After|Once|Then|"
                     r"First|Next|Finally)\b[^,]*,\s+(?P<main>.+)$", sentence)
    return match.group("main")[:1].upper() + match.group("main")[1:] if match else ""


# --- sentence rules -------------------------------------------------------------------------

_PURPOSE = re.compile(r"^(?P<do>.{3,160}?),? (?:in order )?to (?P<task>[a-z]\w+ [^,;:]{5,100}?)[.:]?$")
_CONDITION = re.compile(r"^(?P<word>If|When|Whenever|Once|Unless) (?P<cond>[^,]{8,110}), (?P<main>[^,].{15,})$")
_WANT = re.compile(r"^you (?:want|need|wish|would like|'d like) to (?P<task>[a-z]\w+ .{4,90})$")
_BECAUSE = re.compile(r"^(?P<main>[A-Z`][^,;]{10,140}?),? (?:because|so that) (?P<why>.{10,})$")
_DOES = re.compile(r"^(?P<subject>`?[A-Za-z_][\w.]*(?:\(\))?`?) (?P<verb>[a-z]+s) (?P<rest>.{12,})$")


# "You may want to make X dynamic, by ..." is no way "to want to make X dynamic"; "bind when creating the serializer"
# has no object: what is bound, only the sentence before the "to" says.
_WISH_VERBS = {"want", "need", "wish", "like", "hope", "prefer", "try", "have", "choose", "decide"}


# "Upload an image to go along with a post": "go along with" is no task a reader asks how to do.
_NOT_TASK_VERBS = {"go", "come", "be", "seem", "happen"}
# "return another JSON type": another than what the page just showed.
_RELATIVE_OBJECT = re.compile(r"\b(?:another|the other|other such)\b", re.IGNORECASE)
# "If neither option is set", "A corresponding application context": which options, corresponding to what, the text
# before says.
_RELATIVE_SUBJECT = re.compile(r"\b(?:corresponding|(?:neither|either) (?:option|one|way|value|setting|case)s?)\b",
                               re.IGNORECASE)


def task_phrase(text: str) -> str | None:
    """'switch traffic back to the previous bundle' when it starts with a verb and leans on no pronoun."""
    task = re.sub(r"\byourself\b", "myself", re.sub(r"\byour\b", "my", strip_end(text)))
    words = _words(task)
    # "override the default" leans on the page for what the default is, like a pronoun does.
    if not (3 <= len(words) <= 14) or _vague(task) or not is_imperative(words[0]) or task.endswith(("'s", "’s")) \
            or re.search(r"\bthe default\b", task) or words[0].lower() in _WISH_VERBS \
            or words[1].lower() in SUBORDINATORS - {"as"} or words[0].lower() in _NOT_TASK_VERBS \
            or _RELATIVE_OBJECT.search(task):
        return None
    return task


# "You can call render_field(...) to add a class" and "It's possible to override X to change Y" say what to do, too.
_POSSIBLE = re.compile(r"^(?:(?:So|Also|Alternatively|Optionally|Instead),?\s+)?(?:for example,?\s+)?"
                       r"(?:you can|you could|it[’']s possible to|it is possible to)(?: also)?\s+", re.IGNORECASE)


_ELSEWHERE = re.compile(r"\b(?:follow|see|read|check|consult|refer to|head over to|go to|visit)\b.*\b(?:instructions|documentation|docs|"
                        r"guide|section|chapter|page|tutorial)\b", re.IGNORECASE)


_UNNAMED_API = re.compile(r"\b(?:this|that) (?:method|function|class|decorator|attribute|object|property)\b",
                          re.IGNORECASE)


def _possible(sentence: str) -> str:
    """'You can call X to do Y' -> 'Call X to do Y'; '' when the sentence does not open that way."""
    clause = _POSSIBLE.sub("", sentence)
    return clause[:1].upper() + clause[1:] if clause != sentence else ""


_NOT_MEANS_ENDINGS = {"need", "needs", "want", "wants", "have", "has", "able", "how", "going", "used", "like", "unless",
                      "not", "intended", "meant", "supposed", "designed", "ability", "chance", "opportunity",
                      "possibility"}  # "so that extensions have the ability to access X" is no way to access X


def _means_before_purpose(do: str) -> bool:
    """'Run `acme rollback`' is a means to the purpose after 'to'; 'Try' ("Try to extract X" restates X), "... instead
    of needing" (what you are spared) and "... unless you need" (a condition) are not."""
    words = _words(do)
    last = words[-1].lower()
    return len(words) >= 2 and last not in _NOT_MEANS_ENDINGS and not (last.endswith("ing") and verb_base(last))


def _purpose_pair(sentence: str, code_after: str) -> Candidate | None:
    """'Run `acme rollback` to switch traffic back.' -> 'How do I switch traffic back?'"""
    clause = _possible(sentence) or sentence
    if not is_instruction(clause):
        return None
    match = _PURPOSE.match(clause)
    # "... unless you need to store X" is not a way to store X.
    # "Override this method to ..." in a docstring: the answer would not name what to override.
    if not match or _UNNAMED_API.search(match.group("do")) or not _means_before_purpose(match.group("do")):
        return None
    # "Follow the installation instructions to set up X" points elsewhere; it does not say how.
    if _ELSEWHERE.search(match.group("do")):
        return None
    task = task_phrase(match.group("task"))
    if not task:
        return None
    answer = sentence + (f"\n\n{fenced(code_after)}" if sentence.endswith(":") and code_after else "")
    return Candidate(f"How do I {task}?", clip(answer), "how-to")


# "If you have larger applications it's recommended to divide them ...": no comma, the main clause opens with what the
# reader can or should do.
_CONDITION_BARE = re.compile(r"^(?P<word>If|When) (?P<cond>you [^,]{8,110}?) (?P<main>(?:you (?:can|should|must|need to|"
                             r"have to|could)|it[’']s (?:recommended|best|a good idea)|it is (?:recommended|best|"
                             r"a good idea))\b.{10,})$")


def _condition_pair(sentence: str, api_name: str, names: tuple[str, ...] = ()) -> Candidate | None:
    match = _CONDITION.match(sentence) or _CONDITION_BARE.match(sentence)
    if not match:
        return None
    cond, main = match.group("cond").strip(), match.group("main")
    if _about_the_page_subject(cond, main, names):
        return Candidate(f"What happens {match.group('word').lower()} {cond}?", sentence, "what-happens")
    want = _WANT.match(cond)
    if want:
        task = task_phrase(want.group("task"))
        if task and (is_instruction(main[:1].upper() + main[1:]) or _YOU_DO.search(main) or _ADVICE.match(main)):
            return Candidate(f"How do I {task}?", sentence, "how-to")
        return None
    first = _words(cond)[0].lower()
    if _JUST_USING.match(cond):
        return None  # "When you are working with WTForms, ...": everything on the page happens then
    if _READER_WISH.match(cond) and not (is_instruction(main[:1].upper() + main[1:]) or _YOU_DO.search(main)):
        return None  # "If you need asynchronous support, Gunicorn provides ...": nothing "happens"
    if (_vague(cond) or len(_words(cond)) < 3 or main.rstrip().endswith(("?", ":")) or (_vague(_words(main)[0]) and not _ADVICE.match(main))
            or first.endswith(("ing", "ed")) or cond.count("(") != cond.count(")") or _unnamed_subject(cond)
            or (_vague(_ADVICE.sub("", main)) and not _CODEISH.search(cond) and not _refers_to_condition(main))):
        return None
    if _RELATIVE_TO_PAGE.search(main):
        return None  # "..., you can install the uwsgi package instead": instead of what the page said before
    if _ELSEWHERE.search(main):
        return None  # "..., head over to the official Jinja2 Template Documentation": the answer is elsewhere
    if _MAIN_CLAUSE.search(cond):
        return None  # "If you call X you will get back Y, even if ...": the comma is not where the condition ends
    if _dangling_demonstrative(main, cond) or _RELATIVE_SUBJECT.search(cond):
        return None  # "..., the cookie's expiration will be set this number of seconds in the future": which number?
    if api_name and first == "you":
        return None  # "If you are using a single module, __name__ is ...": the reader's setup, not what the API does
    word = match.group("word").lower()
    where = f" in `{api_name}`" if api_name else ""
    if is_instruction(main[:1].upper() + main[1:]) or _YOU_DO.search(main) \
            or main.startswith(("consider ", "try ", "be sure ", "make sure ")) \
            or _ADVICE.match(main):
        # In a docstring the imperative describes what the API does ("If X, make it Y"), not advice.
        if api_name:
            return None
        return Candidate(f"What should you do {word} {cond}{where}?", sentence, "what-happens")
    return Candidate(f"What happens {word} {cond}{where}?", sentence, "what-happens")


_DEMONSTRATIVE_NOUN = re.compile(r"\b(?:this|that|these|those) (?P<noun>[a-z]{3,})\b")


def _dangling_demonstrative(main: str, cond: str) -> bool:
    """'this number of seconds' in the main clause when the condition names no number: it points at the text before."""
    return any(match.group("noun").rstrip("s") not in cond.lower() for match in _DEMONSTRATIVE_NOUN.finditer(main))


_SUBJECT_THEN_VERB = re.compile(r"^(?P<subject>(?:the|an?) [\w-]+(?: [\w-]+)?) (?:is|are|was|were|has|have|does|do|"
                                r"can|will|gets?|[a-z]+s)\b")


_JUST_USING = re.compile(r"^you(?:'re|’re| are)? (?:working with|work with|have to work with) [\w`.\- ]{2,60}$|"
                         r"^you (?:like|love|enjoy)\b")  # "If you like the idea of X": a taste, not a situation


def _about_the_page_subject(cond: str, main: str, names: tuple[str, ...]) -> bool:
    """'If the built-in debugger is not disabled, it will catch unhandled exceptions ...' on a debugging page: the
    main clause's pronoun is the condition's subject, a thing the page names, so the sentence stands alone."""
    subject = _SUBJECT_THEN_VERB.match(cond)
    if not subject or _words(main)[0].lower() not in {"it", "they"} or not names:
        return False
    rest = " ".join(_words(main)[1:])
    return page_context.named_on_page(subject.group("subject"), names) and not _vague(rest) and not _RELATIVE_TO_PAGE.search(main)


def _refers_to_condition(main: str) -> bool:
    """'it's recommended to divide them into smaller groups': advice whose only pronoun is its object, the thing the
    condition named ("If you have larger applications")."""
    match = _ADVICE.match(main)
    return bool(match) and not _vague(re.sub(r"^\s*(?:them|it)\b", "", main[match.end():].split(" ", 1)[-1]))


_MAIN_CLAUSE = re.compile(r"\b(?:you|it|they|this|we) (?:will|’ll|'ll)\b|\b(?:you|we)(?:’ll|'ll)\b")
_READER_WISH = re.compile(r"^you (?:need|want|wish|would like|prefer|require)\b")
_RELATIVE_TO_PAGE = re.compile(r"\b(?:instead|as well|too|either)\W*$|\binstead\b(?! of)")


# A condition with no subject of its own ("if not using tox", "if present") only makes sense on its page.
_NO_SUBJECT = {"not", "no", "so", "necessary", "possible", "needed", "required", "present", "available", "given",
               "true", "false", "omitted", "unset", "set", "enabled", "disabled", "desired", "applicable", "called",
               "done", "there", "any", "all", "only"}
_DEFINITE = {"the", "this", "that", "these", "those", "such"}
_VARIABLE = re.compile(r"(?<![\w`'\"])[A-HJ-Z](?![\w`'\"(])")  # "E", "D": a docstring's placeholder, not a name


def _unnamed_subject(cond: str) -> bool:
    """True when the condition's subject is something only the page names: "the decorated function
    returns", "the with block exits" (a definite reference to a plain noun), "E is present", "not using X"."""
    words = _words(cond)
    if words[0].lower() in _NO_SUBJECT or _VARIABLE.search(cond):
        return True
    if words[0].lower() in _DEFINITE:
        noun = words[1] if len(words) > 1 else ""
        return not (_CODEISH.search(noun) or noun.strip("`") in vocabulary.names() or noun.isupper())
    return False


_NEGATED = {"cannot", "can't", "can’t", "won't", "won’t", "don't", "don’t", "doesn't", "doesn’t"}


def _why_question(main: str) -> str | None:
    """'Flask uses X' -> 'Why does Flask use X'; 'the key must be secret' -> 'Why must the key be secret'."""
    words = _words(main)
    if not words or words[0].lower() in _NOT_SUBJECTS:
        return None
    for index, word in enumerate(words[:7]):
        subject = " ".join(words[:index])
        if index == 0 or _vague(subject) and subject.lower() not in {"there"}:
            continue
        rest = " ".join(words[index + 1:])
        if index + 1 < len(words) and words[index + 1].lower() in _AUX | _NEGATED and word.lower() not in _AUX:
            continue  # "Configuration keys should ...": "keys" is the subject's noun, "should" the verb
        if not rest:
            return None
        opener = subject.split()[0]
        if opener.lower() in {"the", "a", "an", "you", "we"} or (opener.isalpha() and opener not in vocabulary.names()):
            subject = lower_first(subject)
        lower = word.lower()
        if lower in _NOT_VERBS or (lower == "will" and subject.lower() == "you"):
            return None
        if lower in _AUX:
            return f"Why {lower} {subject} {rest}"
        base = verb_base(lower) if lower.isalpha() else None
        if base and base != lower and lower.endswith("s") and not lower.endswith("ss"):
            return f"Why does {subject} {base} {rest}"
        if base == lower and subject.lower() in {"you", "we", "users"}:
            return f"Why do {subject} {base} {rest}"
        if not word[:1].islower() and index > 0 and not _CODEISH.search(word):
            continue
    return None


# "Since g is a single global namespace, extensions must use unique names ...": the reason comes first. "Since
# version 2.0, ..." and "Since Flask 0.7, ..." say when, not why.
_REASON_PRONOUN = re.compile(r"\b(?:it|its|they|them|their|these|those)\b", re.IGNORECASE)
_SINCE = re.compile(r"^Since (?P<why>(?![^,]*\d)(?!version\b)[^,]{10,120}), (?P<main>[a-z`][^,].{10,})$")


def _why_pair(sentence: str) -> Candidate | None:
    since = _SINCE.match(sentence)
    match = _BECAUSE.match(sentence) or since
    if not match or _vague(" ".join(_words(match.group("main"))[:3])) or sentence.endswith((":", "?")):
        return None
    if match is since and _REASON_PRONOUN.search(since.group("main")):
        return None  # "Since X are valid responses, you could pass them through": "them" is the reason's X
    question = _why_question(strip_end(match.group("main")))
    if not question or len(_words(question)) > 22:
        return None
    return Candidate(question + "?", sentence, "why")


_PAGE_SPECIFIC = re.compile(r"[`()_]|\w\.\w|\b[A-Z]{3,}\b")  # the page's own names: app.instance_path, DATABASE


def _class_name(word: str) -> bool:
    """'MethodView', 'HTTPMethodOverrideMiddleware': a class named in CamelCase, not a product ("JavaScript")."""
    return bool(re.fullmatch(r"[A-Z][A-Za-z]*[a-z][A-Z]\w*", word)) and word not in vocabulary.names()


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


def _api_sentence_pair(sentence: str) -> Candidate | None:
    """A sentence about a named API that does not open on the name itself."""
    gerund = _GERUND_DOES.match(sentence)
    if gerund and (_CODEISH.search(gerund.group("name")) or _class_name(gerund.group("name"))):
        return Candidate(f"What does {gerund.group('gerund').lower()} `{gerund.group('name').strip('`')}` do?",
                         sentence, "what-is")
    the_api = _THE_API_IS.match(sentence)
    if the_api and not _vague(the_api.group("rest")):  # "is the one you probably used already"
        return Candidate(f"What is the `{the_api.group('name').strip('`')}` {the_api.group('kind')}?", sentence,
                         "what-is")
    nth = _NTH_ARGUMENT.match(sentence)
    if nth:
        return Candidate(f"What is the {nth.group('nth')} {nth.group('thing')} to `{nth.group('name').strip('`')}`?",
                         sentence, "api")
    return None


def _does_pair(sentence: str, after: str = "") -> Candidate | None:
    """'`flash()` stores messages ...' -> 'What does `flash()` do?' (code names only: prose subjects are vague)."""
    match = _DOES.match(sentence)
    if not match or not (_CODEISH.search(match.group("subject")) or _class_name(match.group("subject"))):
        return None
    verb = match.group("verb")
    if verb in {"is", "has", "does", "was"} or not verb_base(verb) or verb_base(verb) == verb:
        return None
    name = match.group("subject").strip("`")
    if _words(match.group("rest"))[0].lower() in {"this", "that", "these", "those", "it", "them", "such"}:
        return None  # "SecureCookieSessionInterface uses this to serialize ...": what "this" is, the text before says
    if s._PLACEHOLDER_NAME.search(name.removesuffix("()")):
        return None  # "get_X() ..." in a pattern: X stands for whatever the reader stores
    if name.split(".")[0] in sys.stdlib_module_names and _PAGE_SPECIFIC.search(match.group("rest")):
        return None  # "os.makedirs() ensures that app.instance_path exists": the page's call, not what it does
    # "close_db checks if a connection was created ... If the connection exists, it is closed.": the rest of what it does.
    return Candidate(f"What does `{name}` do?", f"{sentence} {after}".strip(), "what-is")


# "{% extends 'base.html' %} tells Jinja that ...", "{% block content %} is where the content of each page goes": a
# template tag is a name like a function's.
_TEMPLATE_TAG = re.compile(r"^(?P<tag>\{%[^%]{2,40}%\}|\{\{[^}]{2,40}\}\}) (?:(?P<is>is (?:where|used|the|a|an|similar))|"
                           r"(?P<verb>(?!is\b)[a-z]+s|will [a-z]+))\b.{10,}$")


# "The system that enables having a central URL map is the add_url_rule() function.": what enables it.
_ROLE_DEFINITION = re.compile(r"^The (?:[a-z]+ ){1,2}(?:that|which) (?P<does>[a-z]+s [^,]{5,80}?) (?:is|are) "
                              r"(?P<what>(?:the |a |an )?\S[^,]{2,80})\.$")


def _role_pair(sentence: str) -> Candidate | None:
    match = _ROLE_DEFINITION.match(sentence)
    if not match or _vague(match.group("does")) or not verb_base(match.group("does").split()[0]):
        return None
    return Candidate(f"What {match.group('does')}?", sentence, "what-is")


def _template_tag_pair(sentence: str) -> Candidate | None:
    match = _TEMPLATE_TAG.match(sentence)
    if not match:
        return None
    verb = (match.group("verb") or "").removeprefix("will ")
    if verb and not verb_base(verb):
        return None
    question = f"What is `{match.group('tag')}`?" if match.group("is") else f"What does `{match.group('tag')}` do?"
    return Candidate(question, sentence, "what-is")


_ADVICE = re.compile(r"^(?:it is|it[’']s) (?:best|recommended|better|a good idea) to [a-z]+")
_YOU_CAN_BY = re.compile(r"^(?:(?:So|Optionally|Alternatively|Also|Instead),?\s+)?"
                         r"(?P<who>you|You|[A-Z][a-z]+ (?:authors|developers|users)) (?:can|could|may)"
                         r"(?: also| easily| instead)? (?P<task>[a-z]\w+ [^,;]{5,100}?),? (?P<how>by|using|with|via) "
                         r"(?P<means>\S.{3,})$")


def _you_can_pair(sentence: str, names: tuple[str, ...] = ()) -> Candidate | None:
    """'You can bind to all external IPs by using 0.0.0.0 ...' -> 'How do I bind to all external IPs?'"""
    match = _YOU_CAN_BY.match(sentence)
    if not match or (match.group("how") == "by" and not match.group("means").split()[0].endswith("ing")
                     and not _CODEISH.search(match.group("means").split()[0])):
        return None  # "by" must give a way ("by using", "by passing"), not an agent ("by the server")
    if _words(match.group("task"))[-1] in {"is", "are", "was", "were", "be", "been"}:
        return None  # "... to identify what process id is using a port": "using" is the verb, not a means
    task = task_phrase(match.group("task"))
    who = match.group("who").lower()
    if not task or (match.group("how") == "with" and _cut_short(task)) or _unnamed_object(task, names):
        return None
    return Candidate(f"How do I {task}?" if who == "you" else f"How can {who} {task}?", sentence, "how-to")


def _cut_short(task: str) -> bool:
    """'search PyPI for packages tagged' (with what? "tagged with X" was read as a means "with X")."""
    last = _words(task)[-1].lower()
    return last in FUNCTION_WORDS or (last.endswith("ed") and bool(verb_base(last)))


def _unnamed_object(task: str, names: tuple[str, ...]) -> bool:
    """'use the adapter': which adapter, only the page says, unless the page is about it."""
    words = _words(task)
    return len(words) in (3, 4) and words[1] == "the" and not page_context.named_on_page(" ".join(words[1:]), names)


_WAY = re.compile(r"\b[Tt]he (?P<adj>easiest|recommended|best|simplest|preferred|correct|usual|standard) way to "
                  r"(?P<task>[a-z]\w+ [^,;]{5,80}?) (?:is|would be)\b")


def _way_pair(sentence: str) -> Candidate | None:
    """'... the recommended way to work with the shell is the flask shell command ...' -> 'What is the recommended
    way to work with the shell?'"""
    match = _WAY.search(sentence)
    task = task_phrase(match.group("task")) if match else None
    return Candidate(f"What is the {match.group('adj')} way to {task}?", sentence, "how-to") if task else None


# "The development server can also be started from Python with the Flask.run() method.": "from Python" is part of
# what is asked, the means follows it.
_PASSIVE_HOW = re.compile(r"^(?:(?P<the>The) )?(?P<subject>\S+(?: \S+)?) can (?P<also>also )?be (?P<done>[a-z]+ed)"
                          r"(?: (?P<place>from [A-Z`][\w.`]*))? (?:using|with|via|from|by using) (?P<means>.{4,})$")


def _passive_how_pair(sentence: str, names: tuple[str, ...]) -> Candidate | None:
    """'Nginx can be installed using your system package manager.' -> 'How can Nginx be installed?' The subject
    must be a name (code, a known product, or what the page is about): "It can be installed" asks nothing."""
    match = _PASSIVE_HOW.match(sentence)
    if not match:
        return None
    subject = match.group("subject").strip("`")
    if not (_CODEISH.search(match.group("subject")) or subject in vocabulary.names()
            or subject.lower() in {name.lower() for name in names} | _name_words(names)) or _vague(subject):
        return None
    if match.group("also") and match.group("done") == "used":
        return None  # "X can also be used with Y": one more use among those the page gave, no how-to
    subject = f"the {match.group('subject')}" if match.group("the") else match.group("subject")
    place = f" {match.group('place')}" if match.group("place") else ""
    return Candidate(f"How can {subject} be {match.group('done')}{place}?", sentence, "how-to")


# "The debugger is enabled by default when the development server is run in debug mode."
_PASSIVE_WHEN = re.compile(r"^(?P<subject>(?:The |An? )?[\w`.()-]+(?: [\w`.()-]+){0,3}?) (?P<be>is|are) "
                           r"(?P<adverb>(?:only|always|automatically|also|especially) )?"
                           r"(?P<done>[a-z]+ed|useful|helpful|necessary|available)(?P<extra> by default)? "
                           r"(?:when|if|whenever|once) (?P<cond>[^,;:]{8,})\.$")


def _passive_when_pair(sentence: str, names: tuple[str, ...]) -> Candidate | None:
    """'When is the debugger enabled by default?' The subject must be a name or something the page is about:
    "The result is cached when ..." needs the page to say which result."""
    match = _PASSIVE_WHEN.match(sentence)
    done = match.group("done") if match else ""
    if not match or not (verb_base(done) or not done.endswith("ed")) or not page_context.named_on_page(match.group("subject"),
                                                                                         names):
        return None
    subject = match.group("subject")
    if _RELATIVE_SUBJECT.search(subject):
        return None  # "A corresponding application context is pushed when ...": corresponding to what?
    first = subject.split()[0]
    if first in {"The", "A", "An"} or (first.istitle() and first not in vocabulary.names() and not _CODEISH.search(first)):
        subject = subject[:1].lower() + subject[1:]  # "Templates are ..." -> "When are templates ...?"
    adverb, extra = match.group("adverb") or "", match.group("extra") or ""
    return Candidate(f"When {match.group('be')} {subject} {adverb}{match.group('done')}{extra}?", sentence,
                     "what-happens")


# A project layout's list: "flaskr/, a Python package containing your application code and files."
_LAYOUT_ITEM = re.compile(r"^`?(?P<name>[\w.-]+/|[\w-]+\.[a-z]{2,4})`?, (?:a|an|the) (?P<what>[A-Za-z][^,]{8,})\.?$")


def _layout_item_pair(sentence: str) -> Candidate | None:
    """'What is the `flaskr/` directory?' answered by the item that names it and says what it is."""
    match = _LAYOUT_ITEM.match(sentence)
    if not match or _vague(match.group("what")):
        return None
    name = match.group("name")
    return Candidate(f"What is the `{name}` {'directory' if name.endswith('/') else 'file'}?", sentence, "what-is")


def _name_words(names: tuple[str, ...]) -> set[str]:
    """'httpd' on the 'Apache httpd' page: each word of a product the headings name."""
    return {word.lower() for name in names for word in s.page_name(name).split()}


# "passing debug=True enables debug mode": a setting in code that turns a feature on or off.
_ENABLES = re.compile(r"^(?:(?:When|If) [^,]{3,60}, )?(?P<means>(?:passing|setting|using|adding|calling) `?[\w.\-]+"
                      r"(?:=\w+|\(\))`?(?: (?:to|on) [\w.`]+)?) (?P<verb>enables|disables|turns on|turns off|activates|"
                      r"deactivates) (?P<what>[a-z][\w\- ]{3,40}?)(?:,.*|\.)?$")


def _enables_pair(sentence: str) -> Candidate | None:
    """'When running from Python code, passing debug=True enables debug mode.' -> 'How do I enable debug mode?'"""
    match = _ENABLES.match(sentence)
    if not match or _vague(match.group("what")):
        return None
    verb = {"turns on": "turn on", "turns off": "turn off"}.get(match.group("verb"), match.group("verb")[:-1])
    return Candidate(f"How do I {verb} {match.group('what')}?", sentence, "how-to")


_USED_FOR = re.compile(r"^(?:The )?(?:\w+ )?(?P<name>`?[A-Za-z_][\w.]*(?:\(\))?`?)(?: \w+)?(?: of [^,]{3,40})? "
                       r"(?:is|are|can be) used (?P<what>to|for) (?P<rest>.{8,})$")


def _used_for_pair(sentence: str) -> Candidate | None:
    """'The method is_endpoint_expecting() of the URL map can be used to ...' -> 'What is `is_endpoint_expecting()`
    used for?' (code names only: "The method is used for" names nothing)."""
    match = _USED_FOR.match(sentence)
    if not match or not _CODEISH.search(match.group("name")) or _vague(" ".join(_words(match.group("rest"))[:3])):
        return None
    return Candidate(f"What is `{match.group('name').strip('`')}` used for?", sentence, "what-is")


_REQUIRES = re.compile(r"^(?:(?P<gerund>[A-Z][a-z]+ing) (?P<object>[^,]{3,40}?)|(?:When|If) using (?P<using>[^,]{3,40}),"
                       r" (?P<what>.{3,60}?) (?:is|are)) (?P<verb>requires|required)\b.{0,200}$")


def _requires_pair(sentence: str) -> Candidate | None:
    """'Installing mod_wsgi requires a compiler ...' -> 'What does installing mod_wsgi require?';
    'When using eventlet, greenlet>=1.0 is required ...' -> 'What is required when using eventlet?'"""
    match = _REQUIRES.match(sentence)
    if not match:
        return None
    if match.group("gerund") and match.group("verb") == "requires" and verb_base(match.group("gerund").lower()) \
            and not _vague(match.group("object")):
        return Candidate(f"What does {match.group('gerund').lower()} {match.group('object')} require?", sentence,
                         "what-is")
    if match.group("using") and match.group("verb") == "required" and not _vague(match.group("using")):
        return Candidate(f"What is required when using {match.group('using')}?", sentence, "what-is")
    return None


# "Editable mode means that ...", "404 means “Not Found”": what a term means. A gerund ("Installing means you can
# ...") says what a task brings, not what a word means.
_TERM_MEANS = re.compile(r"^(?:(?P<term>[A-Z][a-z]+(?: [a-z]+){0,2}|\d{3})|[“\"](?P<quoted>[A-Za-z][\w-]*(?: [\w-]+){0,2})"
                         r"[”\"]) means (?:that )?(?P<rest>\S.{8,})$")


def _term_means_pair(sentence: str) -> Candidate | None:
    """'What does editable mode mean?'; a quoted term keeps its quotes: '“Production” means “not development”, ...'
    -> 'What does “production” mean?'"""
    match = _TERM_MEANS.match(sentence)
    if not match:
        return None
    if match.group("quoted"):
        term = match.group("quoted")
        term = term if term.split()[0] in vocabulary.names() else lower_first(term)
        return None if _vague(term) else Candidate(f"What does “{term}” mean?", sentence, "what-is")
    term = match.group("term")
    first = term.split()[0].lower()
    if _vague(term) or (first.endswith("ing") and verb_base(first)) or first in _NOT_SUBJECTS | {"which", "what"}:
        return None
    term = term if term.split()[0] in vocabulary.names() else lower_first(term)
    return Candidate(f"What does {term} mean?", sentence, "what-is")


@lru_cache(maxsize=64)
def _does_when(names: frozenset[str]) -> re.Pattern:
    """"<Product> will automatically detect the factory if it is named create_app": what a named thing (one of the
    team's names, or a call) does, and when."""
    return re.compile(r"^(?P<subject>(?:" + vocabulary.alternation(names) + r")|`?[A-Za-z_][\w.]*\(\)`?) "
                      r"(?P<aux>will|can) (?:also )?(?P<does>[a-z][^,:;]{5,80}?) (?:if|when|whenever) "
                      r"(?P<cond>[^,:;?]{8,})\.$")


def _does_when_pair(sentence: str) -> Candidate | None:
    match = _does_when(vocabulary.names()).match(sentence)
    if not match:
        return None
    does = match.group("does")
    words = _words(does)
    verb = words[1] if words[0].endswith("ly") and len(words) > 1 else words[0]  # "automatically detect"
    # "go quite far with that in that it will ...": a pronoun or a dangling "or" leaves the question unfinished.
    if _vague(does) or words[-1] in FUNCTION_WORDS or not verb_base(verb):
        return None
    if re.search(r"\balso\b", sentence):
        return None  # "Flask will also automatically push an app context when ...": one case of several
    aux = "does" if match.group("aux") == "will" else "can"
    return Candidate(f"When {aux} {match.group('subject')} {does}?", sentence, "what-happens")


# "Putting an HTTP server in front of the WSGI server is called a “reverse proxy.”": a term named where it is defined.
_CALLED = re.compile(r"^(?P<what>[A-Z][^,;:]{10,150}?) (?:is|are) (?:often |usually |commonly |also )?called "
                     r"(?P<article>an? |the )?[“\"](?P<term>[A-Za-z][\w -]{2,40}?)[.,]?[”\"][.,]?$")


def _called_pair(sentence: str) -> Candidate | None:
    match = _CALLED.match(sentence)
    if not match or _vague(match.group("what")) or _vague(match.group("term")):
        return None
    return Candidate(f"What is {match.group('article') or ''}{match.group('term')}?", sentence, "what-is")


def sentence_pairs(sentence: str, code_after: str, api_name: str = "", names: tuple[str, ...] = (), after: str = ""
                   ) -> list[Candidate]:
    """Narrative pairs from one sentence; the first rule that matches wins. names: the headings above it; after:
    the next sentence when this one is short (what it goes on to say)."""
    for rule in (lambda: _purpose_pair(sentence, code_after), lambda: _you_can_pair(sentence, names),
                 lambda: _passive_how_pair(sentence, names), lambda: _used_for_pair(sentence),
                 lambda: _requires_pair(sentence), lambda: _way_pair(sentence), lambda: _enables_pair(sentence),
                 lambda: _term_means_pair(sentence), lambda: _called_pair(sentence), lambda: _condition_pair(sentence, api_name, names),
                 lambda: _does_when_pair(sentence), lambda: _passive_when_pair(sentence, names),
                 lambda: _layout_item_pair(sentence),
                 lambda: _why_pair(sentence), lambda: _template_tag_pair(sentence), lambda: _role_pair(sentence),
                 lambda: _api_sentence_pair(sentence), lambda: _statement_pair(sentence, after, api_name, names),
                 lambda: _does_pair(sentence, after)):
        candidate = rule()
        if candidate:
            return [candidate]
    return []


# A path of the page's own project ("flaskr/static", "/etc/nginx/nginx.conf"), not a URL.
_PAGE_PATH = re.compile(r"(?<![:/\w])/?[\w.-]+/[\w./-]+")


def _statement_pair(sentence: str, after: str, api_name: str, names: tuple[str, ...]) -> Candidate | None:
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
        return Candidate(page_context.page_titled(candidate.question, names[0]), candidate.answer, candidate.kind)
    return candidate


def _no_named_subject(subject: str) -> bool:
    """'This', 'There', 'When', 'The': the word opening a statement names nothing a question could ask about."""
    return subject.lower() in VAGUE | FUNCTION_WORDS | _NOT_SUBJECTS


# "JSON cannot represent binary data directly, so ...", "Note that run_simple is not intended for use in production.",
# "Flask will never have a database layer.": what a named thing does not do, asked the way a user asks it.
_NEGATION = re.compile(r"^(?:(?:By default|However|Note that|Also),?\s+)?(?P<subject>[A-Z][\w-]*|`?[a-z_][\w.]*(?:\(\))?`?) "
                       r"(?P<negation>does not|doesn't|do not|don't|cannot|can't|is not|isn't|are not|aren't|will never|"
                       r"will not|won't) (?:just |really )?(?P<rest>[a-z][^,;:()]{5,100}?)"
                       r"(?P<tail>(?:[,;]| because | since | which | but ).*)?\.$")
_YES_NO = {"does not": "Does", "doesn't": "Does", "do not": "Do", "don't": "Do", "cannot": "Can", "can't": "Can",
           "is not": "Is", "isn't": "Is", "are not": "Are", "aren't": "Are", "will never": "Will ever",
           "will not": "Will", "won't": "Will"}


def _negation_pair(sentence: str, after: str) -> Candidate | None:
    """'Async is not inherently faster than sync code.' -> 'Is async inherently faster than sync code?', answered
    by the sentence (and the next one when this one is short: "It will not have a form library ...")."""
    match = _NEGATION.match(re.sub(r"\b(is|are|does|do) just not\b", r"\1 not", sentence))
    if not match:
        return None
    subject, rest = match.group("subject"), match.group("rest")
    if _no_named_subject(subject) or _vague(rest) or rest.startswith("to be "):
        return None  # "This does not ...", "X is not to be confused with ...": no question of its own
    if subject[:1].islower() and not _CODEISH.search(subject):
        return None  # "flask does not ...": a lowercase subject must be code
    auxiliary, *ever = _YES_NO[match.group("negation")].split()
    return Candidate(f"{auxiliary} {s.sentence_case(subject)} {' '.join([*ever, rest])}?", f"{sentence} {after}".strip(),
                     "what-is")


# "Flask uses the Jinja template library to render templates." -> "Which template library does Flask use?"
_USES_NAMED = re.compile(r"^(?P<subject>[A-Z]\w+) uses (?:the |its )?(?P<name>[A-Z][\w.]*) (?P<kind>[a-z]+(?: [a-z]+)?)"
                         r"(?: (?:which|that|to|for|as|in)\b.*)?\.$")


def _uses_which_pair(sentence: str, after: str) -> Candidate | None:
    match = _USES_NAMED.match(sentence)
    if not match or _no_named_subject(match.group("subject")) or _vague(match.group("kind")):
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
    if not match or not verb or _no_named_subject(match.group("subject")) or _vague(match.group("object")):
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
    if _vague(rest) or re.search(r"\b(?:us|we|our)\b", rest):
        rest = re.split(r" (?:that|which|who) ", rest, maxsplit=1)[0]
        if rest == match.group("rest") or _vague(rest) or len(rest.split()) < 2:
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
    if not match or _vague(match.group("subject")) or _vague(match.group("where")) \
            or match.group("subject").split()[0].lower() in _NOT_SUBJECTS | {"each", "every", "some", "all"}:
        return None
    first, _, more = match.group("subject").partition(" ")
    subject = " ".join(filter(None, [s.sentence_case(first), more]))  # "Uploaded files" -> "uploaded files"
    return Candidate(f"Where {match.group('be')} {subject} {match.group('verb')}?", sentence, "what-is")


# --- section rules --------------------------------------------------------------------------

def heading_task(heading: str) -> str | None:
    """'Install Flask' or 'Installing Flask' -> 'install Flask'."""
    words = _words(heading)
    if len(words) < 2 or len(words) > 8 or _vague(heading) or heading.endswith("?"):
        return None
    first = words[0]
    if len(words) == 3 and words[1].lower() in {"and", "or"}:
        return None  # "Build and Install": build and install what, the page says
    if first.lower() in TASK_VERBS:
        return " ".join([first.lower(), *words[1:]])
    base = verb_base(first) if first.lower().endswith("ing") else None
    return " ".join([base, *words[1:]]) if base else None


def steps_pair(heading: str, blocks: list) -> Candidate | None:
    """A task heading followed by at least two imperative list steps: the steps are the answer."""
    task = heading_task(heading)
    if not task:
        return None
    steps = [b.text for b in blocks if b.kind == "paragraph" and b.text.startswith("- ") and is_instruction(b.text)]
    if len(steps) < 2:
        return None
    return Candidate(f"How do I {task}?", clip("\n".join(steps)), "how-to")
