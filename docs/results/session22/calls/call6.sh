#!/usr/bin/env bash
# Session 22, call 6. Build L4. MobileNetV2-224 sandwich (batch 128) with empty caches and the
# pointwise convs on the implicit-GEMM kernels (AUTOSLIM_CONV=gemm-all: bf16 operands, stages
# named or fitted, no autotuning) instead of burn's autotuned f32 matrix products, which were 152
# of the 313 kernels compiled in call 5 (86 s of first runs). 25 steps: the first, and how soon
# the steps reach call 4's steady 160-180 ms.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-L4.xz && chmod +x $DEV/autoslim-L4
rm -rf /tmp/r; mkdir -p /tmp/r
AUTOSLIM_CONV=gemm-all AUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_KERNEL_CACHE=/tmp/c-ga timeout 150 $DEV/autoslim-L4 bench --model mobilenet_v2 --batch 128 --iters 25 --warmup 0 --mode sandwich > /tmp/r/cold-mbv2-gemm-all.log 2>&1
echo "gemm-all: exit $? $(grep -o 'first step[^;]*' /tmp/r/cold-mbv2-gemm-all.log | head -1) | $(grep -o 'bounds checks [a-z-]*' /tmp/r/cold-mbv2-gemm-all.log | head -1)"
grep -h "step [0-9]*:" /tmp/r/cold-mbv2-gemm-all.log | awk '{printf "%s ", $4}'; echo
grep "sandwich step:" /tmp/r/cold-mbv2-gemm-all.log
tar czf $OUT/call6.tgz -C /tmp/r .
