#!/usr/bin/env bash
# Session 22, call 5. Build L4. MobileNetV2-224 sandwich (batch 128, 4 steps) with empty caches,
# needed against always on one machine, each with cubecl's compilation log (kernel ids only
# kept) to count the kernels compiled and each one's first run (compilation included).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-L4.xz && chmod +x $DEV/autoslim-L4
rm -rf /tmp/r; mkdir -p /tmp/r
export AUTOSLIM_GEMM_PRECISION=bf16
for checks in needed always; do
  AUTOSLIM_GEMM_CHECKS=$checks AUTOSLIM_KERNEL_CACHE=/tmp/c-$checks CUBECL_DEBUG_LOG=/tmp/r/full-$checks.log timeout 140 $DEV/autoslim-L4 bench --model mobilenet_v2 --batch 128 --iters 4 --warmup 0 --mode sandwich > /tmp/r/cold-mbv2-$checks.log 2>&1
  echo "$checks: exit $? $(grep -o 'first step[^;]*' /tmp/r/cold-mbv2-$checks.log | head -1) $(grep -h "step [0-9]*:" /tmp/r/cold-mbv2-$checks.log | awk '{printf "%s ", $4}')"
  awk '/^source:/{skip=1} /END_KERNEL_COMPILATION/{skip=0; print "----"; next} !skip' /tmp/r/full-$checks.log > /tmp/r/ids-$checks.log
  rm -f /tmp/r/full-$checks.log
  echo "  $(grep -c START_KERNEL_COMPILATION /tmp/r/ids-$checks.log) kernels, $(grep -c 'name: cubek_matmul' /tmp/r/ids-$checks.log) matmul"
done
tar cJf $OUT/call5.txz -C /tmp/r .
