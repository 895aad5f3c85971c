"""How-to questions from headings and steps: a task heading ("Configuring MongoDB", "How to ...", a bare "Installing"
under "eventlet") asked as "How do I ...?", a section named by a means on a page named by a task, and a task heading
over imperative list steps. The answer is the section's opening with the command or code that does the task."""
from __future__ import annotations

import re

from docsbot.qa.generators.api_entries import ANNOTATION, SIGNATURE, VALUE_ATTRIBUTE
from docsbot.qa.generators.base import CAPTION, LISTS_THE_WAYS, Candidate
from docsbot.qa.generators.instructions import has_instruction, is_instruction
from docsbot.qa.generators.text import (
    FUNCTION_WORDS,
    MAX_CODE_ANSWER_CHARS,
    Block,
    clip,
    fenced,
    first_paragraphs,
    is_gerund,
    lead,
    opening_end,
    sentences,
    verb_base,
)
from docsbot.qa.generators.troubleshooting import is_error_heading
from docsbot.qa.generators.wording import (
    GENERIC_HEADINGS,
    TASK_VERBS,
    VAGUE,
    first_person,
    heading_phrase,
    heading_task,
    modifier_only,
    page_name,
    sentence_case,
    vague,
    with_page_name,
)


def answer_under(blocks: list[Block], *, how_to: bool = False) -> str:
    """The section's opening text, and its first code block when the text introduces it (or, for a
    how-to, when the code directly follows a short opening: "Use pip to install ..." then the command)."""
    paragraphs = first_paragraphs(blocks)
    # Sphinx API entries open with the signature, "name: type" or "name = value": that is not an answer.
    while paragraphs and (SIGNATURE.match(paragraphs[0]) or ANNOTATION.match(paragraphs[0])
                          or (VALUE_ATTRIBUTE.match(paragraphs[0]) and len(paragraphs) > 1)):
        paragraphs = paragraphs[1:]
    if not paragraphs:
        return ""
    text = _from_the_ways(lead(paragraphs)) if how_to else lead(paragraphs)
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
        answer = (opening if how_to and len(opening) < 400 else text) + "\n\n" + fenced(rest[0].text)
        more = _example_goes_on(rest[1:]) if how_to else ""
        return answer + more if len(answer + more) <= MAX_CODE_ANSWER_CHARS else answer
    if how_to and not has_instruction(text):
        # The opening is an introduction ("If you need X, you can create your own"); the way to do it
        # is in a later sentence of the section ("Read Extension Development to ...").
        later = [sentence for block in blocks if block.kind == "paragraph"
                 for sentence in sentences(block.text) if sentence not in text]
        step = next((sentence for sentence in later if has_instruction(sentence)), "")
        if step:
            text = clip(f"{text} {step}")
    if how_to and "```" not in text and not (_SCENE.match(opening) or _SHOWS_OUTPUT.search(opening)):
        command = _command_in(blocks, text)
        if command:
            return clip(f"{text}\n\n{command}")
    return text


def _from_the_ways(text: str) -> str:
    """A how-to opening that lists the ways ("There are three ways to upload, and they all behave the same: the admin
    upload page, the HTTP API and the ingest command.") is answered from that sentence: the sentences before it only
    set the scene. Not when the ways are of doing what the sentence before said ("There are two ways to do this:")."""
    said = sentences(text)
    for index, sentence in enumerate(said[1:], start=1):
        if LISTS_THE_WAYS.search(sentence) and not _REFERS_BACK.search(sentence.split(":")[0]):
            return " ".join(said[index:])
    return text


_REFERS_BACK = re.compile(r"\b(?:this|that|these|those|it|so)\b", re.IGNORECASE)


def _example_goes_on(blocks: list[Block]) -> str:
    """After the code the opening introduced, a sentence or two ending with a colon and its code: the example goes on
    to the part that does the task ("For example if your URL config contained an entry like this:" then the URL
    pattern; "You could then write a view that returned ...:" then the view)."""
    if len(blocks) < 2 or blocks[0].kind != "paragraph" or blocks[1].kind != "code":
        return ""
    intro = blocks[0].text.strip()
    if not intro.endswith(":") or len(sentences(intro)) > 2 or len(intro) > 300 or CAPTION.match(intro):
        return ""
    return f"\n\n{intro}\n\n{fenced(blocks[1].text)}"


def _command_in(blocks: list[Block], text: str) -> str:
    """The section's first command ("Run the init-db command:" then `$ flask --app flaskr init-db`), or its first code
    under an instruction that ends with a colon (a file-name caption between them is skipped): what the opening
    "can be called using the flask command" leaves out."""
    for index, block in enumerate(blocks):
        if block.kind != "code":
            continue
        before = [b.text for b in blocks[:index] if b.kind == "paragraph" and not CAPTION.match(b.text)]
        intro = sentences(before[-1])[-1] if before else ""
        if intro.endswith(":") and is_instruction(intro) and intro not in text:
            # "Install them both:": which, the text before says; the command alone would answer a different task.
            return "" if vague(intro) else f"{intro}\n\n{fenced(block.text)}"
        if block.text.lstrip().startswith("$ "):
            return fenced(block.text)
        return ""
    return ""


_SCENE = re.compile(r"^(?:Imagine|Consider|Suppose|Say|Assume|Let's say)\b")

_SHOWS_OUTPUT = re.compile(r"\b(?:will|would) (?:show|print|display|output|log|look like)\b")


def how_to_pairs(question: str, blocks: list[Block]) -> list[Candidate]:
    if blocks and blocks[-1].kind == "paragraph" and blocks[-1].text.endswith(":") \
            and not any(block.kind == "code" for block in blocks):
        return []  # the way is what the section's last sentence points at, and the section does not hold it
    answer = answer_under(blocks, how_to=True)
    return [Candidate(question, answer, "how-to")] if answer else []


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
    rest = first_person(" ".join(words[1:])).split()  # "Documenting your views"
    if VAGUE & {word.lower() for word in rest} or "&" in rest:
        return ""  # "Working with this Document"; "Filtering & schemas" joins two topics, it is no task
    if len(rest) == 1 and (rest[0].lower() in _COMPOUND_HEADS or rest[0].lower()[:-1] in _COMPOUND_HEADS):
        return ""  # "Caching Decorator" is a kind of decorator, not a thing to cache
    if rest and not all(modifier_only(word) for word in rest):
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
    return " ".join([verb, heading_phrase(subject), *(word.lower() for word in rest)])


def heading_how_to(heading: str, parents: list[str], blocks: list[Block]) -> str | None:
    """'How do I configure MongoDB with MongoEngine?' for a task heading ("Configuring MongoDB", "How to ..."); None
    for any other heading."""
    words = heading.split()
    if heading.lower().startswith("how to "):
        return f"How do I {heading[7:].rstrip('?')}?"
    if heading.endswith("?") or is_error_heading(heading):
        return None
    task = _heading_task(words, parents, blocks)
    if task:
        return f"How do I {with_page_name(task, parents)}?"
    first = words[0]
    if is_gerund(first):
        return None
    task = heading_task(heading)
    if task and first.lower() in TASK_VERBS and not _noun_phrase_in(heading, blocks):
        task = " ".join(sentence_case(word) for word in task.split())
        return f"How do I {with_page_name(task, parents)}?"
    return None


def means_how_to(heading: str, parents: list[str], blocks: list[Block]) -> str | None:
    """'How do I upload documentation with the admin upload page?' for a section named by a means ("The admin upload
    page", "The API") on a page named by a task ("Uploading documentation") whose text opens with an instruction
    ("Open /documents/upload/ ...", "Upload with a multipart POST ...")."""
    if not parents or not heading.startswith("The ") or not 2 <= len(heading.split()) <= 5 \
            or vague(heading) or any(ch in heading for ch in "?:!"):
        return None
    title_words = parents[0].split()
    first = title_words[0] if title_words else ""
    verb = verb_base(first) if first.lower().endswith("ing") else None
    if not verb or len(title_words) > 5 or vague(parents[0]):
        return None
    paragraphs = first_paragraphs(blocks)
    opening = sentences(paragraphs[0])[0] if paragraphs else ""
    if not opening or not is_instruction(opening):
        return None
    task = " ".join([verb, *(sentence_case(word) for word in title_words[1:])])
    return f"How do I {task} with {heading_phrase(heading[4:]) if len(heading.split()) > 2 else 'the ' + heading[4:]}?"


def _names(body: str, subject: str) -> bool:
    """Every content word of the subject is in the (lowercased) text: "MongoDB with MongoEngine" is named by
    "MONGODB_SETTINGS ... MongoEngine(app)"."""
    return all(word.lower() in body for word in subject.split() if word.lower() not in FUNCTION_WORDS)


def _noun_phrase_in(heading: str, blocks: list[Block]) -> bool:
    """'Debug Mode' is a thing when the text says "in debug mode": then it is no task ("How do I debug Mode?")."""
    body = " ".join(block.text for block in blocks if block.kind == "paragraph")
    return bool(re.search(rf"\b(?!(?:to|you|I|we|and|or)\b)[a-z]+\s+{re.escape(heading.lower())}\b", body))


def _page_subject(parents: list[str]) -> str:
    """The nearest parent heading that names a thing ("eventlet", "Apache httpd"), not a task or a signature."""
    for parent in reversed(parents):
        words = parent.split()
        if (1 <= len(words) <= 4 and parent.lower() not in GENERIC_HEADINGS and not SIGNATURE.match(parent)
                and not words[0].lower().endswith("ing") and not heading_task(parent)
                and not VAGUE & {w.lower() for w in words}):
            return parent
    return ""


def steps_pair(heading: str, blocks: list) -> Candidate | None:
    """A task heading followed by at least two imperative list steps: the steps are the answer."""
    task = heading_task(heading)
    if not task:
        return None
    steps = [b.text for b in blocks if b.kind == "paragraph" and b.text.startswith("- ") and is_instruction(b.text)]
    if len(steps) < 2:
        return None
    return Candidate(f"How do I {task}?", clip("\n".join(steps)), "how-to")
