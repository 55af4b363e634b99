#!/usr/bin/env bash
# Session 28, call 1. Builds A (session 27's code, 26e3c12) and B (A + the depthwise kernels
# rewritten: four outputs of a row per thread with branch-free loads; the stride-1 input
# gradient as the forward kernel with the weight flipped; the weight gradient as one cube per
# channel and chunk of output rows, its threads' per-tap sums added in shared memory).
# (1) B's depthwise CUDA tests (background) beside (2) pre-runs of A and B (MobileNetV2-224,
# batch 128, every width's kernels compiled); (3) plain and sandwich steps: B, A, PyTorch;
# (4) each width's pass, A then B; (5) Nsight Compute's per-kernel times of B at 2/12 and full.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-A.xz $DEV/autoslim-B.xz $DEV/slimmable-tests-B.xz && chmod +x $DEV/autoslim-A $DEV/autoslim-B $DEV/slimmable-tests-B
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r
export AUTOSLIM_KERNEL_CACHE=/tmp/c
echo "== (1) CUDA tests (background) and (2) pre-runs"
timeout 240 $DEV/slimmable-tests-B depthwise --test-threads=1 > /tmp/r/cuda-tests.log 2>&1 &
TESTS=$!
for v in B A; do
  timeout 120 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 12 --warmup 2 --mode sandwich plain > /tmp/r/prerun-$v.log 2>&1; echo "prerun $v: exit $? $(grep -o 'sandwich step: [0-9.]* ms' /tmp/r/prerun-$v.log)"
done
wait $TESTS; echo "tests: exit $?"; grep -E "test result|FAILED|panicked" /tmp/r/cuda-tests.log | head -12
echo "== (3) benches"
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=90 VARIANTS="B=$DEV/autoslim-B:gemm-all A=$DEV/autoslim-A:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -6
echo "== (4) widths, A then B"
for v in A B; do
  timeout 80 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1; echo "$v: exit $?"
  grep -o "width [0-9.]*: forward+backward [0-9.]* ms" /tmp/r/widths-$v.log | awk '{printf "%s %s  ", $2, $4} END {print ""}'
done
echo "== (5) ncu of B"
export AUTOSLIM_WARM_UP=off
timeout 100 /usr/local/cuda/bin/ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv --log-file /tmp/r/ncu-widths-B.csv \
  $DEV/autoslim-B bench --model mobilenet_v2 --batch 128 --mode widths --ratio 2/12 1 --iters 1 --warmup 1 > /tmp/r/ncu-widths-B.log 2>&1
echo "ncu: exit $?"; python3 scripts/ncu_passes.py /tmp/r/ncu-widths-B.csv 2/12,1 2>&1 | head -30
gzip -f /tmp/r/ncu-widths-B.csv
tar czf $OUT/call1.tgz -C /tmp/r .
XZ_OPT=-T8 tar cJf $OUT/kc.txz -C /tmp c
ls -la $OUT
