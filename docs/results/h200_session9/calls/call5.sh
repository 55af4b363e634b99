#!/usr/bin/env bash
# Session 9, call 5: binary C with a warm kernel cache: conv8 sandwich (longer, and DIVISOR=8),
# MobileNetV2-224 sandwich with DIVISOR=8, each against PyTorch in the same run; then C's time
# to the first conv8 plain step with an empty kernel cache (cold).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim.xz && chmod +x $DEV/autoslim
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
left() { echo $(( ${DEADLINE:-400} - SECONDS )); }
for div in "" 8; do
  echo "== conv8 sandwich divisor '${div:-none}' ($(left) s left)"
  MODELS=conv8 MODES="sandwich" ITERS=16 WARMUP=6 TIMEOUT=70 DIVISOR=$div VARIANTS="C=$DEV/autoslim:kernel-gemm" \
    timeout $(( $(left) - 10 )) scripts/bench_gpu.sh /tmp/c8$div 2>&1 | tail -n 5
  tar czf $OUT/bench-conv8-sandwich${div:+-div$div}.tgz -C /tmp/c8$div .
done
echo "== mobilenet_v2 sandwich divisor 8 ($(left) s left)"
MODELS=mobilenet_v2 MODES="sandwich" ITERS=10 WARMUP=4 TIMEOUT=80 DIVISOR=8 VARIANTS="C=$DEV/autoslim:kernel-gemm" \
  timeout $(( $(left) - 10 )) scripts/bench_gpu.sh /tmp/m8 2>&1 | tail -n 5
tar czf $OUT/bench-mbv2-sandwich-div8.tgz -C /tmp/m8 .
echo "== cold first step ($(left) s left)"
AUTOSLIM_KERNEL_CACHE=/tmp/kc-cold timeout 120 $DEV/autoslim bench --model conv8 --batch 1024 --iters 2 --warmup 1 --mode plain > $OUT/cold.log 2>&1
grep -v RESULT $OUT/cold.log
tar czf $OUT/kernel_cache.tgz -C /tmp/kc cache
