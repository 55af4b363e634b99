#!/usr/bin/env bash
# Session 18, call 2 (third part, the same machine as call2b.sh): Z4 with AUTOSLIM_GEMM_COLUMNS=16
# warmed up long enough to compile its kernels for the bench's widths (call2b's 35 s were not),
# then its plain and sandwich steps against Z4 (pow2) and PyTorch in the same run, conv8.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
mkdir -p /tmp/r3
timeout 120 $DEV/Z4-c16 bench --model conv8 --batch 1024 --iters 16 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r3/w-Z4-c16.log 2>&1; echo "Z4-c16 warm-up: exit $?"
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=45 PEERS="pytorch" \
  VARIANTS="Z4=$DEV/Z4-cpow2:kernel-gemm Z4-c16=$DEV/Z4-c16:kernel-gemm" \
  timeout 160 scripts/bench_gpu.sh /tmp/r3/bench-conv8 2>&1 | tail -n 5
for f in /tmp/r3/bench-conv8/burn-*.log; do echo "$(basename $f): $(grep -o 'median [0-9.]* ms, [0-9.]* img/s' $f | head -1)"; done
tar czf $OUT/call2c.tgz -C /tmp/r3 .
