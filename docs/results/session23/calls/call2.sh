#!/usr/bin/env bash
# Session 23, call 2. Build W1 (the warm-up processes, src/warm_up.rs). Time to the first
# sandwich step on empty caches, conv8 (batch 1024) and MobileNetV2-224 (batch 128), bf16,
# without the warm-up (AUTOSLIM_WARM_UP=off), with the automatic count (16 cores: 6 processes)
# and with 8; then a rerun on a warm cache (the marker skips the warm-up). GPU memory sampled
# during the MobileNetV2 runs (the warm-up processes each hold a pass).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-W1.xz && chmod +x $DEV/autoslim-W1
rm -rf /tmp/r; mkdir -p /tmp/r
export AUTOSLIM_GEMM_PRECISION=bf16
B="$DEV/autoslim-W1 bench"
summary() {
  local label=$1 rc=$2
  echo "$label: exit $rc | $(grep -o 'first step (process[^)]*): [0-9.]* s' /tmp/r/$label.log | grep -o '[0-9.]* s$') | $(grep -o 'warm-up: [0-9]* of .*' /tmp/r/$label.log)$(grep -o 'warm-up: skipped' /tmp/r/$label.log)"
  grep -h " step [0-9]*:" /tmp/r/$label.log | awk '{printf "%s ", $4}'; echo
  grep "sandwich step:" /tmp/r/$label.log
}
# cold LABEL [VAR=VALUE...] -- ARGS: a run on an empty cache of its own.
cold() {
  local label=$1; shift; local vars=(); while [ "$1" != "--" ]; do vars+=("$1"); shift; done; shift
  rm -rf /tmp/c-$label
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > /tmp/r/$label.mem &
  local sampler=$!
  env AUTOSLIM_KERNEL_CACHE=/tmp/c-$label "${vars[@]}" timeout 240 $B "$@" > /tmp/r/$label.log 2>&1
  local rc=$?
  kill $sampler; wait $sampler 2>/dev/null
  summary $label $rc
  echo "   GPU memory peak $(sort -n /tmp/r/$label.mem | tail -1) MiB"
}
C8="--model conv8 --batch 1024 --iters 8 --warmup 0 --mode sandwich"
MB="--model mobilenet_v2 --batch 128 --iters 25 --warmup 0 --mode sandwich"
nproc
cold conv8-off AUTOSLIM_WARM_UP=off -- $C8
cold conv8-auto -- $C8
cold conv8-w8 AUTOSLIM_WARM_UP=8 -- $C8
AUTOSLIM_KERNEL_CACHE=/tmp/c-conv8-auto $B $C8 > /tmp/r/conv8-auto-again.log 2>&1; summary conv8-auto-again $?
cold mbv2-ga-auto AUTOSLIM_CONV=gemm-all -- $MB
cold mbv2-kg-auto -- $MB
AUTOSLIM_CONV=gemm-all AUTOSLIM_KERNEL_CACHE=/tmp/c-mbv2-ga-auto $B $MB > /tmp/r/mbv2-ga-auto-again.log 2>&1; summary mbv2-ga-auto-again $?
tar czf $OUT/call2.tgz -C /tmp/r .
