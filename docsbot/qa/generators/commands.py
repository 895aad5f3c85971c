"""What a command does, on a man page ("git-stash(1)"): its DESCRIPTION ("What does `git stash` do?") and the entries
of its COMMANDS list ("push [-p|--patch] ...:" then "Save your local modifications ...": "What does `git stash push`
do?"). Ingestion renders a definition list as the term alone on its paragraph, ending with a colon, and the
description in the paragraphs after it; an option's entry (``options.option_entry_pair``) has the same shape. A file
format's man page ("gitignore(5)") asks what the file is."""
from __future__ import annotations

import re

from docsbot.qa.generators.base import MAN_PAGE_TITLE, Candidate
from docsbot.qa.generators.options import term_description
from docsbot.qa.generators.text import (
    Block,
    clip,
    first_paragraphs,
    is_imperative,
    mend_cut_answer,
    sentences,
)

# "push [-p|--patch] [<pathspec>…]:", "forget <pathspec>:", "set-head:": a subcommand's word, then its arguments.
_SUBCOMMAND_TERM = re.compile(r"^(?P<word>[a-z][a-z0-9]*(?:-[a-z0-9]+)*)(?:\s+[\[<(|-].*)?:$", re.DOTALL)
_COMMANDS_HEADING = re.compile(r"\b(?:sub)?commands\b", re.IGNORECASE)
_MAX_TERM_CHARS = 300


def subcommand_pair(text: str, following: list[Block], command: str, heading: str) -> Candidate | None:
    """'What does `git stash push` do?' for a subcommand's entry in a man page's COMMANDS section, answered by its
    description (the paragraph under the term)."""
    term = text.strip()
    match = _SUBCOMMAND_TERM.match(term)
    if not command or not match or len(term) > _MAX_TERM_CHARS or not _COMMANDS_HEADING.search(heading):
        return None
    description = term_description(following, _SUBCOMMAND_TERM)
    if not description:
        return None  # the description is in the next chunk, or this term shares the next term's description
    return Candidate(f"What does `{command} {match['word']}` do?", clip(f"`{' '.join(term[:-1].split())}`: "
                                                                        f"{description}"), "option")


# What a command's description opens with when it says what the command does: "Use git stash when you want to ...",
# "This command assists the developer ...", "git-rerere records ...", or an imperative ("Read a tar archive ...").
_SAYS_WHAT_IT_DOES = re.compile(r"^(?:Use|This command|The command|These commands)\b")


def description_pairs(heading: str, blocks: list[Block], command: str) -> list[Candidate]:
    """'What does `git stash` do?' for a man page's DESCRIPTION section: the first of its opening paragraphs that
    says what the command does (one that only sets the scene, "In a workflow employing ... topic branches, the
    developer sometimes needs to ...", is skipped)."""
    if not command or heading.strip().upper() != "DESCRIPTION":
        return []
    names = {command, command.replace(" ", "-")}
    for paragraph in first_paragraphs(blocks)[:2]:
        opening = sentences(paragraph)[0] if sentences(paragraph) else ""
        first_word = opening.split()[0] if opening else ""
        if _SAYS_WHAT_IT_DOES.match(opening) or any(opening.startswith(name + " ") for name in names) \
                or (is_imperative(first_word) and first_word[:1].isupper()):
            answer = mend_cut_answer(paragraph, how_to=False)
            return [Candidate(f"What does `{command}` do?", clip(answer), "what-is")] if answer else []
    return []


def file_description_pair(heading: str, blocks: list[Block], title: str) -> Candidate | None:
    """'What is a gitignore file?' for a file format's man page ("gitignore(5)") whose DESCRIPTION opens on the file:
    "A gitignore file specifies intentionally untracked files ...", "The .gitmodules file, located in ..., is ..."."""
    page = MAN_PAGE_TITLE.match(title.strip())
    if not page or page["section"] != "5" or heading.strip().upper() != "DESCRIPTION":
        return None
    paragraph = next(iter(first_paragraphs(blocks)), "")
    opening = re.match(rf"^(?P<article>An?|The) (?P<file>\.?{re.escape(page['name'])}) file\b", paragraph)
    if not opening:
        return None
    article = "the" if opening["article"] == "The" else "a"
    return Candidate(f"What is {article} {opening['file']} file?", clip(paragraph), "what-is")
