#!/usr/bin/env bash
# Session 11, call 1: bf16 operands for the implicit-GEMM convs against TF32 ones (same binary,
# AUTOSLIM_GEMM_PRECISION), and PyTorch fp32/TF32 and bf16-autocast, conv8, in one run.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
left() { echo $(( ${DEADLINE:-540} - SECONDS )); }
xz -dkf $DEV/autoslim.xz && chmod +x $DEV/autoslim
for p in tf32 bf16; do
  printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=%s exec %s "$@"\n' $p $DEV/autoslim > $DEV/autoslim-$p; chmod +x $DEV/autoslim-$p
done
mkdir -p /tmp/kc/cache
[ -f $DEV/kernel_cache.tgz ] && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "== warm-up, both precisions at once ($(left) s left)"
for p in tf32 bf16; do
  ( timeout 170 $DEV/autoslim-$p bench --model conv8 --batch 1024 --iters 24 --warmup 1 --mode plain sandwich widths > /tmp/w-$p.log 2>&1; echo "$p: exit $?" ) &
done
wait
for p in tf32 bf16; do grep -E "step:|first step|width 1.000|error|panick" /tmp/w-$p.log | head -8; done
cp /tmp/w-*.log $OUT/
echo "== conv8 ($(left) s left)"
MODELS=conv8 MODES="plain sandwich widths" ITERS=20 WARMUP=3 TIMEOUT=80 PEERS="pytorch pytorch-bf16" \
  VARIANTS="bf16=$DEV/autoslim-bf16:kernel-gemm tf32=$DEV/autoslim-tf32:kernel-gemm" \
  timeout $(( $(left) - 20 )) scripts/bench_gpu.sh /tmp/b-conv8 2>&1 | tail -n 40
tar czf $OUT/bench-conv8.tgz -C /tmp/b-conv8 .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude=cache/cuda-driver cache; ls -la $OUT
