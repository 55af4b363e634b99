#!/usr/bin/env bash
# Session 22, call 4. Build L4 = L3 + the command line's choice of bounds checks (unless
# AUTOSLIM_GEMM_CHECKS is set: `always` for runs of many widths, `needed` for one width).
# (1) empty caches, defaults: conv8 sandwich (6 steps), MobileNetV2-224 sandwich (6 steps) and
# plain; (2) MobileNetV2 warm after 40-step pre-runs: plain and sandwich, needed (N) against
# always (A), with the PyTorch peer in the same run. N starts from session 21's PTX cache.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-L4.xz && chmod +x $DEV/autoslim-L4
rm -rf /tmp/r /tmp/kc; mkdir -p /tmp/r /tmp/kc
xz -dc $DEV/kc-ptx.txz | tar xf - -C /tmp/kc
export AUTOSLIM_GEMM_PRECISION=bf16
cold() { local m=$1 b=$2 t=$3 n=$4 mode=$5 log=$6; shift 6; env "$@" timeout $t $DEV/autoslim-L4 bench --model $m --batch $b --iters $n --warmup 0 --mode $mode > /tmp/r/$log.log 2>&1; echo "$log: exit $? $(grep -o 'first step[^;]*' /tmp/r/$log.log | head -1) | $(grep -o 'bounds checks [a-z-]*' /tmp/r/$log.log | head -1)"; grep -h "step [0-9]*:" /tmp/r/$log.log | tr '\n' ' ' | cut -c1-500; echo; }
cold conv8 1024 150 6 sandwich cold-conv8-sandwich AUTOSLIM_KERNEL_CACHE=/tmp/c8
cold mobilenet_v2 128 150 6 sandwich cold-mbv2-sandwich AUTOSLIM_KERNEL_CACHE=/tmp/ca
cold mobilenet_v2 128 90 3 plain cold-mbv2-plain AUTOSLIM_KERNEL_CACHE=/tmp/cp
cold mobilenet_v2 128 120 40 sandwich prerun-mbv2-always AUTOSLIM_KERNEL_CACHE=/tmp/ca
cold mobilenet_v2 128 150 40 sandwich prerun-mbv2-needed AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache AUTOSLIM_GEMM_CHECKS=needed
printf '#!/bin/sh\nAUTOSLIM_KERNEL_CACHE=/tmp/kc/cache AUTOSLIM_GEMM_CHECKS=needed exec %s "$@"\n' $DEV/autoslim-L4 > $DEV/N; chmod +x $DEV/N
printf '#!/bin/sh\nAUTOSLIM_KERNEL_CACHE=/tmp/ca AUTOSLIM_GEMM_CHECKS=always exec %s "$@"\n' $DEV/autoslim-L4 > $DEV/A; chmod +x $DEV/A
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=15 WARMUP=3 TIMEOUT=70 PEERS="pytorch" VARIANTS="N=$DEV/N:kernel-gemm A=$DEV/A:kernel-gemm" \
  timeout 330 scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -n 6
for v in N A; do echo "$v: $(grep -h "sandwich step [0-9]*:" /tmp/r/bench-mbv2/burn-$v-mobilenet_v2-sandwich.log | awk '{printf "%s ", $4}')"; done
tar czf $OUT/call4.tgz -C /tmp/r .
