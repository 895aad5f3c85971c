import numpy as np
import pytest

from docsbot.documents import search
from docsbot.documents.index import SearchIndex, int8_scan_available
from docsbot.documents.services import ingest_paths


def _random_index(rows: int, scan: str, seed: int = 0) -> tuple[SearchIndex, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((rows, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = ["alpha", "beta", "gamma", "delta", "url_for", "blueprint"]
    texts = [" ".join(rng.choice(words, size=8)) for _ in range(rows)]
    index = SearchIndex.build(chunk_ids=np.arange(rows) + 1000, texts=texts, vectors=vectors)
    index.scan = scan
    queries = rng.standard_normal((20, 32)).astype(np.float32)
    return index, queries / np.linalg.norm(queries, axis=1, keepdims=True)


def test_it_ranks_the_int8_scan_exactly_like_float32():
    quantised, queries = _random_index(3000, "auto")
    exact, _ = _random_index(3000, "float32")
    assert quantised.uses_int8_scan() == int8_scan_available(32) and not exact.uses_int8_scan()
    for query in queries:
        expected = np.argsort(-(exact.vectors @ query), kind="stable")[:50]
        assert quantised.dense_ranking(query, 50).tolist() == expected.tolist()
        assert exact.dense_ranking(query, 50).tolist() == expected.tolist()


def test_it_adds_up_bm25_columns_like_the_sparse_matrix():
    index, _ = _random_index(500, "float32")
    ranking = index.bm25_ranking("url_for beta", 500)
    columns = [index.vocab[t] for t in ("url_for", "url", "beta")]
    reference = np.asarray(index.bm25[:, columns].sum(axis=1)).ravel()
    assert np.allclose(np.sort(reference[ranking])[::-1], reference[ranking], atol=1e-6)
    assert set(ranking.tolist()) == set(np.flatnonzero(reference > 0).tolist())


def test_it_serves_a_saved_index_memory_mapped(tmp_path):
    index, queries = _random_index(300, "auto")
    index.save(tmp_path / "team-1")
    loaded = SearchIndex.load(tmp_path / "team-1")
    assert isinstance(loaded.vectors, np.memmap)
    for query in queries[:3]:
        assert loaded.search(query="gamma", query_vector=query, k=5) == index.search(query="gamma", query_vector=query, k=5)


def test_it_keeps_the_loaded_index_until_the_team_changes(team, other_team, docs_dir, tmp_path, settings):
    ingest_paths(team=team, items=[str(docs_dir)])
    first = search.index_get(team_id=team.pk)
    assert search.index_get(team_id=team.pk) is first  # no re-read while the version holds
    (docs_dir / "new.md").write_text("# New page\n\nSomething new about widgets.")
    ingest_paths(team=team, items=[str(docs_dir)])
    assert search.index_get(team_id=team.pk) is not first
    settings.INDEX_CACHE_TEAMS = 1
    search.index_get(team_id=other_team.pk)
    assert list(search._cache) == [other_team.pk]  # least recently used team evicted


@pytest.mark.parametrize("rows", [0, 1, 2])
def test_it_answers_on_tiny_indexes(rows):
    index = _random_index(rows, "auto")[0] if rows else SearchIndex.build(
        chunk_ids=np.zeros(0, dtype=np.int64), texts=[], vectors=np.zeros((0, 32), dtype=np.float32))
    query = np.ones(32, dtype=np.float32) / np.sqrt(32)
    assert len(index.search(query="alpha", query_vector=query, k=5)) == rows
