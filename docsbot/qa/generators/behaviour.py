"""How things behave: what happens if or when something holds ("What happens if the debugger is not disabled?"),
what to do in a situation ("What should you do if you change a static file?"), when something is done ("When is the
debugger enabled by default?", "When does Flask detect the factory?"), and why ("Why must the key be secret?")."""
from __future__ import annotations

import re
from functools import lru_cache

from docsbot.qa.generators import page_context, vocabulary
from docsbot.qa.generators.base import Candidate
from docsbot.qa.generators.instructions import ELSEWHERE, YOU_DO, is_instruction
from docsbot.qa.generators.text import FUNCTION_WORDS, lower_first, strip_end, verb_base
from docsbot.qa.generators.wording import CODEISH, NOT_SUBJECTS, split_words, task_phrase, vague

_CONDITION = re.compile(r"^(?P<word>If|When|Whenever|Once|Unless) (?P<cond>[^,]{8,110}), (?P<main>[^,].{15,})$")

_WANT = re.compile(r"^you (?:want|need|wish|would like|'d like) to (?P<task>[a-z]\w+ .{4,90})$")

_ADVICE = re.compile(r"^(?:it is|it[’']s) (?:best|recommended|better|a good idea) to [a-z]+")

# "If neither option is set", "A corresponding application context": which options, corresponding to what, the text
# before says.
_RELATIVE_SUBJECT = re.compile(r"\b(?:corresponding|(?:neither|either) (?:option|one|way|value|setting|case)s?)\b",
                               re.IGNORECASE)

# "If you have larger applications it's recommended to divide them ...": no comma, the main clause opens with what the
# reader can or should do.
_CONDITION_BARE = re.compile(r"^(?P<word>If|When) (?P<cond>you [^,]{8,110}?) (?P<main>(?:you (?:can|should|must|need to|"
                             r"have to|could)|it[’']s (?:recommended|best|a good idea)|it is (?:recommended|best|"
                             r"a good idea))\b.{10,})$")


def condition_pair(sentence: str, api_name: str, names: tuple[str, ...] = (), describes: bool = False
                   ) -> Candidate | None:
    """describes: the sentence is in an option's or term's description ("--short: When doing a dry-run, give the
    output in the short-format."), where an imperative says what the option does, not what the reader should."""
    match = _CONDITION.match(sentence) or _CONDITION_BARE.match(sentence)
    if not match:
        return None
    cond, main = match.group("cond").strip(), match.group("main")
    if _about_the_page_subject(cond, main, names):
        return Candidate(f"What happens {match.group('word').lower()} {cond}?", sentence, "what-happens")
    want = _WANT.match(cond)
    if want:
        task = task_phrase(want.group("task"))
        if task and (is_instruction(main[:1].upper() + main[1:]) or YOU_DO.search(main) or _ADVICE.match(main)):
            return Candidate(f"How do I {task}?", sentence, "how-to")
        return None
    first = split_words(cond)[0].lower()
    if _JUST_USING.match(cond):
        return None  # "When you are working with WTForms, ...": everything on the page happens then
    if _READER_WISH.match(cond) and not (is_instruction(main[:1].upper() + main[1:]) or YOU_DO.search(main)):
        return None  # "If you need asynchronous support, Gunicorn provides ...": nothing "happens"
    # "When contributing documentation, please follow ...": a participle's subject is the reader when told what to do.
    doing = first.endswith("ing") and bool(verb_base(first)) and _instruction(main) and len(split_words(cond)) >= 2 \
        and not describes
    if (vague(cond) or (len(split_words(cond)) < 3 and not doing) or main.rstrip().endswith(("?", ":"))
            or (vague(split_words(main)[0]) and not _ADVICE.match(main))
            or (first.endswith(("ing", "ed")) and not doing) or cond.count("(") != cond.count(")") or _unnamed_subject(cond)
            or (vague(_ADVICE.sub("", main)) and not CODEISH.search(cond) and not _refers_to_condition(main))):
        return None
    if _RELATIVE_TO_PAGE.search(main):
        return None  # "..., you can install the uwsgi package instead": instead of what the page said before
    if ELSEWHERE.search(main):
        return None  # "..., head over to the official Jinja2 Template Documentation": the answer is elsewhere
    if _MAIN_CLAUSE.search(cond):
        return None  # "If you call X you will get back Y, even if ...": the comma is not where the condition ends
    if _dangling_demonstrative(main, cond) or _RELATIVE_SUBJECT.search(cond):
        return None  # "..., the cookie's expiration will be set this number of seconds in the future": which number?
    if api_name and first == "you":
        return None  # "If you are using a single module, __name__ is ...": the reader's setup, not what the API does
    word = match.group("word").lower()
    where = f" in `{api_name}`" if api_name else ""
    if _instruction(main) or YOU_DO.search(main) \
            or main.startswith(("consider ", "try ", "be sure ", "make sure ")) \
            or _ADVICE.match(main):
        # In a docstring the imperative describes what the API does ("If X, make it Y"), not advice.
        if api_name:
            return None
        return Candidate(f"What should you do {word} {cond}{where}?", sentence, "what-happens")
    return Candidate(f"What happens {word} {cond}{where}?", sentence, "what-happens")


def _instruction(main: str) -> bool:
    """'please do your best to follow the style' and 'use single-quoted strings' tell the reader what to do."""
    clause = re.sub(r"^(?:please\s+)?(?:do your best to\s+)?", "", main, flags=re.IGNORECASE)
    return is_instruction(clause[:1].upper() + clause[1:])


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
    if not subject or split_words(main)[0].lower() not in {"it", "they"} or not names:
        return False
    rest = " ".join(split_words(main)[1:])
    return page_context.named_on_page(subject.group("subject"), names) and not vague(rest) and not _RELATIVE_TO_PAGE.search(main)


def _refers_to_condition(main: str) -> bool:
    """'it's recommended to divide them into smaller groups': advice whose only pronoun is its object, the thing the
    condition named ("If you have larger applications")."""
    match = _ADVICE.match(main)
    return bool(match) and not vague(re.sub(r"^\s*(?:them|it)\b", "", main[match.end():].split(" ", 1)[-1]))


# "If you call X you will get back Y", "If None the SchemaView will be configured with ...": a main clause inside.
_MAIN_CLAUSE = re.compile(r"\b(?:you|it|they|this|we) (?:will|’ll|'ll)\b|\b(?:you|we)(?:’ll|'ll)\b|\bwill be \w+ed\b")

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
    words = split_words(cond)
    if words[0].lower() in _NO_SUBJECT or _VARIABLE.search(cond):
        return True
    if words[0].lower() in _DEFINITE:
        noun = words[1] if len(words) > 1 else ""
        return not (CODEISH.search(noun) or noun.strip("`") in vocabulary.names() or noun.isupper())
    return False


# "The debugger is enabled by default when the development server is run in debug mode."
_PASSIVE_WHEN = re.compile(r"^(?P<subject>(?:The |An? )?[\w`.()-]+(?: [\w`.()-]+){0,3}?) (?P<be>is|are) "
                           r"(?P<adverb>(?:only|always|automatically|also|especially) )?"
                           r"(?P<done>[a-z]+ed|useful|helpful|necessary|available)(?P<extra> by default)? "
                           r"(?:when|if|whenever|once) (?P<cond>[^,;:]{8,})\.$")


def passive_when_pair(sentence: str, names: tuple[str, ...]) -> Candidate | None:
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
    if first in {"The", "A", "An"} or (first.istitle() and first not in vocabulary.names() and not CODEISH.search(first)):
        subject = subject[:1].lower() + subject[1:]  # "Templates are ..." -> "When are templates ...?"
    adverb, extra = match.group("adverb") or "", match.group("extra") or ""
    return Candidate(f"When {match.group('be')} {subject} {adverb}{match.group('done')}{extra}?", sentence,
                     "what-happens")


@lru_cache(maxsize=64)
def _does_when(names: frozenset[str]) -> re.Pattern:
    """"<Product> will automatically detect the factory if it is named create_app": what a named thing (one of the
    team's names, or a call) does, and when."""
    return re.compile(r"^(?P<subject>(?:" + vocabulary.alternation(names) + r")|`?[A-Za-z_][\w.]*\(\)`?) "
                      r"(?P<aux>will|can) (?:also )?(?P<does>[a-z][^,:;]{5,80}?) (?:if|when|whenever) "
                      r"(?P<cond>[^,:;?]{8,})\.$")


def does_when_pair(sentence: str) -> Candidate | None:
    match = _does_when(vocabulary.names()).match(sentence)
    if not match:
        return None
    does = match.group("does")
    words = split_words(does)
    verb = words[1] if words[0].endswith("ly") and len(words) > 1 else words[0]  # "automatically detect"
    # "go quite far with that in that it will ...": a pronoun or a dangling "or" leaves the question unfinished.
    if vague(does) or words[-1] in FUNCTION_WORDS or not verb_base(verb):
        return None
    if re.search(r"\balso\b", sentence):
        return None  # "Flask will also automatically push an app context when ...": one case of several
    aux = "does" if match.group("aux") == "will" else "can"
    return Candidate(f"When {aux} {match.group('subject')} {does}?", sentence, "what-happens")


_AUX = {"is", "are", "can", "should", "must", "will", "would", "may", "might", "could"}

_NOT_VERBS = {"does", "do", "did", "has", "have", "had", "was", "were", "cannot", "needs"}

_BECAUSE = re.compile(r"^(?P<main>[A-Z`][^,;]{10,140}?),? (?:because|so that) (?P<why>.{10,})$")

_NEGATED = {"cannot", "can't", "can’t", "won't", "won’t", "don't", "don’t", "doesn't", "doesn’t"}


def _why_question(main: str) -> str | None:
    """'Flask uses X' -> 'Why does Flask use X'; 'the key must be secret' -> 'Why must the key be secret'."""
    words = split_words(main)
    if not words or words[0].lower() in NOT_SUBJECTS:
        return None
    for index, word in enumerate(words[:7]):
        subject = " ".join(words[:index])
        if index == 0 or vague(subject) and subject.lower() not in {"there"}:
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
        if not word[:1].islower() and index > 0 and not CODEISH.search(word):
            continue
    return None


# "Since g is a single global namespace, extensions must use unique names ...": the reason comes first. "Since
# version 2.0, ..." and "Since Flask 0.7, ..." say when, not why.
_REASON_PRONOUN = re.compile(r"\b(?:it|its|they|them|their|these|those)\b", re.IGNORECASE)

_SINCE = re.compile(r"^Since (?P<why>(?![^,]*\d)(?!version\b)[^,]{10,120}), (?P<main>[a-z`][^,].{10,})$")


def why_pair(sentence: str) -> Candidate | None:
    since = _SINCE.match(sentence)
    match = _BECAUSE.match(sentence) or since
    if not match or vague(" ".join(split_words(match.group("main"))[:3])) or sentence.endswith((":", "?")):
        return None
    if match is since and _REASON_PRONOUN.search(since.group("main")):
        return None  # "Since X are valid responses, you could pass them through": "them" is the reason's X
    question = _why_question(strip_end(match.group("main")))
    if not question or len(split_words(question)) > 22:
        return None
    return Candidate(question + "?", sentence, "why")
