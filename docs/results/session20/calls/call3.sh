#!/usr/bin/env bash
# Session 20, call 3. Build F = E + the weight gradient's products on stages fitted to their
# rows and columns (AUTOSLIM_WGRAD_STAGES=fitted, the default; inferred = cubek's choice, as
# before), stems back on im2col by default. The slimmable crate's CUDA GEMM tests with F (the
# weight-gradient test over both stage choices, 152- and 304-channel cases); conv8 (batch 1024,
# bf16) each width's pass with fitted and inferred stages; Nsight Compute's per-kernel times of
# F's width passes; conv8 plain and sandwich steps, F against F-inferred and PyTorch.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-F slimmable-tests-F; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
[ -f $DEV/kc.tgz.aa ] && cat $DEV/kc.tgz.* | tar xzf - -C /tmp/kc
rm -rf /tmp/r; mkdir -p /tmp/r
timeout 150 $DEV/slimmable-tests-F gemm_ --test-threads=1 --nocapture > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "test result|panicked|FAILED|DISAGREES|refused" /tmp/r/tests.txt | cut -c1-180 | head -12
wrap() { printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 %s exec %s "$@"\n' "$2" $DEV/autoslim-F > $DEV/$1; chmod +x $DEV/$1; }
wrap F ""
wrap F-inferred "AUTOSLIM_WGRAD_STAGES=inferred"
for v in F F-inferred F; do
  timeout 60 $DEV/$v bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1
  echo "$v widths: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$v.log | awk '{printf "%s=%s ", $2, $4; s+=$4} END {printf "sum=%.2f", s}') $(grep -o '[0-9]* kernel launches ran.*' /tmp/r/widths-$v.log | cut -c1-200)"
done
timeout 100 ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv --log-file /tmp/r/ncu-widths-F.csv \
  $DEV/F bench --model conv8 --batch 1024 --iters 1 --warmup 1 --mode widths > /tmp/r/ncu-widths-F.log 2>&1
echo "ncu: exit $? $(wc -l < /tmp/r/ncu-widths-F.csv) lines"; gzip -f /tmp/r/ncu-widths-F.csv
VARIANTS="F=$DEV/F:kernel-gemm F-inferred=$DEV/F-inferred:kernel-gemm"
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=4 TIMEOUT=55 PEERS="pytorch" VARIANTS="$VARIANTS" \
  timeout 210 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 7
tar czf $OUT/call3.tgz -C /tmp/r .
tar czf - -C /tmp/kc cache | split -b 15m - $OUT/kc.tgz.
ls -la $OUT
