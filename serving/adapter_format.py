"""Serving's side of the adapter directory format, the one contract it shares with training (DESIGN.md).

A version's directory holds PEFT's ``adapter_config.json`` and ``adapter_model.safetensors`` plus
docsbot's ``docsbot.json`` manifest. This module says how serving reads the config, which docsbot
method a config describes, and what the embedded engine refuses. Training writes directories by the
same rules in ``training/artifacts.py``; the two never import each other, and
``tests/test_adapter_format.py`` checks that they agree.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"
PEFT_FILES = (CONFIG, WEIGHTS)
MANIFEST = "docsbot.json"

# peft_type -> docsbot method (LORA is lora or dora, told apart by use_dora); each served by the
# embedded engine, the non-LoRA types in batches of their own (serving.methods).
GROUPED_METHODS = {"IA3": "ia3", "PROMPT_TUNING": "prompt_tuning", "PREFIX_TUNING": "prefix_tuning",
                   "BOTTLENECK": "bottleneck"}


class AdapterFormatError(ValueError):
    """A directory that is not a readable adapter; ``missing`` when there is no config at all."""

    def __init__(self, message: str, *, missing: bool = False):
        super().__init__(message)
        self.missing = missing


def read_adapter_config(path: Path) -> dict[str, Any]:
    config_file = Path(path) / CONFIG
    if not Path(path).is_dir() or not config_file.is_file():
        raise AdapterFormatError(f"No adapter found at {path}", missing=True)
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as exc:
        raise AdapterFormatError(f"{CONFIG} in {path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise AdapterFormatError(f"{CONFIG} in {path} is not a JSON object")
    return config


def method_of(config: dict[str, Any]) -> str | None:
    """The docsbot method an adapter config describes (None: not one docsbot trains or serves)."""
    peft_type = str(config.get("peft_type", "")).upper()
    if peft_type == "LORA":
        return "dora" if config.get("use_dora") else "lora"
    return GROUPED_METHODS.get(peft_type)


def _ranks(config: dict[str, Any]) -> list[int]:
    return [int(config.get("r") or 0), *(int(r) for r in (config.get("rank_pattern") or {}).values())]


def embedded_problems(config: dict[str, Any], *, max_rank: int) -> list[str]:
    """Why docsbot's embedded engine would refuse the adapter (empty when it loads)."""
    problems = []
    peft_type = str(config.get("peft_type", "")).upper()
    if method_of(config) is None:
        problems.append(f"peft_type {peft_type or 'missing'} is not supported (LORA, {', '.join(GROUPED_METHODS)})")
    if config.get("modules_to_save"):
        problems.append("modules_to_save is not supported")
    if str(config.get("bias", "none")) != "none" or config.get("lora_bias"):
        problems.append(f"bias {config.get('bias')!r} is not supported (only 'none')")
    if peft_type == "LORA" and max(_ranks(config)) > max_rank:
        problems.append(f"LoRA rank {max(_ranks(config))} is greater than max_lora_rank {max_rank}.")
    return problems
