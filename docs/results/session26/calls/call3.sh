#!/usr/bin/env bash
# Session 26, call 3. Build B = A with the depthwise weight gradient in bands by default
# (262 144 threads), SlimBatchNorm's running statistics set outright (no RunningState
# averaging launches), and tests that hold the process-wide settings. (1) The slimmable crate's
# CUDA tests on the harness's parallel threads (call 1: seven failed that way before the
# settings lock); (2) cold first steps of both models with B's defaults (empty kernel cache);
# (3) conv8 and MobileNetV2-224 plain and sandwich steps: B against A with bands (A262k, i.e. B
# without the running-statistics change) and PyTorch in the same call; (4) MobileNetV2 widths (B).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-A.xz $DEV/autoslim-B.xz $DEV/slimmable-tests-B.xz && chmod +x $DEV/autoslim-A $DEV/autoslim-B $DEV/slimmable-tests-B
printf '#!/bin/sh\nAUTOSLIM_DEPTHWISE_WGRAD_THREADS=262144 exec %s "$@"\n' "$DEV/autoslim-A" > $DEV/autoslim-A-262144; chmod +x $DEV/autoslim-A-262144
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r
export AUTOSLIM_KERNEL_CACHE=/tmp/c
echo "== (1) CUDA tests, parallel threads"
timeout 240 $DEV/slimmable-tests-B on_cuda > /tmp/r/cuda-tests.log 2>&1; echo "tests: exit $?"
grep -E "test result|FAILED|panicked" /tmp/r/cuda-tests.log | head -12
echo "== (2) cold first steps, B defaults"
for m in conv8:1024 mobilenet_v2:128; do
  model=${m%:*}; batch=${m#*:}
  timeout 150 $DEV/autoslim-B bench --model $model --batch $batch --iters 14 --warmup 0 --mode sandwich plain > /tmp/r/cold-$model.log 2>&1
  echo "cold $model: exit $? $(grep -o 'first step (process[^)]*): [0-9.]* s' /tmp/r/cold-$model.log)"
done
export AUTOSLIM_WARM_UP=off
echo "== (3) benches"
MODELS=conv8 MODES="plain sandwich" ITERS=20 WARMUP=3 TIMEOUT=100 VARIANTS="B=$DEV/autoslim-B:gemm-all A262k=$DEV/autoslim-A-262144:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -6
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=100 VARIANTS="B=$DEV/autoslim-B:gemm-all A262k=$DEV/autoslim-A-262144:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -6
echo "== (4) MobileNetV2 widths, B"
timeout 100 $DEV/autoslim-B bench --model mobilenet_v2 --batch 128 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-B.log 2>&1; echo "exit $?"
grep "forward+backward" /tmp/r/widths-B.log
tar czf $OUT/call3.tgz -C /tmp/r .
