#!/usr/bin/env bash
# Session 19, call 1. Build A = session 18's code + GEMM tilings with warps over the columns
# (`/RxC`), a named tile instruction (`@MxNxK`) and swizzled stages (`+swizzle`, mma only).
# conv8 plain step (batch 1024, bf16) with each tiling, in its own process (cold kernel cache:
# its warm-up compiles); the default first and last.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-A.xz && chmod +x $DEV/autoslim-A
mkdir -p /tmp/kc && export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > /tmp/r/gpu.txt 2>&1
plain() { # label kernel stages
  AUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_GEMM_KERNEL=$2 AUTOSLIM_GEMM_STAGES=$3 timeout 75 $DEV/autoslim-A bench --model conv8 --batch 1024 --iters 8 --warmup 3 --mode plain > /tmp/r/plain-$1.log 2>&1
  echo "$1 ($2 $3): exit $? | $(grep -o 'plain step: .*' /tmp/r/plain-$1.log) | $(grep -o 'time to the first step.*' /tmp/r/plain-$1.log) $(grep -o '[0-9]* kernel launches ran.*' /tmp/r/plain-$1.log | cut -c1-200) $(grep -o '[0-9]* conv passes fell back.*' /tmp/r/plain-$1.log)"
}
C=simple_sync_cyclic/cmma; M=simple_sync_cyclic/mma
plain default $C default
plain mma $M 128x128x64/4
plain mma-swz $M 128x128x64/4+swizzle
plain mma-2x2-swz $M 128x128x64/2x2+swizzle
plain cmma-2x2 $C 128x128x64/2x2
plain cmma-2x2-16 $C 128x128x64/2x2@16x16x16
plain cmma-4-16 $C 128x128x64/4@16x16x16
plain mma-4x2-swz $M 256x128x64/4x2+swizzle
plain mma-2x2-k32-swz $M 128x128x32/2x2+swizzle
plain mma-swz-dbl $M 128x128x64/4+swizzle+double
plain default2 $C default
tar czf $OUT/call1.tgz -C /tmp/r .
