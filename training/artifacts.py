"""The adapter directory: PEFT files + ``docsbot.json``, checked for what can serve it.

This format is the only thing training shares with serving (DESIGN.md), and the two never import
each other: serving reads directories by the same rules in ``serving/adapter_format.py``, and
``tests/test_adapter_format.py`` checks that both sides agree.
"""
from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"
PEFT_FILES = (CONFIG, WEIGHTS)
MANIFEST = "docsbot.json"
# peft_type in adapter_config.json -> docsbot method (LORA is lora or dora, told apart by use_dora)
_METHOD_OF_PEFT_TYPE = {"IA3": "ia3", "PROMPT_TUNING": "prompt_tuning", "PREFIX_TUNING": "prefix_tuning",
                        "BOTTLENECK": "bottleneck"}


class AdapterInvalid(ValueError):
    """An adapter directory that cannot be served the way its manifest claims."""


def method_of(adapter_config: dict[str, Any]) -> str | None:
    """The docsbot method an adapter_config.json describes (None: not one docsbot trains)."""
    peft_type = str(adapter_config.get("peft_type", "")).upper()
    if peft_type == "LORA":
        return "dora" if adapter_config.get("use_dora") else "lora"
    return _METHOD_OF_PEFT_TYPE.get(peft_type)


def vllm_problems(config: dict[str, Any], *, max_rank: int) -> list[str]:
    """Why vLLM would refuse the adapter (empty when it loads)."""
    problems = []
    if config.get("peft_type") != "LORA":
        problems.append(f"peft_type is {config.get('peft_type')!r}, vLLM serves only LORA")
    if config.get("use_dora"):
        problems.append("DoRA (use_dora) is not served by vLLM")
    if config.get("modules_to_save"):
        problems.append(f"modules_to_save {config['modules_to_save']!r} is not supported by vLLM")
    if config.get("bias", "none") != "none":
        problems.append(f"bias is {config.get('bias')!r}, vLLM needs 'none'")
    rank = int(config.get("r", 0))
    if rank > max_rank:
        problems.append(f"rank {rank} exceeds the serving max rank {max_rank}")
    if any(int(r) > max_rank for r in (config.get("rank_pattern") or {}).values()):
        problems.append(f"rank_pattern has a rank above {max_rank}")
    return problems


def servable_by(adapter_config: dict[str, Any], *, max_rank: int) -> list[str]:
    """What serves the adapter directory (config.SERVABLE_BY), without vLLM where vLLM would refuse it."""
    from training.config import SERVABLE_BY

    engines = list(SERVABLE_BY.get(method_of(adapter_config) or "", ()))
    if "vllm" in engines and vllm_problems(adapter_config, max_rank=max_rank):
        engines.remove("vllm")
    return engines


def weights_summary(adapter_dir: Path) -> dict[str, int]:
    """Trainable parameters (every value the adapter stores) and the adapter's size on disk."""
    from safetensors import safe_open

    path = Path(adapter_dir) / WEIGHTS
    count = 0
    with safe_open(str(path), framework="pt") as handle:
        for name in handle.keys():  # noqa: SIM118 - safe_open has no __iter__
            count += _numel(handle.get_slice(name).get_shape())
    size = sum(f.stat().st_size for f in Path(adapter_dir).iterdir() if f.name in PEFT_FILES)
    return {"trainable_parameters": count, "size_bytes": size}


def _numel(shape: list[int]) -> int:
    total = 1
    for dim in shape:
        total *= int(dim)
    return total


def save_adapter(peft_model, out_dir: Path, *, base_model: str, method: str, max_rank: int,
                 dataset_hash: str, metrics: dict[str, Any] | None = None,
                 extra: dict[str, Any] | None = None, dtype: Any = None) -> Path:
    """Write the adapter atomically (temp dir, then rename); validate before it becomes visible.
    ``dtype`` (a torch dtype): the weights' dtype on disk, the base model's compute dtype (bf16
    on a GPU: half of float32's size; vLLM, PEFT and docsbot's server all load it)."""
    out_dir = Path(out_dir)
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    peft_model.save_pretrained(staging, safe_serialization=True)
    if dtype is not None:
        _cast_weights(staging / WEIGHTS, dtype)
    config_path = staging / CONFIG
    adapter_config = json.loads(config_path.read_text())
    # vLLM's resolver and serving compare this with the served base model's name.
    adapter_config["base_model_name_or_path"] = base_model
    config_path.write_text(json.dumps(adapter_config, indent=2))
    from training.config import serving_note

    engines = servable_by(adapter_config, max_rank=max_rank)
    note = serving_note(engines)
    if method in ("lora", "qlora"):
        problems = vllm_problems(adapter_config, max_rank=max_rank)
        if problems:
            shutil.rmtree(staging, ignore_errors=True)
            raise AdapterInvalid("; ".join(problems))
    manifest = {
        "format": 1,
        "base_model": base_model,
        "method": method,
        "peft_type": adapter_config.get("peft_type"),
        "rank": adapter_config.get("r"),
        "alpha": adapter_config.get("lora_alpha"),
        "target_modules": adapter_config.get("target_modules"),
        "dataset_hash": dataset_hash,
        "metrics": metrics or {},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "servable_by": engines,
        **weights_summary(staging),
        **({"serving_note": note} if note else {}),
        **({"note": "trained on the NF4-quantised base (QLoRA); a plain LoRA adapter served on the "
                    "full-precision base"} if method == "qlora" else {}),
        **(extra or {}),
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(staging, out_dir)
    return out_dir


def _cast_weights(path: Path, dtype: Any) -> None:
    from safetensors.torch import load_file, save_file

    weights = load_file(str(path))
    if all(tensor.dtype == dtype for tensor in weights.values() if tensor.is_floating_point()):
        return
    save_file({name: tensor.to(dtype) if tensor.is_floating_point() else tensor for name, tensor in weights.items()},
              str(path), metadata={"format": "pt"})


def read_manifest(adapter_dir: Path) -> dict[str, Any]:
    path = Path(adapter_dir) / MANIFEST
    if not path.exists():
        raise AdapterInvalid(f"{adapter_dir}: no {MANIFEST}")
    return json.loads(path.read_text())


def check_adapter_dir(adapter_dir: Path, *, max_rank: int = 64) -> dict[str, Any]:
    """The manifest of a complete adapter directory, or AdapterInvalid saying what is wrong."""
    adapter_dir = Path(adapter_dir)
    missing = [name for name in (*PEFT_FILES, MANIFEST) if not (adapter_dir / name).exists()]
    if missing:
        raise AdapterInvalid(f"{adapter_dir}: missing {', '.join(missing)}")
    manifest = read_manifest(adapter_dir)
    config = json.loads((adapter_dir / CONFIG).read_text())
    if "vllm" in manifest.get("servable_by", []):
        problems = vllm_problems(config, max_rank=max_rank)
        if problems:
            raise AdapterInvalid("; ".join(problems))
    return manifest


def export_merged(adapter_dir: Path, out_dir: Path, *, base_model: str | None = None) -> Path:
    """Base + adapter folded into one standalone model (no adapter overhead at inference), stored in the
    base model's own dtype (bf16 for SmolLM2): the same size and decode speed as the base."""
    import torch
    from peft import PeftModel
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from training.config import MERGEABLE

    manifest = read_manifest(adapter_dir)
    if manifest.get("method", "lora") not in MERGEABLE:
        raise ValueError(f"a {manifest.get('method')} adapter cannot be merged into the weights (only "
                         f"{', '.join(MERGEABLE)}): serve it with the embedded engine")
    base = base_model or manifest["base_model"]
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    stored = getattr(AutoConfig.from_pretrained(base), "dtype", None) or dtype
    merged = merged.to(getattr(torch, stored) if isinstance(stored, str) else stored)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out_dir, safe_serialization=True)
    AutoTokenizer.from_pretrained(base).save_pretrained(out_dir)
    (out_dir / "docsbot_merged.json").write_text(json.dumps(
        {"base_model": base, "adapter": str(adapter_dir), "adapter_manifest": manifest}, indent=2, default=str))
    return out_dir
