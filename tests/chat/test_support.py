"""Chat withholds an answer its documents do not say, and says the docs do not cover the question."""
import pytest

from docsbot.chat.generate import answer_finish
from docsbot.chat.models import Message
from docsbot.chat.prepare import NOT_FOUND, answer_prepare
from docsbot.chat.support import answer_support
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
