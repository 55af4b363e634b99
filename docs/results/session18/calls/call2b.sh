#!/usr/bin/env bash
# Session 18, call 2 (second part; a fresh machine, so self-contained): plain and sandwich steps
# of Y (session 17's code), Z4 with the default columns (pow2) and Z4 with call2a's fastest
# complete column setting (16: call2a's run with 8 ran out of time after 6 widths), against
# PyTorch in the same run, conv8 (batch 1024) and MobileNetV2-224 (batch 128), each variant
# warmed up first with the bench's seed.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-Y autoslim-Z4; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-Y > $DEV/Y-bf16
for c in pow2 16; do printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_GEMM_COLUMNS=%s exec %s "$@"\n' $c $DEV/autoslim-Z4 > $DEV/Z4-c$c; done
chmod +x $DEV/Y-bf16 $DEV/Z4-c*
VARIANTS="Y=$DEV/Y-bf16:kernel-gemm Z4=$DEV/Z4-cpow2:kernel-gemm Z4-c16=$DEV/Z4-c16:kernel-gemm"
for v in Y-bf16 Z4-cpow2 Z4-c16; do
  timeout 35 $DEV/$v bench --model conv8 --batch 1024 --iters 10 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-$v.log 2>&1; echo "$v warm-up: exit $?"
  timeout 30 $DEV/$v bench --model mobilenet_v2 --batch 128 --iters 8 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-mbv2-$v.log 2>&1; echo "$v mbv2 warm-up: exit $?"
done
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=45 PEERS="pytorch" VARIANTS="$VARIANTS" \
  timeout 200 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 6
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=40 PEERS="pytorch" VARIANTS="$VARIANTS" \
  timeout 150 scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -n 6
tar czf $OUT/call2b.tgz -C /tmp/r .
