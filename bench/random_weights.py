"""A model folder's architecture with fresh random weights (config and tokenizer copied).

    python bench/random_weights.py SHAPE_DIR OUT_DIR

For throughput runs on a machine the real weights cannot travel to (the lent GPU takes 64 MiB of
files a call; SmolLM2's weights are 270 MB): the compute per token depends on the shape alone, so
serving figures measured on random weights with ``ignore_eos`` hold for the real model.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path


def main(shape_dir: Path, out_dir: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(shape_dir)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(out_dir)
    for path in shape_dir.iterdir():
        if path.name != "config.json" and path.suffix in (".json", ".jinja"):
            shutil.copy(path, out_dir / path.name)
    print(f"{out_dir}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters, random init")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
