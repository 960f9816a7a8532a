#!/usr/bin/env bash
# One-shot GPU check of ContrastiveAligner (issue 9), for a lent CUDA machine.
#
# Runs, from the repository root, in at most 8 minutes (timeouts of 150 s for
# the tests and 330 s for the benchmark; about 5 expected on one H100):
#   1. the CUDA tests (pytest marker "cuda"; pyproject's addopts add
#      --doctest-modules over the package, which the check does not need);
#   2. benchmarks/bench_contrastive.py --gpu: n = 1e6 pairs, d = 256, hidden
#      1024, n_components 256, batch 4096, 10 epochs -- hand loop, fit with
#      early_stopping=False, fit with the defaults, fit with compile=True:
#      pairs/s, s/epoch, fixed costs, validation share, peak GPU memory and
#      the issue's targets, met or not.
# Everything is printed and, when $OUT is set, also written to $OUT/.
#
# Usage: bash benchmarks/gpu_check.sh   (PYTHON=... to pick the interpreter;
#        EPOCHS=... to shorten the benchmark if time is short)
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
EPOCHS=${EPOCHS:-10}
OUT_DIR=${OUT:-}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

log() {
    if [ -n "$OUT_DIR" ]; then tee -a "$OUT_DIR/$1"; else cat; fi
}

{
    date
    uptime
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
    "$PYTHON" - <<'EOF'
import sys
import torch
print("python", sys.version.split()[0], "torch", torch.__version__,
      "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if not torch.cuda.is_available():
    sys.exit("No CUDA device visible to torch: nothing to check here.")
print("device", torch.cuda.get_device_name())
EOF
} 2>&1 | log environment.txt
if [ "${PIPESTATUS[0]}" -ne 0 ]; then
    echo "gpu_check: the environment check failed; stopping." >&2
    exit 1
fi

echo "== CUDA tests ==" | log cuda_tests.txt
timeout 150 "$PYTHON" -m pytest -m cuda -o addopts= -p no:cacheprovider -q \
    -rs tests 2>&1 | log cuda_tests.txt
tests_status=${PIPESTATUS[0]}

echo "== bench_contrastive.py --gpu ($EPOCHS epochs) ==" | log bench_gpu.txt
timeout 330 "$PYTHON" benchmarks/bench_contrastive.py --gpu --epochs "$EPOCHS" \
    2>&1 | log bench_gpu.txt
bench_status=${PIPESTATUS[0]}

echo "gpu_check: tests exit $tests_status, benchmark exit $bench_status" \
    | log environment.txt
[ "$tests_status" -eq 0 ] && [ "$bench_status" -eq 0 ]
