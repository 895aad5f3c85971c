"""A running batch's KV cache that grows in place.

transformers' DynamicCache appends each decode step's keys and values with torch.cat, so every step copies every
layer's whole cache: for 16 rows of ~500 tokens on SmolLM2 (30 layers, 3 KV heads of 64, bf16) that is ~170 MB a
step, read and written. Here each layer keeps its keys and values in buffers with room for ``ROOM`` more
positions; a step writes its token into the room, and only a full buffer is copied (into one with room again),
once every ``ROOM`` steps. What the model and the engine see, ``layer.keys``/``layer.values``, are views of the
filled part, so everything that reads a DynamicCache's layers reads this one alike."""
from __future__ import annotations

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

ROOM = 64  # positions a buffer grows by: one copy of the cache per 64 decode steps, at most 64 unused per row


class GrowingLayer(DynamicLayer):
    def __init__(self, keys: torch.Tensor, values: torch.Tensor):
        super().__init__()
        self.device, self.is_initialized = keys.device, True
        self._length = keys.shape[-2]
        self._key_buffer, self._value_buffer = _with_room(keys), _with_room(values)
        self._expose()

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs
               ) -> tuple[torch.Tensor, torch.Tensor]:
        start, end = self._length, self._length + key_states.shape[-2]
        if end > self._key_buffer.shape[-2]:
            self._key_buffer, self._value_buffer = _with_room(self.keys, end), _with_room(self.values, end)
        self._key_buffer[..., start:end, :] = key_states
        self._value_buffer[..., start:end, :] = value_states
        self._length = end
        self._expose()
        return self.keys, self.values

    def _expose(self) -> None:
        self.keys = self._key_buffer[..., :self._length, :]
        self.values = self._value_buffer[..., :self._length, :]


def _with_room(filled: torch.Tensor, needed: int | None = None) -> torch.Tensor:
    """A buffer holding ``filled`` with room for ``ROOM`` positions past ``needed`` (default: what it holds)."""
    length = filled.shape[-2]
    shape = (*filled.shape[:-2], (needed or length) + ROOM, filled.shape[-1])
    buffer = torch.empty(shape, dtype=filled.dtype, device=filled.device)
    buffer[..., :length, :] = filled
    return buffer


def growing_cache(layers: list[tuple[torch.Tensor, torch.Tensor]]) -> DynamicCache:
    """A DynamicCache holding ``layers`` (per layer: keys, values [rows, kv heads, positions, dim]) that grows in place."""
    cache = DynamicCache()
    cache.layers = [GrowingLayer(keys, values) for keys, values in layers]
    return cache
