#!/usr/bin/env bash
# Session 31, call 1. The CUDA layer tests of D (session 30's stem columns kernel, and this
# session's BatchNorm sums four images at a time) in the background; pre-runs, then plain and
# sandwich steps of D against A (session 28's kernels) and PyTorch, MobileNetV2-224 batch 128
# and conv8 batch 1024, on session 30's kernel cache.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-A.xz $DEV/autoslim-D.xz $DEV/slimmable-tests-D.xz && chmod +x $DEV/autoslim-A $DEV/autoslim-D $DEV/slimmable-tests-D
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r; tar xJf $DEV/kc/kc.txz -C /tmp
export AUTOSLIM_KERNEL_CACHE=/tmp/c
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "== CUDA tests (background) and pre-runs"
timeout 300 $DEV/slimmable-tests-D im2col batch_norm depthwise > /tmp/r/cuda-tests.log 2>&1 &
TESTS=$!
for v in D A; do
  timeout 70 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 12 --warmup 2 --mode sandwich plain > /tmp/r/prerun-mbv2-$v.log 2>&1; echo "prerun mbv2 $v: exit $?"
  timeout 40 $DEV/autoslim-$v bench --model conv8 --batch 1024 --iters 12 --warmup 2 --mode sandwich plain > /tmp/r/prerun-conv8-$v.log 2>&1; echo "prerun conv8 $v: exit $?"
done
wait $TESTS; echo "tests: exit $?"; grep -E "test result|FAILED|panicked" /tmp/r/cuda-tests.log | head -12
echo "== benches"
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=50 VARIANTS="D=$DEV/autoslim-D:gemm-all A=$DEV/autoslim-A:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -6
MODELS=conv8 MODES="plain sandwich" ITERS=20 WARMUP=3 TIMEOUT=40 VARIANTS="D=$DEV/autoslim-D:gemm-all A=$DEV/autoslim-A:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -6
tar czf $OUT/call1.tgz -C /tmp/r .
XZ_OPT=-T8 tar cJf $OUT/kc.txz -C /tmp c
