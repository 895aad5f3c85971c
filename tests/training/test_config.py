import math

import pytest

from training.config import AUTO_MIN_STEPS, AUTO_TOKEN_BUDGET, TrainConfig


def test_it_resolves_auto_values_from_the_dataset_size():
    small = TrainConfig().resolve(num_examples=80, longest_example=300)
    assert small.is_resolved
    assert small.alpha == 2 * small.rank
    assert small.max_length == 1024
    big = TrainConfig(rank=32).resolve(num_examples=5000, longest_example=1500)
    assert (big.rank, big.alpha) == (32, 64)
    assert big.max_length == 1536  # the longest example fits, rounded up to 64
    assert big.epochs < small.epochs
    # One rate per method at any size: 2.5x for mid-sized sets raised forgetting on SmolLM2 (DRF docs).
    assert {TrainConfig().resolve(num_examples=n, longest_example=300).learning_rate for n in (21, 80, 5000)} == {2e-4}


def test_it_caps_auto_epochs_by_the_token_budget():
    from training.config import AUTO_TOKEN_BUDGET

    roomy = TrainConfig().resolve(num_examples=12, longest_example=100, total_tokens=1200)
    tight = TrainConfig().resolve(num_examples=12, longest_example=900, total_tokens=AUTO_TOKEN_BUDGET // 2)
    huge = TrainConfig().resolve(num_examples=12, longest_example=900, total_tokens=10 * AUTO_TOKEN_BUDGET)
    assert (roomy.epochs, tight.epochs, huge.epochs) == (8, 2, 1)
    assert TrainConfig(epochs=5).resolve(num_examples=12, longest_example=900, total_tokens=10**6).epochs == 5


def test_it_keeps_explicit_values():
    config = TrainConfig(rank=4, alpha=16, learning_rate=1e-3, epochs=2, batch_size=3, max_length=128,
                         gradient_checkpointing=False, adapted_layers=6, rehearsal=0.1)
    assert config.resolve(num_examples=10, longest_example=100) == config


def test_it_adapts_every_layer_by_default_and_the_upper_ones_when_asked():
    cpu = TrainConfig().resolve(num_examples=300, longest_example=900, on_gpu=False)
    assert cpu.adapted_layers == "all" and cpu.layer_indices(30) is None
    upper = TrainConfig(adapted_layers="upper-half").resolve(num_examples=300, longest_example=900, on_gpu=False)
    assert upper.layer_indices(30) == list(range(15, 30))
    assert TrainConfig(adapted_layers=4).layer_indices(30) == [26, 27, 28, 29]
    assert TrainConfig(adapted_layers=40).layer_indices(30) is None
    ia3 = TrainConfig(method="ia3", adapted_layers="upper-half").resolve(num_examples=300, longest_example=900)
    assert ia3.layer_indices(30) is None  # PEFT's IA3 adapts every layer
    for bad in (0, -1, "lower-half", True):
        with pytest.raises(ValueError, match="adapted_layers"):
            TrainConfig(adapted_layers=bad)


def test_it_resolves_auto_checkpointing_to_on_for_a_gpu_until_the_recipe_knows_the_free_memory():
    assert TrainConfig().resolve(num_examples=300, longest_example=1400, on_gpu=True).gradient_checkpointing is True
    assert TrainConfig().resolve(num_examples=300, longest_example=1400, on_gpu=False).gradient_checkpointing is False
    assert TrainConfig(gradient_checkpointing=False).resolve(
        num_examples=300, longest_example=1400, on_gpu=True).gradient_checkpointing is False
    assert TrainConfig.from_dict({"gradient_checkpointing": True}).gradient_checkpointing is True


@pytest.mark.parametrize("field, value", [
    ("method", "full"), ("rank", 0), ("rank", 128), ("rank", "big"), ("alpha", -1), ("learning_rate", 3.0),
    ("epochs", 0), ("batch_size", 1.5), ("max_length", 8), ("dropout", 1.0), ("max_rank", 12),
    ("checkpoint_every", 0), ("target_modules", ""), ("gradient_checkpointing", "yes"),
    ("gradient_checkpointing", 1),
])
def test_it_names_the_field_of_a_bad_value(field, value):
    with pytest.raises(ValueError, match=f"^{field}:"):
        TrainConfig(**{field: value})


def test_it_rejects_unknown_hyperparameters_and_empty_datasets():
    with pytest.raises(ValueError, match="^lr: unknown"):
        TrainConfig.from_dict({"lr": 1})
    assert TrainConfig.from_dict({"target_modules": ["q_proj"]}).target_modules == ("q_proj",)
    with pytest.raises(ValueError, match="^dataset:"):
        TrainConfig().resolve(num_examples=0, longest_example=0)


def test_it_raises_auto_epochs_to_the_step_floor_for_tiny_datasets():
    resolved = TrainConfig().resolve(num_examples=12, longest_example=900, total_tokens=10 * AUTO_TOKEN_BUDGET)
    assert resolved.epochs == 1
    floored = resolved.with_step_floor(steps_per_epoch=6, requested_epochs="auto")
    assert floored.epochs == math.ceil(AUTO_MIN_STEPS / 6)
    assert resolved.with_step_floor(steps_per_epoch=10 * AUTO_MIN_STEPS, requested_epochs="auto").epochs == 1
    explicit = TrainConfig(epochs=2).resolve(num_examples=12, longest_example=900)
    assert explicit.with_step_floor(steps_per_epoch=6, requested_epochs=2).epochs == 2


def test_auto_epochs_give_a_real_models_job_about_the_steps_the_sweep_found_best():
    resolved = TrainConfig().resolve(num_examples=150, longest_example=900, total_tokens=90_000, on_gpu=False)
    assert resolved.with_step_floor(steps_per_epoch=129, requested_epochs="auto").epochs == 2  # Requests
    assert resolved.with_step_floor(steps_per_epoch=260, requested_epochs="auto").epochs == 1  # DRF


def test_it_requires_a_transformers_that_understands_the_dtype_argument():
    """Before ~4.56 ``from_pretrained(dtype=...)`` was silently ignored: models loaded in float32."""
    import tomllib
    from pathlib import Path

    import transformers
    from packaging.requirements import Requirement

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    (spec,) = [Requirement(d).specifier for d in pyproject["project"]["dependencies"]
               if Requirement(d).name == "transformers"]
    assert not spec.contains("4.55.4") and spec.contains(transformers.__version__)
