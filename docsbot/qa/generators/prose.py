"""Pairs from one sentence of prose: the sentence families, in the order they are tried (the first that matches
wins)."""
from __future__ import annotations

from docsbot.qa.generators import api_sentences, behaviour, concepts, howto, statements
from docsbot.qa.generators.base import Candidate
from docsbot.qa.generators.text import clip, fenced


def sentence_pairs(sentence: str, code_after: str, api_name: str = "", names: tuple[str, ...] = (), after: str = "",
                   describes: bool = False) -> list[Candidate]:
    """names: the headings above the sentence; after: the next sentence when this one is short (what it goes on to
    say); describes: the sentence is in an entry's description (an option's, a setting's, a term's)."""
    for rule in (lambda: howto.purpose_pair(sentence, code_after), lambda: howto.you_can_pair(sentence, names),
                 lambda: howto.passive_how_pair(sentence, names), lambda: api_sentences.used_for_pair(sentence),
                 lambda: howto.requires_pair(sentence), lambda: howto.way_pair(sentence),
                 lambda: howto.enables_pair(sentence), lambda: howto.lets_you_pair(sentence, names),
                 lambda: concepts.term_means_pair(sentence), lambda: concepts.called_pair(sentence),
                 lambda: behaviour.condition_pair(sentence, api_name, names, describes),
                 lambda: behaviour.does_when_pair(sentence), lambda: behaviour.passive_when_pair(sentence, names),
                 lambda: concepts.layout_item_pair(sentence), lambda: behaviour.why_pair(sentence),
                 lambda: api_sentences.template_tag_pair(sentence), lambda: concepts.role_pair(sentence),
                 lambda: api_sentences.api_sentence_pair(sentence),
                 lambda: statements.statement_pair(sentence, after, api_name, names),
                 lambda: api_sentences.does_pair(sentence, after)):
        candidate = rule()
        if candidate:
            return [with_code_introduced(candidate, code_after)]
    return []


def with_code_introduced(candidate: Candidate, code_after: str) -> Candidate:
    """'You can start the worker in the foreground by executing the command:' is answered with the command it
    introduces (without it the answer ends where the way begins)."""
    if not code_after or not candidate.answer.rstrip().endswith(":") or "```" in candidate.answer:
        return candidate
    return Candidate(candidate.question, clip(f"{candidate.answer.rstrip()}\n\n{fenced(code_after)}"), candidate.kind)
