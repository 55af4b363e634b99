#!/usr/bin/env bash
# Session 26, call 1. Build A = session 25's final code (the depthwise weight gradient's kernel
# reads bands of output rows, one band by default). (1) The slimmable crate's CUDA tests of the
# depthwise op, the banded kernel's included; (2) MobileNetV2-224 (batch 128) each width's pass
# with one band (0) and with bands up to 262 144 and 1 048 576 threads; (3) its plain and
# sandwich steps with the same settings against PyTorch in the same call.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-A.xz $DEV/slimmable-tests-A.xz && chmod +x $DEV/autoslim-A $DEV/slimmable-tests-A
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r
export AUTOSLIM_KERNEL_CACHE=/tmp/c AUTOSLIM_WARM_UP=off
echo "== (1) CUDA depthwise tests"
timeout 240 $DEV/slimmable-tests-A on_cuda 2>&1 | tail -40 | tee /tmp/r/cuda-tests.log | grep -E "depthwise|test result|FAILED|panicked" | head -40
for t in 262144 1048576; do
  printf '#!/bin/sh\nAUTOSLIM_DEPTHWISE_WGRAD_THREADS=%s exec %s "$@"\n' $t "$DEV/autoslim-A" > $DEV/autoslim-A-$t; chmod +x $DEV/autoslim-A-$t
done
echo "== (2) MobileNetV2 widths"
for v in A A-262144 A-1048576; do
  timeout 120 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1
  echo "-- $v exit $?"; grep "forward+backward" /tmp/r/widths-$v.log
done
echo "== (3) MobileNetV2 plain and sandwich"
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=100 \
  VARIANTS="A=$DEV/autoslim-A:gemm-all A262k=$DEV/autoslim-A-262144:gemm-all A1M=$DEV/autoslim-A-1048576:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -9
tar czf $OUT/call1.tgz -C /tmp/r .
