#!/usr/bin/env bash
# Session 27, call 4. Build D = C with the depthwise weight gradient's partial-sum rows padded
# to an odd number of 32-byte sectors (call 2's Nsight profile: at 2/12 the first block's
# weight gradient, 45 rows of 5 888 sums, took 874 µs against 175 with the sums side by side).
# (1) The depthwise CUDA tests (D). (2) Cold first steps of D (empty kernel cache, warm-up
# processes on, as shipped). (3) C pre-run. (4) MobileNetV2-224 plain and sandwich: D, C,
# PyTorch; conv8: D, PyTorch. (5) MobileNetV2 widths: C then D.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-C.xz $DEV/autoslim-D.xz $DEV/slimmable-tests-D.xz && chmod +x $DEV/autoslim-C $DEV/autoslim-D $DEV/slimmable-tests-D
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r
export AUTOSLIM_KERNEL_CACHE=/tmp/c
echo "== (1) CUDA tests"
timeout 60 $DEV/slimmable-tests-D depthwise::tests::on_cuda depthwise::cube > /tmp/r/cuda-tests.log 2>&1; echo "tests: exit $?"
grep -E "test result|FAILED|panicked" /tmp/r/cuda-tests.log | head -12
echo "== (2) cold first steps, D"
for m in mobilenet_v2:128:8 conv8:1024:14; do
  IFS=: read model batch iters <<< "$m"
  timeout 120 $DEV/autoslim-D bench --model $model --batch $batch --iters $iters --warmup 0 --mode sandwich plain > /tmp/r/cold-$model.log 2>&1
  echo "cold $model: exit $? $(grep -o 'first step (process[^)]*): [0-9.]* s' /tmp/r/cold-$model.log)"
done
export AUTOSLIM_WARM_UP=off
echo "== (3) pre-run C"
timeout 60 $DEV/autoslim-C bench --model mobilenet_v2 --batch 128 --iters 4 --warmup 2 --mode sandwich plain > /tmp/r/prerun-C.log 2>&1; echo "prerun C: exit $? $(grep -o 'sandwich step: [0-9.]* ms' /tmp/r/prerun-C.log)"
echo "== (4) benches"
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=60 VARIANTS="D=$DEV/autoslim-D:gemm-all C=$DEV/autoslim-C:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -6
MODELS=conv8 MODES="plain sandwich" ITERS=20 WARMUP=3 TIMEOUT=60 VARIANTS="D=$DEV/autoslim-D:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -5
echo "== (5) widths, C then D"
for v in C D; do
  timeout 45 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1; echo "$v: exit $?"
  grep -o "width [0-9.]*: forward+backward [0-9.]* ms" /tmp/r/widths-$v.log | awk '{printf "%s %s  ", $2, $4} END {print ""}'
done
tar czf $OUT/call4.tgz -C /tmp/r .
