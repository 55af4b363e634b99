#!/usr/bin/env bash
# Session 24, call 5. Build E = the committed code + bf16 activations through the depthwise
# kernels (their input, output and input gradient bf16, weight and sums f32). (A) the CUDA
# depthwise tests (the new bf16 one among them) and the activation tests; (B) MobileNetV2-224
# plain step (batch 128, bf16 operands, the default), f32 against bf16 activations (call 2:
# 2 530 against 2 345 img/s before this change).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for f in autoslim-E slimmable-test-E; do xz -dkf $DEV/$f.xz && chmod +x $DEV/$f; done
rm -rf /tmp/r; mkdir -p /tmp/r
echo "== (A) CUDA tests"
AUTOSLIM_GEMM_PRECISION=bf16 timeout 80 $DEV/slimmable-test-E --test-threads=1 depthwise activation_precision > /tmp/r/tests.log 2>&1
echo "test exit $?"; grep -E "^test .*cuda|test result|panicked|difference" /tmp/r/tests.log | head -20
echo "== (B) MobileNetV2 plain"
for act in f32 bf16; do
  AUTOSLIM_ACTIVATIONS=$act AUTOSLIM_KERNEL_CACHE=/tmp/c-$act timeout 70 $DEV/autoslim-E bench --model mobilenet_v2 --batch 128 --iters 12 --warmup 3 --mode plain > /tmp/r/plain-$act.log 2>&1
  echo "$act: exit $? | $(grep 'plain step:' /tmp/r/plain-$act.log)"
done
tar czf $OUT/call5.tgz -C /tmp/r .
