#!/usr/bin/env bash
# The GPU figures in one run on a lent device (bench/README.md, "GPU"):
#   make gpu-wheels     # here, once: the wheels the device image lacks (bitsandbytes, starlette, uvicorn, celery), into .whl/,
#                       # and SmolLM2's config + tokenizer into .gpu/smollm2-shape (its weights are too big to travel)
#   run(command="bash bench/gpu_check.sh", carry=[".whl", ".gpu"], timeout_s=540)
# 1. multi-LoRA serving: the embedded engine on the GPU, SmolLM2-135M's shape with random weights
#    (throughput depends on the shape alone), 16 adapters mixed vs base vs one at a time;
# 2. training: docsbot's recipe vs HF Trainer + PEFT on a Qwen2.5-0.5B-shaped model, LoRA and QLoRA.
# The device image has torch, transformers and peft; the rest travels as wheels.
set -uo pipefail
OUT=${OUT:-$(mktemp -d)}
SERVE_S=${SERVE_S:-170}  # 0 skips the serving part
TRAIN_S=${TRAIN_S:-330}
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', \
transformers.__version__, 'peft', peft.__version__)" 2>&1 | tee -a "$OUT/gpu.txt"
if [ -d .gpu/smollm2-shape ] && [ "$SERVE_S" -gt 0 ]; then
  python3 bench/random_weights.py .gpu/smollm2-shape /tmp/smollm2-random 2>&1 | tail -1
  timeout "$SERVE_S" python3 bench/serve.py --model smollm2 --base-model /tmp/smollm2-random --rounds 1 \
    > "$OUT/serve_gpu.json" 2> "$OUT/serve_gpu.err"
  echo "bench/serve.py --model smollm2 exited $?"
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps({k: r[k] for k in ('machine','targets')})); \
print(json.dumps(r['throughput'].get('ratios'))); print(json.dumps(r['throughput'].get('scenarios', r['throughput']))[:3000])" \
    "$OUT/serve_gpu.json" 2>&1 | head -c 5000
  tail -8 "$OUT/serve_gpu.err"
fi
timeout "$TRAIN_S" python3 bench/train.py --mode gpu --examples 256 > "$OUT/train_gpu.json" 2> "$OUT/train_gpu.err"
echo "bench/train.py --mode gpu exited $?"
cat "$OUT/train_gpu.json"
tail -20 "$OUT/train_gpu.err"
