"""A team's names are learned from its own docs; the structural rules know no product."""
from docsbot.qa.generators import ChunkInput, vocabulary
from docsbot.qa.generators.structural import StructuralGenerator
from docsbot.qa.generators.wording import page_name

# Three pages of the docs of a made-up tool, "Quarry", which runs its jobs with "Pebble" (named on one page).
DOCS = [
    ("intro", ["Getting Started", "Why Quarry"],
     ("The best way to start is with Quarry itself. Many teams pick Quarry for its speed. Unlike other tools, it "
      "runs every job apart. See Getting Started for the first steps. To start, run quarry init, then quarry add, "
      "then quarry run.")),
    ("jobs", ["Running Jobs", "Workers"],
     ("A worker takes jobs from the queue. With Quarry a worker stops when Pebble reports an error. Workers read the "
      "JobQueue settings.\n\n```\nfrom quarry import JobQueue\nqueue = JobQueue(workers=4)\n```\n\nThe "
      "Quarry worker and the Pebble sandbox log to the same file, and Pebble keeps each job apart.")),
    ("tutorial", ["Tutorial", "Deploying"],
     ("Deploy Quarry as the Tutorial shows. The Tutorial walks through it, then the Tutorial ends. Quarry prints the "
      "deployed version. Calling JobQueue.drain() stops the queue.\n\n```\n$ quarry deploy\n```")),
]


def test_it_learns_the_names_its_docs_write_capitalised_mid_sentence():
    learned = vocabulary.learn(DOCS)
    assert {"Quarry", "Pebble"} <= learned.names
    assert learned.product == "Quarry"  # named on the most pages, and in lower case where prose runs it ("quarry run")
    # Not names: a word capitalised only where a sentence starts ("Many", "Workers"), a title-cased reference to a
    # heading ("Getting Started"), an API class of the code (`JobQueue`), a page title that code never uses.
    assert not {"Many", "Workers", "Getting", "Started", "JobQueue", "Tutorial", "Unlike"} & learned.names


def test_it_learns_nothing_from_docs_without_names():
    assert vocabulary.learn([("a", ["Notes"], "Write the file. Then read the file again.")]) == vocabulary.EMPTY


def _questions(chunk_text, path, names):
    result = StructuralGenerator().generate(ChunkInput(1, path[0], tuple(path), chunk_text, vocabulary=names))
    return [candidate.question for candidate in result.candidates]


def test_it_asks_about_the_teams_own_product_by_name():
    text = "Quarry will automatically restart a worker if its job fails twice."
    learned = vocabulary.learn(DOCS)
    assert "When does Quarry automatically restart a worker?" in _questions(text, ["Running Jobs", "Workers"], learned)
    assert "When does Quarry automatically restart a worker?" not in _questions(text, ["Running Jobs", "Workers"],
                                                                                vocabulary.EMPTY)


def test_it_takes_the_page_product_from_the_teams_names_not_from_a_list_in_code():
    with vocabulary.using(vocabulary.learn(DOCS)):
        assert page_name("Pebble Sandboxes") == "Pebble"
        assert page_name("Quarry Workers") == ""  # the product itself is named on every page: no page is about it
    assert page_name("Pebble Sandboxes") == ""  # another team's docs never named Pebble


def _api_page(module: str, description: str) -> tuple[str, list[str], str]:
    stamp = "This document describes the current stable version of Quarry (1.2). For development docs, go here."
    return (module, [module], f"{stamp}\n\n`{module}`\n\n{description}")


def test_a_paragraph_repeated_across_pages_is_learned_as_boilerplate_and_never_answers():
    pages = [_api_page(f"quarry.jobs.m{n}", f"Helpers number {n} for scheduling the jobs of a queue.") for n in range(6)]
    learned = vocabulary.learn(pages)
    assert learned.repeated == {vocabulary.paragraph_key(pages[0][2].split("\n\n")[0])}
    module, path, body = pages[0]
    result = StructuralGenerator().generate(ChunkInput(1, module, tuple(path), f"{module}\n\n{body}",
                                                       vocabulary=learned))
    answers = [candidate.answer for candidate in result.candidates]
    assert not any("current stable version" in answer for answer in answers)
    # A few pages are not a site's boilerplate: the same paragraph on them is each page's own text (an included
    # option list).
    assert vocabulary.learn(pages[:4]).repeated == frozenset()


def test_the_teams_vocabulary_is_learned_when_its_documents_are_ingested_and_generation_reads_it(ingested, data_dir):
    from docsbot.documents.models import Chunk
    from docsbot.qa.models import QAPair, QATeamSettings
    from docsbot.qa.services import _chunk_inputs, qa_generate, team_vocabulary_refresh

    stored = QATeamSettings.objects.get(team=ingested).vocabulary
    learned = team_vocabulary_refresh(team=ingested)
    assert stored and vocabulary.Vocabulary.from_json(stored) == learned
    assert vocabulary.Vocabulary.from_json(learned.as_json()) == learned
    # A run reads the stored vocabulary: a paragraph stored as the site's boilerplate answers nothing.
    error = Chunk.objects.get(team=ingested, heading_path__contains=["Error ACME-401: invalid API key"])
    paragraph = next(block.text for block in _chunk_inputs([error])[0].parsed_blocks() if block.kind == "paragraph")
    QATeamSettings.objects.filter(team=ingested).update(
        vocabulary={**stored, "repeated": [*stored["repeated"], vocabulary.paragraph_key(paragraph)]})
    qa_generate(team=ingested)
    asked = set(QAPair.objects.filter(team=ingested).values_list("question", flat=True))
    assert asked and "What does the error “ACME-401: invalid API key” mean?" not in asked
    # One stored by an older docsbot, without what this one learns (the team's nouns), is learned again.
    QATeamSettings.objects.filter(team=ingested).update(
        vocabulary={key: value for key, value in stored.items() if key != "nouns"})
    qa_generate(team=ingested)
    assert QATeamSettings.objects.get(team=ingested).vocabulary == learned.as_json()


def test_a_word_the_docs_use_as_a_noun_opens_a_description_not_an_instruction():
    from docsbot.qa.generators.instructions import is_instruction

    docs = [("tasks", ["Tasks"], ("The task runs on a worker. A task may retry. Each task has a name. To merge the "
                                  "results, call merge(). You can merge a group. The merge keeps the order."))]
    learned = vocabulary.learn(docs)
    assert "task" in learned.nouns and "merge" not in learned.nouns  # "to merge", "can merge": a verb too
    assert is_instruction("Task queues are used to distribute work across machines.")  # knowing no nouns
    with vocabulary.using(learned):
        assert not is_instruction("Task queues are used to distribute work across machines.")
        assert not is_instruction("Task layout:")  # a caption
        assert is_instruction("Merge the results into one list.")
    assert vocabulary.Vocabulary.from_json(learned.as_json()) == learned
