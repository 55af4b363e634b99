#!/usr/bin/env bash
# Session 20, call 2 (build E, stems back on im2col: AUTOSLIM_GEMM_MIN_CHANNELS=8, as call 1
# measured the GEMM stem slower). (1) Nsight Compute's per-kernel GPU time (gpu__time_duration,
# caches and clocks left alone) of conv8's width passes (batch 1024, one warm-up and one timed
# pass per width): where a narrow pass's time goes, without cubecl's per-launch profiling
# overhead. (2) conv8 plain and sandwich steps against PyTorch with E (images-outer weight
# gradients) and E with positions-outer (session 19's order).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-E.xz && chmod +x $DEV/autoslim-E
mkdir -p /tmp/kc && export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
[ -f $DEV/kc.tgz.aa ] && cat $DEV/kc.tgz.* | tar xzf - -C /tmp/kc
rm -rf /tmp/r; mkdir -p /tmp/r
wrap() { printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_GEMM_MIN_CHANNELS=8 %s exec %s "$@"\n' "$2" $DEV/autoslim-E > $DEV/$1; chmod +x $DEV/$1; }
wrap E8 ""
wrap E8-oldorder "AUTOSLIM_WGRAD_ORDER=positions-outer"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
echo "ncu: $NCU"
timeout 240 $NCU --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv --log-file /tmp/r/ncu-widths.csv \
  $DEV/E8 bench --model conv8 --batch 1024 --iters 1 --warmup 1 --mode widths > /tmp/r/ncu-widths.log 2>&1
echo "ncu: exit $? $(wc -l < /tmp/r/ncu-widths.csv) lines"; grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/ncu-widths.log | tr '\n' ' '; echo
VARIANTS="E8=$DEV/E8:kernel-gemm E8-oldorder=$DEV/E8-oldorder:kernel-gemm"
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=4 TIMEOUT=60 PEERS="pytorch" VARIANTS="$VARIANTS" \
  timeout 230 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 8
gzip -f /tmp/r/ncu-widths.csv
tar czf $OUT/call2.tgz -C /tmp/r .
tar czf - -C /tmp/kc cache | split -b 15m - $OUT/kc.tgz.
ls -la $OUT
