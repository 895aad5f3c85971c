#!/usr/bin/env bash
# The GPU figures of issue 6 in one run on a lent device (bench/README.md, "Training"):
#   make gpu-wheels     # here, once: bitsandbytes for the device's Python 3.12, into .whl/
#   run(command="bash bench/gpu_check.sh", carry=[".whl"], timeout_s=540)
# The device image has torch, transformers and peft; bitsandbytes (QLoRA) travels as a wheel.
set -uo pipefail
OUT=${OUT:-$(mktemp -d)}
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', \
transformers.__version__, 'peft', peft.__version__)" 2>&1 | tee -a "$OUT/gpu.txt"
timeout 480 python3 bench/train.py --mode gpu --examples 256 > "$OUT/train_gpu.json" 2> "$OUT/train_gpu.err"
echo "bench/train.py --mode gpu exited $?"
cat "$OUT/train_gpu.json"
tail -20 "$OUT/train_gpu.err"
