#!/usr/bin/env bash
# Session 17, call 5: build Y = X + AUTOSLIM_LAYOUT_COPY_ROWS (rows of 32 threads per 32 × 32 tile
# of the GEMM convs' layout copies; 8 by default, 4 was slower in call 2). conv8 (batch 1024)
# each width's pass with 8, 16 and 32 rows, then plain and sandwich steps of the three (each
# warmed up first with the bench's seed); no PyTorch run (little device time was left: this is
# an A/B of one setting within one build).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-Y.xz && chmod +x $DEV/autoslim-Y
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
variants=""
for rows in 8 16 32; do
  printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_LAYOUT_COPY_ROWS=%s exec %s "$@"\n' $rows $DEV/autoslim-Y > $DEV/Y-$rows; chmod +x $DEV/Y-$rows
  timeout 45 $DEV/Y-$rows bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-Y-$rows.log 2>&1
  echo "Y-$rows widths: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-Y-$rows.log | awk '{printf "%s=%s ", $2, $4}')"
  timeout 45 $DEV/Y-$rows bench --model conv8 --batch 1024 --iters 16 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-Y-$rows.log 2>&1; echo "Y-$rows warm-up: exit $?"
  variants="$variants Y-$rows=$DEV/Y-$rows:kernel-gemm"
done
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=60 PEERS=" " VARIANTS="$variants" \
  timeout 150 scripts/bench_gpu.sh /tmp/r/bench-conv8 > /tmp/r/bench.out 2>&1
for f in /tmp/r/bench-conv8/burn-*.log; do
  echo "$(basename $f .log) $(grep -o '"mode":"[a-z]*","ms":[0-9.]*,"img_per_s":[0-9.]*,"median_ms":[0-9.]*' $f)"
done
ls /tmp/r/bench-conv8
tar czf $OUT/call5.tgz -C /tmp/r .
