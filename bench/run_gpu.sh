#!/usr/bin/env bash
# On a machine with a CUDA GPU (any: H100, H200, ...) and a CUDA build of
# Torch: build the example kernels (examples/relu, examples/activation,
# examples/rmsnorm) for this machine's variant and, at the same time, the
# community activation kernel from the sources in .community/ (exported here
# beforehand by `python bench/community.py export`; skipped when absent), run
# the examples' kernels_ci tests, run `kernels benchmark` on each, run
# transformers' Llama kernelized with the built LlamaRMSNorm
# (tests/llama_rmsnorm_check.py, when transformers is importable), then
# bench/kernels_gpu.py (the bandwidth report, with the community column).
#
#   bench/run_gpu.sh OUT_DIR [arguments for bench/kernels_gpu.py]
#
# The GPU only names the report (nothing is tuned by name): OUT_DIR gets
# kernel-performance-<gpu>.md (e.g. -h100, -h200; also copied to docs/ of this
# checkout), kernels-<gpu>.json, kernels-benchmark.txt (the `kernels
# benchmark` tables), llama.txt, and logs.tar.gz (every step's log and the
# benchmark JSON files). Exits non-zero if a build, a test or a check fails
# (a failed community build drops its column and makes the status non-zero,
# but the benchmark still runs).
#
# Environment: STEPS (default "build tests kernels-benchmark llama bench":
# the steps to run; a later call on the same machine can run "bench" alone,
# on the builds the first left), PYTHON (default python3), CORES (default: all), HOST_CC and
# HOST_CXX (default /usr/bin/cc and /usr/bin/c++), KERNEL_BUILDER_CACHE (default: a
# temporary directory), TOTAL_BUDGET_S (default 330: the benchmark drops its
# least important cases beyond this many seconds of the whole script).
# Python packages missing on the machine (or too old there) are installed from
# wheels in .whl/ when that folder exists; bench/GPU_RUN.md lists them.
set -uo pipefail

OUT=${1:?usage: bench/run_gpu.sh OUT_DIR [kernels_gpu.py arguments]}
shift
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO" || exit 2
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

PY=${PYTHON:-python3}
CORES=${CORES:-$(nproc)}
# The system compiler, not whatever CC/CXX the environment names: the GPU
# machines we use set CC/CXX to a wrapper (/opt/gcc) with which the kernels'
# TORCH_CHECK errors segfault instead of raising (seen in the kernels_ci
# tests; the same build with /usr/bin/c++ raises). HOST_CC/HOST_CXX override.
export CC=${HOST_CC:-/usr/bin/cc}
export CXX=${HOST_CXX:-/usr/bin/c++}
export CUDAHOSTCXX=$CXX
if [ -d /usr/local/cuda/bin ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
WORK=$(mktemp -d)
export KERNEL_BUILDER_CACHE=${KERNEL_BUILDER_CACHE:-$WORK/kernel-builder-cache}
export PYTHONPATH="$REPO/python/src:$REPO/builder/src${PYTHONPATH:+:$PYTHONPATH}"

STEPS=" ${STEPS:-build tests kernels-benchmark llama bench} "
wants() { [[ "$STEPS" == *" $1 "* ]]; }
start=$(date +%s)
step() { echo "[$(( $(date +%s) - start ))s] $*"; }
status=0

if [ -d .whl ]; then
  step "installing Python packages from .whl/"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$WORK/site" .whl/*.whl || exit 2
  export PYTHONPATH="$PYTHONPATH:$WORK/site"
fi

KERNELS=(relu activation rmsnorm)
LOGS="$WORK/logs"
mkdir -p "$LOGS"
finish() {
  tar -czf "$OUT/logs.tar.gz" -C "$LOGS" . 2>/dev/null
  step "done (status $1); report: $OUT/${REPORT:-kernel-performance-*.md}"
  rm -rf "$WORK"
  exit "$1"
}

"$PY" - <<'EOF' || exit 2
import torch
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"GPU {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}")
assert torch.cuda.is_available(), "this script needs a CUDA GPU and a CUDA build of Torch"
EOF
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1
GPU_NAME=$("$PY" -c "import torch; print(torch.cuda.get_device_name(0))") || exit 2
REPORT=$(PYTHONPATH="$REPO/bench" "$PY" -c "import sys, gpu_report; print(gpu_report.report_name(sys.argv[1]))" "$GPU_NAME") || exit 2
SLUG=${REPORT#kernel-performance-}
SLUG=${SLUG%.md}
step "GPU: $GPU_NAME -> report $REPORT"

VARIANT=$("$PY" -c "
from pathlib import Path
from kernel_builder.config import load_config
from kernel_builder.build.local import choose_backend
print(choose_backend(load_config(Path('examples/activation')))[1])") || exit 2
step "building the $VARIANT variants with $CORES cores"

# The kernels build in parallel (each has one CUDA file; nvcc compiles its
# architectures on --cores threads), the community kernel beside them.
# In the checkout (ignored), so that a later "bench"-only call finds it.
COMMUNITY_BUILD="$REPO/.community-build"
community_pid=
if ! wants build; then
  step "build skipped (STEPS): using the existing builds"
elif [ -f .community/SOURCE.json ]; then
  rm -rf "$COMMUNITY_BUILD"
  "$PY" bench/community.py build --source .community --build-dir "$COMMUNITY_BUILD" \
    >"$LOGS/build-community.log" 2>&1 &
  community_pid=$!
else
  step "no .community/ (run 'python bench/community.py export' before the run): no community column"
fi
pids=()
for kernel in "${KERNELS[@]}"; do
  wants build || continue
  "$PY" -m kernel_builder build "examples/$kernel" --variant "$VARIANT" --cores "$CORES" \
    >"$LOGS/build-$kernel.log" 2>&1 &
  pids+=($!)
done
for i in "${!pids[@]}"; do
  kernel=${KERNELS[$i]}
  if wait "${pids[$i]}"; then
    step "built examples/$kernel"
  else
    step "BUILD FAILED: examples/$kernel"
    tail -40 "$LOGS/build-$kernel.log"
    status=1
  fi
done
[ $status = 0 ] || finish $status
COMMUNITY_ARGS=()
if [ -n "$community_pid" ]; then
  if wait "$community_pid"; then
    step "built the community kernel: $(tail -1 "$LOGS/build-community.log")"
    COMMUNITY_ARGS=(--community-dir "$COMMUNITY_BUILD")
  else
    step "COMMUNITY BUILD FAILED (no community column): $(tail -1 "$LOGS/build-community.log")"
    cp "$COMMUNITY_BUILD/build.log" "$LOGS/build-community-commands.log" 2>/dev/null
    tail -30 "$COMMUNITY_BUILD/build.log" 2>/dev/null
    status=1
  fi
elif [ -f "$COMMUNITY_BUILD/BUILD.json" ]; then
  COMMUNITY_ARGS=(--community-dir "$COMMUNITY_BUILD")
fi

for kernel in "${KERNELS[@]}"; do
  wants tests || break
  if PYTHONPATH="$REPO/examples/$kernel/build/$VARIANT:$PYTHONPATH" \
      "$PY" -m pytest -q -m kernels_ci -p no:cacheprovider "examples/$kernel/tests" \
      >"$LOGS/tests-$kernel.log" 2>&1; then
    step "tests of examples/$kernel: $(tail -1 "$LOGS/tests-$kernel.log")"
  else
    step "TESTS FAILED: examples/$kernel"
    grep -E "^(FAILED|ERROR)" "$LOGS/tests-$kernel.log" | head -20
    tail -3 "$LOGS/tests-$kernel.log"
    status=1
  fi
done

# `kernels benchmark` of each example (the runner verifies every workload).
for kernel in "${KERNELS[@]}"; do
  wants kernels-benchmark || break
  step "kernels benchmark examples/$kernel"
  if "$PY" -m kernels benchmark "examples/$kernel" --no-progress --output "$LOGS/benchmark-$kernel.json" \
      >>"$OUT/kernels-benchmark.txt" 2>&1; then
    :
  else
    step "KERNELS BENCHMARK FAILED: examples/$kernel"
    status=1
  fi
done
[ -f "$OUT/kernels-benchmark.txt" ] && cat "$OUT/kernels-benchmark.txt"

if ! wants llama; then
  :
elif "$PY" -c "import transformers" 2>/dev/null; then
  for dtype in float32 bfloat16; do
    if "$PY" tests/llama_rmsnorm_check.py examples/rmsnorm --device cuda --dtype "$dtype" \
        >>"$OUT/llama.txt" 2>&1; then
      step "transformers Llama with the built LlamaRMSNorm ($dtype): $(grep RESULT "$OUT/llama.txt" | tail -1)"
    else
      step "TRANSFORMERS LLAMA CHECK FAILED ($dtype)"
      tail -20 "$OUT/llama.txt"
      status=1
    fi
  done
else
  step "transformers is not importable: Llama check skipped"
fi

# The benchmark skips its least important cases once the whole script has
# run for TOTAL_BUDGET_S seconds (default 330).
wants bench || finish $status
budget=$(( ${TOTAL_BUDGET_S:-330} - ($(date +%s) - start) ))
[ "$budget" -gt 60 ] || budget=60
step "running bench/kernels_gpu.py (time budget ${budget}s)"
PYTHONUNBUFFERED=1 "$PY" bench/kernels_gpu.py --output "$OUT/$REPORT" --json "$OUT/kernels-$SLUG.json" \
  --budget-s "$budget" "${COMMUNITY_ARGS[@]}" "$@" 2>&1 | tee "$LOGS/bench.log"
bench_status=${PIPESTATUS[0]}
if [ -f "$OUT/$REPORT" ]; then
  cp "$OUT/$REPORT" "docs/$REPORT"
fi
[ "$bench_status" = 0 ] || status=1
finish $status
