"""Adapter directories: validation, loading into AdapterWeights (LoRA) or GroupAdapter, and the registry with its LRU.

The registry mirrors vLLM: adapters registered by ``load_lora_adapter`` are listed
in ``/v1/models``; at most ``max_cpu_loras`` of them are kept in memory (LRU) and
an evicted one is read from disk again on its next request; an unknown name
``foo`` with ``ADAPTER_DIR/foo/adapter_config.json`` is registered on first use
(vLLM's filesystem resolver).
"""
from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from serving.adapter_format import (
    CONFIG,
    AdapterFormatError,
    embedded_problems,
    read_adapter_config,
)
from serving.lora import AdapterWeights, ModuleWeights
from serving.methods import GroupAdapter, ModelDims, load_group_adapter

Adapter = AdapterWeights | GroupAdapter  # what a request carries to the engine
_KEY = re.compile(r"^base_model\.model\.(?P<module>.+)\.(?P<part>lora_A|lora_B|lora_magnitude_vector)(\.weight)?$")


class AdapterError(Exception):
    """A load failure a caller can act on: HTTP status + vLLM error type + message."""

    def __init__(self, message: str, *, status: int = 400, err_type: str = "BadRequestError"):
        super().__init__(message)
        self.message = message
        self.status = status
        self.err_type = err_type


@dataclass(frozen=True)
class BaseModelInfo:
    """What an adapter must match: the served name/path and each adaptable Linear's shape."""

    served_name: str
    model_path: str
    module_shapes: dict[str, tuple[int, int]]
    base_weight: Callable[[str], torch.Tensor]
    max_rank: int
    dtype: torch.dtype = torch.float32
    dims: ModelDims | None = None  # for prefix, soft-prompt and bottleneck adapters
    lora_dtype: torch.dtype | None = None  # LoRA's A and B when not ``dtype`` (serving.lora.lora_dtype)


def _same_base(declared: str | None, base: BaseModelInfo) -> bool:
    if not declared:
        return True  # nothing declared: the shape check below decides
    candidates = {base.served_name, base.model_path}
    if declared in candidates:
        return True
    try:
        if Path(declared).resolve() == Path(base.model_path).resolve():
            return True
    except OSError:
        pass
    # The same model seen from two mounts (/models/x vs ./var/models/x) or as hub id vs folder.
    return Path(declared.rstrip("/")).name in {Path(c.rstrip("/")).name for c in candidates}


def read_config(path: Path) -> dict:
    try:
        return read_adapter_config(path)
    except AdapterFormatError as exc:
        if exc.missing:
            raise AdapterError(str(exc), status=404, err_type="NotFoundError") from None
        raise AdapterError(str(exc)) from None


def _alpha_for(module: str, config: dict) -> float:
    for pattern, alpha in (config.get("alpha_pattern") or {}).items():
        if re.fullmatch(rf"(.*\.)?{pattern}", module):
            return float(alpha)
    return float(config.get("lora_alpha") or config.get("r") or 8)


def load_adapter(name: str, path: str | Path, base: BaseModelInfo, *, version: int = 0) -> Adapter:
    """Validate an adapter directory against the served base model and load it: PEFT LoRA/DoRA
    (served in shared batches), IA3, prompt or prefix tuning, or a docsbot bottleneck adapter
    (each served in batches of its own, serving.methods)."""
    path = Path(path)
    config = read_config(path)
    peft_type = str(config.get("peft_type", "")).upper()
    problems = embedded_problems(config, max_rank=base.max_rank)
    if problems:
        rank_problem = next((p for p in problems if p.startswith("LoRA rank")), None)
        if rank_problem:  # vLLM's own wording for this one, which clients match on
            raise AdapterError(rank_problem.replace("is greater", f"of adapter {name!r} is greater"))
        raise AdapterError(f"adapter {name!r}: {'; '.join(problems)}")
    declared = config.get("base_model_name_or_path")
    if not _same_base(declared, base):
        raise AdapterError(f"adapter {name!r} was trained for base model {declared!r}, "
                           f"but this server serves {base.served_name!r}")
    if peft_type != "LORA":
        return load_group_adapter(name, path, config, _read_tensors(path, name), module_shapes=base.module_shapes,
                                  dims=base.dims, dtype=base.dtype, version=version, error=AdapterError)
    tensors = _read_tensors(path, name)
    parts: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in tensors.items():
        match = _KEY.match(key)
        if not match:
            raise AdapterError(f"adapter {name!r}: unsupported weight {key!r} (only LoRA on Linear layers)")
        parts.setdefault(match["module"], {})[match["part"]] = tensor
    if not parts:
        raise AdapterError(f"adapter {name!r} has no LoRA weights")
    dora = bool(config.get("use_dora"))
    modules: dict[str, ModuleWeights] = {}
    for module, found in parts.items():
        modules[module] = _module_weights(name, module, found, config, base, dora)
    return AdapterWeights(name=name, path=str(path), rank=max(w.a.shape[1] for w in modules.values()),
                          modules=modules, dora=dora, version=version)


def _read_tensors(path: Path, name: str) -> dict[str, torch.Tensor]:
    safetensors_file = path / "adapter_model.safetensors"
    bin_file = path / "adapter_model.bin"
    try:
        if safetensors_file.is_file():
            from safetensors.torch import load_file

            return load_file(str(safetensors_file), device="cpu")
        if bin_file.is_file():
            return torch.load(str(bin_file), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any parse failure means a corrupt file
        raise AdapterError(f"adapter {name!r}: weights file is corrupt: {str(exc)[:200]}") from None
    raise AdapterError(f"adapter {name!r}: no adapter_model.safetensors in {path}")


def _module_weights(name: str, module: str, found: dict[str, torch.Tensor], config: dict,
                    base: BaseModelInfo, dora: bool) -> ModuleWeights:
    if module not in base.module_shapes:
        raise AdapterError(f"adapter {name!r} targets {module!r}, which the served base model does not have")
    if "lora_A" not in found or "lora_B" not in found:
        raise AdapterError(f"adapter {name!r}: {module} lacks lora_A or lora_B")
    in_features, out_features = base.module_shapes[module]
    a, b = found["lora_A"], found["lora_B"]  # PEFT: A (r, in), B (out, r)
    r = a.shape[0]
    if a.shape != (r, in_features) or b.shape != (out_features, r):
        raise AdapterError(f"adapter {name!r}: {module} has shapes {tuple(a.shape)}/{tuple(b.shape)}, the base "
                           f"model needs ({r}, {in_features})/({out_features}, {r}) - another base model?")
    if r > base.max_rank:
        raise AdapterError(f"LoRA rank {r} of adapter {name!r} is greater than max_lora_rank {base.max_rank}.")
    alpha = _alpha_for(module, config)
    scaling = alpha / math.sqrt(r) if config.get("use_rslora") else alpha / r
    a32, b32 = a.float(), b.float()
    magnitude = None
    if dora:
        if "lora_magnitude_vector" not in found:
            raise AdapterError(f"adapter {name!r}: DoRA adapter lacks the magnitude vector of {module}")
        # DoRA at inference: y = m / ||W + sBA||_row * (Wx + sBAx); the factor is constant, so precompute it.
        weight = base.base_weight(module).detach().float().cpu()
        norm = (weight + scaling * (b32 @ a32)).norm(p=2, dim=1)
        magnitude = (found["lora_magnitude_vector"].float() / norm).to(base.dtype)
    low = base.lora_dtype or base.dtype
    return ModuleWeights(a=a32.t().contiguous().to(low), b=(b32 * scaling).t().contiguous().to(low),
                         magnitude=magnitude)


ADD_LORA_FAILED = "Call to add_lora method failed: "


def _load_failure(exc: AdapterError) -> AdapterError:
    """vLLM's answer to a load that fails: only a missing adapter is a 404; an adapter that is
    there but cannot be served (rank, corrupt weights, DoRA, unsupported modules) is a 500."""
    if exc.status == 404:
        return exc
    return AdapterError(ADD_LORA_FAILED + exc.message, status=500, err_type="InternalServerError")


class AdapterRegistry:
    """Registered adapter names -> paths, plus the LRU of loaded weights (thread-safe).

    Two locks: ``_lock`` guards the dictionaries for short reads and writes (listings, cache
    hits); ``_updating`` is held across each check-read-insert that may touch the disk (load,
    unload, a request's cache miss), so concurrent loads of one name cannot all pass the
    duplicate check, and an unload cannot be undone by a resolve that read the path before it.
    """

    def __init__(self, base: BaseModelInfo, *, adapter_dir: Path | None, max_cpu_loras: int):
        self.base = base
        self.adapter_dir = Path(adapter_dir) if adapter_dir else None
        self.max_cpu_loras = max_cpu_loras
        self._paths: dict[str, str] = {}
        self._cache: OrderedDict[str, Adapter] = OrderedDict()
        self._versions: dict[str, int] = {}
        self._lock = threading.RLock()
        self._updating = threading.Lock()
        self.loads = 0  # disk loads, for /metrics

    def registered(self) -> dict[str, str]:
        with self._lock:
            return dict(self._paths)

    def cached_names(self) -> list[str]:
        with self._lock:
            return list(self._cache)

    def load(self, name: str, path: str, *, inplace: bool = False) -> Adapter:
        """load_lora_adapter: validate and load now; a failure leaves the registry unchanged."""
        if not name or not path:
            raise AdapterError("Both 'lora_name' and 'lora_path' must be provided.", err_type="InvalidUserInput")
        if name == self.base.served_name:
            raise AdapterError(f"The lora adapter name {name!r} is the base model's name.",
                               err_type="InvalidUserInput")
        with self._updating:
            with self._lock:
                if name in self._paths and not inplace:
                    raise AdapterError(
                        f"The lora adapter '{name}' has already been loaded. If you want to load the adapter "
                        "in place, set 'load_inplace' to True.", err_type="InvalidUserInput")
                version = self._versions.get(name, 0) + 1
            try:
                weights = load_adapter(name, path, self.base, version=version)
            except AdapterError as exc:
                raise _load_failure(exc) from None
            except Exception as exc:  # noqa: BLE001 - anything else a bad adapter makes torch raise
                raise _load_failure(AdapterError(f"adapter {name!r}: {exc}")) from None
            self._register(weights, str(path))
        return weights

    def unload(self, name: str) -> None:
        with self._updating, self._lock:
            if name not in self._paths:
                raise AdapterError(f"The lora adapter '{name}' cannot be found.", status=404,
                                   err_type="NotFoundError")
            del self._paths[name]
            self._cache.pop(name, None)

    def resolve(self, name: str) -> Adapter | None:
        """Weights for a request's model name; None when no such adapter exists anywhere."""
        cached = self._cached(name)
        if cached is not None:
            return cached
        with self._updating:
            cached = self._cached(name)  # loaded by another thread while this one waited
            if cached is not None:
                return cached
            with self._lock:
                path = self._paths.get(name)
                version = self._versions.get(name, 0)
            if path is None:
                path = self._resolver_path(name)
                if path is None:
                    return None
                version += 1
            weights = load_adapter(name, path, self.base, version=version)
            self._register(weights, path)
        return weights

    def _cached(self, name: str) -> Adapter | None:
        with self._lock:
            cached = self._cache.get(name)
            if cached is not None:
                self._cache.move_to_end(name)
            return cached

    def _register(self, weights: Adapter, path: str) -> None:
        with self._lock:
            self._versions[weights.name] = weights.version
            self._paths[weights.name] = path
            self._put(weights)

    def _resolver_path(self, name: str) -> str | None:
        if self.adapter_dir is None or "/" in name or name.startswith(".") or "\\" in name:
            return None
        candidate = self.adapter_dir / name
        return str(candidate) if (candidate / CONFIG).is_file() else None

    def _put(self, weights: Adapter) -> None:
        self.loads += 1
        self._cache[weights.name] = weights
        self._cache.move_to_end(weights.name)
        while len(self._cache) > self.max_cpu_loras:
            self._cache.popitem(last=False)
