"""The structural generator: questions from the shape of the documentation, no LLM.

Answers are the source text under them, quoted, so they are grounded by construction; the filters still check them.
This module walks a chunk (its sections, their blocks, each paragraph's sentences), asks each question family for
its pairs, and vets them. The families, one module each:

- api_entries: reference entries (signatures, classes, attributes, parameters); member_headings: entries headed
  by a member alone (".data");
- api_sentences: prose about a named API ("`flash()` stores ...");
- options: configuration values, option lists and tables, dotted settings, option sentences;
- commands: what a man page's command does and each of its subcommands;
- concepts: definitions, what a term means, when a technique is useful;
- statements: what a named thing does not do, uses, does automatically, where things are kept;
- behaviour: what happens if or when, what to do then, when something is done, why;
- howto: how-to sentences ("To do X, ..."); task_headings: task headings and steps; feature_headings: how to use
  a feature a section is named by;
- prose: which of these families each sentence of prose is tried with, in which order;
- examples: code examples; troubleshooting: errors; faq: questions the docs ask themselves.

Shared helpers: structure (a chunk's parsed blocks as rules read them), text (sentences, quotes), wording (pronouns, page names, phrasing), instructions (does a text
say what to do), page_context (does a question stand without its page), vetting (checks on every candidate).
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from docsbot.qa.generators import (
    api_entries,
    api_sentences,
    commands,
    concepts,
    examples,
    faq,
    feature_headings,
    howto,
    member_headings,
    notation,
    options,
    page_context,
    prose,
    sections,
    task_headings,
    troubleshooting,
    vocabulary,
)
from docsbot.qa.generators.base import (
    CAPTION,
    MIN_CHUNK_CHARS,
    Candidate,
    ChunkInput,
    ChunkResult,
    clean_heading,
)
from docsbot.qa.generators.instructions import has_instruction
from docsbot.qa.generators.structure import rule_blocks
from docsbot.qa.generators.text import (
    LIST_ITEM,
    Block,
    is_gerund,
    is_imperative,
    sentences,
)
from docsbot.qa.generators.vetting import vetted
from docsbot.qa.generators.wording import GENERIC_HEADINGS, on_product_page, they_named, unshouted


class StructuralGenerator:
    name = "structural"

    def generate(self, chunk: ChunkInput) -> ChunkResult:
        with vocabulary.using(chunk.vocabulary):
            return self._generate(chunk)

    def generate_section(self, chunks: Sequence[ChunkInput]) -> list[ChunkResult]:
        return sections.section_results(self.generate, chunks)

    def _generate(self, chunk: ChunkInput) -> ChunkResult:
        body = chunk.body
        if len(body) < MIN_CHUNK_CHARS:
            return ChunkResult(rejection="chunk_too_short", detail=f"{len(body)} characters of text")
        path = [unshouted(clean_heading(h), body) for h in chunk.heading_path if clean_heading(h)] \
            or [clean_heading(chunk.title)]
        out: dict[str, Candidate] = {}
        repeated = chunk.vocabulary.repeated
        blocks = [block for block in rule_blocks(chunk.parsed_blocks()) if not repeated
                  or not (block.kind == "paragraph" and vocabulary.paragraph_key(block.text) in repeated)]
        for index, (heading, section_blocks) in enumerate(_sections(path[-1], blocks)):
            parents = path[:-1] if index == 0 else path
            ask_heading = chunk.first_of_section or index > 0
            for candidate in _section_pairs(heading, section_blocks, parents, ask_heading):
                kept = vetted(candidate)
                if kept:
                    out.setdefault(_norm(kept.question), kept)
        if not out:
            return ChunkResult(rejection="no_structure", detail="no heading, definition, option, API, error or "
                                                                 "example found")
        names = tuple(path)
        standing = [c for c in out.values() if not page_context.needs_page(c.question, names)]
        if not standing:
            return ChunkResult(rejection="no_structure", detail="every question found needs its page to be understood")
        return ChunkResult(candidates=[Candidate(on_product_page(c.question, c.kind, names[0]), c.answer, c.kind)
                                       for c in standing])


def _norm(question: str) -> str:
    """The question for telling repeats apart: case and punctuation aside, but code kept whole ("`HEAD~`" and
    "`HEAD^`" are two questions)."""
    parts = re.split(r"(`[^`]+`)", question.lower())
    return " ".join(part if part.startswith("`") else re.sub(r"\W+", " ", part).strip() for part in parts).strip()


def _sections(first_heading: str, blocks: list[Block]) -> list[tuple[str, list[Block]]]:
    sections: list[tuple[str, list[Block]]] = [(first_heading, [])]
    text = " ".join(block.text for block in blocks)
    for block in blocks:
        if block.kind == "heading":
            sections.append((unshouted(block.text, text), []))
        else:
            sections[-1][1].append(block)
    return [(heading, section_blocks) for heading, section_blocks in sections if section_blocks]


def _section_pairs(heading: str, blocks: list[Block], parents: list[str], ask_heading: bool) -> list[Candidate]:
    pairs: list[Candidate] = []
    # An untitled-API subsection ("About the First Parameter" under `class flask.Flask`) is still about that API.
    api_name = api_entries.entry_name(heading, parents) or (
        api_entries.entry_name(parents[-1], parents[:-1]) if parents else "")
    if ask_heading and not parents:
        useful = feature_headings.useful_when_pair(heading, blocks)
        pairs.extend([useful] if useful else [])
    command = options.command_of(parents[0] if parents else heading, vocabulary.product())  # of a man page's options
    if ask_heading:
        from_heading = _heading_pairs(heading, blocks, parents) or concepts.named_section_pairs(heading, blocks, parents)
        steps = task_headings.steps_pair(heading, blocks)
        if steps and not any(p.kind == "how-to" and has_instruction(p.answer) for p in from_heading):
            from_heading = [p for p in from_heading if p.kind != "how-to"] + [steps]
        pairs.extend(from_heading + commands.description_pairs(heading, blocks, command))
        described = commands.file_description_pair(heading, blocks, parents[0] if parents else "")
        pairs.extend([described] if described else [])
    # The last block that was an option's, setting's or term's entry; a configuration value's (or a man page's
    # all-capitals) heading is one.
    entry_at = -1 if api_entries.CONFIG_NAME.match(heading) else -2
    for index, block in enumerate(blocks):
        following = blocks[index + 1:]
        if block.kind == "paragraph":
            signature = api_entries.signature_pair(block.text, following, heading)
            if signature:
                api_name = signature[1]
                pairs.append(signature[0])
                continue
            entry = options.config_pair(block.text, following) or options.option_entry_pair(
                block.text, following, command, previous=blocks[index - 1].text if index else "") \
                or options.setting_entry_pair(block.text, following) \
                or commands.subcommand_pair(block.text, following, command, heading) \
                or faq.question_term_pair(block.text, following) \
                or concepts.glossary_entry_pair(block.text, following, [*parents, heading]) \
                or notation.notation_entry_pair(block.text, following)
            if entry:
                pairs.append(entry)
                entry_at = index
                continue
            # The docstring's first prose: an attribute's value line ("default_tags = [...]") before it is no prose.
            opens_docstring = bool(api_name) and not any(
                b.kind == "paragraph" and not api_entries.VALUE_ATTRIBUTE.match(b.text) for b in blocks[:index])
            code_before = blocks[index - 1].text if index and blocks[index - 1].kind == "code" else ""
            pairs.extend(_paragraph_pairs(block.text, following, api_name, (*parents, heading), opens_docstring,
                                          code_before, describes=entry_at == index - 1))
        elif block.kind == "table":
            pairs.extend(options.table_pairs(block.rows))
        elif block.kind == "code":
            error = troubleshooting.error_block_pair(block.text, following)
            written = examples.artifact_pair(heading, block.text, blocks[index - 1] if index else None)
            pairs.extend(pair for pair in (error, written) if pair)
    return pairs


def _heading_pairs(heading: str, blocks: list[Block], parents: list[str]) -> list[Candidate]:
    """The question a section's heading asks, the first family's that does, answered by the section."""
    words = heading.split()
    if not words or heading.lower() in GENERIC_HEADINGS:
        return []
    answer = task_headings.answer_under(blocks)
    if not answer:
        return []
    entry = api_entries.heading_pairs(heading, blocks, parents, answer)
    if entry is not None:
        return entry
    member = member_headings.member_pair(heading, parents, answer)
    if member:
        return [member]
    config = options.config_heading_pair(heading, blocks, parents, answer)
    if config:
        return [config]
    if len(words) > 10 or heading.endswith("!"):
        return []  # "Keep Developing!" is a chapter's cheer, not a task
    how_to = task_headings.heading_how_to(heading, parents, blocks)
    if how_to:
        return task_headings.how_to_pairs(how_to, blocks)
    asked = faq.question_heading_pairs(heading, blocks, answer)
    if asked is not None:
        return asked
    error = troubleshooting.error_heading_pair(heading, answer)
    if error:
        return [error]
    explained = faq.how_clause_question(heading)
    if explained:
        return [Candidate(explained, answer, "faq")]
    means = task_headings.means_how_to(heading, parents, blocks)
    if means:
        return task_headings.how_to_pairs(means, blocks)
    used = feature_headings.use_pair(heading, blocks)
    if used:
        return [used]
    if is_gerund(words[0]):
        return []
    # Under a class or function heading, a lowercase heading like "age" is an attribute, not a concept.
    if len(heading) < 3 or len(words) > 5 or any(api_entries.SIGNATURE.match(parent) for parent in parents):
        return []
    definition = concepts.heading_definition_pair(heading, blocks)
    return [definition] if definition else []


_HISTORY_NOTE = re.compile(r"^(?:Changed in version|Deprecated since)\b")
# Ingestion flattens a list into its paragraph: "... in the next section. - app.config.from_pyfile() overrides ...".
# Each item is a sentence of its own.
_FLATTENED_ITEM = re.compile(r"(?<=[.!?])\s+(?=-\s+[\w`@])")


def _paragraph_pairs(text: str, following: list[Block], api_name: str, names: tuple[str, ...] = (),
                     opens_docstring: bool = False, code_before: str = "", describes: bool = False
                     ) -> list[Candidate]:
    pairs: list[Candidate] = []
    if _HISTORY_NOTE.match(text):
        return pairs  # "Changed in version 0.12: ... pass a filename via filename_or_fp": history, not current use
    next_code = following[0].text if following and following[0].kind == "code" else ""
    text = examples.this_named(text, code_before, next_code)
    all_sentences = sentences(text)
    if not api_name:  # a docstring's flattened list is its parameters, asked one by one below
        all_sentences = [item for sentence in all_sentences for item in _FLATTENED_ITEM.split(sentence)]
    # "... write a script that imports its wsgi.server ..." then "wsgi.py" then the script: the caption introduces it.
    captioned = len(following) > 1 and following[0].kind == "paragraph" and bool(CAPTION.match(following[0].text)) \
        and following[1].kind == "code"
    for index, sentence in enumerate(all_sentences):
        last = index == len(all_sentences) - 1
        if sentence.endswith("?"):
            asked = faq.asked_pair(sentence, all_sentences[index + 1:], following)
            pairs.extend([asked] if asked else [])
            continue
        trick = howto.trick_pair(sentence, all_sentences[index + 1:index + 2], next_code)
        if trick:
            pairs.append(trick)
            continue
        tail = " ".join(all_sentences[index:index + 2]) if len(sentence) < 90 else sentence
        parameters = api_entries.parameter_pairs(sentence, api_name) if api_name else None
        if parameters is not None:
            pairs.extend(parameters)
            continue
        caption = (following[0].text, following[1].text) if captioned and last else None
        found = howto.to_do_pair(sentence, next_code if last else "", caption) \
            or options.option_sentence_pair(sentence, tail, api_name) or concepts.definition_pair(sentence, tail) \
            or troubleshooting.raised_pair(sentence)
        if found:
            pairs.append(found)
            continue
        if opens_docstring and index == 0 and is_imperative(sentence.split()[0]):
            continue  # "Create the object to assign to aborter." says what make_aborter() does, not what to do
        after = all_sentences[index + 1] if not last and len(sentence) < 90 else ""
        after = "" if after.startswith("- ") else after  # the list's next item says something else
        named = api_sentences.pronoun_pair(sentence, all_sentences[index - 1]) if index else None
        if named:
            pairs.append(named)
            continue
        named_they = they_named(sentence, all_sentences[index - 1], names) if index else sentence
        found_all = prose.sentence_pairs(LIST_ITEM.sub("", named_they), next_code if last else "", api_name,
                                         names, after, describes)
        if named_they != sentence:  # answered in the text's own words: the sentence that names them, then this one
            found_all = [Candidate(c.question, c.answer.replace(named_they, f"{all_sentences[index - 1]} {sentence}"),
                                   c.kind) for c in found_all]
        pairs.extend(found_all)
    if all_sentences and next_code and text.endswith(":"):
        example = examples.code_example_pair(all_sentences[-1], next_code, text, names[0] if names else "") \
            or examples.usage_pair(all_sentences[-1], next_code)
        pairs.extend([example] if example else [])
    return pairs
