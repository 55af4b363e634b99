#!/usr/bin/env bash
# Session 27, call 3: call 2's comparison again, with every variant pre-run (call 2 timed A, and
# C partly, while they still compiled). Builds A (session 26's code) and C (pointwise convs on
# the GEMM kernels at any width; the depthwise weight gradient's partial sums channel and tap
# first); C-min1 = C with the stem on the GEMM kernels too (AUTOSLIM_GEMM_MIN_CHANNELS=1).
# (1) The GEMM conv's CUDA test with the new thin pointwise shapes, beside (2) the pre-runs.
# (3) MobileNetV2-224 batch 128 plain and sandwich: C, A, C-min1, PyTorch; conv8 batch 1024: C,
# C-min1, PyTorch. (4) MobileNetV2 widths: A and C, in turn.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-A.xz $DEV/autoslim-C.xz $DEV/slimmable-tests-C.xz && chmod +x $DEV/autoslim-A $DEV/autoslim-C $DEV/slimmable-tests-C
printf '#!/bin/sh\nAUTOSLIM_GEMM_MIN_CHANNELS=1 exec %s "$@"\n' "$DEV/autoslim-C" > $DEV/autoslim-C-min1; chmod +x $DEV/autoslim-C-min1
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r
tar xJf $DEV/kc.txz -C /tmp
export AUTOSLIM_KERNEL_CACHE=/tmp/c AUTOSLIM_WARM_UP=off
echo "== (1) CUDA test (background) and (2) pre-runs"
timeout 200 $DEV/slimmable-tests-C gemm_conv::tests::on_cuda::gemm_conv_matches > /tmp/r/cuda-tests.log 2>&1 &
TESTS=$!
for v in A C C-min1; do
  timeout 120 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 6 --warmup 2 --mode sandwich plain > /tmp/r/prerun-$v.log 2>&1; echo "prerun $v: exit $? $(grep -o 'sandwich step: [0-9.]* ms' /tmp/r/prerun-$v.log)"
done
for v in C C-min1; do
  timeout 90 $DEV/autoslim-$v bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode sandwich plain > /tmp/r/prerun-conv8-$v.log 2>&1; echo "prerun conv8 $v: exit $? $(grep -o 'sandwich step: [0-9.]* ms' /tmp/r/prerun-conv8-$v.log)"
done
wait $TESTS; echo "tests: exit $?"; grep -E "test result|FAILED|panicked" /tmp/r/cuda-tests.log | head -12
echo "== (3) benches"
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=100 VARIANTS="C=$DEV/autoslim-C:gemm-all A=$DEV/autoslim-A:gemm-all C-min1=$DEV/autoslim-C-min1:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -7
MODELS=conv8 MODES="plain sandwich" ITERS=20 WARMUP=3 TIMEOUT=100 VARIANTS="C=$DEV/autoslim-C:gemm-all C-min1=$DEV/autoslim-C-min1:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -6
echo "== (4) widths, A then C"
for v in A C; do
  timeout 100 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1; echo "$v: exit $?"
  grep -o "width [0-9.]*: forward+backward [0-9.]* ms" /tmp/r/widths-$v.log | awk '{printf "%s %s  ", $2, $4} END {print ""}'
done
tar czf $OUT/call3.tgz -C /tmp/r .
XZ_OPT=-T8 tar cJf $OUT/kc.txz -C /tmp c
