"""The structural generator: questions from the shape of the documentation, no LLM.

Task headings ("Configuring X" -> "How do I configure X?"), "To do X, ..." sentences,
definitions, option tables and option sentences, configuration values, API signatures
with their docstrings and parameters, error messages with their explanations, and code
examples. Answers are the source text under them, quoted, so they are grounded by
construction; the filters still check them.

Sentence-level rules live in narrative.py, reference entries (signatures, config values,
parameters) in api_entries.py, and reading the text (blocks, sentences, quotes) in text.py.
Still over 400 lines: the heading, table, code and error rules are to move into modules of their own,
one per question family, when generation reads ingestion's structure instead of chunk text.
"""
from __future__ import annotations

import builtins
import itertools
import keyword
import re
from functools import lru_cache

from docsbot.qa.generators import (
    CAPTION,
    MIN_CHUNK_CHARS,
    Candidate,
    ChunkInput,
    ChunkResult,
    clean_heading,
    narrative,
    page_context,
    vocabulary,
)
from docsbot.qa.generators.api_entries import (
    CLASS_HEADING,
    CONFIG_NAME,
    SIGNATURE,
    bare_common_name,
    class_of,
    command_of,
    config_pair,
    entry_name,
    entry_restates,
    function_question,
    member_scope,
    option_entry_pair,
    restates_name,
    self_description,
    signature_pair,
)
from docsbot.qa.generators.text import (
    ABBREVIATIONS,
    FUNCTION_WORDS,
    LIST_ITEM,
    Block,
    clip,
    fenced,
    first_paragraphs,
    is_imperative,
    lead,
    lower_first,
    mend_cut_answer,
    opening_end,
    parse_blocks,
    sentences,
    strip_end,
    verb_base,
)

GENERIC_HEADINGS = {
    "introduction", "overview", "summary", "example", "examples", "notes", "note", "see also", "usage",
    "basics", "details", "more", "next steps", "conclusion", "background", "contents", "api", "faq",
    "reference", "troubleshooting", "the basics", "a minimal application", "quickstart", "tutorial",
    "getting started", "changes", "changelog", "license", "warning", "caution", "tip", "important",
}
NOT_TERMS = {
    "this", "it", "that", "there", "which", "what", "here", "these", "those", "one", "each", "default",
    "following", "example", "result", "reason", "idea", "goal", "problem", "difference", "answer", "rest",
    "other", "same", "first", "second", "last", "next", "only", "main", "thing", "way", "code", "value",
    "output", "solution", "case", "advantage", "downside", "benefit", "purpose", "point", "catch", "trick",
    "they", "we", "you", "he", "she", "all", "both", "most", "some", "many", "any", "another", "such",
    "so", "then", "now", "thus", "also", "however", "but", "and", "or", "who", "if", "when",
    "function", "method", "class", "object", "file", "name", "argument", "parameter", "decorator",
}
PRONOUNS = {"this", "that", "it", "these", "those", "them", "they", "so"}


_ERROR_WORDS = re.compile(r"\b(error|exception|warning|failed|failure|cannot|can't|unable)\b|\b[A-Z]{2,}-\d+\b|"
                          r"\b[A-Z]\w+(Error|Exception)\b", re.IGNORECASE)
# What makes a heading an error message rather than a topic ("Blueprint Error Handlers"): a code, an
# exception name, an HTTP status, or a quoted message.
_ERROR_TOKEN = re.compile(r"\b[A-Z]{2,}-?\d+\b|\b[A-Z]\w*(?:Error|Exception|Warning)\b|\b[1-5]\d\d\b|[\"“'`].{4,}[\"”'`]|"
                          r"^(?:error|exception)\s*:")
_ERROR_LINE = re.compile(r"^(?:[\w.]+\.)?(?P<name>\w*(?:Error|Exception|Warning)):\s*(?P<msg>.+)$")
_PARAM_LINE = re.compile(r"^[•*\-]?\s*`?(?P<name>[a-z_][\w]*)`?\s*(?:\((?P<type>[^)]*)\))?\s+(?:–|—|--|-|:)\s+(?P<desc>.{12,})$")
# "- key (str) – the key of the cookie. - value (str) – ...": a parameter list flattened into one line.
_NEXT_FLATTENED_PARAM = re.compile(r"\s+-\s+(?=`?[a-z_]\w*`?\s*(?:\([^)]*\))?\s+(?:–|—|--|-|:)\s)")
# A question opens with a question word or an auxiliary ("Why not Httplib2?", "Can I use ...?", "I'm having ... Why?").
_ASKS = re.compile(r"^(?:what|why|how|when|where|which|who|whom|whose|is|are|was|were|do|does|did|can|could|should|"
                   r"would|will|shall|may|might|must|has|have|had)\b|.*[.!]\s+\w+(?: \w+){0,3}\?$", re.IGNORECASE)
_SUBORDINATE_END = re.compile(r"\b(?:when|if|unless|while|once|whether|until|as)\s+$", re.IGNORECASE)
_OPTION_SENTENCE = re.compile(
    r"\b[Tt]he `?(?P<name>(?:--?)?[\w][\w.\-]*)`? (?P<what>option|parameter|setting|argument|flag|config(?:uration)? "
    r"(?:value|key|variable)|environment variable|key) (?P<rest>(?:is (?!special|different|unusual|also|named|called|enabled|disabled|set\b)|sets |"
    r"controls |selects |defines |"
    r"enables |disables |determines |specifies |tells |can |must |should |lets |allows |configures |"
    r"defaults |changes |makes ))"
)
_DEFINITION = re.compile(
    r"^(?:(?P<article>An?|The)\s+)?[`“\"]?(?P<term>[A-Za-z][\w.\-]*(?: [A-Za-z][\w.\-]*){0,3}?)[`”\"]?\s+"
    r"(?P<verb>is|are)\s+(?P<next>an?|the|used|responsible|one|simply|basically)\b"
)
_ANNOTATION = re.compile(r"^(?:class\s+|property\s+)?[A-Za-z_][\w.]*\s*:\s*[\w.\[\], |]+(?:\s*=\s*.+)?$")
_TO_DO = re.compile(r"^(?:(?:Now|So|Then|First|Finally|Next|For instance|For example), (?:[Tt]o|in order to)|To|"
                    r"In order to) (?P<task>[a-z][^,]{6,120}),\s+(?P<rest>.+)$")
_WAY_INSIDE = re.compile(r" (?:use|call|run|set|add|pass|import|install) ")  # "To flash a message use flash(), ..."
_SUCH = re.compile(r"\bsuch\b(?! as\b)", re.IGNORECASE)  # "run such an application": which one, the page says
# "Making your project installable means that ...": what the task is, not how to do it.
_TASK_MEANS = re.compile(r"^[A-Z][a-z]+ing\b[^.:]{0,80}\bmeans\b")
_BUILTIN_DOC = re.compile(r"\bD\[k\]|\bdict/iterable\b|\bE is present\b|\bD\.(?:keys|items|values|get|pop|"
                          r"popitem|setdefault|copy|update)\(|\bcopy of D\b|\[E, \]|\(k\[, d\]\)|"
                          r"\bv defaults to None\b|\bx\.__\w+__\(|\bIf the key is not found, return the default\b")
_NOT_NAMES = {"first", "second", "third", "last", "next", "only", "same", "other", "following", "default", "new", "old",
              "given", "above", "below"}
_OPTION_HEADERS = {"option", "options", "parameter", "parameters", "name", "setting", "settings", "key",
                   "variable", "field", "argument", "flag", "config", "configuration"}
_MEANING_HEADERS = {"description", "meaning", "purpose", "explanation", "what it does", "effect", "use", "notes"}


class StructuralGenerator:
    name = "structural"

    def generate(self, chunk: ChunkInput) -> ChunkResult:
        with vocabulary.using(chunk.vocabulary):
            return self._generate(chunk)

    def _generate(self, chunk: ChunkInput) -> ChunkResult:
        body = chunk.body
        if len(body) < MIN_CHUNK_CHARS:
            return ChunkResult(rejection="chunk_too_short", detail=f"{len(body)} characters of text")
        path = [clean_heading(h) for h in chunk.heading_path if clean_heading(h)] or [clean_heading(chunk.title)]
        out: dict[str, Candidate] = {}
        repeated = chunk.vocabulary.repeated
        blocks = [block for block in parse_blocks(body) if not repeated
                  or not (block.kind == "paragraph" and vocabulary.paragraph_key(block.text) in repeated)]
        for candidate in _lead_in_pairs(chunk.lead_in, blocks, path):
            out.setdefault(_norm(candidate.question), candidate)
        for index, (heading, section_blocks) in enumerate(_sections(path[-1], blocks)):
            parents = path[:-1] if index == 0 else path
            ask_heading = chunk.first_of_section or index > 0
            for candidate in _section_pairs(heading, section_blocks, parents, ask_heading):
                vetted = _vetted(candidate)
                if vetted:
                    out.setdefault(_norm(vetted.question), vetted)
        if not out:
            return ChunkResult(rejection="no_structure", detail="no heading, definition, option, API, error or "
                                                                 "example found")
        names = tuple(path)
        return ChunkResult(candidates=[Candidate(_on_product_page(page_context.with_page_context(c.question, names),
                                                                  c.kind, names[0]), c.answer, c.kind)
                                       for c in out.values()])


_LANGUAGES = {"JavaScript", "Python", "HTML", "CSS", "JSON", "SQL"}  # pages about using one with the product


def _on_product_page(question: str, kind: str, title: str) -> str:
    """'How do I show access logs on stdout with Gunicorn?': a how-to on a page about one product is about that
    product, which the question must name (the heading how-tos name it already, see _with_page_name)."""
    if kind not in {"how-to", "example"} or page_name(title) in _LANGUAGES or not question.startswith("How do I ") \
            or not question.endswith("?"):
        return question
    return f"{_with_page_name(question[:-1], [title])}?"


_POINTS_BACK = re.compile(r"\b(?:(?:shown|described|mentioned|explained|given|listed) (?:in the previous (?:section|"
                          r"chapter|step)|above|earlier)|(?:in|from) the previous (?:section|chapter|step)|see above)\b",
                          re.IGNORECASE)


def _vetted(candidate: Candidate) -> Candidate | None:
    """The candidate, its answer trimmed where chunking cut it, or None when it is a bad pair however well it is
    grounded."""
    how_to = candidate.kind in {"how-to", "example"}
    mended = mend_cut_answer(candidate.answer, how_to)  # "...:" whose code went to the next chunk
    if not mended:
        return None
    candidate = Candidate(candidate.question, mended, candidate.kind)
    # A how-to answer that does not say what to do (an intro sentence under a task heading).
    if how_to and (not narrative.has_instruction(candidate.answer) or _TASK_MEANS.match(candidate.answer)):
        return None
    # dict/list methods inherited by a documented class carry CPython's docstrings ("If E is present and has a
    # .keys() method ..."): nothing a user of the documented API asks.
    if _BUILTIN_DOC.search(candidate.answer) or _BUILTIN_DOC.search(candidate.question):
        return None
    # "You can use the adapter by wrapping the Flask app," ends where ingestion cut it from its code.
    if candidate.answer.rstrip().endswith(","):
        return None
    if "```" not in candidate.answer and _POINTS_BACK.search(candidate.answer):
        return None  # "... in the server arguments shown in the previous section": which, the answer does not hold
    if how_to and _POINTER_ONLY.search(candidate.answer):
        return None  # "Read Flask Extension Development to ...": the way is on another page
    if candidate.kind == "how-to" and _LEANS_BACK.match(candidate.answer):
        return None  # "This is identical to the register template except ...": what "this" is, the page says
    if candidate.question.count("(") != candidate.question.count(")") or _CUT_AT_ABBREVIATION.search(candidate.question) \
            or _RUN_ON.search(candidate.question):
        return None  # "how do I invalidate the cache manually (e.g?": a task cut out of its sentence, or run on
    if _TUTORIAL_VOICE.search(candidate.question):
        return None  # "How do I add endpoints for our user models?": whose models, only the tutorial knows
    return candidate


# An answer whose last word is a pointer to another page: "See Deploying to Production.", "Read Flask Extension
# Development to develop your own Flask extension."
_POINTER_ONLY = re.compile(r"(?:^|[.?!]\s+)(?:See|Read|Refer to|Check out|Head over to|Have a look at|Continue to)\s+"
                           r"(?:the\s+)?[A-Z][\w’'-]*(?:\s+(?:[A-Z][\w’'-]*|and|to|with|in|for|of|the|a))*"
                           r"(?:\s+(?:to|for)\s+[^.]+)?\.?\s*$")


# "What is the the queryset argument?"; "How do I use the X scheme you'll need to configure ...?" (a comma missing).
_RUN_ON = re.compile(r"\b(\w+) \1\b|\byou(?:['’]ll| will| need| must| should)\b", re.IGNORECASE)
_CUT_AT_ABBREVIATION = re.compile(rf"\b(?:{ABBREVIATIONS})\??$", re.IGNORECASE)
_TUTORIAL_VOICE = re.compile(r"\b(?:our|we|us|let[’']s)\b", re.IGNORECASE)
_LEANS_BACK = re.compile(r"^(?:This|That|It) (?:is|was|works) (?:identical|similar|the same|just like|like)\b")


def _lead_in_pairs(lead_in: str, blocks: list[Block], path: list[str]) -> list[Candidate]:
    """Pairs of the previous chunk's closing sentence that this chunk's opening code answers: only those whose
    answer carries the code, so the pair stays grounded in this chunk. When that sentence gives a way ("This can be
    accomplished with an HTTP middleware:"), the section's task heading is asked here, where its code is."""
    if not lead_in or not blocks or blocks[0].kind != "code":
        return []
    first_line = next(line for line in blocks[0].text.splitlines() if line.strip())
    pairs = [candidate for candidate in _paragraph_pairs(lead_in, blocks, "", tuple(path))
             if "```" in candidate.answer and first_line in candidate.answer]
    intro = sentences(lead_in)[-1]
    question = _heading_how_to(path[-1], path[:-1], blocks)
    # "To use this with Flask, ..." and "... you can also write a view" lean on what the previous chunk said.
    if question and narrative.has_instruction(intro) and not _LEANS_BACK.match(intro) \
            and not narrative._vague(" ".join(intro.split()[1:])) and not re.search(r"\b(?:also|instead)\b", intro):
        pairs.append(Candidate(question, clip(f"{intro}\n\n{fenced(blocks[0].text)}"), "how-to"))
    return pairs


def _norm(question: str) -> str:
    return re.sub(r"\W+", " ", question.lower()).strip()


def _sections(first_heading: str, blocks: list[Block]) -> list[tuple[str, list[Block]]]:
    sections: list[tuple[str, list[Block]]] = [(first_heading, [])]
    for block in blocks:
        if block.kind == "heading":
            sections.append((block.text, []))
        else:
            sections[-1][1].append(block)
    return [(heading, section_blocks) for heading, section_blocks in sections if section_blocks]


def _section_pairs(heading: str, blocks: list[Block], parents: list[str], ask_heading: bool) -> list[Candidate]:
    pairs: list[Candidate] = []
    # An untitled-API subsection ("About the First Parameter" under `class flask.Flask`) is still about that API.
    api_name = entry_name(heading, parents) or (entry_name(parents[-1], parents[:-1]) if parents else "")
    if ask_heading and not parents:
        useful = _useful_when_pair(heading, blocks)
        pairs.extend([useful] if useful else [])
    if ask_heading:
        heading_pairs = _heading_pairs(heading, blocks, parents)
        steps = narrative.steps_pair(heading, blocks)
        if steps and not any(p.kind == "how-to" and narrative.has_instruction(p.answer) for p in heading_pairs):
            heading_pairs = [p for p in heading_pairs if p.kind != "how-to"] + [steps]
        pairs.extend(heading_pairs)
    command = command_of(parents[0] if parents else heading, vocabulary.product())  # of a man page's options
    for index, block in enumerate(blocks):
        following = blocks[index + 1:]
        if block.kind == "paragraph":
            signature = signature_pair(block.text, following)
            if signature:
                api_name = signature[1]
                pairs.append(signature[0])
                continue
            config = config_pair(block.text, following)
            if config:
                pairs.append(config)
                continue
            option = option_entry_pair(block.text, following, command,
                                       previous=blocks[index - 1].text if index else "")
            if option:
                pairs.append(option)
                continue
            # The docstring's first prose: an attribute's value line ("default_tags = [...]") before it is no prose.
            opens_docstring = bool(api_name) and not any(
                b.kind == "paragraph" and not _VALUE_ATTRIBUTE.match(b.text) for b in blocks[:index])
            code_before = blocks[index - 1].text if index and blocks[index - 1].kind == "code" else ""
            pairs.extend(_paragraph_pairs(block.text, following, api_name, (*parents, heading), opens_docstring,
                                          code_before))
        elif block.kind == "table":
            pairs.extend(_table_pairs(block.rows))
        elif block.kind == "code":
            error = _error_block_pair(block.text, following)
            if error:
                pairs.append(error)
            written = _artifact_pair(heading, block.text, blocks[index - 1] if index else None)
            if written:
                pairs.append(written)
    return pairs


# A page that opens on the problem its technique solves: "there is a downside to this approach", "Some HTTP proxies do
# not support ...", "code quickly becomes very hard to read".
_PROBLEM = re.compile(r"\b(?:(?:can|could) be a problem|downside|inconvenient|do(?:es)? not support|tedious|"
                      r"repetition|hard to (?:read|maintain|manage|test))\b", re.IGNORECASE)
_NOT_TECHNIQUES = {"considerations", "overview", "introduction", "guide", "notes", "tutorial", "basics", "foreword"}


def _useful_when_pair(title: str, blocks: list[Block]) -> Candidate | None:
    """'When is adding HTTP method overrides useful?' answered by the page's opening up to the problem it names."""
    opening = [sentence for paragraph in first_paragraphs(blocks)[:3] for sentence in sentences(paragraph)]
    problem = next((index for index, sentence in enumerate(opening) if _PROBLEM.search(sentence)), None)
    words = title.split()
    if problem is None or not 2 <= len(words) <= 6 or title.lower() in GENERIC_HEADINGS or narrative._vague(title) \
            or _NOT_TECHNIQUES & {word.lower() for word in words} or any(ch in title for ch in "?!:()`"):
        return None
    phrase = " ".join(word.lower() if word[1:].islower() and word not in vocabulary.names() else word
                      for word in words)
    head = re.split(r" (?:with|in|for|of|on) ", phrase)[0].split()[-1]
    gerund = any(word.lower().endswith("ing") and verb_base(word.lower()) for word in words[:2])
    plural = head.endswith("s") and not head.endswith("ss") and not gerund
    answer = " ".join(opening[:problem + 3])
    return Candidate(f"When {'are' if plural else 'is'} {phrase} useful?", clip(answer), "what-is")


# Things a section shows how to write when its code defines them: "Caching Decorator" over `def cached(...)`.
_ARTIFACTS = {"decorator", "function", "class", "view", "middleware", "handler", "model", "form", "command", "fixture",
              "factory", "filter", "processor", "converter", "loader", "validator", "hook", "callback", "wrapper"}
_DEFINED_NAME = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+(?P<name>\w+)", re.MULTILINE)


def _artifact_pair(heading: str, code: str, before: Block | None) -> Candidate | None:
    """'How do I write a caching decorator?' when the code under the heading defines one (a def or class whose name
    shares a word stem with the heading: `cached`, `login_required`); code that only uses it (`@templated()`) does
    not answer how to write it."""
    words = heading.lower().split()
    if not 2 <= len(words) <= 5 or words[-1] not in _ARTIFACTS or narrative._vague(heading):
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


_VERSION_CHANGE = re.compile(r"^(?:New in version|Changed in version|Deprecated since)\b")
_HISTORY_NOTE = re.compile(r"^(?:Changed in version|Deprecated since)\b")


_PLACEHOLDER_NAME = re.compile(r"(?:^|[._])[A-Z](?:\(\))?$")  # `get_X()`, `E`: a pattern's stand-in, no real API


def _answer_under(blocks: list[Block], *, how_to: bool = False) -> str:
    """The section's opening text, and its first code block when the text introduces it (or, for a
    how-to, when the code directly follows a short opening: "Use pip to install ..." then the command)."""
    paragraphs = first_paragraphs(blocks)
    # Sphinx API entries open with the signature, "name: type" or "name = value": that is not an answer.
    while paragraphs and (SIGNATURE.match(paragraphs[0]) or _ANNOTATION.match(paragraphs[0])
                          or (_VALUE_ATTRIBUTE.match(paragraphs[0]) and len(paragraphs) > 1)):
        paragraphs = paragraphs[1:]
    if not paragraphs:
        return ""
    text = lead(paragraphs)
    rest = blocks[opening_end(blocks):]
    opening = clip(" ".join(sentence for p in paragraphs for sentence in sentences(p)))
    # A how-to whose short opening is followed by code: the code is the way ("... you also need to run a Celery
    # worker to receive and execute the task." then `$ celery -A app.celery worker`).
    # Not when the opening only sets the scene ("Imagine the current application looks like this:") or says what a
    # command prints ("The flask command will show a message if ..."): then the code is no way to do the task.
    carries_code = text.endswith(":") or (how_to and len(opening) < 400)
    if how_to and (_SCENE.match(opening) or _SHOWS_OUTPUT.search(opening)):
        carries_code = False
    if rest and rest[0].kind == "code" and carries_code:
        return (opening if how_to and len(opening) < 400 else text) + "\n\n" + fenced(rest[0].text)
    if how_to and not narrative.has_instruction(text):
        # The opening is an introduction ("If you need X, you can create your own"); the way to do it
        # is in a later sentence of the section ("Read Extension Development to ...").
        later = [sentence for block in blocks if block.kind == "paragraph"
                 for sentence in sentences(block.text) if sentence not in text]
        step = next((sentence for sentence in later if narrative.has_instruction(sentence)), "")
        if step:
            text = clip(f"{text} {step}")
    if how_to and "```" not in text and not (_SCENE.match(opening) or _SHOWS_OUTPUT.search(opening)):
        command = _command_in(blocks, text)
        if command:
            return clip(f"{text}\n\n{command}")
    return text


def _command_in(blocks: list[Block], text: str) -> str:
    """The section's first command ("Run the init-db command:" then `$ flask --app flaskr init-db`), or its first code
    under an instruction that ends with a colon (a file-name caption between them is skipped): what the opening
    "can be called using the flask command" leaves out."""
    for index, block in enumerate(blocks):
        if block.kind != "code":
            continue
        before = [b.text for b in blocks[:index] if b.kind == "paragraph" and not CAPTION.match(b.text)]
        intro = sentences(before[-1])[-1] if before else ""
        if intro.endswith(":") and narrative.is_instruction(intro) and intro not in text:
            # "Install them both:": which, the text before says; the command alone would answer a different task.
            return "" if narrative._vague(intro) else f"{intro}\n\n{fenced(block.text)}"
        if block.text.lstrip().startswith("$ "):
            return fenced(block.text)
        return ""
    return ""


_SCENE = re.compile(r"^(?:Imagine|Consider|Suppose|Say|Assume|Let's say)\b")
_SHOWS_OUTPUT = re.compile(r"\b(?:will|would) (?:show|print|display|output|log|look like)\b")


def _how_to(question: str, blocks: list[Block]) -> list[Candidate]:
    if blocks and blocks[-1].kind == "paragraph" and blocks[-1].text.endswith(":") \
            and not any(block.kind == "code" for block in blocks):
        return []  # the way is the code the chunk ends before; the next chunk asks this with it (_lead_in_pairs)
    answer = _answer_under(blocks, how_to=True)
    return [Candidate(question, answer, "how-to")] if answer else []


def _heading_pairs(heading: str, blocks: list[Block], parents: list[str]) -> list[Candidate]:
    words = heading.split()
    if not words or heading.lower() in GENERIC_HEADINGS:
        return []
    answer = _answer_under(blocks)
    if not answer:
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
    if CONFIG_NAME.match(heading) and (any("config" in p.lower() for p in parents)
                                        or any(b.text.startswith("Default:") for b in blocks)):
        default = next((b.text for b in blocks if b.kind == "paragraph" and b.text.startswith("Default:")), "")
        name = CONFIG_NAME.match(heading).group("name")
        # The whole description: "... return a 400 Bad Request error page." is the default; "Enable this to ..." is
        # what the value changes.
        description = next((p for p in first_paragraphs(blocks) if not p.startswith("Default:")), answer)
        description = mend_cut_answer(description, how_to=False) or answer
        return [Candidate(f"What does the `{name}` configuration value do?",
                          clip(f"{description} {default}".strip()), "option")]
    attribute = entry_name(heading, parents)
    if attribute and entry_restates(attribute, answer, own_words=2):
        return []  # "the default mimetype if none is provided." for `default_mimetype`
    if attribute:
        scope = member_scope(attribute, parents)
        return [] if scope is None else [Candidate(f"What is `{attribute}`{scope}?", answer, "api")]
    value = _VALUE_ATTRIBUTE.match(heading)
    if value and any(SIGNATURE.match(p) or p.lower() == "api" for p in parents):
        if re.match(r"^[a-z]\w*,", answer):
            return []  # "header, which allows ...": the tail of a docstring split from its start
        name = value.group("name")  # "charset = 'utf-8'" is no error
        scope = member_scope(name, parents)  # "serializer = ...": whose serializer, the heading above must say
        return [] if scope is None else [Candidate(f"What is `{name}`{scope}?", answer, "api")]
    if len(words) > 10 or heading.endswith("!"):
        return []  # "Keep Developing!" is a chapter's cheer, not a task
    lowered = heading.lower()
    how_to = _heading_how_to(heading, parents, blocks)
    if how_to:
        return _how_to(how_to, blocks)
    if heading.endswith("?"):
        if not _ASKS.match(heading):
            return []  # "Python 2 Support?": an FAQ's label, not a question a user types
        # "What does “micro” mean?" opens with what it does not mean; the meaning follows.
        return [Candidate(heading, lead(first_paragraphs(blocks), min_chars=240) or answer, "faq")]
    if _is_error_heading(heading):
        message = re.sub(r"^(error|exception)\s*[:\-]?\s*", "", heading, flags=re.IGNORECASE)
        return [Candidate(f"What does the error “{message}” mean?", answer, "troubleshooting")]
    explained = _how_clause_question(heading)
    if explained:
        return [Candidate(explained, answer, "faq")]
    means = _means_how_to(heading, parents, blocks)
    if means:
        return _how_to(means, blocks)
    first = words[0]
    if first.lower().endswith("ing") and verb_base(first):
        return []
    # Under a class or function heading, a lowercase heading like "age" is an attribute, not a concept.
    if len(heading) < 3 or len(words) > 5 or any(SIGNATURE.match(parent) for parent in parents):
        return []
    definition = _defining_answer(heading, blocks)
    if definition:
        plural = lowered.endswith("s") and not lowered.endswith("ss")
        return [Candidate(f"What {'are' if plural else 'is'} {heading if heading.isupper() else _heading_phrase(heading)}?",
                          definition, "what-is")]
    return []


# Actions whose object a bare heading leaves to the page: "eventlet > Installing" installs eventlet.
_SUBJECT_VERBS = {"install", "run", "configure", "deploy", "set up", "bind", "build", "test", "register", "use",
                  "upgrade", "serve", "start", "enable"}
_COMPOUND_HEADS = {"decorator", "pattern", "class", "function", "object", "method", "support", "system", "mode",
                   "helper", "example", "view", "wrapper", "mixin", "hook", "strategy", "platform", "provider",
                   "service", "tool"}
_BARE_NOUN_TOO = {"register", "test", "build", "run", "use"}  # bare, these name a page, test, build, run or use
# One-word headings that name an action on what the page is about ("eventlet > Installation").
_ACTION_NOUNS = {"installation": "install", "configuration": "configure", "setup": "set up", "deployment": "deploy"}


def _heading_task(words: list[str], parents: list[str], blocks: list[Block]) -> str:
    """'Configuring the project' -> 'configure the project'; a bare 'Installing' or 'Binding Externally' under
    'eventlet' -> 'install eventlet', 'bind eventlet externally' (the page says what is installed)."""
    first = words[0]
    verb = verb_base(first) if first.lower().endswith("ing") else None
    if verb is None and len(words) == 1:
        # "Templates > Register" is the register page's template; "Registering" is the act.
        bare = first.lower() if first.lower() in _SUBJECT_VERBS - _BARE_NOUN_TOO else None
        verb = _ACTION_NOUNS.get(first.lower()) or bare
    if verb is None:
        return ""
    rest = words[1:]
    if narrative.VAGUE & {word.lower() for word in rest}:
        return ""  # "Working with this Document"
    if len(rest) == 1 and (rest[0].lower() in _COMPOUND_HEADS or rest[0].lower()[:-1] in _COMPOUND_HEADS):
        return ""  # "Caching Decorator" is a kind of decorator, not a thing to cache
    if rest and not all(_modifier_only(word) for word in rest):
        # "Accessing and Modifying the Session" -> "access and modify the session"
        rest = [verb_base(word) if word.lower().endswith("ing") and previous.lower() in {"and", "or"}
                and verb_base(word) else word for previous, word in zip(words, rest)]
        return " ".join([verb, *(sentence_case(word) for word in rest)])
    if rest and not all(word.lower().endswith("ly") for word in rest):
        return ""  # "Loading Late": an adjective is no object, and the page does not say what is loaded late
    if verb not in _SUBJECT_VERBS:
        return ""  # "Error Handlers > Handling" handles errors, not error handlers
    subject = _page_subject(parents)
    body = " ".join(block.text for block in blocks).lower()
    # The section must name what it acts on: "Celery Background Tasks > Install" installs Celery (the page's name),
    # not background tasks.
    if not subject or not _names(body, subject):
        # The page's product, named by any of its words: "Apache httpd > Configuration" says "The httpd configuration".
        subject = page_name(parents[0]) if parents else ""
        if not subject or not any(word.lower() in body for word in subject.split()):
            return ""
    if _ACTION_NOUNS.get(subject.lower(), subject.lower()) == verb:
        return ""  # "Install > Installing" names no object: "install install" is no question
    return " ".join([verb, _heading_phrase(subject), *(word.lower() for word in rest)])


def _is_error_heading(heading: str) -> bool:
    return bool(_ERROR_WORDS.search(heading)) and len(heading.split()) >= 2 and bool(_ERROR_TOKEN.search(heading))


def _heading_how_to(heading: str, parents: list[str], blocks: list[Block]) -> str | None:
    """'How do I configure MongoDB with MongoEngine?' for a task heading ("Configuring MongoDB", "How to ..."); None
    for any other heading."""
    words = heading.split()
    if heading.lower().startswith("how to "):
        return f"How do I {heading[7:].rstrip('?')}?"
    if heading.endswith("?") or _is_error_heading(heading):
        return None
    task = _heading_task(words, parents, blocks)
    if task:
        return f"How do I {_with_page_name(task, parents)}?"
    first = words[0]
    if first.lower().endswith("ing") and verb_base(first):
        return None
    task = narrative.heading_task(heading)
    if task and first.lower() in narrative.TASK_VERBS and not _noun_phrase_in(heading, blocks):
        task = " ".join(sentence_case(word) for word in task.split())
        return f"How do I {_with_page_name(task, parents)}?"
    return None


# "How documents are cut and searched", "How routing works": a heading that states what the section explains.
_HOW_CLAUSE = re.compile(r"^How (?P<subject>(?!to\b)[\w`'’-]+(?: [\w`'’-]+){0,3}?) (?P<verb>is|are|[a-z]+s|work|run)"
                         r"(?P<rest>(?: [\w`'’,-]+){0,6})$")


def _how_clause_question(heading: str) -> str | None:
    """'How documents are cut and searched' -> 'How are documents cut and searched?'; 'How docsbot works' -> 'How does
    docsbot work?'."""
    match = _HOW_CLAUSE.match(heading.strip())
    if not match or narrative._vague(match["subject"]) or match["subject"].lower() in {"it", "you", "we"}:
        return None
    subject, verb, rest = match["subject"], match["verb"], match["rest"]
    if verb in {"is", "are"}:
        return f"How {verb} {subject}{rest}?"
    if verb.endswith("s") and not verb.endswith("ss"):
        base = verb_base(verb)
        return f"How does {subject} {base}{rest}?" if base else None
    return f"How do {subject} {verb}{rest}?"


def _means_how_to(heading: str, parents: list[str], blocks: list[Block]) -> str | None:
    """'How do I upload documentation with the admin upload page?' for a section named by a means ("The admin upload
    page", "The API") on a page named by a task ("Uploading documentation") whose text opens with an instruction
    ("Open /documents/upload/ ...", "Upload with a multipart POST ...")."""
    if not parents or not heading.startswith("The ") or not 2 <= len(heading.split()) <= 5 \
            or narrative._vague(heading) or any(ch in heading for ch in "?:!"):
        return None
    title_words = parents[0].split()
    first = title_words[0] if title_words else ""
    verb = verb_base(first) if first.lower().endswith("ing") else None
    if not verb or len(title_words) > 5 or narrative._vague(parents[0]):
        return None
    paragraphs = first_paragraphs(blocks)
    opening = sentences(paragraphs[0])[0] if paragraphs else ""
    if not opening or not narrative.is_instruction(opening):
        return None
    task = " ".join([verb, *(sentence_case(word) for word in title_words[1:])])
    return f"How do I {task} with {_heading_phrase(heading[4:]) if len(heading.split()) > 2 else 'the ' + heading[4:]}?"


def _with_page_name(task: str, parents: list[str]) -> str:
    """'create data' on the MongoEngine page -> 'create data with MongoEngine': a heading's task is about the product
    the page is about, and without its name the question is one that any page could answer."""
    name = page_name(parents[0]) if parents else ""
    return f"{task} with {name}" if name and name.lower() not in task.lower() else task


def _names(body: str, subject: str) -> bool:
    """Every content word of the subject is in the (lowercased) text: "MongoDB with MongoEngine" is named by
    "MONGODB_SETTINGS ... MongoEngine(app)"."""
    return all(word.lower() in body for word in subject.split() if word.lower() not in FUNCTION_WORDS)


# Acronyms that name a technique, not a product: "Using URL Processors" is not about a product called URL.
_GENERIC_ACRONYMS = {"HTTP", "HTTPS", "URL", "URLS", "API", "APIS", "HTML", "CSS", "JSON", "WSGI", "ASGI", "SQL", "CLI",
                     "SPA", "JS", "ID"}


def page_name(title: str) -> str:
    return _page_name(title, vocabulary.current())


@lru_cache(maxsize=1024)
def _page_name(title: str, words_known: vocabulary.Vocabulary) -> str:
    """The product a page is about, from its title: 'MongoDB with MongoEngine' -> 'MongoEngine', 'Celery Background
    Tasks' -> 'Celery', 'SQLAlchemy in Flask' -> 'SQLAlchemy', 'Apache httpd' -> 'Apache httpd'; '' when the title
    names none ('Message Flashing', 'Using URL Processors', 'Adding a favicon')."""
    words = re.findall(r"[\w.-]+", re.sub(r"\(.*?\)", "", title)) or [""]
    short_thing = len(words) <= 2 and not narrative.heading_task(title) and not words[0].lower().endswith("ing")
    runs: list[list[str]] = [[]]
    for word in words:
        if _is_name(word, words_known, unknown_words_are_names=short_thing):
            runs[-1].append(word)
        elif runs[-1]:
            runs.append([])
    # "MongoDB with MongoEngine": the tool the page uses is named last.
    return " ".join(next((run for run in reversed(runs) if run), []))


def _is_name(word: str, words_known: vocabulary.Vocabulary, *, unknown_words_are_names: bool) -> bool:
    # The product and what it runs on are named all over its docs ("Flask", "Python"): no page is about them alone.
    if word in words_known.platforms or word.upper() in _GENERIC_ACRONYMS or len(word) < 3:
        return False
    if word in words_known.names or re.search(r"[a-z][A-Z]|^[A-Z]{2,}[a-z]", word):
        return True  # Celery, MongoEngine, uWSGI, SQLite
    # "Apache httpd", "gevent", "mod_wsgi": lowercase words no dictionary knows.
    return unknown_words_are_names and bool(re.fullmatch(r"[a-z][a-z0-9_]*", word)) and not _lemmas(word)


@lru_cache(maxsize=4096)
def _lemmas(word: str) -> dict:
    from lemminflect import getAllLemmas

    return getAllLemmas(word.lower())


def _modifier_only(word: str) -> bool:
    """'Externally', 'Late': a word known only as an adverb or adjective."""
    lemmas = _lemmas(word)
    return word.lower().endswith("ly") or bool(lemmas) and not {"NOUN", "PROPN"} & set(lemmas)


def sentence_case(word: str) -> str:
    """'Data' -> 'data' in "How do I create data?"; names stay ("Flask", "URL", "MongoDB")."""
    if word[:1].isupper() and word[1:].islower() and word not in vocabulary.names() \
            and (_lemmas(word) or word.lower() in FUNCTION_WORDS):
        return word.lower()
    return word


def _noun_phrase_in(heading: str, blocks: list[Block]) -> bool:
    """'Debug Mode' is a thing when the text says "in debug mode": then it is no task ("How do I debug Mode?")."""
    body = " ".join(block.text for block in blocks if block.kind == "paragraph")
    return bool(re.search(rf"\b(?!(?:to|you|I|we|and|or)\b)[a-z]+\s+{re.escape(heading.lower())}\b", body))


def _page_subject(parents: list[str]) -> str:
    """The nearest parent heading that names a thing ("eventlet", "Apache httpd"), not a task or a signature."""
    for parent in reversed(parents):
        words = parent.split()
        if (1 <= len(words) <= 4 and parent.lower() not in GENERIC_HEADINGS and not SIGNATURE.match(parent)
                and not words[0].lower().endswith("ing") and not narrative.heading_task(parent)
                and not narrative.VAGUE & {w.lower() for w in words}):
            return parent
    return ""


_VALUE_ATTRIBUTE = re.compile(r"^(?P<name>[a-z_]\w*)\s*=\s*\S")
_QUOTES = "\"'`“”‘’"


def _defining_answer(heading: str, blocks: list[Block]) -> str:
    """The section's opening from the sentence that defines its heading ("Template inheritance allows you to ...",
    "A “favicon” is an icon ..."), or '' when no opening sentence does."""
    lowered = heading.lower()
    term = lowered.rstrip("s") if len(lowered) > 3 else lowered
    defining = re.compile(rf"^(?:an?\s+|the\s+)?[{_QUOTES}]?{re.escape(term)}s?[{_QUOTES}]?(?:\s|,)[^.;]{{0,20}}?"
                          rf"\b(is|are|refers to|means|provides|lets|allows|gives|enables)\b")
    # A lowercase heading is a name ("eventlet", "age" of a header class): "Age values are ..." does not define it.
    case_sensitive = heading.islower()
    opening = [sentence for paragraph in first_paragraphs(blocks)[:3] for sentence in sentences(paragraph)][:6]
    for index, sentence in enumerate(opening):
        if defining.match(sentence.lower()) and (not case_sensitive or sentence.startswith(heading)):
            return clip(" ".join(opening[index:index + 2]) if len(sentence) < 120 else sentence)
    return ""


def _heading_phrase(heading: str) -> str:
    # "Application Context" reads better as "the application context" in a question; names stay as they are
    # ("Apache httpd", "MongoDB with MongoEngine").
    if any(ch in heading for ch in "`._()") or any(w[:1].isupper() and w[1:].isupper() for w in heading.split()) \
            or any(w in vocabulary.names() or re.search(r"[a-z][A-Z]", w) for w in heading.split()):
        return heading
    return "the " + heading.lower() if len(heading.split()) > 1 else heading.lower()


# Ingestion flattens a list into its paragraph: "... in the next section. - app.config.from_pyfile() overrides ...".
# Each item is a sentence of its own.
_FLATTENED_ITEM = re.compile(r"(?<=[.!?])\s+(?=-\s+[\w`@])")


# "The methods parameter defaults to ["GET"]. ...", "If the obj argument is not given, ...": what happens without the
# option, not what it does.
_ONLY_THE_DEFAULT = re.compile(r"^(?:The `?\w+`? (?:parameter|argument|option) defaults to|If the `?\w+`? (?:parameter|"
                               r"argument|option) is (?:not (?:given|provided|set|passed)|None|omitted))\b")


_USE_THIS = re.compile(r"^To use (?:this|it)\b")
_CLASS_DEFINED = re.compile(r"^\s*class\s+(?P<name>[A-Z]\w*)", re.MULTILINE)
_CLASS_CALLED = re.compile(r"\b(?P<name>[A-Z]\w*[a-z]\w*)\(")


def _this_named(text: str, code_before: str, code_after: str) -> str:
    """'To use this with Flask, wrap the app object with the middleware:' between the code defining one class and the
    code calling it -> 'To use `HTTPMethodOverrideMiddleware` with Flask, ...'; the text as it is otherwise."""
    if not _USE_THIS.match(text):
        return text
    defined = set(_CLASS_DEFINED.findall(code_before))
    called = set(_CLASS_CALLED.findall(code_after))
    names = defined if len(defined) == 1 and not code_after else (called & defined if defined else called)
    return _USE_THIS.sub(f"To use `{names.pop()}`", text) if len(names) == 1 else text


_RAISES_ENTRY = re.compile(r"^\w*(?:Error|Exception|Warning) [–—-] ")  # "KeyError – if the tag key is already ..."


def _paragraph_pairs(text: str, following: list[Block], api_name: str, names: tuple[str, ...] = (),
                     opens_docstring: bool = False, code_before: str = "") -> list[Candidate]:
    pairs: list[Candidate] = []
    if _HISTORY_NOTE.match(text):
        return pairs  # "Changed in version 0.12: ... pass a filename via filename_or_fp": history, not current use
    next_code = following[0].text if following and following[0].kind == "code" else ""
    text = _this_named(text, code_before, next_code)
    all_sentences = sentences(text)
    if not api_name:  # a docstring's flattened list is its parameters, asked one by one below
        all_sentences = [item for sentence in all_sentences for item in _FLATTENED_ITEM.split(sentence)]
    # "... write a script that imports its wsgi.server ..." then "wsgi.py" then the script: the caption introduces it.
    captioned = len(following) > 1 and following[0].kind == "paragraph" and bool(CAPTION.match(following[0].text)) \
        and following[1].kind == "code"
    for index, sentence in enumerate(all_sentences):
        if sentence.endswith("?"):
            asked = _asked_pair(sentence, all_sentences[index + 1:], following)
            pairs.extend([asked] if asked else [])
            continue
        trick = _trick_pair(sentence, all_sentences[index + 1:index + 2], next_code)
        if trick:
            pairs.append(trick)
            continue
        tail = " ".join(all_sentences[index:index + 2]) if len(sentence) < 90 else sentence
        if api_name:
            param = _PARAM_LINE.match(sentence)
            if param and param.group("name") not in {"return", "returns", "raises"} \
                    and not bare_common_name(api_name.removesuffix("()")):  # "the `name` parameter of `pop`"
                entry = _NEXT_FLATTENED_PARAM.split(LIST_ITEM.sub("", sentence), maxsplit=1)[0]
                if entry_restates(param.group("name"), param.group("desc")):
                    continue  # "info_name – the info name for this invocation"
                pairs.append(Candidate(f"What is the `{param.group('name')}` parameter of `{api_name}` for?",
                                       entry, "api"))
                continue
        item = LIST_ITEM.sub("", sentence)
        # "- to validate the data, call the validate() method, ...": a list item's step, asked like a sentence's.
        to_do = _TO_DO.match(item[:1].upper() + item[1:] if item != sentence else sentence)
        if to_do and not PRONOUNS & set(to_do.group("task").lower().split()) and len(to_do.group("task").split()) >= 4 \
                and not _SUCH.search(to_do.group("task")) and not _WAY_INSIDE.search(to_do.group("task")):
            answer = sentence if item == sentence else item[:1].upper() + item[1:]
            if sentence.endswith(":") and next_code and index == len(all_sentences) - 1:
                answer += "\n\n" + fenced(next_code)
            elif captioned and index == len(all_sentences) - 1:
                answer += f"\n\n{following[0].text}\n\n{fenced(following[1].text)}"
            pairs.append(Candidate(f"How do I {strip_end(to_do.group('task'))}?", clip(answer), "how-to"))
            continue
        option = _OPTION_SENTENCE.search(sentence)
        # "The first argument can be ..." names no argument; "Changed in version 2.0: ... the no_etag parameter is
        # deprecated" says what changed, not what the parameter does; "... when the task_always_eager setting is
        # enabled" is a condition of the sentence's own subject.
        if option and option.group("name").lower() not in _NOT_NAMES and not _VERSION_CHANGE.match(sentence) \
                and not _SUBORDINATE_END.search(sentence[:option.start()]) \
                and not _ONLY_THE_DEFAULT.match(tail) and not _RAISES_ENTRY.match(LIST_ITEM.sub("", sentence)):
            what = option.group("what")
            owner = f" of `{api_name}`" if api_name else ""
            pairs.append(Candidate(f"What does the `{option.group('name')}` {what}{owner} do?", clip(tail), "option"))
            continue
        definition = _DEFINITION.match(sentence)
        # "Special delimiters are used to ..." says what they are for, not what they are: only a name is defined so.
        if definition and definition.group("next") == "used" and (
                _common_noun_phrase(definition) or re.match(r"\s*(?:so|because|when|here)\b",
                                                             sentence[definition.end():])):
            definition = None  # "A JOIN is used so that ...": why it is used here, not what it is
        if definition and definition.group("next").lower() == "the" \
                and sentence[definition.end():].lstrip().lower().startswith("same"):
            definition = None  # "The content is the same as what's found there.": the same as what, the page says
        if definition and _defines_term(definition):
            article = (definition.group("article") or "").lower()
            term = definition.group("term")
            subject = f"{article} {term}".strip()
            pairs.append(Candidate(f"What {definition.group('verb')} {subject}?", clip(tail), "what-is"))
            continue
        raised = re.search(r"\braises?\s+(?:an?\s+)?`?(?P<exc>[A-Z]\w*(?:Error|Exception))`?\s+(?P<when>if|when)\b",
                           sentence)
        if raised:
            pairs.append(Candidate(f"When is `{raised.group('exc')}` raised?", clip(sentence), "troubleshooting"))
            continue
        if opens_docstring and index == 0 and is_imperative(sentence.split()[0]):
            continue  # "Create the object to assign to aborter." says what make_aborter() does, not what to do
        last = index == len(all_sentences) - 1
        after = all_sentences[index + 1] if not last and len(sentence) < 90 else ""
        after = "" if after.startswith("- ") else after  # the list's next item says something else
        named = _pronoun_pair(sentence, all_sentences[index - 1]) if index else None
        if named:
            pairs.append(named)
            continue
        named_they = _they_named(sentence, all_sentences[index - 1], names) if index else sentence
        found = narrative.sentence_pairs(LIST_ITEM.sub("", named_they), next_code if last else "", api_name, names,
                                         after)
        if named_they != sentence:  # answered in the text's own words: the sentence that names them, then this one
            found = [Candidate(c.question, c.answer.replace(named_they, f"{all_sentences[index - 1]} {sentence}"),
                               c.kind) for c in found]
        pairs.extend(found)
    if all_sentences and next_code and text.endswith(":"):
        example = _code_example_pair(all_sentences[-1], next_code, text, names[0] if names else "") \
            or _usage_pair(all_sentences[-1], next_code, names[0] if names else "")
        pairs.extend([example] if example else [])
    return pairs


def _they_named(sentence: str, before: str, headings: tuple[str, ...]) -> str:
    """'They are all placed under the flaskr/static directory ...' after a sentence that names the heading's plural
    subject ('... other types of static files ...' under "Static Files") -> 'Static files are all placed ...'."""
    if not sentence.startswith("They "):
        return sentence
    named = [h for h in headings if 1 <= len(h.split()) <= 3 and h.endswith("s") and h.lower() in before.lower()]
    return f"{named[-1][:1].upper()}{named[-1][1:].lower()}{sentence[4:]}" if len(named) == 1 else sentence


_USAGE_INTRO = re.compile(r"^(?:Example usage|Usage example|Usage|Here is how (?:you can|to) use (?:it|this|them)|"
                          r"Here's how (?:you can|to) use (?:it|this|them))\s*:$", re.IGNORECASE)
_BARE_CALL = re.compile(r"(?<![\w.])(?P<name>[a-z_]\w*)\(")
_PYTHON_NAMES = frozenset(dir(builtins)) | frozenset(keyword.kwlist)  # print(), len(), if (...): not the page's


def _usage_pair(intro: str, code: str, title: str) -> Candidate | None:
    """'Example usage:' or 'Here is how you can use it:' before code that calls one function the page defined:
    'In “Using SQLite 3 with Flask”, how do I use `query_db()`?' (a helper of the page's, which the page names),
    answered by the example."""
    if not _USAGE_INTRO.match(intro):
        return None
    defined = set(_DEFINED_NAME.findall(code))
    called = {name for name in _BARE_CALL.findall(code) if name not in defined and name not in _PYTHON_NAMES}
    if len(called) != 1:
        return None
    return Candidate(page_context.page_titled(f"How do I use `{called.pop()}()`?", title),
                     clip(f"{intro}\n\n{fenced(code)}"), "example")


_CODE_NAME = re.compile(r"(?<![\w.])(?P<name>[a-z_][\w.]*\(\))(?P<plural>s)?")
_NAME_IS = re.compile(r"^(?P<name>[a-z_][\w.]*) (?:is|are) (?:a|an|the)\b")  # "g is a special object ..."


_PRONOUN_DOES = re.compile(r"^(?:It|They) (?:(?P<used>is|are) used (?:to|for) |(?P<when>is|are) (?P<done>executed|called|"
                           r"invoked|run) (?:\w+ )?(?:after|before|when|whenever|for|once|at)\b|(?P<can>can|will) "
                           r"(?:\w+ly )?[a-z]+ )")


def _pronoun_pair(sentence: str, before: str) -> Candidate | None:
    """'They are executed right after the request was matched ...' after a sentence naming one API
    ('The reverse of that function are url_value_preprocessor()s.'), or 'It is used to store data ...' after
    'g is a special object ...': asked with the name, answered by both sentences."""
    match = _PRONOUN_DOES.match(sentence)
    if not match:
        return None
    names = {m.group("name") for m in _CODE_NAME.finditer(before)}
    subject = _NAME_IS.match(before)
    # "The reverse of that function are url_value_preprocessor()s.": the sentence before leans on its own before.
    leaning = narrative._vague(" ".join(before.split()[:4]))
    if len(names) == 1:
        name = names.pop()
    elif not names and subject and subject.group("name") not in narrative.VAGUE:
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


_EXAMPLE_TAIL = re.compile(r"\s+(?:like this|like so|as follows|this way|for example|below|here)\s*$")
_YOU_CAN_CODE = re.compile(r"^(?:(?:So|Then|Also|Alternatively|Instead),?\s+)?[Yy]ou can (?:also |simply |easily |then )?"
                           r"(?P<task>[a-z].+)$")
_TO_DO_YOU = re.compile(r"^To (?P<task>[a-z][^,]{6,120}?) (?:you|we) (?:can|could|should|need to|have to|must)\b")
_FOLLOWING_DOES = re.compile(r"^The (?:following|code below|example below)(?: \w+)? (?:(?:shows|demonstrates|illustrates) "
                             r"how to (?P<how>[a-z].+)|(?P<verb>[a-z]+s) (?P<rest>.+))$")


def _code_example_pair(last: str, code: str, paragraph: str, title: str) -> Candidate | None:
    """A sentence that says what the code after it does is a how-to answered by the sentence and the code:
    "Install it from PyPI using pip:" (it: the page's product), "You can also pass arguments to the factory like
    this:", "To create the database you can use the init_db function:", "The following example demonstrates how to
    serve an SPA along with an API:"."""
    answer = clip(last + "\n\n" + fenced(code))
    first_word = last.split()[0] if last.split() else ""
    # "Imagine an application like this:" and "Like this:" open an example; they are not steps.
    if is_imperative(first_word) and narrative.is_instruction(last) and not _TO_DO.match(last) \
            and not re.match(r"^\S+ \d|[^:]*:\s", last):  # "Case 1: a module:" is a caption
        words = strip_end(last).split()
        if len(words) > 1 and words[1].lower() in {"it", "them"}:
            name = page_name(title)
            if not name or name.lower() not in paragraph.lower():
                return None  # "Install it from PyPI": what "it" is, only the page says
            words[1] = name
        # "Create a project directory and enter it", "Install your application so it is importable": the "it" is
        # what the sentence just named.
        if narrative._vague(re.sub(r" (?:and \w+|so(?: that)?) (?:it|them)\b.*$", "", " ".join(words))):
            return None  # "Add the Python functions that will run these SQL commands": which, the page says
        task = re.sub(r"\byour\b", "my", lower_first(" ".join(words)))
        return Candidate(f"How do I {task}?", answer, "example")
    looks = _LOOKS_LIKE.match(last)
    if looks:
        return _looks_like_pair(looks, answer, paragraph)
    match = _FOLLOWING_DOES.match(strip_end(last))
    if match:
        task = match.group("how") or (f"{verb_base(match.group('verb'))} {_before_pronoun_clause(match.group('rest'))}"
                                      if verb_base(match.group("verb")) else "")
    else:
        match = _YOU_CAN_CODE.match(strip_end(last)) or _TO_DO_YOU.match(last)
        task = match.group("task") if match else ""
    task = narrative.task_phrase(_EXAMPLE_TAIL.sub("", strip_end(task))) if task else None
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
    if narrative._vague(thing) or thing.lower() in {"result", "output", "code", "example", "file", "project"}:
        return None
    if article == "the" and not narrative._CODEISH.search(thing):
        return None  # "The result would look like this:": which result, only the page says
    return Candidate(f"What does {article} {thing} look like?", answer, "example")


def _common_noun_phrase(definition: re.Match) -> bool:
    """'Special delimiters' (capitalised only as the sentence's first word); not 'The Pragma general-header field',
    'A JOIN' or a code name."""
    words = definition.group("term").split()
    named = words if definition.group("article") else words[1:]
    return not any(w[:1].isupper() or narrative._CODEISH.search(w) for w in named) and not (
        words[0].isupper() or narrative._CODEISH.search(words[0]) or words[0] in vocabulary.names())


def _defines_term(definition: re.Match) -> bool:
    """'Flask is a ...', 'A decorator is a function ...'; not 'The result is a ...' (a word that needs its page):
    a generic noun defines itself only with an indefinite article on both sides."""
    words = definition.group("term").split()
    if words[0].lower().endswith("ing") or words[0].lower() in narrative.SUBORDINATORS | _WH_WORDS:
        return False  # "Since g is a single global namespace, ..." defines nothing called "Since g"; "where BBBBBB is"
    if not any(word.lower() in NOT_TERMS for word in words):
        return True
    generic_definition = (definition.group("article") or "").lower() in {"a", "an"} and len(words) == 1 \
        and definition.group("next").lower() in {"a", "an"} and words[0].lower() not in PRONOUNS
    return generic_definition and words[0].lower() in _GENERIC_NOUNS


_WH_WORDS = {"where", "which", "what", "who", "whose", "when", "how"}
# Nouns of the NOT_TERMS list that a sentence "A <noun> is a ..." really defines.
_GENERIC_NOUNS = {"function", "method", "class", "object", "file", "decorator", "argument", "parameter", "value"}


_ASKED = re.compile(r"^(?:(?:So|But|Well|Now|And),?\s+)?(?P<question>(?:What|How|Why|When|Where|Which|Who)\b.{10,160}\?)$",
                    re.IGNORECASE)
_FILLERS = re.compile(r"\s+(?:actually|exactly|then|though)\b")
_DEMONSTRATIVE_NAME = re.compile(r"\b(?:that|this) (?=`?\w+\(\)`? )")


_EXAMPLE_OF_SITUATION = re.compile(r"^(?:An?|One) (?:\w+ )?example (?:for|of) (?:that|this)\b", re.IGNORECASE)
_REASON = re.compile(r"\b(?:because|since|so that|reason|due to|in order to|otherwise|that way|this way|which means|"
                     r"the idea is|the problem is|as a result)\b", re.IGNORECASE)


def _asked_pair(sentence: str, after: list[str], following: list[Block]) -> Candidate | None:
    """The text asks a question and answers it ("So how exactly does Flask handle uploads? Well it will store
    them ..."): the question, without its filler words, and what follows it as the answer. A question that leans
    on the page ("Why is this the case?", "How would you implement that?") is skipped."""
    match = _ASKED.match(sentence)
    if not match:
        return None
    question = _DEMONSTRATIVE_NAME.sub("the ", _FILLERS.sub("", match.group("question")))
    question = question[:1].upper() + question[1:]
    if (narrative.VAGUE | {"now"}) & set(re.findall(r"[a-z']+", question.lower())) or len(question.split()) < 4:
        return None
    after = list(itertools.takewhile(lambda s: not s.endswith("?"), after))  # up to the next question
    if after:
        if _EXAMPLE_OF_SITUATION.match(after[0]):
            return None  # "What happens if you want X? A common example for that would be ...": the answer comes later
        answer = " ".join(after[:2])
        if question.lower().startswith("why") and not _REASON.search(answer):
            return None  # "Why doesn't Flask have X? You can use Y, but ...": the reasons come later, if at all
        if answer.endswith(":") and following and following[0].kind == "code":
            answer += "\n\n" + fenced(following[0].text)
    else:
        items = list(itertools.takewhile(lambda b: b.kind == "paragraph" and b.text.startswith("- "), following))
        answer = "\n".join(b.text for b in items[:3]) if items else lead(first_paragraphs(following)[:1])
    return Candidate(question, clip(answer), "faq") if len(answer) >= 40 else None


_TRICK = re.compile(r"^(?:So,? )?[Tt]he (?:trick|idea|solution) is to (?:\w+ly )?(?P<task>[a-z].{8,100})\.$")


def _trick_pair(sentence: str, after: list[str], code: str) -> Candidate | None:
    """'The trick is to actually load the view function as needed.' then the way ("This can be accomplished with a
    helper class ...:" and its code): 'How do I load the view function as needed?'."""
    match = _TRICK.match(sentence)
    task = narrative.task_phrase(match.group("task")) if match else None
    if not task or not after:
        return None
    answer = f"{sentence} {after[0]}"
    if after[0].endswith(":") and code:
        answer += "\n\n" + fenced(code)
    if not narrative.has_instruction(answer):
        return None
    return Candidate(f"How do I {task}?", clip(answer), "how-to")


def _table_pairs(rows: list[list[str]]) -> list[Candidate]:
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


def _error_block_pair(code: str, following: list[Block]) -> Candidate | None:
    lines = [line.strip() for line in code.strip().splitlines() if line.strip()]
    error_at = next((i for i, line in enumerate(lines[:3]) if _ERROR_LINE.match(line)), None)
    if error_at is None:
        return None
    # The explanation is either printed with the error (Flask's RuntimeErrors) or the text after it.
    explanation = " ".join(lines[error_at + 1:])
    if len(explanation) < 40 or not re.search(r"[a-z]{3,} [a-z]{3,} [a-z]{3,}", explanation):
        explanation = lead(first_paragraphs(following)) if first_paragraphs(following) else ""
    if len(explanation) < 20:
        return None
    return Candidate(f"What does the error “{lines[error_at]}” mean?", clip(explanation), "troubleshooting")
