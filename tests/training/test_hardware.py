"""DOCSBOT_CPU_BF16=off makes every CPU path take float32, as on a machine without bf16 units."""
from __future__ import annotations

import pytest
import torch

from serving import engine
from training import hardware


@pytest.fixture
def float32_only(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DOCSBOT_CPU_BF16", "off")
    hardware.cpu_has_native_bf16.cache_clear()
    yield
    hardware.cpu_has_native_bf16.cache_clear()


def test_it_treats_the_cpu_as_float32_only_when_bf16_is_turned_off(float32_only):
    assert hardware.cpu_has_native_bf16() is False
    assert engine.cpu_has_native_bf16() is False
    assert engine.compute_dtype("auto", torch.device("cpu")) is torch.float32


def test_it_still_honours_an_explicit_serving_dtype(float32_only):
    assert engine.compute_dtype("bfloat16", torch.device("cpu")) is torch.bfloat16
