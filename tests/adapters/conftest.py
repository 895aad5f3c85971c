import pytest

from tests.training.pairs import fixture_examples

# Small and fast: a few steps on the tiny test model, a checkpoint every step.
FAST = {"rank": 4, "max_steps": 3, "checkpoint_every": 1, "batch_size": 1, "max_length": 512,
        "learning_rate": 0.01, "eval_max_examples": 2, "eval_max_new_tokens": 4}


@pytest.fixture
def dataset(team) -> dict:
    train, heldout = fixture_examples(team=team.slug, distractors=1)
    return {"train": train, "heldout": heldout, "dataset_hash": "f" * 64,
            "pair_ids": [e["id"] for e in train + heldout]}


@pytest.fixture
def adapter_settings(settings, tmp_path, tiny_base_model):
    settings.DATA_DIR = tmp_path / "data"
    settings.ADAPTER_DIR = tmp_path / "data" / "adapters"
    settings.BASE_MODEL = str(tiny_base_model)
    settings.AUTO_PROMOTE = True
    settings.SERVING_URL = None
    return settings
