"""The "docs don't cover it" threshold, on the index's own cosine similarities."""
import numpy as np
import pytest
from django.conf import settings

from docsbot.chat.relevance import hit_similarities, prompt_hits
from docsbot.documents.embedding import embed_texts
from docsbot.documents.selectors import chunk_search

ON_TOPIC = ["How do I roll back to the previous bundle?", "What does error ACME-429 mean?",
            "How do I create a widget?", "Which data centre is the default?",
            "How do I keep spare parts cool?", "Where do I put the API token?"]
OFF_TOPIC = ["What is the capital of France?", "Who won the football world cup in 1998?",
             "Give me a recipe for banana bread", "How tall is Mount Everest?"]


def test_the_index_scores_hits_as_embedding_them_again_would(docs_team):
    query = "How do I roll back to the previous bundle?"
    hits = chunk_search(team=docs_team, query=query, k=4)
    vectors = embed_texts([query, *[hit.text for hit in hits]])
    np.testing.assert_allclose([hit.similarity for hit in hits], vectors[1:] @ vectors[0], atol=5e-3)  # bf16 batches at ingest
    assert hit_similarities(query=query, hits=hits) == [hit.similarity for hit in hits]


def test_a_lexical_search_is_scored_by_embedding(docs_team):
    hits = chunk_search(team=docs_team, query="ACME-429", k=2, mode="bm25")
    assert all(hit.similarity is None for hit in hits)
    assert all(-1 <= score <= 1 for score in hit_similarities(query="ACME-429", hits=hits))


@pytest.mark.parametrize("question,covered", [(q, True) for q in ON_TOPIC] + [(q, False) for q in OFF_TOPIC])
def test_the_threshold_splits_covered_from_uncovered_questions(docs_team, question, covered):
    best = max(hit_similarities(query=question, hits=chunk_search(team=docs_team, query=question, k=4)))
    assert (best >= settings.CHAT_MIN_SCORE) is covered, best


def test_the_prompt_keeps_relevant_hits_most_similar_first_and_within_the_margin_of_the_best():
    hits = ["setup", "upload", "formats", "sync"]
    similarities = [0.66, 0.87, 0.59, 0.15]
    assert prompt_hits(hits, similarities, min_score=0.2, margin=0.0) == ["upload", "setup", "formats"]
    assert prompt_hits(hits, similarities, min_score=0.2, margin=0.25) == ["upload", "setup"]
    assert prompt_hits(hits, similarities, min_score=0.2, margin=0.1) == ["upload"]
    assert prompt_hits([], [], min_score=0.2, margin=0.1) == []
