import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.training.pairs import fixture_examples
from training.data import (
    IGNORE,
    build_dataset,
    collate,
    dataset_hash,
    group_by_length,
    pack,
    tokenize_example,
    tokenize_examples,
)


@pytest.fixture(scope="module")
def tokenizer(tiny_base_model):
    return AutoTokenizer.from_pretrained(tiny_base_model)


def test_it_trains_only_the_answer_and_its_eos(tokenizer):
    example = fixture_examples()[0][0]
    tokenized = tokenize_example(tokenizer, example)
    trained = [label for label in tokenized.labels if label != IGNORE]
    assert trained[-1] == tokenizer.eos_token_id
    assert tokenized.labels[-1] == tokenizer.eos_token_id  # nothing after the EOS
    assert tokenizer.decode(trained[:-1]) == example["messages"][-1]["content"]
    first = tokenized.labels.index(trained[0])
    prompt = tokenizer.decode(tokenized.input_ids[:first])
    assert prompt.endswith("<|im_start|>assistant\n") and example["answer"] not in prompt


def test_it_rejects_examples_without_an_answer(tokenizer):
    with pytest.raises(ValueError, match="last message must be the assistant answer"):
        tokenize_example(tokenizer, {"id": 7, "messages": [{"role": "user", "content": "hi"}] * 2})


def test_it_packs_examples_without_losing_or_splitting_any(tokenizer):
    train, _ = fixture_examples()
    tokenized = tokenize_examples(tokenizer, train)
    built = build_dataset(tokenized, max_length=1024, step_tokens=2048)
    assert len(built.rows) < len(train) and built.packed
    # A packed step is one row of whole examples, with no padding: nothing to flatten later.
    assert built.groups == [[i] for i in range(len(built.rows))]
    assert sum(row.real_tokens for row in built.rows) == built.real_tokens
    assert all(len(row.input_ids) <= 2048 and row.position_ids.count(0) > 1 for row in built.rows)
    assert built.examples == len(train) and built.skipped_too_long == 0
    with pytest.raises(ValueError, match="^max_length: every example is longer"):
        build_dataset(tokenized, max_length=300, step_tokens=2048)
    with pytest.raises(ValueError, match="^max_length: an example of .* does not fit a step of 400"):
        build_dataset(tokenized, max_length=1024, step_tokens=400)
    assert dataset_hash(train) == dataset_hash([dict(e) for e in train]) != dataset_hash(train[1:])


def test_it_groups_examples_of_similar_length_within_the_token_budget(tokenizer):
    train, _ = fixture_examples()
    built = build_dataset(tokenize_examples(tokenizer, train), max_length=1024, step_tokens=2048, batching="group")
    assert not built.packed and len(built.rows) == len(train)
    assert sorted(i for group in built.groups for i in group) == list(range(len(train)))
    for group in built.groups:
        assert len(group) * max(len(built.rows[i].input_ids) for i in group) <= 2048
    batch = collate([built.rows[i] for i in built.groups[0]], pad_id=0, packed=False)
    assert batch.position_ids is None and batch.input_ids.shape == batch.labels.shape
    assert batch.model_inputs(varlen=True).keys() == {"input_ids", "position_ids"}
    assert group_by_length([1, 2, 3, 4, 5], budget=8) == [[0, 1], [2, 3], [4]]


def test_it_keeps_packed_examples_from_attending_to_each_other(tiny_base_model, tokenizer):
    model = AutoModelForCausalLM.from_pretrained(tiny_base_model).eval()
    train, _ = fixture_examples()
    first, second = (tokenize_example(tokenizer, e) for e in train[:2])
    rows = pack([first, second], row_length=len(first.input_ids) + len(second.input_ids) + 5)
    assert len(rows) == 1
    batch = collate(rows, pad_id=0, packed=True, multiple=64)
    with torch.no_grad():
        packed = model(**batch.model_inputs(varlen=False), use_cache=False).logits[0]
        alone = [model(input_ids=torch.tensor([t.input_ids])).logits[0] for t in (first, second)]
    # Packing puts the longer example first.
    order = sorted([first, second], key=lambda t: len(t.input_ids), reverse=True)
    expected = alone if order[0] is first else alone[::-1]
    split = len(order[0].input_ids)
    torch.testing.assert_close(packed[:split], expected[0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(packed[split:split + len(order[1].input_ids)], expected[1], atol=1e-4, rtol=1e-4)


def test_it_flattens_a_packed_step_into_one_row_with_its_sequence_boundaries(tokenizer):
    first, second, third = tokenize_examples(tokenizer, fixture_examples()[0][:3])
    rows = [pack([first, second], row_length=10_000)[0], pack([third], row_length=10_000)[0]]
    batch = collate(rows, pad_id=0, packed=True, multiple=64)
    lengths = [len(t.input_ids) for t in (first, second, third)]
    width = -(-sum(lengths) // 64) * 64
    # One row, whatever the step held: transformers reads position restarts only at batch size 1.
    assert batch.input_ids.shape == batch.labels.shape == batch.position_ids.shape == (1, width)
    real = sum(lengths)
    starts = [0, max(lengths[:2]), sum(lengths[:2])] + ([real] if width > real else [])  # padding: its own
    assert batch.cu_seq_lens.tolist() == [*starts, width]
    assert batch.max_length == max(*lengths, width - real)
    assert batch.position_ids[0, real:].tolist() == list(range(width - real))
    inputs = batch.model_inputs(varlen=True)
    assert inputs["cu_seq_lens_q"] is inputs["cu_seq_lens_k"] is batch.cu_seq_lens
    assert inputs["max_length_q"] == inputs["max_length_k"] == batch.max_length
