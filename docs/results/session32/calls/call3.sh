#!/usr/bin/env bash
# Session 32, call 3 (same warm H100 as call 2): call 2's G sandwich steps compiled kernels in
# their timed steps (G's first step 26.6 s: its BatchNorm kernels and checks were not in the
# kernel cache, which call 2 had reset to session 30's). So: a sandwich pre-run of G per model
# on the cache call 2 left (not reset), then plain and sandwich steps of G against D and PyTorch
# again; the summary first in $OUT (the tool brings back 8 files).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
[ -x $DEV/autoslim-G ] || { xz -dkf $DEV/autoslim-D.xz $DEV/autoslim-G.xz && chmod +x $DEV/autoslim-D $DEV/autoslim-G; }
[ -d /tmp/c ] || tar xJf $DEV/kc/kc.txz -C /tmp
export AUTOSLIM_KERNEL_CACHE=/tmp/c
mkdir -p /tmp/r3
echo "== pre-runs of G (sandwich, 25 steps, warm-up processes on)"
for model in mobilenet_v2 conv8; do
  batch=128; [ $model = conv8 ] && batch=1024
  timeout 120 $DEV/autoslim-G bench --model $model --batch $batch --mode sandwich --iters 25 --warmup 1 > /tmp/r3/pre-$model.log 2>&1
  echo "$model: exit $? $(grep -o 'time to the first step[^:]*: [0-9.]* s' /tmp/r3/pre-$model.log) $(grep -o 'sandwich step: [0-9.]* ms' /tmp/r3/pre-$model.log)"
done
MODELS="mobilenet_v2 conv8" MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=60 VARIANTS="G=$DEV/autoslim-G:gemm-all D=$DEV/autoslim-D:gemm-all" \
  scripts/bench_gpu.sh /tmp/r3/bench > /tmp/r3/bench.out 2>&1
cp /tmp/r3/bench/summary.md $OUT/summary.md; cp /tmp/r3/bench/results.jsonl $OUT/results.jsonl
cp /tmp/r3/pre-mobilenet_v2.log /tmp/r3/pre-conv8.log $OUT/
tar czf $OUT/bench-logs.tgz -C /tmp/r3 .
cat /tmp/r3/bench/summary.md
