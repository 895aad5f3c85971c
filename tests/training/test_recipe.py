import json
from itertools import pairwise

import pytest
import torch
import torch.nn.functional as F

from tests.training.pairs import fixture_examples
from training import data
from training.artifacts import AdapterInvalid, check_adapter_dir, export_merged, vllm_problems
from training.config import TrainConfig
from training.data import IGNORE, batches
from training.recipe import COMPLETE, Cancelled, Recipe, latest_complete_checkpoint
from training.text_metrics import rouge_l, token_f1

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
    steps = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert steps == ["step-000004", "step-000005"]  # every 2 steps, and the last one
    checkpoint = latest_complete_checkpoint(tmp_path)
    assert checkpoint.name == "step-000005" and (checkpoint / COMPLETE).read_text() == "5"


def test_it_checkpoints_the_last_step_so_a_kill_during_evaluation_does_not_retrain(tiny_base_model, tmp_path):
    first = run(recipe(tiny_base_model, tmp_path, steps=3))
    # The process dies while evaluating; the job is run again.
    seen = []
    again = run(recipe(tiny_base_model, tmp_path, steps=3, on_progress=seen.append))
    assert seen == [] and again.resumed_from == again.steps == 3 and again.curve == first.curve


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


def test_it_starts_from_a_trained_adapter_of_the_same_shape_and_says_why_not_otherwise(tiny_base_model, tmp_path):
    from training.methods import adapter_state

    trained = recipe(tiny_base_model, tmp_path / "a", steps=3)
    trained.setup()
    trained.train()
    adapter = trained.save_adapter(tmp_path / "adapter", dataset_hash="x")
    saved = {k: v.clone() for k, v in adapter_state(trained.model).items()}
    trained.cleanup()

    warm = recipe(tiny_base_model, tmp_path / "b", init_adapter=adapter)
    warm.setup()
    assert warm.warm_start == {"from": str(tmp_path / "adapter"), "warm": True}
    for name, tensor in adapter_state(warm.model).items():
        assert torch.equal(tensor.cpu(), saved[name].cpu()), name
    assert warm.train().extra["warm_start"]["warm"] is True
    warm.cleanup()

    wider = Recipe(base_model=str(tiny_base_model), train_examples=TRAIN, work_dir=tmp_path / "c",
                   config=TrainConfig(rank=8, max_steps=1, batch_size=1, max_length=512),
                   init_adapter=tmp_path / "adapter")
    wider.setup()
    assert wider.warm_start["warm"] is False and "differs in shape" in wider.warm_start["reason"]
    wider.cleanup()


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


@pytest.mark.parametrize("method", ["lora", "dora", "ia3"])
def test_it_exports_a_merged_model_with_the_adapters_outputs(tiny_base_model, tmp_path, method):
    from transformers import AutoModelForCausalLM

    r = recipe(tiny_base_model, tmp_path / "work", method=method, steps=2)
    r.setup()
    r.train()
    adapter = r.save_adapter(tmp_path / "v1", dataset_hash="abc")
    x = torch.randint(5, 500, (1, 12))
    r.model.eval()
    with torch.no_grad():
        expected = r.model(input_ids=x).logits
        with r.model.disable_adapter():
            base = r.model(input_ids=x).logits
    r.cleanup()
    assert (expected - base).abs().max() > 1e-3, "the trained adapter must change the outputs for this check to mean anything"
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
    # Four steps are timed (the pace leaves the first out), then the run is cut to the next one: a budget
    # never ends a run mid-schedule.
    assert planned > 5 and result.steps == result.total_steps == 5
    assert "time budget" in result.extra["time_budget"] and result.curve[-1]["lr"] < result.curve[1]["lr"]


def test_it_does_not_let_a_slow_first_step_cut_a_time_budgeted_run(tiny_base_model, tmp_path, monkeypatch):
    config = TrainConfig(rank=4, learning_rate=1e-2, epochs=4, batch_size=1, max_length=512, time_budget_s=150)
    r = Recipe(base_model=str(tiny_base_model), config=config, train_examples=TRAIN, work_dir=tmp_path)
    r.setup()
    clock = {"now": 0.0, "steps": 0}
    real_loss = r.loss

    def timed_loss(batch):  # the first step takes 100 s of the clock, every later one 1 s
        clock["now"] += 100.0 if clock["steps"] == 0 else 1.0
        clock["steps"] += 1
        return real_loss(batch)

    monkeypatch.setattr(r, "loss", timed_loss)
    monkeypatch.setattr("training.recipe.time.monotonic", lambda: clock["now"])
    planned = r.total_steps
    result = r.train()
    r.cleanup()
    assert planned < 40 and result.steps == planned  # 100 s + (planned - 1) s fits 150 s


def test_it_picks_one_example_per_step_on_a_cpu_and_budgets_epochs_by_time_when_given_one():
    cpu = TrainConfig().resolve(num_examples=300, longest_example=900, total_tokens=240_000, on_gpu=False)
    gpu = TrainConfig().resolve(num_examples=300, longest_example=900, total_tokens=240_000, on_gpu=True)
    assert cpu.batch_size == 1 and gpu.batch_size == 4 and cpu.epochs == 1  # the token budget caps epochs
    timed = TrainConfig(time_budget_s=600).resolve(num_examples=300, longest_example=900, total_tokens=240_000)
    assert timed.epochs == 4  # the clock cuts the run instead
    with pytest.raises(ValueError, match="time_budget_s"):
        TrainConfig(time_budget_s=0)


def _unpacked_loss(model, batch) -> float:
    """Mean answer-token cross-entropy with each packed example run on its own."""
    (ids,), (labels,), (positions,) = batch.input_ids, batch.labels, batch.position_ids
    starts = [*(positions == 0).nonzero().flatten().tolist(), len(ids)]
    total, count = 0.0, 0
    for start, end in pairwise(starts):
        targets = labels[start + 1:end]
        if (targets != IGNORE).any():
            logits = model(input_ids=ids[start:end][None]).logits[0, :-1]
            total += F.cross_entropy(logits, targets, ignore_index=IGNORE, reduction="sum").item()
            count += int((targets != IGNORE).sum())
    return total / count


@pytest.mark.parametrize("method", ["lora", "qlora"])
def test_it_keeps_packed_examples_apart_on_the_flash_attention_path(tiny_base_model, tmp_path, emulated_flash,
                                                                     monkeypatch, method):
    monkeypatch.setattr(Recipe, "_attention_implementation", lambda self: emulated_flash)
    config = TrainConfig(method=method, rank=4, max_steps=1, batch_size=2, max_length=1200)
    r = Recipe(base_model=str(tiny_base_model), config=config, train_examples=TRAIN, work_dir=tmp_path)
    r.setup()
    # QLoRA asks for flash-attention like LoRA does, and packs.
    assert r.model.config._attn_implementation == emulated_flash and r.batching == "pack"
    batch = r.collate(next(batches(r.dataset, epoch=0, seed=0)))
    assert batch.input_ids.shape[0] == 1 and batch.cu_seq_lens.numel() > 3  # one row of several examples
    with torch.no_grad():
        packed, alone = r.loss(batch).item(), _unpacked_loss(r.model, batch)
    r.cleanup()
    assert packed == pytest.approx(alone, rel=1e-5)


def test_it_trains_on_the_logits_of_the_models_own_forward(tiny_base_model, tmp_path):
    """Gemma 2/3 soft-cap their logits, Cohere and Granite scale them, all inside forward."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, Gemma2Config

    llama = AutoConfig.from_pretrained(tiny_base_model)
    tokenizer = AutoTokenizer.from_pretrained(tiny_base_model)
    config = Gemma2Config(vocab_size=llama.vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, head_dim=16, final_logit_softcapping=0.1,
                          pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                          bos_token_id=tokenizer.bos_token_id)
    torch.manual_seed(0)
    base = tmp_path / "gemma2"
    AutoModelForCausalLM.from_config(config).save_pretrained(base)
    tokenizer.save_pretrained(base)
    r = Recipe(base_model=str(base), config=TrainConfig(rank=4, max_steps=1, batch_size=2, max_length=1200,
                                                        batching="group"),
               train_examples=TRAIN, work_dir=tmp_path / "work")
    r.setup()
    batch = r.collate(next(batches(r.dataset, epoch=0, seed=0)))
    assert batch.input_ids.shape[0] > 1  # right-padded rows
    with torch.no_grad():
        logits = r.model(input_ids=batch.input_ids).logits[:, :-1]
        expected = F.cross_entropy(logits.flatten(0, 1), batch.labels[:, 1:].flatten(), ignore_index=IGNORE)
        got = r.loss(batch)
    r.cleanup()
    assert logits.abs().max() <= 0.1  # soft-capped
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


def test_it_tokenizes_each_example_once(tiny_base_model, tmp_path, monkeypatch):
    calls = []
    tokenize = data.tokenize_example
    monkeypatch.setattr(data, "tokenize_example", lambda *args: calls.append(args) or tokenize(*args))
    r = recipe(tiny_base_model, tmp_path)
    r.setup()
    r.cleanup()
    assert len(calls) == len(TRAIN)


def test_it_restores_the_gpu_random_state_on_resume(tiny_base_model, tmp_path, monkeypatch):
    """Dropout on a GPU draws from the GPU's generator: a resumed run must continue its sequence."""
    generator = [torch.tensor([7, 7, 7], dtype=torch.uint8), torch.tensor([9, 9], dtype=torch.uint8)]
    restored = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: generator)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device: restored.update({device: state}))
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    first = recipe(tiny_base_model, tmp_path, steps=3, device="cpu")
    first.setup()
    first.train()
    assert restored == {}
    generator = None  # the GPU's generator moved on; the resumed run must not keep that
    again = recipe(tiny_base_model, tmp_path, steps=4, device="cpu")
    again.setup()
    again.cleanup()
    first.cleanup()
    assert again.resumed_from == 3
    assert [restored[i].tolist() for i in (0, 1)] == [[7, 7, 7], [9, 9]]


def test_it_saves_the_adapter_in_the_models_compute_dtype(tiny_base_model, tmp_path):
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from serving.adapters import BaseModelInfo, load_adapter
    from training.artifacts import save_adapter

    r = recipe(tiny_base_model, tmp_path / "work", steps=2)
    r.setup()
    r.train()
    on_cpu = r.save_adapter(tmp_path / "cpu", dataset_hash="abc")  # float32 weights on a CPU
    bf16 = save_adapter(r.model, tmp_path / "gpu", base_model=str(tiny_base_model), method="lora", max_rank=64,
                        dataset_hash="abc", dtype=torch.bfloat16)  # what a GPU run writes
    x = torch.randint(5, 500, (1, 12))
    with torch.no_grad():
        expected = r.model.eval()(input_ids=x).logits
    r.cleanup()
    weights = {name: load_file(str(folder / "adapter_model.safetensors")) for name, folder in
               (("cpu", on_cpu), ("bf16", bf16))}
    assert {t.dtype for t in weights["cpu"].values()} == {torch.float32}
    assert {t.dtype for t in weights["bf16"].values()} == {torch.bfloat16}
    assert weights["bf16"].keys() == weights["cpu"].keys()
    assert (bf16 / "adapter_model.safetensors").stat().st_size < 0.6 * (on_cpu / "adapter_model.safetensors").stat().st_size
    base = AutoModelForCausalLM.from_pretrained(tiny_base_model)
    shapes = {name: (m.in_features, m.out_features) for name, m in base.named_modules()
              if isinstance(m, torch.nn.Linear) and name != "lm_head"}
    loaded = PeftModel.from_pretrained(base, str(bf16)).eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(input_ids=x).logits, expected, atol=2e-2, rtol=2e-2)
    served = load_adapter("team", bf16, BaseModelInfo(served_name=str(tiny_base_model),
                                                       model_path=str(tiny_base_model), module_shapes=shapes,
                                                       base_weight=lambda name: None, max_rank=64))
    # Every Linear of the adapted layers carries an A and a B.
    assert served.rank == 4 and 2 * len(served.modules) == len(weights["bf16"])
    assert set(served.modules) <= set(shapes)


def test_it_refuses_a_step_the_gpu_memory_cannot_hold_before_training(tiny_base_model, tmp_path, monkeypatch):
    from training.memory import ModelDims, StepTooLarge, bytes_per_token

    r = recipe(tiny_base_model, tmp_path, steps=1)
    dims = ModelDims(layers=2, hidden=64, intermediate=128, vocab=525)
    per_token = bytes_per_token(dims, checkpointing=False, dropout=False)
    monkeypatch.setattr(Recipe, "_free_memory", lambda self: int(300 * per_token / 0.8))
    with pytest.raises(StepTooLarge, match=r"longest example \(512 tokens\).*turn gradient_checkpointing on"):
        r.setup()
    assert r.step == 0 and not (tmp_path / "checkpoints").exists()


def test_it_lowers_the_tokens_per_step_to_what_the_gpu_memory_holds(tiny_base_model, tmp_path, monkeypatch):
    from training.memory import ModelDims, bytes_per_token

    dims = ModelDims(layers=2, hidden=64, intermediate=128, vocab=525)
    per_token = bytes_per_token(dims, checkpointing=True, dropout=False)
    monkeypatch.setattr(Recipe, "_free_memory", lambda self: int(1300 * per_token / 0.8) + 8)
    config = TrainConfig(rank=4, max_steps=1, batch_size=8, max_length=640, gradient_checkpointing=True)
    r = Recipe(base_model=str(tiny_base_model), config=config, train_examples=TRAIN, work_dir=tmp_path)
    r.setup()
    result = r.train()
    r.cleanup()
    assert result.dataset["step_tokens"] == 1300  # not 8 x 640
    assert all(len(g) * max(len(r.dataset.rows[i].input_ids) for i in g) <= 1300 for g in r.dataset.groups)


@pytest.mark.parametrize("free_tokens, expected", [(100_000, False), (1300, True)])
def test_auto_checkpointing_turns_on_only_when_the_step_does_not_fit_without_it(
        tiny_base_model, tmp_path, monkeypatch, free_tokens, expected):
    from training.memory import ModelDims, bytes_per_token

    dims = ModelDims(layers=2, hidden=64, intermediate=128, vocab=525)
    per_token = bytes_per_token(dims, checkpointing=False, dropout=False)
    monkeypatch.setattr(Recipe, "checkpointing_by_memory", True)  # as on a GPU
    monkeypatch.setattr(Recipe, "_free_memory", lambda self: int(free_tokens * per_token / 0.8) + 8)
    config = TrainConfig(rank=4, max_steps=1, batch_size=4, max_length=640, dropout=0.0)
    r = Recipe(base_model=str(tiny_base_model), config=config, train_examples=TRAIN, work_dir=tmp_path)
    r.setup()
    assert r.config.gradient_checkpointing is expected
    assert r.model.base_model.model.is_gradient_checkpointing is expected
    result = r.train()
    r.cleanup()
    assert result.steps == 1 and result.config["gradient_checkpointing"] is expected
