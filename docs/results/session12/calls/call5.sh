#!/usr/bin/env bash
# Session 12, call 5: build F's time to the first step with empty caches (cubecl's kernel cache
# and the CUDA driver's, conv8 plain at batch 1024, bf16 and TF32 at once), then
# MobileNetV2-224 (batch 128) with F against PyTorch, to show it unchanged (none of this
# session's kernels runs in it); an untimed run with the same seed first.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-F.xz && chmod +x $DEV/autoslim-F
for p in bf16 tf32; do
  ( AUTOSLIM_KERNEL_CACHE=/tmp/cold-$p AUTOSLIM_GEMM_PRECISION=$p timeout 150 $DEV/autoslim-F bench --model conv8 --batch 1024 --iters 3 --warmup 1 --mode plain > $OUT/cold-$p.log 2>&1
    echo "cold $p: exit $? $(grep -E 'time to the first step|plain step:' $OUT/cold-$p.log | tr '\n' ' ')" ) &
done
wait
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-F > $DEV/F-bf16; chmod +x $DEV/F-bf16
timeout 170 $DEV/F-bf16 bench --model mobilenet_v2 --batch 128 --iters 11 --warmup 1 --mode plain sandwich > $OUT/w-mbv2.log 2>&1; echo "mbv2 warm-up: exit $?"
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=60 PEERS="pytorch" VARIANTS="F-bf16=$DEV/F-bf16:kernel-gemm" \
  timeout 260 scripts/bench_gpu.sh /tmp/b-mbv2 2>&1 | tail -n 5
tar czf $OUT/bench-mbv2.tgz -C /tmp/b-mbv2 .
