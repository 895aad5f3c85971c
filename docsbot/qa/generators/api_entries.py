"""Reference entries: a signature and its docstring ("What does `save_session()` do?"), a class, an attribute, a
value, a parameter of a documented function. The owner an entry's name needs ("in incoming request data") comes from
the headings above it."""
from __future__ import annotations

import re

from docsbot.qa.generators.base import Candidate
from docsbot.qa.generators.text import (
    FUNCTION_WORDS,
    LIST_ITEM,
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
from docsbot.qa.generators.wording import VAGUE, class_name, vague

# An API entry's signature; not a manual page's name ("gitk(1)": section 1 of the manual).
SIGNATURE = re.compile(
    # Not a heading's parenthetical list of names: "Pandas (CSV, Excel, PNG)" is a package and its formats.
    r"^(?![A-Za-z][\w.]*\s+\((?:[A-Z][\w-]*(?:,\s*|\s*\)))+\s*$)"
    r"(?P<prefix>(?:class|exception|async|def|classmethod|staticmethod|property|abstractmethod)\s+)?"
    r"(?P<name>[A-Za-z_][\w.]*)\s*\((?!\d[a-z]*\))(?P<args>[^()]*(?:\([^()]*\)[^()]*)*)\)\s*(?:(?:->|→)\s*[^\s]+.*)?[:¶]?\s*$"
)

CONFIG_NAME = re.compile(r"^`?(?P<name>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{3,})`?\s*¶?$")

VALUE_ATTRIBUTE = re.compile(r"^(?P<name>[a-z_]\w*)\s*=\s*\S")

ANNOTATION = re.compile(r"^(?:class\s+|property\s+)?[A-Za-z_][\w.]*\s*:\s*[\w.\[\], |]+(?:\s*=\s*.+)?$")


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
        if re.search(r"\b(?:Object|Objects|Data|Interface)$", parent) and not vague(parent):
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


def _owner_class(heading: str) -> str:
    """The class a heading names: "class requests.Session", or a bare class name ("ListSerializer"), as a "class X"
    heading does."""
    return class_of(heading) or (heading.strip() if class_name(heading.strip()) else "")


def entry_name(heading: str, parents: list[str]) -> str:
    """'Flask.route' for a method heading under a class heading, 'Session.headers' for a plain attribute name
    right under one ("class requests.Session" or a bare class name, "ListSerializer"); '' for ordinary headings."""
    name = _api_heading(heading)
    if not name and parents and _owner_class(parents[-1]) and _PLAIN_MEMBER.match(heading.strip()):
        name = heading.strip()
    if not name:
        return ""
    for parent in reversed(parents):
        owner = _owner_class(parent).rsplit(".", 1)[-1]
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
           and word not in VAGUE and len(word) > 2 and word not in FUNCTION_WORDS]
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


def signature_pair(text: str, following: list[Block], heading: str = "") -> tuple[Candidate, str] | None:
    """A signature paragraph and the description under it; a method's bare name is qualified by its class when the
    section's heading is its dotted path ("requests.PreparedRequest.prepare" over "prepare(method=None, ...)")."""
    match = SIGNATURE.match(text.strip())
    if not match or len(text) > 300:
        return None
    name = match.group("name")
    if "." not in name and re.fullmatch(rf"[\w.]+\.{re.escape(name)}", heading.strip()):
        name = ".".join(heading.strip().split(".")[-2:])
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


# A parameter list's first item: "- title: Default None.", "- key (str) – the key".
_PARAMETER_ITEM = re.compile(r"^[-•*]\s+`?[a-z_]\w*`?\s*(?:\([^)]*\))?\s*(?::|–|—|--)\s")
# "The get_schema_view() helper takes the following keyword arguments: - title: ...": the list, no description.
_TAKES_LIST = re.compile(r"^[^.:]{0,80}\b(?:takes|accepts|supports) the following (?:\w+ )?(?:arguments|parameters|"
                         r"options)\b[^.]{0,20}:")
# An attribute's value line standing alone: "persistence = <module 'shelve' from '...'>", "is_green = True".
_VALUE_LINE = re.compile(r"^[a-z_]\w*\s*=\s*(?:[<(\[{'\"\d]|True\b|False\b|None\b|[\w.]+\()[^\n]*$")


def heading_pairs(heading: str, blocks: list[Block], parents: list[str], answer: str) -> list[Candidate] | None:
    """The question an entry's heading asks (a signature, a class, an attribute, a value), answered by the section's
    opening (``answer``); None when the heading is no reference entry."""
    if _VALUE_LINE.match(answer.strip()) or _PARAMETER_ITEM.match(answer.strip()) or _TAKES_LIST.match(answer.strip()):
        # "requires = (step:celery...Connection{()},)": the attribute's repr; "- title: Default None. ...": the
        # entry's parameters. Neither says what the entry is.
        return []
    signature = SIGNATURE.match(heading)
    if signature:
        name = entry_name(heading, parents)
        scope = member_scope(name, parents)
        if scope is None:
            return []
        kind_of_entry = (signature.group("prefix") or "").strip()
        if kind_of_entry in ("class", "exception"):
            return [Candidate(f"What is the `{name}` {kind_of_entry}?", answer, "api")]
        if restates_name(name, answer):
            return []
        answer = self_description(blocks, name) or answer
        return [Candidate(f"{function_question(name, answer)[:-1]}{scope}?", answer, "api")]
    if CLASS_HEADING.match(heading):
        return [Candidate(f"What is the `{class_of(heading)}` class?", answer, "api")]
    attribute = entry_name(heading, parents)
    if attribute and entry_restates(attribute, answer, own_words=2):
        return []  # "the default mimetype if none is provided." for `default_mimetype`
    if attribute:
        scope = member_scope(attribute, parents)
        return [] if scope is None else [Candidate(f"What is `{attribute}`{scope}?", answer, "api")]
    if _CAMEL_NAME.match(heading) and _opens_with(heading, answer):
        code = re.search(rf"\b{heading}\b", " ".join(b.text for b in blocks if b.kind == "code")) \
            or re.match(rf"^(?:The )?{heading} (?:\w+ )?class\b", answer)
        # What it is, said before "For example, the following serializer:": the example's code without the output
        # it goes on to show is cut off.
        said = mend_cut_answer(answer.split("\n\n```")[0], how_to=False) or answer
        return [Candidate(f"What is `{heading}`?" if code else f"What is {heading}?", said, "api")]
    value = VALUE_ATTRIBUTE.match(heading)
    if value and any(SIGNATURE.match(p) or p.lower() == "api" for p in parents):
        if re.match(r"^[a-z]\w*,", answer):
            return []  # "header, which allows ...": the tail of a docstring split from its start
        name = value.group("name")  # "charset = 'utf-8'" is no error
        scope = member_scope(name, parents)  # "serializer = ...": whose serializer, the heading above must say
        return [] if scope is None else [Candidate(f"What is `{name}`{scope}?", answer, "api")]
    return None


# A class named by its heading alone, no signature: "StringRelatedField", "JSONRenderer", "BasicAuthentication".
_CAMEL_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*[a-z][A-Z][A-Za-z0-9]*$")


def _opens_with(name: str, answer: str) -> bool:
    """The answer opens by saying what the name is or does: "StringRelatedField may be used to represent ...", "The
    AllowAny permission class will allow ...", "MessagePack is a fast ... format". Not "This authentication scheme
    ..." (which, only the heading says), "RabbitMQ is feature-complete" (no kind), "The MongoDB results backend can
    now ..." (about another thing), "TaskSet has been removed" (history)."""
    return bool(re.match(rf"^(?:The )?{re.escape(name)} (?:(?:\w+ )?class )?(?:will|can|may|provides|allows|supports|"
                         rf"inherits|is (?:a|an|the|similar|used)|lets)\b", answer))


_PARAM_LINE = re.compile(r"^[•*\-]?\s*`?(?P<name>[a-z_][\w]*)`?\s*(?:\((?P<type>[^)]*)\))?\s+(?:–|—|--|-|:)\s+(?P<desc>.{12,})$")
# "(self, queryset)": the argument list of a method entry, not a parameter's type.
_METHOD_ARGUMENTS = re.compile(r"^\s*(?:self|cls)\b")
# "- key (str) – the key of the cookie. - value (str) – ...": a parameter list flattened into one line.
_NEXT_FLATTENED_PARAM = re.compile(r"\s+-\s+(?=`?[a-z_]\w*`?\s*(?:\([^)]*\))?\s+(?:–|—|--|-|:)\s)")


def parameter_pairs(sentence: str, api_name: str) -> list[Candidate] | None:
    """'What is the `key` parameter of `set_cookie` for?' for a docstring's parameter entry ("key (str) – the key of
    the cookie"); [] for an entry that only restates its name, None for a sentence that is no parameter entry."""
    param = _PARAM_LINE.match(sentence)
    if not param or param.group("name") in {"return", "returns", "raises"} \
            or bare_common_name(api_name.removesuffix("()")):  # "the `name` parameter of `pop`"
        return None
    if _METHOD_ARGUMENTS.match(param.group("type") or ""):
        return []  # "filter_queryset(self, queryset) - Given a queryset, ...": a method of a list, no parameter
    entry = _NEXT_FLATTENED_PARAM.split(LIST_ITEM.sub("", sentence), maxsplit=1)[0]
    if entry_restates(param.group("name"), param.group("desc")):
        return []  # "info_name – the info name for this invocation"
    return [Candidate(f"What is the `{param.group('name')}` parameter of `{api_name}` for?", entry, "api")]
