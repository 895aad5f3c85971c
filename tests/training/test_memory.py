import pytest

from training.memory import (
    GIB,
    KIB,
    ModelDims,
    StepTooLarge,
    bytes_per_token,
    fit_step_tokens,
    needs_checkpointing,
    step_token_cap,
)

# Qwen2.5-7B-Instruct, the compose default base model.
QWEN_7B = ModelDims(layers=28, hidden=3584, intermediate=18944, vocab=152_064)


def test_it_estimates_a_7b_steps_activations_from_the_measured_figures():
    logits = QWEN_7B.vocab * 4
    assert bytes_per_token(QWEN_7B, checkpointing=False, dropout=True) == 28 * 361 * KIB + logits
    assert bytes_per_token(QWEN_7B, checkpointing=False, dropout=False) == 28 * 245 * KIB + logits
    # The figures: ~48 GiB of activations at 5k tokens per step, ~96 GiB at 10k.
    assert (bytes_per_token(QWEN_7B, checkpointing=False, dropout=True) - logits) * 5000 / GIB == pytest.approx(48, abs=1)
    # Checkpointing keeps each layer's input and recomputes one layer at a time: ~7x less.
    assert bytes_per_token(QWEN_7B, checkpointing=True, dropout=False) < \
        bytes_per_token(QWEN_7B, checkpointing=False, dropout=False) / 7


def test_it_caps_an_auto_sized_7b_step_to_the_free_gpu_memory():
    wanted = 8 * 1408  # auto batch 8 x RAFT examples of up to 1.4k tokens: ~11k tokens
    free = 124 * GIB  # an H200 with the bf16 weights loaded
    assert fit_step_tokens(wanted=wanted, longest=1408, free_bytes=free, dims=QWEN_7B, checkpointing=True,
                           dropout=False) == wanted
    capped = fit_step_tokens(wanted=wanted, longest=1408, free_bytes=free, dims=QWEN_7B, checkpointing=False,
                             dropout=True)
    assert capped < wanted and capped * bytes_per_token(QWEN_7B, checkpointing=False, dropout=True) <= 0.8 * free
    assert capped == step_token_cap(free, QWEN_7B, checkpointing=False, dropout=True)
    # No GPU, no cap.
    assert fit_step_tokens(wanted=wanted, longest=1408, free_bytes=None, dims=QWEN_7B, checkpointing=False,
                           dropout=True) == wanted


def test_auto_checkpointing_is_on_only_where_the_step_does_not_fit_without_it():
    qwen_05b = ModelDims(layers=24, hidden=896, intermediate=4864, vocab=151_936)
    # the H200 runs: a 0.5B model's step of 4 RAFT rows fits in its free memory many times over
    assert not needs_checkpointing(wanted=4 * 2432, free_bytes=130 * GIB, dims=qwen_05b, dropout=False)
    # a 7B step of ~11k tokens on the same chip (~96 GiB of activations) does not
    assert needs_checkpointing(wanted=8 * 1408, free_bytes=124 * GIB, dims=QWEN_7B, dropout=True)
    # nor does the 0.5B step on a 16 GB card shared with the serving engine
    assert needs_checkpointing(wanted=4 * 2432, free_bytes=8 * GIB, dims=qwen_05b, dropout=False)


def test_it_says_why_a_step_cannot_fit_and_what_to_change():
    with pytest.raises(StepTooLarge, match=r"^max_length: a step with the longest example \(20000 tokens\) needs "
                                           r"about 255\.2 GiB of GPU memory, 40\.0 GiB are free .*"
                                           r"turn gradient_checkpointing on.*set dropout 0"):
        fit_step_tokens(wanted=20_000, longest=20_000, free_bytes=40 * GIB, dims=QWEN_7B, checkpointing=False,
                        dropout=True)


def test_it_reads_the_dimensions_from_a_model_config():
    from transformers import Qwen2Config

    config = Qwen2Config(num_hidden_layers=28, hidden_size=3584, intermediate_size=18944, vocab_size=152_064)
    assert ModelDims.from_config(config) == QWEN_7B
