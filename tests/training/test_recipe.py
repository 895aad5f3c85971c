import json

import pytest
import torch

from tests.training.pairs import fixture_examples
from training.artifacts import AdapterInvalid, check_adapter_dir, export_merged, vllm_problems
from training.config import TrainConfig
from training.evaluate import rouge_l, token_f1
from training.recipe import COMPLETE, Cancelled, Recipe, latest_complete_checkpoint

TRAIN, HELDOUT = fixture_examples(distractors=1)


def recipe(base, work_dir, *, method="lora", steps=4, **kwargs):
    config = TrainConfig(method=method, rank=4, learning_rate=1e-2, max_steps=steps, checkpoint_every=2,
                         batch_size=1, max_length=512, dropout=0.0)
    return Recipe(base_model=str(base), config=config, train_examples=TRAIN, work_dir=work_dir, **kwargs)


def run(r: Recipe):
    r.setup()
    try:
        return r.train()
    finally:
        r.cleanup()


def test_it_trains_reports_progress_and_checkpoints_with_a_marker(tiny_base_model, tmp_path):
    seen = []
    result = run(recipe(tiny_base_model, tmp_path, steps=5, on_progress=seen.append))
    assert [p.step for p in seen] == [1, 2, 3, 4, 5] and seen[-1].total_steps == 5
    assert seen[-1].eta_seconds == 0 and all(p.loss > 0 for p in seen)
    assert result.curve[-1]["loss"] < result.curve[0]["loss"]
    checkpoint = latest_complete_checkpoint(tmp_path)
    assert checkpoint.name == "step-000004" and (checkpoint / COMPLETE).read_text() == "4"


def test_it_resumes_from_the_last_complete_checkpoint_exactly(tiny_base_model, tmp_path):
    straight = run(recipe(tiny_base_model, tmp_path / "a", steps=4))

    def stop_at_3():
        return interrupted.step >= 3

    interrupted = recipe(tiny_base_model, tmp_path / "b", steps=4, should_stop=stop_at_3)
    with pytest.raises(Cancelled):
        run(interrupted)
    # A checkpoint cut off before its marker (kill -9 while saving) is skipped.
    (tmp_path / "b" / "checkpoints" / "step-000003").mkdir()
    resumed = run(recipe(tiny_base_model, tmp_path / "b", steps=4))
    assert resumed.resumed_from == 2 and resumed.steps == 4
    assert [c["step"] for c in resumed.curve] == [1, 2, 3, 4]
    assert resumed.curve[-1]["loss"] == pytest.approx(straight.curve[-1]["loss"], rel=1e-4)


@pytest.mark.parametrize("method, engines", [("lora", ["vllm", "embedded"]), ("dora", ["embedded", "merged"]),
                                             ("qlora", ["vllm", "embedded"])])
def test_it_writes_an_adapter_that_says_what_can_serve_it(tiny_base_model, tmp_path, method, engines):
    r = recipe(tiny_base_model, tmp_path / "work", method=method, steps=1)
    r.setup()
    r.train()
    out = r.save_adapter(tmp_path / "v1", dataset_hash="abc", metrics={"f1": 0.5})
    r.cleanup()
    manifest = check_adapter_dir(out)
    assert manifest["servable_by"] == engines and manifest["method"] == method
    assert manifest["base_model"] == str(tiny_base_model) and manifest["dataset_hash"] == "abc"
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["bias"] == "none" and not config.get("modules_to_save")
    assert config["base_model_name_or_path"] == str(tiny_base_model)
    assert ("note" in manifest) == (method == "qlora")


def test_it_lists_what_vllm_would_reject():
    good = {"peft_type": "LORA", "r": 16, "bias": "none"}
    assert vllm_problems(good, max_rank=16) == []
    bad = {"peft_type": "LORA", "r": 32, "bias": "all", "modules_to_save": ["lm_head"], "use_dora": True}
    assert len(vllm_problems(bad, max_rank=16)) == 4


def test_it_refuses_an_incomplete_adapter_dir(tmp_path):
    with pytest.raises(AdapterInvalid, match="missing adapter_config.json"):
        check_adapter_dir(tmp_path)


def test_it_exports_a_merged_model_with_the_adapters_outputs(tiny_base_model, tmp_path):
    from transformers import AutoModelForCausalLM

    r = recipe(tiny_base_model, tmp_path / "work", steps=2)
    r.setup()
    r.train()
    adapter = r.save_adapter(tmp_path / "v1", dataset_hash="abc")
    x = torch.randint(5, 500, (1, 12))
    r.model.eval()
    with torch.no_grad():
        expected = r.model(input_ids=x).logits
    r.cleanup()
    merged = AutoModelForCausalLM.from_pretrained(export_merged(adapter, tmp_path / "merged")).eval()
    with torch.no_grad():
        torch.testing.assert_close(merged(input_ids=x).logits, expected, atol=1e-4, rtol=1e-4)


def test_it_scores_answers_with_token_f1_and_rouge_l():
    assert token_f1("The default is eu-west.", "the default is eu-west") == 1.0
    assert token_f1("port 80", "region eu-west") == 0.0
    assert token_f1("default region eu-west", "the default is eu-west") == pytest.approx(2 / 3)
    assert rouge_l("w x y z", "w y z") == pytest.approx(2 * 0.75 * 1 / 1.75)
    assert rouge_l("z y x w", "w x y z") == pytest.approx(0.25)


def test_it_evaluates_base_and_adapter_and_forgetting(tiny_base_model, tmp_path):
    r = recipe(tiny_base_model, tmp_path, steps=1)
    r.setup()
    r.train()
    trained = {n: p.detach().clone() for n, p in r.model.named_parameters() if p.requires_grad}
    metrics = r.evaluate(HELDOUT[:2], max_new_tokens=4, general_text="The river rose slowly through the night.")
    # Evaluation may run in bf16 (CPUs with native bf16); the trained weights come back exactly.
    after = {n: p for n, p in r.model.named_parameters() if p.requires_grad}
    assert after.keys() == trained.keys() and all(
        after[n].dtype == torch.float32 and torch.equal(after[n], trained[n]) for n in trained)
    r.cleanup()
    assert metrics["heldout_examples"] == 2
    for side in ("base", "adapter"):
        assert 0 <= metrics[side]["f1"] <= 1 and metrics[side]["perplexity_general"] > 1
    assert metrics["forgetting_ppl_ratio"] == pytest.approx(
        metrics["adapter"]["perplexity_general"] / metrics["base"]["perplexity_general"])
    # Two held-out pairs are too few to trust: a labelled fit score on training pairs comes along.
    assert metrics["fit"]["examples"] > 0 and "TRAINING pairs" in metrics["fit"]["note"]
    assert 0 <= metrics["fit"]["f1_adapter"] <= 1 and metrics["max_new_tokens"] <= 4


def test_it_trains_from_the_command_line(tiny_base_model, tmp_path, capsys):
    from training.__main__ import main

    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(json.dumps(e) for e in TRAIN))
    heldout = tmp_path / "heldout.jsonl"
    heldout.write_text(json.dumps(HELDOUT[0]))
    code = main(["train", "--base-model", str(tiny_base_model), "--data", str(data), "--heldout", str(heldout),
                 "--out", str(tmp_path / "adapter"), "--rank", "4", "--max-steps", "2",
                 "--eval-max-new-tokens", "4", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["steps"] == 2 and "evaluation" in summary
    check_adapter_dir(tmp_path / "adapter")
    assert main(["train", "--base-model", str(tiny_base_model), "--data", str(data), "--out",
                 str(tmp_path / "x"), "--rank", "999"]) == 2
    assert "rank: 999 exceeds max_rank" in capsys.readouterr().err


def test_it_shortens_the_run_and_its_schedule_to_a_time_budget(tiny_base_model, tmp_path):
    config = TrainConfig(rank=4, learning_rate=1e-2, epochs=20, batch_size=1, max_length=512,
                         time_budget_s=1e-6)
    r = Recipe(base_model=str(tiny_base_model), config=config, train_examples=TRAIN, work_dir=tmp_path)
    r.setup()
    planned = r.total_steps
    result = r.train()
    r.cleanup()
    # Three steps are timed, then the run is cut to the next one: a budget never ends a run mid-schedule.
    assert planned > 4 and result.steps == result.total_steps == 4
    assert "time budget" in result.extra["time_budget"] and result.curve[-1]["lr"] < result.curve[1]["lr"]


def test_it_picks_one_example_per_step_on_a_cpu_and_budgets_epochs_by_time_when_given_one():
    cpu = TrainConfig().resolve(num_examples=300, longest_example=900, total_tokens=240_000, on_gpu=False)
    gpu = TrainConfig().resolve(num_examples=300, longest_example=900, total_tokens=240_000, on_gpu=True)
    assert cpu.batch_size == 1 and gpu.batch_size == 4 and cpu.epochs == 1  # the token budget caps epochs
    timed = TrainConfig(time_budget_s=600).resolve(num_examples=300, longest_example=900, total_tokens=240_000)
    assert timed.epochs == 4  # the clock cuts the run instead
    with pytest.raises(ValueError, match="time_budget_s"):
        TrainConfig(time_budget_s=0)
