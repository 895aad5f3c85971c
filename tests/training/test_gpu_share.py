"""A training job beside vLLM on one GPU plans and allocates within its share of the GPU's memory."""
from __future__ import annotations

import pytest
import torch

from training.config import TrainConfig
from training.recipe import Recipe

GIB = 1024 ** 3


def _fake_gpu(monkeypatch, *, total: int, free: int, reserved: int, allocated: int) -> None:
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free, total))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: reserved)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: allocated)


def _recipe(tmp_path, fraction: float) -> Recipe:
    recipe = Recipe(base_model="unused", config=TrainConfig(rank=4), train_examples=[], work_dir=tmp_path,
                    gpu_memory_fraction=fraction)
    recipe.device = torch.device("cuda")
    return recipe


def test_it_plans_training_steps_within_its_share_of_a_gpu_vllm_has_not_taken_yet(tmp_path, monkeypatch):
    # A 141 GiB GPU; the job's model weights loaded (16 GiB); vLLM not started yet: nearly all of it is free.
    _fake_gpu(monkeypatch, total=141 * GIB, free=124 * GIB, reserved=17 * GIB, allocated=16 * GIB)
    assert _recipe(tmp_path, 1.0)._free_memory() == 125 * GIB  # alone on its GPU: everything free
    shared = _recipe(tmp_path, 0.45)._free_memory()
    assert shared == int(141 * GIB * 0.45) - 16 * GIB  # leaves vLLM its --gpu-memory-utilization


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_it_cannot_allocate_past_its_gpu_share(tiny_base_model, tmp_path):
    from tests.training.pairs import fixture_examples

    recipe = Recipe(base_model=str(tiny_base_model), config=TrainConfig(rank=4, max_steps=1),
                    train_examples=fixture_examples(distractors=1)[0], work_dir=tmp_path, gpu_memory_fraction=0.2)
    recipe.setup()
    total = torch.cuda.mem_get_info()[1]
    assert recipe._free_memory() <= int(total * 0.2)
    with pytest.raises(torch.OutOfMemoryError):
        torch.empty(int(total * 0.3), dtype=torch.uint8, device="cuda")
    recipe.cleanup()
