"""Chat withholds an answer its documents do not say, and says the docs do not cover the question."""
import asyncio

import pytest

from docsbot.chat.generate import answer_finish
from docsbot.chat.models import Message
from docsbot.chat.prepare import NOT_FOUND, answer_prepare
from docsbot.chat.support import EARLY_WORDS, HOLD, SHOW, STOP, answer_support, start_verdict
from docsbot.core.prompts import NO_ANSWER

pytestmark = pytest.mark.support_check
QUESTION = "How do I roll back a deployment?"
DOCUMENTS = [("Run acme rollback to switch traffic back to the previous bundle. Rollbacks take effect within ten "
              "seconds and keep the failed bundle for inspection.")]


def test_a_quoted_answer_is_supported_and_an_invented_one_is_not():
    quote = "Run `acme rollback` to switch traffic back to the previous bundle. [1]"
    invented = "Open the dashboard, pick the release and press the revert button; it takes a minute. [1]"
    assert answer_support(quote, documents=DOCUMENTS, question=QUESTION) == 1.0
    assert answer_support(invented, documents=DOCUMENTS, question=QUESTION) == 0.0


def test_restating_the_question_is_no_support_and_a_short_answer_cannot_be_told():
    assert answer_support("You roll back a deployment.", documents=DOCUMENTS,
                          question="How do I roll back a deployment?") is None
    assert answer_support("Yes. [1]", documents=DOCUMENTS) is None
    assert answer_support("", documents=DOCUMENTS) is None
    assert answer_support(f"{NO_ANSWER} [1]", documents=DOCUMENTS) is None  # abstaining asserts nothing


def test_chat_withholds_an_invented_answer_and_lists_the_closest_sections(docs_team, serving):
    prepared = answer_prepare(team=docs_team, question=QUESTION)
    assert prepared.relevant
    invented = "Open the dashboard, pick the release and press the revert button; it takes a minute. [1]"
    answer = answer_finish(prepared=prepared, text=invented)
    assert answer.no_relevant_docs and answer.answer.startswith(f"{NOT_FOUND} The closest sections are:")
    assert "Rolling back" in answer.answer and answer.sources
    stored = Message.objects.get(pk=answer.message_id)
    assert stored.withheld == invented and stored.support == 0.0 and stored.no_relevant_docs


def test_chat_keeps_an_answer_its_documents_say(docs_team, serving):
    prepared = answer_prepare(team=docs_team, question=QUESTION)
    quote = "Run acme rollback to switch traffic back to the previous bundle. [1]"
    answer = answer_finish(prepared=prepared, text=quote)
    assert not answer.no_relevant_docs and answer.answer.startswith("Run acme rollback")
    stored = Message.objects.get(pk=answer.message_id)
    assert stored.withheld == "" and stored.support == 1.0


def test_the_check_can_be_turned_off(docs_team, serving, settings):
    settings.CHAT_MIN_SUPPORT = 0.0
    prepared = answer_prepare(team=docs_team, question=QUESTION)
    invented = "Open the dashboard, pick the release and press the revert button; it takes a minute. [1]"
    answer = answer_finish(prepared=prepared, text=invented)
    assert answer.answer == invented and not answer.no_relevant_docs


def test_writing_shows_a_supported_start_holds_a_short_one_and_stops_an_unsupported_one():
    def verdict(text):
        return start_verdict(text, documents=DOCUMENTS, question=QUESTION, threshold=0.7)

    assert verdict("Run acme rollback to switch traffic") == SHOW
    assert verdict("Open the dashboard") == HOLD  # too short to tell
    assert verdict("Open the dashboard, pick the release and press") == HOLD  # unsupported, but short yet
    invented = "Open the dashboard, pick the release and press the revert button; it takes a minute or two."
    assert len(invented.split()) >= EARLY_WORDS and verdict(invented) == STOP


def _streamed(prepared, deltas: list[str]) -> tuple[list[str], str]:
    """Feed ``deltas`` (what a model writes, token by token) through chat's streaming: (token events sent, text
    written when writing stopped)."""
    from docsbot.chat.generate import _Shown, _shown_until_repetition, writing_verdict

    async def model():
        for delta in deltas:
            yield delta

    queue = asyncio.Queue()
    shown = _Shown(queue, prepared, 0.0, verdict=writing_verdict(prepared))
    asyncio.run(_shown_until_repetition(model(), shown))
    shown.finish()
    return [queue.get_nowait()["text"] for _ in range(queue.qsize())], shown.text


def test_a_streamed_invention_is_stopped_early_and_never_shown(docs_team, serving):
    prepared = answer_prepare(team=docs_team, question=QUESTION)
    invented = ("Open the dashboard, pick the release and press the revert button; it takes a minute or two and "
                "you will get an email when the old release is live again. [1]")
    sent, written = _streamed(prepared, [word + " " for word in invented.split()])
    assert sent == [] and len(written.split()) == EARLY_WORDS  # written no further, shown not at all


def test_a_streamed_quote_is_shown_after_its_first_words(docs_team, serving):
    prepared = answer_prepare(team=docs_team, question=QUESTION)
    quote = "Run acme rollback to switch traffic back to the previous bundle. [1]"
    sent, written = _streamed(prepared, [word + " " for word in quote.split()])
    assert written == "".join(sent) == quote + " "
    assert len(sent[0].split()) <= 6  # held back only until its start could be told


def test_a_short_invention_is_held_back_to_its_end_and_not_shown(docs_team, serving):
    prepared = answer_prepare(team=docs_team, question=QUESTION)
    sent, _ = _streamed(prepared, [word + " " for word in ["Press", "the", "big", "red", "revert", "button", "now.", "[1]"]])
    assert sent == []


def test_a_written_invention_stops_early_on_the_blocking_path(docs_team, serving):
    from docsbot.chat.generate import _until_repetition, writing_verdict

    prepared = answer_prepare(team=docs_team, question=QUESTION)
    invented = ("Open the dashboard, pick the release and press the revert button; it takes a minute or two and "
                "you will get an email when the old release is live again. [1]")
    text = _until_repetition((word + " " for word in invented.split()), verdict=writing_verdict(prepared))
    assert len(text.split()) == EARLY_WORDS
