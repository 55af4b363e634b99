#!/usr/bin/env bash
# Session 22, call 2. Build L2 = L + AUTOSLIM_GEMM_CHECKS (needed: cubek's per-problem bounds
# checks, as L; always: every check compiled in, one kernel per stage shape).
# (1) cold first steps with `always` (conv8 sandwich, 6 steps; conv8 plain), and `always` with
#     cubecl's minimal autotune level; (2) warm: conv8 plain, sandwich and widths, needed against
#     always, with the PyTorch peer in the same run. `needed` starts from session 21's PTX cache.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-L2.xz && chmod +x $DEV/autoslim-L2
rm -rf /tmp/r /tmp/kc; mkdir -p /tmp/r /tmp/kc
xz -dc $DEV/kc-ptx.txz | tar xf - -C /tmp/kc
export AUTOSLIM_GEMM_PRECISION=bf16
cold() { timeout $1 $DEV/autoslim-L2 bench --model conv8 --batch 1024 --iters $2 --warmup 0 --mode $3 > /tmp/r/$4.log 2>&1; echo "$4: exit $? $(grep -o 'first step[^;]*' /tmp/r/$4.log | head -1)"; grep -h "step [0-9]*:" /tmp/r/$4.log | tr '\n' ' ' | cut -c1-600; echo; }
AUTOSLIM_GEMM_CHECKS=always AUTOSLIM_KERNEL_CACHE=/tmp/ca cold 150 6 sandwich cold-always-sandwich
AUTOSLIM_GEMM_CHECKS=always AUTOSLIM_KERNEL_CACHE=/tmp/cap cold 90 3 plain cold-always-plain
AUTOSLIM_GEMM_CHECKS=always CUBECL_AUTOTUNE_LEVEL=minimal AUTOSLIM_KERNEL_CACHE=/tmp/cam cold 150 6 sandwich cold-always-mintune-sandwich
# Pre-runs: finish compiling every width (always: its own cache; needed: the driver's share).
AUTOSLIM_GEMM_CHECKS=always AUTOSLIM_KERNEL_CACHE=/tmp/ca cold 90 30 sandwich prerun-always
AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache cold 90 30 sandwich prerun-needed
printf '#!/bin/sh\nAUTOSLIM_KERNEL_CACHE=/tmp/kc/cache AUTOSLIM_GEMM_CHECKS=needed exec %s "$@"\n' $DEV/autoslim-L2 > $DEV/N; chmod +x $DEV/N
printf '#!/bin/sh\nAUTOSLIM_KERNEL_CACHE=/tmp/ca AUTOSLIM_GEMM_CHECKS=always exec %s "$@"\n' $DEV/autoslim-L2 > $DEV/A; chmod +x $DEV/A
for round in 1 2; do for v in N A; do
  timeout 70 $DEV/$v bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v-$round.log 2>&1
  echo "widths $v: exit $? sum $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$v-$round.log | awk '{s+=$4} END {printf "%.2f", s}') ms: $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$v-$round.log | awk '{printf "%s ", $4}')"
done; done
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=6 TIMEOUT=45 PEERS="pytorch" VARIANTS="N=$DEV/N:kernel-gemm A=$DEV/A:kernel-gemm" \
  timeout 330 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 12
tar czf $OUT/call2.tgz -C /tmp/r .
