"""The tiny base model's reading drills: self-supervised, grounded, and trained only on the answer."""
import random
import re

from tests.conftest import FIXTURES
from training.base_model import (
    _passages,
    _reading_row,
    build_base_model,
    build_tokenizer,
    read_corpus,
    reading_example,
)


def test_a_reading_drill_quotes_a_sentence_of_the_cited_document_cued_by_its_words():
    passages = _passages(read_corpus([FIXTURES / "docs"]))
    rng = random.Random(7)
    for _ in range(20):
        system, user, assistant = reading_example(passages, rng)
        documents = dict(re.findall(r'<document index="(\d)">\n(.*?)\n</document>', user["content"], re.DOTALL))
        sentence, cited = re.fullmatch(r"(.*) \[(\d)\]", assistant["content"], re.DOTALL).groups()
        assert sentence in documents[cited]
        cue = re.search(r"Question: What do the documents say about (.*)\?$", user["content"]).group(1)
        assert cue in sentence
        assert system["role"] == "system" and len(documents) == 3


def test_a_reading_row_carries_loss_only_on_the_answer_and_its_end_token():
    texts = read_corpus([FIXTURES / "docs"])
    tokenizer = build_tokenizer(texts, 1024)
    ids, labels = _reading_row(tokenizer, _passages(texts), random.Random(0), 512)
    assert len(ids) == len(labels) == 512
    trained = [token for token, label in zip(ids, labels) if label != -100]
    assert trained[-1] == tokenizer.eos_token_id
    assert re.fullmatch(r".+ \[\d\]", tokenizer.decode(trained[:-1]), re.DOTALL)
    assert labels[:10] == [-100] * 10  # the system prompt and documents are context, not targets


def test_pretraining_mixes_in_drills_and_saves_a_loadable_model(tmp_path):
    output = build_base_model(tmp_path / "base", [FIXTURES / "docs"], size="test", pretrain_steps=3)
    record = (output / "docsbot_base.json").read_text()
    assert '"pretrain_steps": 3' in record and (output / "model.safetensors").exists()
