"""Options and configuration values: a configuration value's heading or entry ("What does the `SECRET_KEY`
configuration value do?"), a command's option list ("What does `git log --follow` do?"), a table of options, and a
sentence that says what a named option does ("The `region` option selects ...")."""
from __future__ import annotations

import re

from docsbot.qa.generators import vocabulary
from docsbot.qa.generators.api_entries import CONFIG_NAME
from docsbot.qa.generators.base import MAN_PAGE_TITLE, Candidate
from docsbot.qa.generators.text import (
    LIST_ITEM,
    Block,
    clip,
    first_paragraphs,
    mend_cut_answer,
)


def config_pair(text: str, following: list[Block]) -> Candidate | None:
    match = CONFIG_NAME.match(text.strip())
    if not match:
        return None
    paragraphs = first_paragraphs(following)
    if not paragraphs:
        return None
    name = match.group("name")
    description = [p for p in paragraphs if not p.lower().startswith("default:")]
    default = _default_of(paragraphs[:4], following)
    if not description:
        return None
    answer = mend_cut_answer(description[0], how_to=False)
    if not answer:
        return None
    if default:
        answer += f" {default}"
    return Candidate(f"What does the `{name}` configuration value do?", clip(answer), "option")


def term_description(following: list[Block], term: re.Pattern[str], *, min_chars: int = 20) -> str:
    """The description under a definition-list term (the term alone on its paragraph, ending with a colon): the next
    paragraph, mended where chunking cut it; '' when the chunk ends first, when the next paragraph is itself a term
    (several terms over one description), or when it says too little."""
    if not following or following[0].kind != "paragraph" or term.match(following[0].text.strip()):
        return ""
    description = mend_cut_answer(following[0].text.strip(), how_to=False)
    return description if len(description) >= min_chars else ""


# A dotted setting as a definition-list term: "log.showRoot:", "notes.<name>.mergeStrategy:" (Git's configuration
# variables); not a file name ("setup.py:" captions the file's code).
_SETTING_TERM = re.compile(r"^`?(?P<name>[a-z][\w-]*(?:\.(?:<[\w-]+>|\*|[A-Za-z][\w-]*))+)`?:$")
_FILE_EXTENSIONS = {"py", "txt", "cfg", "ini", "json", "yaml", "yml", "toml", "html", "js", "sh", "conf", "md", "rst",
                    "c", "h", "xml", "css", "lock", "service", "env", "log"}


# A variable as a definition-list term: an environment variable ("GIT_INDEX_FILE:") or a configuration file's
# variable ("$projectroot:", "$feature{'blame'}:" in gitweb.conf(5)).
_VARIABLE_TERM = re.compile(r"^`?(?P<name>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|\$[a-z_]\w*(?:\{'?\w+'?\})?)`?:$")


def setting_entry_pair(text: str, following: list[Block]) -> Candidate | None:
    """'What does the `log.showRoot` setting do?' for a dotted setting's entry, 'What does `GIT_INDEX_FILE` do?' for
    a variable's, answered by its description."""
    term = text.strip()
    variable = _VARIABLE_TERM.match(term)
    setting = None if variable else _SETTING_TERM.match(term)
    if setting and (setting["name"].rsplit(".", 1)[-1].lower() in _FILE_EXTENSIONS
                    or setting["name"].split(".", 1)[0] in vocabulary.lower_names()):
        return None  # a file's caption; "flask.before_render_template:" is an API of the product, not a setting
    if not (variable or setting):
        return None
    description = term_description(following, _VARIABLE_TERM if variable else _SETTING_TERM)
    if not description:
        return None
    question = f"What does `{variable['name']}` do?" if variable else f"What does the `{setting['name']}` setting do?"
    return Candidate(question, clip(description), "option")


_SHORT_DEFAULT_LINES = 3


def _default_of(paragraphs: list[str], following: list[Block]) -> str:
    """'Default: True'; 'Default: `['rest_framework.permissions.AllowAny']`' when the value is the short code after a
    bare "Default:"; '' when there is none or it is too long to quote in a sentence."""
    default = next((p for p in paragraphs if p.lower().startswith("default:")), "")
    if default.rstrip(" :").lower() != "default":
        return default
    at = next((i for i, block in enumerate(following) if block.text == default), None)
    code = following[at + 1] if at is not None and at + 1 < len(following) else None
    if code is None or code.kind != "code" or len(code.text.strip().splitlines()) > _SHORT_DEFAULT_LINES:
        return ""
    return f"Default: `{' '.join(line.strip() for line in code.text.strip().splitlines())}`"


# A command's option list as ingestion renders a definition list: the option alone on its paragraph, ending with a
# colon, its description in the next paragraph ("--follow:" then "Continue listing the history of a file ...").
# Spellings of one option ("-v, --verbose:", "--decorate[=short|full]:", "--[no-]mailmap:") ask about the first.
OPTION_TERM = re.compile(r"^(?P<option>--?(?:\[no-\])?[A-Za-z0-9][\w-]*)(?:\[?=[^:\s]*\]?|\s?<[\w-]+>)?"
                         r"(?:,\s*--?[A-Za-z0-9][^:]*)?:$")

# What a "--no-" option's own description says: "Do not ...", "Disable ...", "Negates ...", "The default. ..."
_NEGATES = re.compile(r"\b(?:not|no|never|disables?|turns? off|negates?|countermands?|overrides?|cancels?|resets?|"
                      r"clears?|suppress(?:es)?|without|default|opposite|instead)\b|n't\b", re.IGNORECASE)

_NOTE_ONLY = 45  # characters: a description this short may be a note before the description proper

_ANNOUNCES_MORE = re.compile(r"(?::|\b(?:one of|two|three|four|several|following) \w+\.)$")

_COMMAND_SECTIONS = {"1", "6", "8"}  # user commands, games, administration commands


def command_of(title: str, product: str) -> str:
    """The command a man page documents: "git-log(1)" -> "git log" (a subcommand of the product the docs are
    about, "Git"), "curl(1)" -> "curl"; '' for a page not named as a command's man page."""
    match = MAN_PAGE_TITLE.match(title.strip())
    if not match or match["section"] not in _COMMAND_SECTIONS:
        return ""  # gitcli(7), gitignore(5): a concept or a file format, whose entries are no command's
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
    if option.startswith("--no-") and not _NEGATES.search(description):
        return None  # "--no-autostash:" alone atop a chunk, over --autostash's description (its term was cut off)
    subject = f"`{command} {option}`" if command else f"the `{option}` option"
    return Candidate(f"What does {subject} do?", clip(f"`{text.strip()[:-1]}`: {description}"), "option")


_OPTION_HEADERS = {"option", "options", "parameter", "parameters", "name", "setting", "settings", "key",
                   "variable", "field", "argument", "flag", "config", "configuration"}

_MEANING_HEADERS = {"description", "meaning", "purpose", "explanation", "what it does", "effect", "use", "notes"}


def table_pairs(rows: list[list[str]]) -> list[Candidate]:
    if len(rows) < 2:
        return []
    header = [cell.lower().strip("*` ") for cell in rows[0]]
    name_col = next((i for i, cell in enumerate(header) if cell in _OPTION_HEADERS), None)
    meaning_col = next((i for i, cell in enumerate(header) if cell in _MEANING_HEADERS), None)
    if name_col is None or meaning_col is None:
        return []
    default_col = next((i for i, cell in enumerate(header) if "default" in cell), None)
    noun = {"parameter": "parameter", "parameters": "parameter", "setting": "setting", "settings": "setting",
            "variable": "variable", "flag": "flag", "field": "field", "argument": "argument"}.get(header[name_col],
                                                                                              "option")
    pairs = []
    for row in rows[1:]:
        if len(row) <= max(name_col, meaning_col):
            continue
        name = row[name_col].strip("`* ")
        meaning = row[meaning_col].strip()
        if not name or len(meaning) < 8:
            continue
        answer = f"`{name}`: {meaning}"
        if default_col is not None and len(row) > default_col and row[default_col].strip():
            answer += f" (default: {row[default_col].strip()})"
        pairs.append(Candidate(f"What does the `{name}` {noun} do?", answer + ".", "option"))
    return pairs


_SUBORDINATE_END = re.compile(r"\b(?:when|if|unless|while|once|whether|until|as)\s+$", re.IGNORECASE)

_OPTION_SENTENCE = re.compile(
    r"\b[Tt]he `?(?P<name>(?:--?)?[\w][\w.\-]*)`? (?P<what>option|parameter|setting|argument|flag|config(?:uration)? "
    r"(?:value|key|variable)|environment variable|key) (?P<rest>(?:is (?!special|different|unusual|also|named|called|enabled|disabled|set\b)|sets |"
    r"controls |selects |defines |"
    r"enables |disables |determines |specifies |tells |can |must |should |lets |allows |configures |"
    r"defaults |changes |makes ))"
)

_NOT_NAMES = {"first", "second", "third", "last", "next", "only", "same", "other", "following", "default", "new", "old",
              "given", "above", "below"}

# "For example, the submodule.foo.url setting ...": a placeholder's name, no real option.
_EXAMPLE_NAME = re.compile(r"(?:^|[._-])(?:foo|bar|baz|example|my)(?:$|[._-])")

_VERSION_CHANGE = re.compile(r"^(?:New in version|Changed in version|Deprecated since)\b")

# "The methods parameter defaults to ["GET"]. ...", "If the obj argument is not given, ...": what happens without the
# option, not what it does.
_ONLY_THE_DEFAULT = re.compile(r"^(?:The `?\w+`? (?:parameter|argument|option) defaults to|If the `?\w+`? (?:parameter|"
                               r"argument|option) is (?:not (?:given|provided|set|passed)|None|omitted))\b")

_RAISES_ENTRY = re.compile(r"^\w*(?:Error|Exception|Warning) [–—-] ")  # "KeyError – if the tag key is already ..."


def option_sentence_pair(sentence: str, tail: str, api_name: str) -> Candidate | None:
    """'What does the `region` option do?' for a sentence saying what a named option does, answered by it (with the
    next sentence when it is short: ``tail``); about the API the section documents when there is one."""
    option = _OPTION_SENTENCE.search(sentence)
    # "The first argument can be ..." names no argument; "Changed in version 2.0: ... the no_etag parameter is
    # deprecated" says what changed, not what the parameter does; "... when the task_always_eager setting is
    # enabled" is a condition of the sentence's own subject.
    if not option or option.group("name").lower() in _NOT_NAMES or _VERSION_CHANGE.match(sentence) \
            or _EXAMPLE_NAME.search(option.group("name")) \
            or _SUBORDINATE_END.search(sentence[:option.start()]) \
            or _ONLY_THE_DEFAULT.match(tail) or _RAISES_ENTRY.match(LIST_ITEM.sub("", sentence)):
        return None
    what = option.group("what")
    owner = f" of `{api_name}`" if api_name else ""
    if what in ("argument", "parameter") and not api_name:
        return None  # "The exc argument is used to pass ...": an argument of which call, only the page says
    return Candidate(f"What does the `{option.group('name')}` {what}{owner} do?", clip(tail), "option")


def config_heading_pair(heading: str, blocks: list[Block], parents: list[str], answer: str) -> Candidate | None:
    """'What does the `SECRET_KEY` configuration value do?' for a configuration value's heading on a configuration
    page or over its "Default:" line; None for any other heading."""
    if not CONFIG_NAME.match(heading) or not (any("config" in p.lower() for p in parents)
                                              or any(b.text.startswith("Default:") for b in blocks)):
        return None
    default = _default_of([b.text for b in blocks if b.kind == "paragraph"], blocks)
    name = CONFIG_NAME.match(heading).group("name")
    # The whole description: "... return a 400 Bad Request error page." is the default; "Enable this to ..." is
    # what the value changes.
    description = next((p for p in first_paragraphs(blocks) if not p.startswith("Default:")), answer)
    description = mend_cut_answer(description, how_to=False) or answer
    return Candidate(f"What does the `{name}` configuration value do?", clip(f"{description} {default}".strip()),
                     "option")
