#!/usr/bin/env bash
# Session 15, call 3: the jump from 6/12 to 7/12 (channels 32/64/128/256 -> 40/80/152/304 after
# alignment to 8): call 2's per-width profile put it in the GEMM convs (+80 %), the weight
# gradient's products (+77 %) and the layout copies (+38 %), for +36 % arithmetic. Each width's
# pass of conv8 (batch 1024, build P, bf16) with the GEMM operands' channels aligned to 16, 32
# and 64 (AUTOSLIM_GEMM_ALIGN; the default is 8 for bf16).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-P.xz && chmod +x $DEV/autoslim-P
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
export AUTOSLIM_GEMM_PRECISION=bf16
mkdir -p /tmp/r
for align in 16 32 64; do
  AUTOSLIM_GEMM_ALIGN=$align timeout 100 $DEV/autoslim-P bench --model conv8 --batch 1024 --iters 5 --warmup 2 --mode widths > /tmp/r/widths-align$align.log 2>&1
  echo "align $align: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-align$align.log | awk '{printf "%s=%s ", $2, $4}')"
done
tar czf $OUT/call3.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
