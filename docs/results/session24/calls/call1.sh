#!/usr/bin/env bash
# Session 24, call 1. Build A = session 23's code + bf16 activations between the GEMM convs and
# BatchNorm (AUTOSLIM_ACTIVATIONS=bf16; default f32). (A) the CUDA test of the small net with
# f32 and bf16 activations, and the BatchNorm and bf16-operand conv tests; (B) conv8's passes at
# each of 11 widths, f32 against bf16 activations; (C) conv8 plain and sandwich against PyTorch
# in the same call (bench_gpu.sh; each variant's kernels compiled first by a sandwich pre-run).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for f in autoslim-A slimmable-test-A; do xz -dkf $DEV/$f.xz && chmod +x $DEV/$f; done
printf '#!/bin/sh\nAUTOSLIM_ACTIVATIONS=bf16 exec %s "$@"\n' "$DEV/autoslim-A" > $DEV/autoslim-A-bf16 && chmod +x $DEV/autoslim-A-bf16
rm -rf /tmp/r; mkdir -p /tmp/r
export AUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_KERNEL_CACHE=/tmp/c
echo "== (A) CUDA tests"
timeout 150 $DEV/slimmable-test-A --test-threads=1 activation_precision batch_norm bf16 > /tmp/r/tests.log 2>&1
echo "test exit $?"; grep -E "^test |test result|panicked" /tmp/r/tests.log | head -40
echo "== (B) conv8 widths"
W="--model conv8 --batch 1024 --iters 10 --warmup 3 --mode widths"
for act in f32 bf16 f32 bf16; do
  AUTOSLIM_ACTIVATIONS=$act timeout 120 $DEV/autoslim-A bench $W > /tmp/r/widths-$act.log 2>&1
  echo "$act: exit $? $(grep -o 'warm-up: [0-9]* of.*' /tmp/r/widths-$act.log)$(grep -o 'warm-up: skipped' /tmp/r/widths-$act.log)"
  grep -o "width [0-9.]*: forward+backward [0-9.]* ms" /tmp/r/widths-$act.log | awk '{printf "%s ", $4; s+=$4} END {printf "| sum %.2f ms\n", s}'
done
echo "== (C) conv8 plain and sandwich"
for act in f32 bf16; do
  AUTOSLIM_ACTIVATIONS=$act timeout 90 $DEV/autoslim-A bench --model conv8 --batch 1024 --iters 20 --warmup 0 --mode sandwich > /tmp/r/prerun-sandwich-$act.log 2>&1
  echo "pre-run $act: exit $? first step $(grep -o 'first step (process[^)]*): [0-9.]* s' /tmp/r/prerun-sandwich-$act.log | grep -o '[0-9.]* s$')"
done
MODELS=conv8 MODES="plain sandwich" ITERS=20 WARMUP=3 TIMEOUT=100 VARIANTS="A-f32=$DEV/autoslim-A:gemm-all A-bf16=$DEV/autoslim-A-bf16:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -6
tar czf $OUT/call1.tgz -C /tmp/r .
