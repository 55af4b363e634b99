#!/usr/bin/env bash
# Session 27, call 2. Build C = A + pointwise convs on the implicit-GEMM kernels at any width
# (im2col only for thin convs larger than 1×1) + the depthwise weight gradient's partial sums
# laid out channel and tap first (reduced over their contiguous last axis). (1) The CUDA tests
# of the GEMM conv and the depthwise op (C). (2) Pre-runs of C's sandwich (new shapes into the
# kernel cache). (3) MobileNetV2-224 batch 128 plain and sandwich: A, C, C with the stem on the
# GEMM kernels too (C-min1), PyTorch. (4) MobileNetV2 widths, C. (5) Nsight Compute, C, 2/12
# and full width.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-A.xz $DEV/autoslim-C.xz $DEV/slimmable-tests-C.xz && chmod +x $DEV/autoslim-A $DEV/autoslim-C $DEV/slimmable-tests-C
printf '#!/bin/sh\nAUTOSLIM_GEMM_MIN_CHANNELS=1 exec %s "$@"\n' "$DEV/autoslim-C" > $DEV/autoslim-C-min1; chmod +x $DEV/autoslim-C-min1
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r
cat $DEV/kc.tgz.* | tar xzf - -C /tmp
export AUTOSLIM_KERNEL_CACHE=/tmp/c AUTOSLIM_WARM_UP=off
echo "== (1) CUDA tests"
timeout 150 $DEV/slimmable-tests-C gemm_conv::tests::on_cuda depthwise::tests::on_cuda > /tmp/r/cuda-tests.log 2>&1; echo "tests: exit $?"
grep -E "test result|FAILED|panicked" /tmp/r/cuda-tests.log | head -12
echo "== (2) pre-runs"
for v in C C-min1; do
  timeout 90 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 3 --warmup 3 --mode sandwich > /tmp/r/prerun-$v.log 2>&1; echo "prerun $v: exit $? $(grep -o 'sandwich step: [0-9.]* ms' /tmp/r/prerun-$v.log)"
done
echo "== (3) benches"
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=100 VARIANTS="C=$DEV/autoslim-C:gemm-all A=$DEV/autoslim-A:gemm-all C-min1=$DEV/autoslim-C-min1:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -8
echo "== (4) widths, C"
timeout 100 $DEV/autoslim-C bench --model mobilenet_v2 --batch 128 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-C.log 2>&1; echo "exit $?"
grep "forward+backward" /tmp/r/widths-C.log
echo "== (5) ncu, C"
timeout 200 /usr/local/cuda/bin/ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv --log-file /tmp/r/ncu-widths-C.csv \
  $DEV/autoslim-C bench --model mobilenet_v2 --batch 128 --mode widths --ratio 2/12 1 --iters 1 --warmup 1 > /tmp/r/ncu-widths-C.log 2>&1
echo "ncu: exit $?"; python3 scripts/ncu_passes.py /tmp/r/ncu-widths-C.csv 2/12,1 2>&1 | head -12
gzip -f /tmp/r/ncu-widths-C.csv
tar czf $OUT/call2.tgz -C /tmp/r .
tar czf - -C /tmp c | split -b 15m - $OUT/kc.tgz.
