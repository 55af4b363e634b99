#!/usr/bin/env bash
# Session 27, call 5: does routing thin pointwise convs to the GEMM kernels pay in wall time?
# C (pointwise convs on the GEMM kernels at any width) against Cp = C with thin pointwise convs
# back on im2col (the one-line rule reverted), both with the depthwise change. Alternated:
# MobileNetV2-224 batch 128 sandwich steps twice each (PyTorch once), then the narrow widths'
# passes (2/12, 3/12, 4/12, full) twice each.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-C.xz $DEV/autoslim-Cp.xz && chmod +x $DEV/autoslim-C $DEV/autoslim-Cp
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r
export AUTOSLIM_KERNEL_CACHE=/tmp/c
for v in C Cp; do
  timeout 80 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 4 --warmup 2 --mode sandwich widths --ratio 2/12 3/12 4/12 1 > /tmp/r/prerun-$v.log 2>&1; echo "prerun $v: exit $? $(grep -o 'sandwich step: [0-9.]* ms' /tmp/r/prerun-$v.log)"
done
export AUTOSLIM_WARM_UP=off
MODELS=mobilenet_v2 MODES="sandwich" ITERS=10 WARMUP=3 TIMEOUT=60 VARIANTS="C=$DEV/autoslim-C:gemm-all Cp=$DEV/autoslim-Cp:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-1 2>&1 | tail -5
MODELS=mobilenet_v2 MODES="sandwich" ITERS=10 WARMUP=3 TIMEOUT=60 PEERS=" " VARIANTS="Cp=$DEV/autoslim-Cp:gemm-all C=$DEV/autoslim-C:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-2 2>&1 | tail -4
for v in C Cp C Cp; do
  timeout 40 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 8 --warmup 2 --mode widths --ratio 2/12 3/12 4/12 1 >> /tmp/r/widths-$v.log 2>&1
  echo "$v: $(grep -o "width [0-9.]*: forward+backward [0-9.]* ms" /tmp/r/widths-$v.log | tail -4 | awk '{printf "%s %s  ", $2, $4}')"
done
tar czf $OUT/call5.tgz -C /tmp/r .
