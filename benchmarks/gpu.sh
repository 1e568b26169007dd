#!/usr/bin/env bash
# A short, complete GPU check, for when a GPU machine is at hand (about 5-10 minutes on one recent GPU):
#   1. the tests that need CUDA (tests/test_gpu.py: the proofs on the GPU, flash-attention-2 pruning like sdpa where
#      flash-attn is installed, the allocator's peak, the end-to-end bench at 3B widths);
#   2. the end-to-end benchmark at the published depth of Qwen2.5-Omni-3B (36 decoder + 32 audio-tower layers,
#      random bf16 weights) at 1,500 / 3,000 / 7,500 audio tokens, keep 1.0 / 0.7 / 0.3, fastv, headrouter and
#      wrap's default headrouter[diversity=0.95] (the diversity step's GPU cost),
#      flash-attention-2 when installed (else sdpa);
#   3. the same decoder-only, as the CPU table reports it.
# Install first as the README says, with a CUDA build of torch (pip install torch; pip install -e ".[test]").
#   usage: bash benchmarks/gpu.sh [OUT_DIR]        (default gpu-results)
set -euo pipefail
out="${1:-gpu-results}"
mkdir -p "$out"
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: this check needs a GPU')"
python -c "import torch, transformers; print(torch.__version__, transformers.__version__, torch.cuda.get_device_name())" \
  | tee "$out/versions.txt"
python -m pytest -q -p no:randomly tests/test_gpu.py tests/test_device.py 2>&1 | tee "$out/tests.txt"
headrouter bench --device cuda --with-audio-tower --layers 36 --prune-layer 2 --lengths 1500,3000,7500 \
  --keep 1,0.7,0.3 --methods 'fastv,headrouter,headrouter[diversity=0.95]' --runs 5 --decode-tokens 16 \
  --out "$out" --name end-to-end-3b-full
headrouter bench --device cuda --layers 36 --prune-layer 2 --lengths 1500,3000,7500 --keep 1,0.7,0.3 \
  --methods 'fastv,headrouter,headrouter[diversity=0.95]' --runs 5 --decode-tokens 16 --no-memory --out "$out" \
  --name decoder-3b-full
echo "GPU check done: $out"
