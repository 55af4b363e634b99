#!/usr/bin/env bash
# Session 24, call 2. Build B = A + a well-conditioned loss in the small-net test and a CUDA test
# of BatchNorm on bf16 inputs against f32 ones. (A) those CUDA tests; (B) `autoslim train` of the
# MobileNetV2 Fashion-MNIST config (2 epochs, shipped subset) with f32 and with bf16
# activations, and the ResNet-20 config (1 epoch) with bf16 activations (residual sums of a
# bf16 path and an f32 shortcut); (C) MobileNetV2-224 plain and sandwich, f32 against bf16
# activations, PyTorch in the same call.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for f in autoslim-B slimmable-test-B; do xz -dkf $DEV/$f.xz && chmod +x $DEV/$f; done
printf '#!/bin/sh\nAUTOSLIM_ACTIVATIONS=bf16 exec %s "$@"\n' "$DEV/autoslim-B" > $DEV/autoslim-B-bf16 && chmod +x $DEV/autoslim-B-bf16
rm -rf /tmp/r; mkdir -p /tmp/r
export AUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_KERNEL_CACHE=/tmp/c
echo "== (A) CUDA tests"
timeout 100 $DEV/slimmable-test-B --test-threads=1 activation_precision bf16_input > /tmp/r/tests.log 2>&1
echo "test exit $?"; grep -E "^test |test result|panicked|difference" /tmp/r/tests.log | head -20
echo "== (B) training"
for act in f32 bf16; do
  start=$SECONDS
  AUTOSLIM_ACTIVATIONS=$act timeout 150 $DEV/autoslim-B train --config configs/autoslim_mbv2_fashion_mnist.toml --data-dir data/fashion-mnist-subset \
    --work-dir /tmp/w-mbv2-$act --epochs 2 > /tmp/r/train-mbv2-$act.log 2>&1
  echo "mbv2 $act: exit $?, wall $((SECONDS - start)) s"
  grep -E "^\[epoch|backend:" /tmp/r/train-mbv2-$act.log | cut -c1-260
  cp /tmp/w-mbv2-$act/accuracy.csv /tmp/r/accuracy-mbv2-$act.csv 2>/dev/null && cat /tmp/r/accuracy-mbv2-$act.csv | head -8
done
start=$SECONDS
AUTOSLIM_ACTIVATIONS=bf16 timeout 100 $DEV/autoslim-B train --config configs/autoslim_resnet20_fashion_mnist.toml --data-dir data/fashion-mnist-subset \
  --work-dir /tmp/w-r20 --epochs 1 > /tmp/r/train-resnet20-bf16.log 2>&1
echo "resnet20 bf16: exit $?, wall $((SECONDS - start)) s"; grep -E "^\[epoch|panicked|Error" /tmp/r/train-resnet20-bf16.log | cut -c1-260
cp /tmp/w-r20/accuracy.csv /tmp/r/accuracy-resnet20-bf16.csv 2>/dev/null && head -5 /tmp/r/accuracy-resnet20-bf16.csv
echo "== (C) MobileNetV2-224"
for act in f32 bf16; do
  AUTOSLIM_ACTIVATIONS=$act timeout 80 $DEV/autoslim-B bench --model mobilenet_v2 --batch 128 --iters 40 --warmup 0 --mode sandwich > /tmp/r/prerun-mbv2-$act.log 2>&1
  echo "pre-run $act: exit $? first step $(grep -o 'first step (process[^)]*): [0-9.]* s' /tmp/r/prerun-mbv2-$act.log | grep -o '[0-9.]* s$')"
done
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=90 VARIANTS="B-f32=$DEV/autoslim-B:gemm-all B-bf16=$DEV/autoslim-B-bf16:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -6
tar czf $OUT/call2.tgz -C /tmp/r .
