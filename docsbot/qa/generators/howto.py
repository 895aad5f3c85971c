"""How-to questions from sentences: "To do X, ..." ("How do I validate the data?"), "Run `acme rollback` to switch
traffic back.", "You can bind to all external IPs by using ...", "Nginx can be installed using ...", "The recommended
way to X is ...", "passing debug=True enables debug mode", "Installing mod_wsgi requires ...", "The trick is to ...".
The answer is the sentence, and the code it introduces when it ends its paragraph."""
from __future__ import annotations

import re

from docsbot.qa.generators import page_context, vocabulary
from docsbot.qa.generators.base import Candidate
from docsbot.qa.generators.instructions import (
    ELSEWHERE,
    ENABLES,
    OBJECT_FOLLOWS,
    has_instruction,
    is_instruction,
    possible_clause,
)
from docsbot.qa.generators.text import FUNCTION_WORDS, LIST_ITEM, clip, fenced, strip_end, verb_base
from docsbot.qa.generators.wording import (
    CODEISH,
    first_person,
    page_name,
    pronouns_in,
    split_words,
    task_phrase,
    vague,
)

TO_DO = re.compile(r"^(?:(?:Now|So|Then|First|Finally|Next|For instance|For example), (?:[Tt]o|in order to)|To|"
                   r"In order to) (?P<task>[a-z][^,]{6,120}),\s+(?P<rest>.+)$")

_WAY_INSIDE = re.compile(r" (?:use|call|run|set|add|pass|import|install) ")  # "To flash a message use flash(), ..."

_SUCH = re.compile(r"\bsuch\b(?! as\b)", re.IGNORECASE)  # "run such an application": which one, the page says

_PURPOSE = re.compile(r"^(?P<do>.{3,160}?),? (?:in order )?to (?P<task>[a-z]\w+ [^,;:]{5,100}?)[.:]?$")

# "Set to true to enable --ahead-behind": an entry's description, whose setting the sentence leaves out.
_SET_WHAT = re.compile(r"^(?:Set|Change|Switch|Turn) (?:it |this |them )?(?:to|on|off)\b")

_UNNAMED_API = re.compile(r"\b(?:this|that) (?:method|function|class|decorator|attribute|object|property)\b",
                          re.IGNORECASE)

_NOT_MEANS_ENDINGS = {"need", "needs", "want", "wants", "have", "has", "able", "how", "going", "used", "like", "unless",
                      "not", "intended", "meant", "supposed", "designed", "ability", "chance", "opportunity",
                      "possibility"}  # "so that extensions have the ability to access X" is no way to access X


def _means_before_purpose(do: str) -> bool:
    """'Run `acme rollback`' is a means to the purpose after 'to'; 'Try' ("Try to extract X" restates X), "... instead
    of needing" (what you are spared) and "... unless you need" (a condition) are not."""
    words = split_words(do)
    last = words[-1].lower()
    return len(words) >= 2 and last not in _NOT_MEANS_ENDINGS and not (last.endswith("ing") and verb_base(last))


def purpose_pair(sentence: str, code_after: str) -> Candidate | None:
    """'Run `acme rollback` to switch traffic back.' -> 'How do I switch traffic back?'"""
    clause = possible_clause(sentence) or sentence
    if not is_instruction(clause):
        return None
    match = _PURPOSE.match(clause)
    # "... unless you need to store X" is not a way to store X.
    # "Override this method to ..." in a docstring: the answer would not name what to override.
    if not match or _UNNAMED_API.search(match.group("do")) or not _means_before_purpose(match.group("do")) \
            or _SET_WHAT.match(match.group("do")):
        return None
    # "Follow the installation instructions to set up X" points elsewhere; it does not say how.
    if ELSEWHERE.search(match.group("do")):
        return None
    task = task_phrase(match.group("task"))
    if not task:
        return None
    answer = sentence + (f"\n\n{fenced(code_after)}" if code_shown(sentence, code_after) else "")
    return Candidate(f"How do I {task}?", clip(answer), "how-to")


_CODE_NAME = re.compile(r"`([^`\s]{3,})`|\b([A-Za-z_][\w.]*)\(\)|\b([a-z]+_\w+)\b")


def code_shown(sentence: str, code: str) -> bool:
    """Whether the code after a how-to sentence is its example: the sentence introduces it (a colon), or ends with a
    full stop and the code uses what it names ("use the force_authenticate() method." then
    ``force_authenticate(request, user=user)``)."""
    if not code:
        return False
    if sentence.endswith(":") or OBJECT_FOLLOWS.search(sentence):
        return True
    names = {next(group for group in match.groups() if group).lstrip(".") for match in _CODE_NAME.finditer(sentence)}
    return any(re.search(rf"(?<![\w.]){re.escape(name)}\b", code) for name in names if len(name) >= 3)


_YOU_CAN_BY = re.compile(r"^(?:(?:So|Optionally|Alternatively|Also|Instead),?\s+)?"
                         r"(?P<who>you|You|[A-Z][a-z]+ (?:authors|developers|users)) (?:can|could|may)"
                         r"(?: also| easily| instead)? (?P<task>[a-z]\w+ [^,;]{5,100}?),? (?P<how>by|using|with|via) "
                         r"(?P<means>\S.{3,})$")


def you_can_pair(sentence: str, names: tuple[str, ...] = ()) -> Candidate | None:
    """'You can bind to all external IPs by using 0.0.0.0 ...' -> 'How do I bind to all external IPs?'"""
    match = _YOU_CAN_BY.match(sentence)
    if not match or (match.group("how") == "by" and not match.group("means").split()[0].endswith("ing")
                     and not CODEISH.search(match.group("means").split()[0])):
        return None  # "by" must give a way ("by using", "by passing"), not an agent ("by the server")
    if split_words(match.group("task"))[-1] in {"is", "are", "was", "were", "be", "been"}:
        return None  # "... to identify what process id is using a port": "using" is the verb, not a means
    task = task_phrase(match.group("task"))
    who = match.group("who").lower()
    if not task or (match.group("how") == "with" and _cut_short(task)) or _unnamed_object(task, names):
        return None
    return Candidate(f"How do I {task}?" if who == "you" else f"How can {who} {task}?", sentence, "how-to")


def _cut_short(task: str) -> bool:
    """'search PyPI for packages tagged' (with what? "tagged with X" was read as a means "with X")."""
    last = split_words(task)[-1].lower()
    return last in FUNCTION_WORDS or (last.endswith("ed") and bool(verb_base(last)))


def _unnamed_object(task: str, names: tuple[str, ...]) -> bool:
    """'use the adapter': which adapter, only the page says, unless the page is about it."""
    words = split_words(task)
    return len(words) in (3, 4) and words[1] == "the" and not page_context.named_on_page(" ".join(words[1:]), names)


_WAY = re.compile(r"\b[Tt]he (?P<adj>easiest|recommended|best|simplest|preferred|correct|usual|standard) way to "
                  r"(?P<task>[a-z]\w+ [^,;]{5,80}?) (?:is|would be)\b")


def way_pair(sentence: str) -> Candidate | None:
    """'... the recommended way to work with the shell is the flask shell command ...' -> 'What is the recommended
    way to work with the shell?'"""
    match = _WAY.search(sentence)
    task = task_phrase(match.group("task")) if match else None
    return Candidate(f"What is the {match.group('adj')} way to {task}?", sentence, "how-to") if task else None


# "The development server can also be started from Python with the Flask.run() method.": "from Python" is part of
# what is asked, the means follows it.
_PASSIVE_HOW = re.compile(r"^(?:(?P<the>The) )?(?P<subject>\S+(?: \S+)?) can (?P<also>also )?be (?P<done>[a-z]+ed)"
                          r"(?: (?P<place>from [A-Z`][\w.`]*))? (?:using|with|via|from|by using) (?P<means>.{4,})$")


def passive_how_pair(sentence: str, names: tuple[str, ...]) -> Candidate | None:
    """'Nginx can be installed using your system package manager.' -> 'How can Nginx be installed?' The subject
    must be a name (code, a known product, or what the page is about): "It can be installed" asks nothing."""
    match = _PASSIVE_HOW.match(sentence)
    if not match:
        return None
    subject = match.group("subject").strip("`")
    if not (CODEISH.search(match.group("subject")) or subject in vocabulary.names()
            or subject.lower() in {name.lower() for name in names} | _name_words(names)) or vague(subject):
        return None
    if match.group("also") and match.group("done") == "used":
        return None  # "X can also be used with Y": one more use among those the page gave, no how-to
    subject = f"the {match.group('subject')}" if match.group("the") else match.group("subject")
    place = f" {match.group('place')}" if match.group("place") else ""
    return Candidate(f"How can {subject} be {match.group('done')}{place}?", sentence, "how-to")


def _name_words(names: tuple[str, ...]) -> set[str]:
    """'httpd' on the 'Apache httpd' page: each word of a product the headings name."""
    return {word.lower() for name in names for word in page_name(name).split()}


def enables_pair(sentence: str) -> Candidate | None:
    """'When running from Python code, passing debug=True enables debug mode.' -> 'How do I enable debug mode?'"""
    match = ENABLES.match(sentence)
    if not match or vague(match.group("what")):
        return None
    verb = {"turns on": "turn on", "turns off": "turn off"}.get(match.group("verb"), match.group("verb")[:-1])
    return Candidate(f"How do I {verb} {match.group('what')}?", sentence, "how-to")


_LETS_YOU = re.compile(r"^(?P<subject>[A-Z`][\w`.()\-]*(?: [\w`.()\-]+){0,3}?) (?P<verb>allows?|lets?|enables?|helps?) "
                       r"you (?:to )?(?P<task>[a-z]\w+ [^;:]{8,140}?)\.$")
_NOT_IN_SUBJECT = {"can", "could", "may", "might", "will", "would", "should", "must", "now", "also", "still", "then",
                   "which", "that", "this", "it"}
_LETS_YOU_DO = {"allow": "allow you to do", "enable": "enable you to do", "let": "let you do", "help": "help you do"}


def lets_you_pair(sentence: str, names: tuple[str, ...] = ()) -> Candidate | None:
    """'Requests allows you to send HTTP/1.1 requests extremely easily.' -> 'What does Requests allow you to do?' The
    subject must be a name or something the page is about: "This allows you to ..." needs the sentence before."""
    match = _LETS_YOU.match(sentence)
    if not match or vague(match.group("subject")) or vague(match.group("task")) \
            or not page_context.named_on_page(match.group("subject"), names):
        return None
    if {word.lower() for word in split_words(match.group("subject"))} & _NOT_IN_SUBJECT:
        return None  # "Git bisect can help you ...", "The X setting now allows you to ...": no plain subject
    subject, verb = match.group("subject"), match.group("verb")
    if subject.split()[0] in {"The", "A", "An"}:
        subject = subject[:1].lower() + subject[1:]
    does = "does" if verb.endswith("s") else "do"
    return Candidate(f"What {does} {subject} {_LETS_YOU_DO[verb.removesuffix('s')]}?", sentence, "what-is")


_REQUIRES = re.compile(r"^(?:(?P<gerund>[A-Z][a-z]+ing) (?P<object>[^,]{3,40}?)|(?:When|If) using (?P<using>[^,]{3,40}),"
                       r" (?P<what>.{3,60}?) (?:is|are)) (?P<verb>requires|required)\b.{0,200}$")


def requires_pair(sentence: str) -> Candidate | None:
    """'Installing mod_wsgi requires a compiler ...' -> 'What does installing mod_wsgi require?';
    'When using eventlet, greenlet>=1.0 is required ...' -> 'What is required when using eventlet?'"""
    match = _REQUIRES.match(sentence)
    if not match:
        return None
    if match.group("gerund") and match.group("verb") == "requires" and verb_base(match.group("gerund").lower()) \
            and not vague(match.group("object")):
        return Candidate(f"What does {match.group('gerund').lower()} {match.group('object')} require?", sentence,
                         "what-is")
    if match.group("using") and match.group("verb") == "required" and not vague(match.group("using")):
        return Candidate(f"What is required when using {match.group('using')}?", sentence, "what-is")
    return None


_TRICK = re.compile(r"^(?:So,? )?[Tt]he (?:trick|idea|solution) is to (?:\w+ly )?(?P<task>[a-z].{8,100})\.$")


def trick_pair(sentence: str, after: list[str], code: str) -> Candidate | None:
    """'The trick is to actually load the view function as needed.' then the way ("This can be accomplished with a
    helper class ...:" and its code): 'How do I load the view function as needed?'."""
    match = _TRICK.match(sentence)
    task = task_phrase(match.group("task")) if match else None
    if not task or not after:
        return None
    answer = f"{sentence} {after[0]}"
    if after[0].endswith(":") and code:
        answer += "\n\n" + fenced(code)
    if not has_instruction(answer):
        return None
    return Candidate(f"How do I {task}?", clip(answer), "how-to")


def to_do_pair(sentence: str, code_after: str = "", caption: tuple[str, str] | None = None) -> Candidate | None:
    """'How do I validate the data?' for "To validate the data, call ...", or a list item's step ("- to validate the
    data, call the validate() method, ..."), answered by the sentence and, when it ends its paragraph, the code it
    introduces (``code_after``) or the file under a caption (``caption``: the file's name and its code)."""
    item = LIST_ITEM.sub("", sentence)
    to_do = TO_DO.match(item[:1].upper() + item[1:] if item != sentence else sentence)
    if not to_do or pronouns_in(to_do.group("task")) or len(to_do.group("task").split()) < 4 \
            or _SUCH.search(to_do.group("task")) or _WAY_INSIDE.search(to_do.group("task")) \
            or ELSEWHERE.search(to_do.group("rest")):
        return None  # "To verify X, please refer to their documentation" says where, not how
    answer = sentence if item == sentence else item[:1].upper() + item[1:]
    if code_shown(sentence, code_after):
        answer += "\n\n" + fenced(code_after)
    elif caption:
        answer += f"\n\n{caption[0]}\n\n{fenced(caption[1])}"
    return Candidate(f"How do I {first_person(strip_end(to_do.group('task')))}?", clip(answer), "how-to")
