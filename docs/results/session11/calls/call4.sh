#!/usr/bin/env bash
# Session 11, call 4: conv8 (batch 1024) A (bf16 operands) against C (A + one-pass padded copies
# for the shifted-view weight gradient, B's batch rule reverted), caches warm from call 3; then
# MobileNetV2-224 (batch 128) with build A, TF32 and bf16 operands, caches warmed by untimed runs
# with the same seed; PyTorch fp32/TF32 and bf16-autocast in the same runs.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
left() { echo $(( ${DEADLINE:-450} - SECONDS )); }
for b in A C; do xz -dkf $DEV/autoslim-$b.xz && chmod +x $DEV/autoslim-$b; done
for b in A C; do for p in tf32 bf16; do
  printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=%s exec %s "$@"\n' $p $DEV/autoslim-$b > $DEV/$b-$p; chmod +x $DEV/$b-$p
done; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "== warm-up: C on conv8, A on MobileNetV2 ($(left) s left)"
( timeout 150 $DEV/C-bf16 bench --model conv8 --batch 1024 --iters 24 --warmup 1 --mode plain sandwich > /tmp/w-C.log 2>&1; echo "C conv8: exit $? $(grep -o 'not finite.*' /tmp/w-C.log | head -1)" ) &
( timeout 150 $DEV/A-bf16 bench --model conv8 --batch 1024 --iters 24 --warmup 1 --mode plain sandwich > /tmp/w-A.log 2>&1; echo "A conv8: exit $?" ) &
for v in A-tf32 A-bf16; do
  ( timeout 170 $DEV/$v bench --model mobilenet_v2 --batch 128 --iters 11 --warmup 1 --mode plain sandwich > /tmp/w-mb-$v.log 2>&1; echo "$v mbv2: exit $? $(grep -o 'not finite.*' /tmp/w-mb-$v.log | head -1) $(grep 'sandwich step:' /tmp/w-mb-$v.log)" ) &
done
wait
cp /tmp/w-*.log $OUT/
echo "== conv8 ($(left) s left)"
MODELS=conv8 MODES="plain sandwich" ITERS=20 WARMUP=3 TIMEOUT=50 PEERS="pytorch" \
  VARIANTS="A-bf16=$DEV/A-bf16:kernel-gemm C-bf16=$DEV/C-bf16:kernel-gemm" \
  timeout 160 scripts/bench_gpu.sh /tmp/b-conv8 2>&1 | tail -n 6
tar czf $OUT/bench-conv8.tgz -C /tmp/b-conv8 .
echo "== mobilenet_v2 ($(left) s left)"
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=50 PEERS="pytorch pytorch-bf16" \
  VARIANTS="A-tf32=$DEV/A-tf32:kernel-gemm A-bf16=$DEV/A-bf16:kernel-gemm" \
  timeout $(( $(left) - 10 )) scripts/bench_gpu.sh /tmp/b-mbv2 2>&1 | tail -n 8
tar czf $OUT/bench-mbv2.tgz -C /tmp/b-mbv2 .
ls -la $OUT
