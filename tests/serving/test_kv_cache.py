"""The engine's KV cache grows in place: the same keys and values as transformers' DynamicCache, without a copy
of the whole cache per decode step."""
from __future__ import annotations

import torch
from transformers import DynamicCache

from serving.kv_cache import ROOM, growing_cache


def _kv(positions: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(3, 2, positions, 8, generator=generator) for _ in range(2))


def test_it_holds_what_a_dynamic_cache_holds_across_many_steps():
    prompt = [_kv(5, seed=layer) for layer in range(2)]
    ours, theirs = growing_cache(prompt), DynamicCache(ddp_cache_data=prompt)
    for step in range(ROOM * 2 + 3):  # past the room twice
        for layer in range(2):
            keys, values = _kv(1, seed=100 * step + layer)
            got = ours.update(keys, values, layer)
            want = theirs.update(keys, values, layer)
            torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert ours.get_seq_length() == theirs.get_seq_length() == 5 + ROOM * 2 + 3
    torch.testing.assert_close(ours.layers[1].keys, theirs.layers[1].keys, rtol=0, atol=0)


def test_a_decode_step_writes_into_the_room_instead_of_copying_the_cache():
    cache = growing_cache([_kv(5, seed=0)])
    storage = cache.layers[0].keys.untyped_storage().data_ptr()
    for step in range(ROOM):
        cache.update(*_kv(1, seed=step), 0)
        assert cache.layers[0].keys.untyped_storage().data_ptr() == storage  # written in place
    cache.update(*_kv(1, seed=ROOM), 0)  # the room is used up: one copy into a buffer with room again
    assert cache.layers[0].keys.untyped_storage().data_ptr() != storage
    assert cache.layers[0].keys.shape[-2] == 5 + ROOM + 1
