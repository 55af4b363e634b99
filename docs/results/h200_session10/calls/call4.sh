#!/usr/bin/env bash
# Session 10, call 4: MobileNetV2-224 (batch 128, exact widths) plain and sandwich against
# PyTorch with AUTOSLIM_GEMM_KERNEL=simple_sync_strided/mma, after untimed runs that fill the
# caches (cubecl's PTX and the CUDA driver's) for the widths the timed runs meet (seed 0).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
left() { echo $(( ${DEADLINE:-330} - SECONDS )); }
xz -dkf $DEV/autoslim.xz && chmod +x $DEV/autoslim
printf '#!/bin/sh\nAUTOSLIM_GEMM_KERNEL=simple_sync_strided/mma exec %s "$@"\n' $DEV/autoslim > $DEV/autoslim-k; chmod +x $DEV/autoslim-k
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
for i in 1 2; do
  timeout 100 $DEV/autoslim-k bench --model mobilenet_v2 --batch 128 --iters 10 --warmup 1 --mode sandwich > /tmp/w-mb$i.log 2>&1
  echo "warm-up $i: exit $? $(grep -o 'sandwich step [0-9]*: [0-9.]* ms' /tmp/w-mb$i.log | awk '{print $4}' | tr '\n' ' ')"
done
echo "== mobilenet_v2 ($(left) s left)"
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=60 VARIANTS="K=$DEV/autoslim-k:kernel-gemm" \
  timeout $(( $(left) - 10 )) scripts/bench_gpu.sh /tmp/b-mbv2 2>&1 | tail -n 8
cp /tmp/w-mb*.log /tmp/b-mbv2/; tar czf $OUT/bench-mbv2.tgz -C /tmp/b-mbv2 .
