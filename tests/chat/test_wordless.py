"""An answer without words ("[1]") is asked for once more, opened by the likeliest first token that starts a word."""
from docsbot.chat.generate import answer_question
from docsbot.chat.routing import team_model
from docsbot.chat.wordless import is_wordless, worded_opening
from docsbot.core.serving import serving_client
from tests.chat.test_api import events

QUESTION = "How do I roll back a deployment?"


def _says_a_marker(text: str) -> bool:
    return text == "["


def test_it_tells_wordless_answers_from_answers_with_words():
    assert is_wordless("[1]") and is_wordless(" `[1]` [2]") and is_wordless("") and is_wordless("**.**")
    assert not is_wordless("Use url_for(). [1]") and not is_wordless("42 [1]") and not is_wordless("Это [1]")


def test_it_opens_with_the_likeliest_token_that_starts_a_word():
    choices = [("[", -2.03), ("`", -2.13), ("<|im_end|>", -2.2), ("docs", -2.25), (" The", -2.4)]
    assert worded_opening(choices) == "docs"
    assert worded_opening([(" The", -3.0), ("docs", -2.25)]) == "docs"
    assert worded_opening([("[", -1.0), ("1", -2.0), ("**", -3.0)]) is None


def test_a_wordless_answer_is_asked_again_opened_with_a_word(docs_team, promote_adapter_saying):
    assert promote_adapter_saying(_says_a_marker) == "["
    client = serving_client()
    model = team_model(team=docs_team, client=client)[0]
    plain = "".join(client.chat_stream(model=model, messages=[{"role": "user", "content": QUESTION}], max_tokens=4))
    assert is_wordless(plain)  # the adapter alone answers "[[[["

    answer = answer_question(team=docs_team, question=QUESTION)
    assert not answer.failed and not is_wordless(answer.answer), answer.answer
    assert answer.adapter_version == 3


def test_a_streamed_answer_never_shows_the_wordless_one_it_replaces(api, docs_team, promote_adapter_saying):
    promote_adapter_saying(_says_a_marker)
    parsed = events(api.post("/api/v1/chat", {"question": QUESTION}))
    tokens = [data["text"] for name, data in parsed if name == "token"]
    assert parsed[-1][0] == "done" and tokens, parsed
    assert not is_wordless(tokens[0])  # the first thing shown already has a word
    assert not is_wordless(parsed[-1][1]["answer"])
