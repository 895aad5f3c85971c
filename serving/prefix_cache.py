"""Prompt KV kept between requests, so a prompt that begins like an earlier one skips prefilling that
beginning: every docsbot prompt opens with the same system prompt, and a question asked again over
the same documents shares nearly all of its prompt.

As vLLM's automatic prefix caching: a prompt is cut into blocks of ``block`` tokens, and a block is
found by its own tokens, the block before it and who computed it (the base model, or one adapter
version: LoRA changes every layer's keys and values, so versions never share). Blocks are matched by
their tokens, not by a hash, so a lookup can miss but never return another prompt's KV. The least
recently used blocks go when the cache holds more than ``capacity`` tokens, the ends of prompts
before their beginnings. The last prompt token is never cached: its pass gives the first generated token.
"""
from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch

# One block's keys and values for every layer: [layers, 2 (keys, values), kv heads, block, head dim].
KVBlock = torch.Tensor
_Key = tuple[int, int, tuple[int, ...]]  # (owner, the previous block's serial or 0, this block's tokens)

DEFAULT_BLOCK_TOKENS = 16


class PrefixCache:
    def __init__(self, *, capacity: int, block: int = DEFAULT_BLOCK_TOKENS):
        if capacity < 0 or block < 1:
            raise ValueError("prefix cache: capacity must be >= 0 and block >= 1")
        self.capacity = capacity
        self.block = block
        self._entries: OrderedDict[_Key, tuple[int, KVBlock]] = OrderedDict()  # LRU first
        self._serials = itertools.count(1)

    @property
    def enabled(self) -> bool:
        return self.capacity >= self.block

    @property
    def tokens(self) -> int:
        return len(self._entries) * self.block

    def cacheable_blocks(self, prompt_length: int) -> int:
        return (prompt_length - 1) // self.block if self.enabled else 0

    def match(self, owner: int, prompt: Sequence[int]) -> list[KVBlock]:
        """The cached blocks ``prompt`` begins with, in order (they become the most recently used)."""
        return self._walk(owner, prompt, None)

    def add(self, owner: int, prompt: Sequence[int], block_kv: Callable[[int], KVBlock]) -> None:
        """Keep every full block of ``prompt`` not kept yet; ``block_kv(i)`` gives block i's KV."""
        self._walk(owner, prompt, block_kv)
        while self.tokens > self.capacity:
            self._entries.popitem(last=False)

    def _walk(self, owner: int, prompt: Sequence[int], block_kv: Callable[[int], KVBlock] | None) -> list[KVBlock]:
        """The prompt's chain of blocks from its first: up to the first one missing, or, with ``block_kv``, all
        of them, the missing ones kept."""
        found: list[KVBlock] = []
        keys: list[_Key] = []
        parent = 0
        for index in range(self.cacheable_blocks(len(prompt))):
            key = self._key(owner, parent, prompt, index)
            entry = self._entries.get(key)
            if entry is None:
                if block_kv is None:
                    break
                entry = self._entries[key] = (next(self._serials), block_kv(index).clone())
            parent = entry[0]
            found.append(entry[1])
            keys.append(key)
        self._touch(keys)
        return found

    def _key(self, owner: int, parent: int, prompt: Sequence[int], index: int) -> _Key:
        return owner, parent, tuple(prompt[index * self.block:(index + 1) * self.block])

    def _touch(self, keys: list[_Key]) -> None:
        # A prompt's last block becomes the least recent of its chain: without its beginning no block
        # after it can be found, so the beginning must go last.
        for key in reversed(keys):
            self._entries.move_to_end(key)
