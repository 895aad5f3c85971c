import os
import shutil

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.training.pairs import fixture_examples
from training import rehearsal
from training.config import TrainConfig
from training.data import (
    IGNORE,
    Tokenized,
    batches,
    build_dataset,
    tokenize_examples,
    with_rehearsal,
)
from training.recipe import Recipe
from training.rehearsal import REHEARSAL_FILE, rehearsal_pool, rehearsal_step_count

TRAIN, _ = fixture_examples(distractors=1)


@pytest.fixture(scope="module")
def tokenizer(tiny_base_model):
    return AutoTokenizer.from_pretrained(tiny_base_model)


def pool_of(count: int, length: int) -> list[Tokenized]:
    return [Tokenized(id=f"rehearsal-{i}", input_ids=[1, *range(10, 10 + length - 1)],
                      labels=[IGNORE, *range(10, 10 + length - 1)]) for i in range(count)]


def test_it_samples_the_base_models_own_text_once_and_reads_it_back(tiny_base_model, tokenizer, tmp_path):
    model = AutoModelForCausalLM.from_pretrained(tiny_base_model)
    pool = rehearsal_pool(model, tokenizer, work_dir=tmp_path, seed=0, samples=5, new_tokens=12)
    assert 0 < len(pool) <= 5 and (tmp_path / REHEARSAL_FILE).exists()
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    for sample in pool:
        assert sample.input_ids[0] == start and tokenizer.eos_token_id not in sample.input_ids[1:]
        assert sample.labels == [IGNORE, *sample.input_ids[1:]] and len(sample.input_ids) <= 13
    # A resumed job trains on the very same samples, without a model to draw new ones.
    assert rehearsal_pool(None, tokenizer, work_dir=tmp_path, seed=1) == pool


def test_a_later_job_on_the_same_base_model_reads_the_shared_text_instead_of_sampling_it(tiny_base_model, tokenizer,
                                                                                          tmp_path, monkeypatch):
    base = shutil.copytree(tiny_base_model, tmp_path / "base")
    model = AutoModelForCausalLM.from_pretrained(base)
    sampled: list[int] = []

    def counted(*args, **kwargs):
        sampled.append(kwargs["seed"])
        return sample(*args, **kwargs)

    sample = rehearsal._sample
    monkeypatch.setattr(rehearsal, "_sample", counted)
    shared = {"seed": 0, "base_model": str(base), "cache_dir": tmp_path / "cache", "samples": 4, "new_tokens": 10}
    first = rehearsal_pool(model, tokenizer, work_dir=tmp_path / "job-1", **shared)
    later = rehearsal_pool(model, tokenizer, work_dir=tmp_path / "job-2", **shared)  # another job, its own folder
    assert later == first and sampled == [0] and (tmp_path / "job-2" / REHEARSAL_FILE).exists()
    # Other settings, or the base model's weights written again, are sampled anew.
    rehearsal_pool(model, tokenizer, work_dir=tmp_path / "job-3", **{**shared, "seed": 1})
    for weights in base.glob("*.safetensors"):
        os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 1))
    rehearsal_pool(model, tokenizer, work_dir=tmp_path / "job-4", **shared)
    assert sampled == [0, 1, 0]


def test_it_gives_rehearsal_its_share_of_steps():
    assert [rehearsal_step_count(task_steps=n, share=0.2) for n in (1, 8, 40)] == [1, 2, 10]
    assert rehearsal_step_count(task_steps=40, share=0) == 0


def test_it_adds_rehearsal_steps_that_never_share_a_row_with_the_teams_examples(tokenizer):
    task = build_dataset(tokenize_examples(tokenizer, TRAIN), max_length=1024, step_tokens=1024, batching="group")
    mixed = with_rehearsal(task, pool_of(12, 100), steps=3, seed=0)
    assert mixed.rehearsal_steps == 3 and len(mixed.groups) == len(task.groups) + 3
    assert mixed.rows[: len(task.rows)] == task.rows and mixed.groups[: len(task.groups)] == task.groups
    first_rehearsal = len(task.rows)
    for group in mixed.groups[len(task.groups):]:
        assert all(index >= first_rehearsal for index in group)
        assert len(set(group)) == len(group)  # each sample once
    assert with_rehearsal(task, pool_of(12, 100), steps=3, seed=0) == mixed
    assert with_rehearsal(task, pool_of(12, 100), steps=0, seed=0) == task


def test_it_makes_a_rehearsal_step_as_large_as_the_teams_steps_on_average_not_as_the_step_budget():
    def task_of(lengths):
        examples = [Tokenized(id=str(i), input_ids=[1] * n, labels=[IGNORE] * (n - 4) + [5] * 4)
                    for i, n in enumerate(lengths)]
        return build_dataset(examples, max_length=1024, step_tokens=1024, batching="group")

    # Team steps of 400-800 tokens (one example each): rehearsal steps of ~600 tokens, not 1,024.
    mixed = with_rehearsal(task_of([400, 600, 800, 600]), pool_of(12, 100), steps=2, seed=0)
    assert [len(group) for group in mixed.groups[-2:]] == [6, 6]
    # Never past the step budget, nor past the pool.
    assert [len(g) for g in with_rehearsal(task_of([1000] * 3), pool_of(12, 300), steps=1, seed=0).groups[-1:]] == [3]
    assert [len(g) for g in with_rehearsal(task_of([1000] * 3), pool_of(2, 100), steps=1, seed=0).groups[-1:]] == [2]


def test_it_packs_a_rehearsal_step_into_one_row_of_its_own(tokenizer):
    task = build_dataset(tokenize_examples(tokenizer, TRAIN), max_length=1024, step_tokens=1024, batching="pack")
    mixed = with_rehearsal(task, pool_of(4, 300), steps=2, seed=0)
    steps = list(batches(mixed, epoch=0, seed=0))
    rehearsal = [rows for rows in steps if all(row.input_ids[0] == 1 and row.input_ids[1] == 10 for row in rows)]
    assert len(rehearsal) == 2 and all(sum(len(r.input_ids) for r in rows) <= 1024 for rows in rehearsal)


def test_it_trains_with_rehearsal_by_default_and_without_when_turned_off(tiny_base_model, tmp_path):
    def train(rehearsal, work_dir):
        config = TrainConfig(rank=4, learning_rate=1e-2, max_steps=3, batch_size=1, max_length=512,
                             **({} if rehearsal is None else {"rehearsal": rehearsal}))
        recipe = Recipe(base_model=str(tiny_base_model), config=config, train_examples=TRAIN, work_dir=work_dir)
        recipe.setup()
        try:
            return recipe.train()
        finally:
            recipe.cleanup()

    default = train(None, tmp_path / "default")
    assert default.config["rehearsal"] == 0.2 and default.dataset["rehearsal_steps_per_epoch"] >= 1
    off = train(0, tmp_path / "off")
    assert off.dataset["rehearsal_steps_per_epoch"] == 0 and not (tmp_path / "off" / REHEARSAL_FILE).exists()


@pytest.mark.parametrize("share", [-0.1, 0.9, True, "some"])
def test_it_refuses_a_rehearsal_share_out_of_range(share):
    with pytest.raises(ValueError, match="rehearsal"):
        TrainConfig(rehearsal=share)
