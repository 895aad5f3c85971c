"""What a prompt holds of a retrieved chunk: its heading and the sentences that bear on the question."""
from docsbot.core.prompts import ContextChunk
from docsbot.documents.excerpts import GAP, chunk_units, focus_contexts, prompt_contexts

CHUNK = (
    "Advanced Usage > Timeouts\n\n"
    "Most requests to external servers should have a timeout attached. "
    "By default, requests do not time out unless a timeout value is set explicitly. "
    "Without a timeout, your code may hang for minutes or more.\n\n"
    "```\nr = requests.get('https://github.com', timeout=5)\n```\n\n"
    "- connect – the number of seconds to wait for the connection.\n"
    "- read – the number of seconds the client waits for the server to send a response.\n\n"
    "Cookies set by the server are kept in the session's jar. The jar is a RequestsCookieJar."
)


def _focus(question: str, text: str = CHUNK, keep: int = 2) -> str:
    return focus_contexts(question, [ContextChunk(title="Advanced Usage", section="Timeouts", text=text)],
                          keep=keep)[0].text


def test_it_splits_a_chunk_into_its_heading_sentences_list_items_and_whole_code_blocks():
    heading, units = chunk_units(CHUNK)
    assert heading == "Advanced Usage > Timeouts"
    assert [u.strip()[:12].strip() for u in units] == [
        "Most request", "By default,", "Without a ti", "```\nr = requ", "- connect –", "- read – the",
        "Cookies set", "The jar is a"]


def test_it_keeps_the_sentences_nearest_the_question_in_the_chunks_order_without_the_heading():
    text = _focus("How long does the client wait for the server to send a response?")
    # The heading is the prompt's section attribute, not a line a small model can quote.
    assert "Advanced Usage > Timeouts" not in text
    assert "- read – the number of seconds the client waits for the server to send a response." in text
    assert "Cookies set by the server" not in text and "RequestsCookieJar" not in text
    assert GAP in text
    # Kept units stay in the chunk's order, whatever their rank.
    kept = [unit.strip() for unit in chunk_units(CHUNK)[1] if unit.strip() in text]
    assert len(kept) == 2 and text.index(kept[0]) < text.index(kept[1])


def test_it_keeps_every_sentence_of_a_short_chunk_and_sends_whole_chunks_at_keep_zero():
    short = "Quickstart > Install\n\nRun pip install requests. That is all."
    assert _focus("How do I install it?", text=short) == "Run pip install requests. That is all."
    page_top = "Quickstart\n\nRun pip install requests."  # a page's first chunk: the title alone
    assert focus_contexts("install?", [ContextChunk(title="Quickstart", section="Quickstart", text=page_top)],
                          keep=2)[0].text == "Run pip install requests."
    assert _focus("How do I install it?", keep=0) == CHUNK


def test_it_follows_the_configured_sentence_count(settings):
    context = [ContextChunk(title="Advanced Usage", section="Timeouts", text=CHUNK)]
    settings.CONTEXT_SENTENCES = 0
    assert prompt_contexts("timeouts?", context)[0].text == CHUNK
    settings.CONTEXT_SENTENCES = 1
    focused = prompt_contexts("Do requests time out by default?", context)[0].text
    assert focused.count(GAP) >= 1 and len(focused) < len(CHUNK) / 2
    assert "By default, requests do not time out" in focused


def test_a_query_is_embedded_once_for_retrieval_and_its_excerpts(monkeypatch):
    from docsbot.documents import embedding

    embedded: list[list[str]] = []
    real = embedding.embed_texts
    monkeypatch.setattr(embedding, "embed_texts", lambda texts, **kw: embedded.append(list(texts)) or real(texts, **kw))
    question = "How is a query embedded only once for the excerpt ranking?"
    first = embedding.embed_query(question)
    again = embedding.embed_query(question)
    assert (again == first).all()
    assert embedded.count([question]) == 1
    assert abs(float(first @ real([question])[0]) - 1.0) < 1e-5
