"""Notation entries: a definition-list term that shows a notation with examples ("[<refname>]@{<date>}, e.g.
master@{yesterday}, HEAD@{5 minutes ago}:" then what it means, as Git's gitrevisions(7) spells revisions) asked
as what its first example means: "What does `master@{yesterday}` mean?". A bare placeholder ("<sha1>, e.g. dae86e:")
shows no notation and is not asked."""
from __future__ import annotations

import re

from docsbot.qa.generators.base import Candidate
from docsbot.qa.generators.options import term_description
from docsbot.qa.generators.text import Block, clip

_NOTATION_TERM = re.compile(r"^(?P<form>[^\s,][^,]{0,60}?),? e\.g\.,? (?P<examples>(?!:\s|:$).{1,200}?):$")
_PLACEHOLDER = re.compile(r"<[\w-]+>")
_MAX_EXAMPLE_CHARS = 30


def notation_entry_pair(text: str, following: list[Block]) -> Candidate | None:
    term = text.strip()
    match = _NOTATION_TERM.match(term)
    if not match:
        return None
    form = match["form"].strip()
    notation = _PLACEHOLDER.sub("", form)
    examples = [example.strip() for example in match["examples"].split(", ")]
    example = examples[0]
    if not re.search(r"[^\w\s]", notation) or not example or len(example) > _MAX_EXAMPLE_CHARS or "`" in example:
        return None  # "<refname>, e.g. master": a name, no notation to explain
    description = term_description(following, _NOTATION_TERM)
    if not description:
        return None
    shown = ", ".join(f"`{each}`" for each in examples)
    return Candidate(f"What does `{example}` mean?", clip(f"`{form}`, e.g. {shown}: {description}"), "what-is")
