#!/usr/bin/env bash
# Session 18, call 2 (second part, same machine after call2a.sh): plain and sandwich steps of Y
# (session 17's code), Z4 with the default columns (pow2) and Z4 with call2a's fastest column
# setting against PyTorch in the same run, conv8 (batch 1024) and MobileNetV2-224 (batch 128),
# each variant warmed up first with the bench's seed.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
B=$(cat /tmp/r/best)
VARIANTS="Y=$DEV/Y-bf16:kernel-gemm Z4=$DEV/Z4-cpow2:kernel-gemm"
WARM="Y-bf16 Z4-cpow2"
if [ "$B" != "Z4-cpow2" ]; then VARIANTS="$VARIANTS $B=$DEV/$B:kernel-gemm"; WARM="$WARM $B"; fi
for v in $WARM; do
  timeout 40 $DEV/$v bench --model conv8 --batch 1024 --iters 16 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-$v.log 2>&1; echo "$v warm-up: exit $?"
  timeout 40 $DEV/$v bench --model mobilenet_v2 --batch 128 --iters 11 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-mbv2-$v.log 2>&1; echo "$v mbv2 warm-up: exit $?"
done
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=60 PEERS="pytorch" VARIANTS="$VARIANTS" \
  timeout 250 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 6
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=50 PEERS="pytorch" VARIANTS="$VARIANTS" \
  timeout 200 scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -n 6
tar czf $OUT/call2b.tgz -C /tmp/r .
