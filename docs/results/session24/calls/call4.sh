#!/usr/bin/env bash
# Session 24, call 4. Build D = the committed defaults (TF32 operands, gemm-all on CUDA, f32
# activations; no AUTOSLIM_* variable set). (A) conv8 (batch 1024) and MobileNetV2-224 (batch
# 128) plain and sandwich steps against PyTorch in the same call, each model's kernels compiled
# first by a sandwich pre-run (warm-up processes on); (B) `autoslim train` of the MobileNetV2
# Fashion-MNIST config with TF32 operands, seeds 0, 1 and 2 (calls 2-3 trained it with bf16
# operands: is bf16's accuracy within TF32's spread?).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-D.xz && chmod +x $DEV/autoslim-D
rm -rf /tmp/r; mkdir -p /tmp/r
export AUTOSLIM_KERNEL_CACHE=/tmp/c
echo "== (A) defaults against PyTorch"
for m in "conv8 1024" "mobilenet_v2 128"; do
  set -- $m
  timeout 100 $DEV/autoslim-D bench --model $1 --batch $2 --iters 30 --warmup 0 --mode sandwich > /tmp/r/prerun-$1.log 2>&1
  echo "pre-run $1: exit $? first step $(grep -o 'first step (process[^)]*): [0-9.]* s' /tmp/r/prerun-$1.log | grep -o '[0-9.]* s$') | $(grep -o 'warm-up: [0-9]* of.*' /tmp/r/prerun-$1.log)"
done
MODELS="conv8 mobilenet_v2" MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=90 VARIANTS="D=$DEV/autoslim-D:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench 2>&1 | tail -8
echo "== (B) training with TF32 operands, seeds 0-2"
for seed in 0 1 2; do
  sed "s/^seed = 0/seed = $seed/" configs/autoslim_mbv2_fashion_mnist.toml > /tmp/mbv2-seed$seed.toml
  timeout 110 $DEV/autoslim-D train --config /tmp/mbv2-seed$seed.toml --data-dir data/fashion-mnist-subset --work-dir /tmp/w-$seed --epochs 2 > /tmp/r/train-tf32-seed$seed.log 2>&1
  echo "seed $seed tf32: exit $? | $(grep -E '^\[epoch 2/2\] valid' /tmp/r/train-tf32-seed$seed.log | cut -c40-200)"
  cp /tmp/w-$seed/accuracy.csv /tmp/r/accuracy-tf32-seed$seed.csv 2>/dev/null
  cut -d, -f1,2 /tmp/r/accuracy-tf32-seed$seed.csv | tr '\n' ' '; echo
done
tar czf $OUT/call4.tgz -C /tmp/r .
