"""Questions about a reference's entries: a signature and its docstring ("What does `save_session()` do?"), a
configuration value, a class, a parameter, an attribute. The owner an entry's name needs ("in incoming request data")
comes from the headings above it."""
from __future__ import annotations

import re

from docsbot.qa.generators import Candidate, narrative
from docsbot.qa.generators.text import (
    FUNCTION_WORDS,
    METADATA,
    Block,
    clip,
    fenced,
    first_paragraphs,
    is_imperative,
    lead,
    mend_cut_answer,
    sentences,
    verb_base,
)

# An API entry's signature; not a manual page's name ("gitk(1)": section 1 of the manual).
SIGNATURE = re.compile(
    r"^(?P<prefix>(?:class|exception|async|def|classmethod|staticmethod|property|abstractmethod)\s+)?"
    r"(?P<name>[A-Za-z_][\w.]*)\s*\((?!\d[a-z]*\))(?P<args>[^()]*(?:\([^()]*\)[^()]*)*)\)\s*(?:(?:->|→)\s*[^\s]+.*)?[:¶]?\s*$"
)


CONFIG_NAME = re.compile(r"^`?(?P<name>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{3,})`?\s*¶?$")


def bare_common_name(name: str) -> bool:
    """`range`, `data`, `copy`: an API member named by a plain word with no owner says nothing about which API
    (`request.range`? a builtin?); `Flask.route`, `url_for`, `SecureCookieSessionInterface` do."""
    return bool(re.fullmatch(r"[a-z]{2,10}", name))


def member_scope(name: str, parents: list[str]) -> str | None:
    """How a question names an API member: as it is when distinctive (''), with the object its section names when
    a plain word (' in incoming request data'), or not at all (None) when no heading says whose it is."""
    if not bare_common_name(name):
        return ""
    where = _owner_phrase(parents)
    return f" in {where}" if where else None


def _owner_phrase(parents: list[str]) -> str:
    """'the application object' for a member documented under "API > Application Object"; '' when no heading above
    names the object ("Useful Internals")."""
    for parent in reversed(parents[1:]):
        if re.search(r"\b(?:Object|Objects|Data|Interface)$", parent) and not narrative._vague(parent):
            phrase = parent.lower()
            return phrase if phrase.endswith(("s", "data")) else f"the {phrase}"
    return ""


# A class entry without its constructor's arguments: "class requests.Session".
CLASS_HEADING = re.compile(r"^class\s+(?P<name>[A-Za-z_][\w.]*)\s*$")
_PLAIN_MEMBER = re.compile(r"^[a-z_][a-z0-9_]*$")  # "headers" under a class heading: an attribute


def class_of(heading: str) -> str:
    """'requests.Session' for "class requests.Session" or "class requests.Session(...)"; '' otherwise."""
    match = SIGNATURE.match(heading)
    if match and (match.group("prefix") or "").strip() == "class":
        return match.group("name")
    match = CLASS_HEADING.match(heading)
    return match.group("name") if match else ""


def entry_name(heading: str, parents: list[str]) -> str:
    """'Flask.route' for a method heading under a class heading, 'Session.headers' for a plain attribute name
    right under one; '' for ordinary headings."""
    name = _api_heading(heading)
    if not name and parents and class_of(parents[-1]) and _PLAIN_MEMBER.match(heading.strip()):
        name = heading.strip()
    if not name:
        return ""
    for parent in reversed(parents):
        owner = class_of(parent).rsplit(".", 1)[-1]
        if owner:
            return name if name.startswith(owner + ".") or "." in name else f"{owner}.{name}"
    return name


_ATTRIBUTE = re.compile(r"^(?:property\s+|attribute\s+)?(?P<name>[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)"
                        r"(?:\s*:\s*[^=]+)?(?:\s*=\s*.+)?$")


def _api_heading(heading: str) -> str:
    match = SIGNATURE.match(heading)
    if match:
        return match.group("name")
    match = _ATTRIBUTE.match(heading)
    if match and ("_" in match.group("name") or "." in match.group("name") or heading.startswith("property ")) \
            and not CONFIG_NAME.match(heading):
        return match.group("name")
    return ""


_GENERIC_API_NOUNS = {"function", "method", "class", "object", "decorator", "callback", "value", "instance", "the",
                      "a", "an", "new", "given", "for", "to", "of"}


def restates_name(name: str, description: str) -> bool:
    """'Registers a shell context processor function.' for `shell_context_processor()`: past its verb, the
    docstring's first sentence only repeats the name's words, so it answers nothing."""
    said = [sentence for sentence in sentences(description) if not METADATA.match(sentence)]
    if len(said) != 1:
        return False  # "Handles an HTTP exception. By default this will invoke ...": the rest says what it does
    words = re.findall(r"[a-z]+", said[0].lower())[1:]
    name_words = set(re.findall(r"[a-z]+", name.lower().rsplit(".", 1)[-1]))
    return bool(words) and all(word in name_words or word in _GENERIC_API_NOUNS for word in words)


def entry_restates(name: str, description: str, *, own_words: int = 1) -> bool:
    """An entry that says little past its own name: at most own_words content words of its own."""
    words = re.findall(r"[a-z]+", description.lower())
    name_words = set(re.findall(r"[a-z]+", name.lower()))
    own = [word for word in words if word not in name_words and word not in _GENERIC_API_NOUNS
           and word not in narrative.VAGUE and len(word) > 2 and word not in FUNCTION_WORDS]
    return len(words) <= 8 and len(own) <= own_words


# "This function however can help you keep the context around for longer:": the docstring saying what the API does,
# after a paragraph of background ("Request contexts disappear when the response is started ...").
_SELF_DESCRIPTION = re.compile(r"^This (?:function|method|decorator|class|helper)\b(?! (?:is|was) (?:called|"
                               r"deprecated|removed)\b)")


_OBJECT_OPENERS = {"a", "an", "the", "that", "this", "all", "every", "each", "whether", "if", "any"}


def _says_what_it_does(paragraph: str) -> bool:
    """'Registers a function ...', 'Enforce that the WSGI response ...': a docstring opening on the API's own verb;
    'Request contexts disappear when ...' opens on background."""
    words = paragraph.split()[:2]
    if len(words) < 2:
        return False
    first = words[0]
    base = verb_base(first.lower())
    return bool(base and base != first.lower() and first.endswith("s")) or (
        is_imperative(first) and words[1].lower() in _OBJECT_OPENERS)


def self_description(blocks: list[Block], name: str) -> str:
    """The docstring's own 'This function ...' paragraph (with the code it introduces) when the opening paragraph
    is background that never names the API; '' otherwise."""
    paragraphs = [(i, b) for i, b in enumerate(blocks) if b.kind == "paragraph"]
    short = name.rsplit(".", 1)[-1].lower()
    if not paragraphs or short in paragraphs[0][1].text.lower() or _says_what_it_does(paragraphs[0][1].text):
        return ""
    for index, block in paragraphs[1:]:
        if _SELF_DESCRIPTION.match(block.text):
            code = blocks[index + 1] if index + 1 < len(blocks) and blocks[index + 1].kind == "code" else None
            return clip(block.text + (f"\n\n{fenced(code.text)}" if code and block.text.endswith(":") else ""))
    return ""


def function_question(name: str, description: str) -> str:
    """'What does `save_session()` do?', or when the docstring only says when the function runs ("This is called at
    the end of each request ..."), 'When is `save_session()` called?'."""
    if _CALLED_WHEN.match(description):
        return f"When is `{name}()` called?"
    return f"What does `{name}()` do?"


_CALLED_WHEN = re.compile(r"^(?:This (?:is|gets) |It is )?[Cc]alled (?:at|when|whenever|right|just|before|after|by|once|"
                          r"if|during|on)\b")


def signature_pair(text: str, following: list[Block]) -> tuple[Candidate, str] | None:
    match = SIGNATURE.match(text.strip())
    if not match or len(text) > 300:
        return None
    name = match.group("name")
    if name.lower() in {"if", "for", "while", "print", "return", "with"}:
        return None
    description = first_paragraphs(following)
    if not description:
        return None
    explanation = lead(description, min_chars=80)
    if len(explanation) < 20:
        return None
    prefix = (match.group("prefix") or "").strip()
    if prefix in ("class", "exception"):
        question = f"What is the `{name}` {prefix}?"
    else:
        question = function_question(name, explanation)
    answer = f"`{text.strip().rstrip('¶').strip()}`: {explanation}"
    return Candidate(question, clip(answer), "api"), name


def config_pair(text: str, following: list[Block]) -> Candidate | None:
    match = CONFIG_NAME.match(text.strip())
    if not match:
        return None
    paragraphs = first_paragraphs(following)
    if not paragraphs:
        return None
    name = match.group("name")
    description = [p for p in paragraphs if not p.lower().startswith("default:")]
    default = next((p for p in paragraphs[:4] if p.lower().startswith("default:")), "")
    if not description:
        return None
    answer = mend_cut_answer(description[0], how_to=False)
    if not answer:
        return None
    if default:
        answer += f" {default}"
    return Candidate(f"What does the `{name}` configuration value do?", clip(answer), "option")


# A command's option list as ingestion renders a definition list: the option alone on its paragraph, ending with a
# colon, its description in the next paragraph ("--follow:" then "Continue listing the history of a file ...").
# Spellings of one option ("-v, --verbose:", "--decorate[=short|full]:", "--[no-]mailmap:") ask about the first.
OPTION_TERM = re.compile(r"^(?P<option>--?(?:\[no-\])?[A-Za-z0-9][\w-]*)(?:\[?=[^:\s]*\]?|\s?<[\w-]+>)?"
                         r"(?:,\s*--?[A-Za-z0-9][^:]*)?:$")
_NOTE_ONLY = 45  # characters: a description this short may be a note before the description proper
_ANNOUNCES_MORE = re.compile(r"(?::|\b(?:one of|two|three|four|several|following) \w+\.)$")
MAN_PAGE_TITLE = re.compile(r"^(?P<name>[a-z][\w.+-]*)\(\d\w*\)$")  # "git-log(1)", "curl(1)"


def command_of(title: str, product: str) -> str:
    """The command a man page documents: "git-log(1)" -> "git log" (a subcommand of the product the docs are
    about, "Git"), "curl(1)" -> "curl"; '' for a page not named as a man page."""
    match = MAN_PAGE_TITLE.match(title.strip())
    if not match:
        return ""
    name = match["name"]
    prefix = product.lower() + "-"
    return f"{product.lower()} {name[len(prefix):]}" if product and name.startswith(prefix) else name


def option_entry_pair(text: str, following: list[Block], command: str, previous: str = "") -> Candidate | None:
    """'What does `git log --follow` do?' for an option term followed by its description; only the last of
    several terms over one description asks (the others read as its alternatives, "--no-decorate:" before
    "--decorate[=...]:"), and it asks about the option the description describes: "--max-parents=<n>:" then
    "--no-max-parents:" describe --max-parents (``previous``: the paragraph before ``text``)."""
    match = OPTION_TERM.match(text.strip())
    if not match or not following or following[0].kind != "paragraph" or OPTION_TERM.match(following[0].text):
        return None
    option = match["option"].replace("[no-]", "")
    earlier = OPTION_TERM.match(previous.strip())
    if option.startswith("--no-") and earlier and earlier["option"].replace("[no-]", "") == f"--{option[5:]}":
        text, option = previous, f"--{option[5:]}"
    text_of_description = following[0].text.strip()
    rest = following[1] if len(following) > 1 and following[1].kind == "paragraph" else None
    rest_continues = rest is not None and not rest.text.rstrip().endswith(":") and not OPTION_TERM.match(rest.text)
    announces = bool(_ANNOUNCES_MORE.search(text_of_description))
    # "This serves two purposes:" announces the next paragraph; "Only used with the set-tree command." is a note
    # before the description. Without a plain paragraph next (a nested list of values: "color:", ...), an
    # announcement has no whole answer.
    if (announces or len(text_of_description) < _NOTE_ONLY) and rest_continues:
        text_of_description = f"{text_of_description}\n\n{rest.text.strip()}"
    elif announces:
        return None
    description = mend_cut_answer(text_of_description, how_to=False)
    if not description or len(description) < 20:
        return None
    subject = f"`{command} {option}`" if command else f"the `{option}` option"
    return Candidate(f"What does {subject} do?", clip(f"`{text.strip()[:-1]}`: {description}"), "option")
