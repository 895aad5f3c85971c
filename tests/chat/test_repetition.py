"""Answers that loop are cut at their first repeated sentence or line."""
from docsbot.chat.generate import _until_repetition
from docsbot.chat.repetition import repetition_start, without_repetition

LOOP = ("You can upload documentation using the following steps:\n\n1. Install the docsbot plugin.\n"
        "2. Create a new document.\n3. The document is stored in a database.\n"
        "4. The document is stored in a database.\n5. The document is stored in a database.\n")


def test_it_cuts_a_numbered_list_at_its_first_repeated_item():
    assert without_repetition(LOOP) == (
        "You can upload documentation using the following steps:\n\n1. Install the docsbot plugin.\n"
        "2. Create a new document.\n3. The document is stored in a database.")


def test_it_cuts_repeated_sentences_inside_one_paragraph():
    text = ("The index is a database that is linked to the document. The index is kept per team. "
            "The index is a database that is linked to the document. The index")
    assert without_repetition(text) == "The index is a database that is linked to the document. The index is kept per team."


def test_it_keeps_an_answer_without_repetition_whole():
    text = ('There are three ways to upload: the admin upload page, the HTTP API and the ingest command. [1]\n'
            "Yes.\nYes.\n- [1]\n- [1]")
    assert repetition_start(text) is None
    assert without_repetition(text) == text


def test_it_never_cuts_inside_a_code_block():
    text = ("Run both commands:\n```\npython manage.py createteam docs --name docs\n"
            "python manage.py createteam docs --name docs\n```\nThen open the admin page. [2]")
    assert repetition_start(text) is None


def test_it_does_not_cut_a_sentence_still_being_generated():
    assert repetition_start("The document is stored in a database. The document is stored in a data") is None


def test_it_closes_a_looping_stream_instead_of_reading_it_to_the_end():
    read = []

    def endless():
        yield "Upload with the admin page. "
        while True:
            read.append(1)
            yield "The document is stored in a database. "

    stream = endless()
    assert _until_repetition(stream) == "Upload with the admin page. The document is stored in a database."
    assert len(read) == 2
    assert stream.gi_frame is None  # closed: the HTTP stream behind it is released


def test_it_cuts_a_phrase_that_loops_inside_one_sentence_back_to_the_last_complete_sentence():
    text = ("To create a team, use the `createteam` command. The function is a wrapper around the `create_team` "
            "function, which is a wrapper around the `create_team` function, which is a wrapper around the `create_team` "
            "function")
    assert without_repetition(text) == "To create a team, use the `createteam` command."


def test_it_keeps_a_phrase_repeated_twice_and_code_that_repeats():
    text = ("Create a team with the createteam command. Then create a token with the createtoken command.\n"
            "```\ncreatetoken --team docs --name a\ncreatetoken --team docs --name b\n"
            "createtoken --team docs --name c\n```")
    assert without_repetition(text) == text


def test_it_cuts_a_run_of_bare_citation_markers_after_the_first():
    text = "docsbot stores a hash of each file: [1]. [2]. [3]. [4]. [5]. [6]."
    assert without_repetition(text) == "docsbot stores a hash of each file: [1]."


def test_it_keeps_two_markers_citing_two_sources():
    text = "Upload the html folder as an archive [1] [2]. Then sync it [3]."
    assert without_repetition(text) == text
