#!/usr/bin/env bash
# Session 24, call 3. Build C = B with the small-net test's activations unclamped. (A) that CUDA
# test; (B) `autoslim train` of the MobileNetV2 Fashion-MNIST config with seeds 1 and 2, f32
# against bf16 activations (is call 2's lower accuracy with bf16 more than a seed's spread?);
# (C) session 23's unrun call 8: MobileNetV2-224 with the default TF32 operands and
# AUTOSLIM_CONV=gemm-all, cold first sandwich step with the warm-up, then warm sandwich steps
# (call 7's kernel-gemm TF32: 34.1 s cold, steps ~160-170 ms).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for f in autoslim-B slimmable-test-C; do xz -dkf $DEV/$f.xz && chmod +x $DEV/$f; done
rm -rf /tmp/r; mkdir -p /tmp/r
echo "== (A) CUDA test"
AUTOSLIM_GEMM_PRECISION=bf16 timeout 60 $DEV/slimmable-test-C --test-threads=1 activation_precision > /tmp/r/tests.log 2>&1
echo "test exit $?"; grep -E "^test |test result|panicked|difference" /tmp/r/tests.log | head -20
echo "== (B) training, seeds 1 and 2"
for seed in 1 2; do
  sed "s/^seed = 0/seed = $seed/" configs/autoslim_mbv2_fashion_mnist.toml > /tmp/mbv2-seed$seed.toml
  grep -q "^seed = $seed" /tmp/mbv2-seed$seed.toml || echo "seed not set"
  for act in f32 bf16; do
    AUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_KERNEL_CACHE=/tmp/c AUTOSLIM_ACTIVATIONS=$act timeout 120 $DEV/autoslim-B train --config /tmp/mbv2-seed$seed.toml \
      --data-dir data/fashion-mnist-subset --work-dir /tmp/w-$seed-$act --epochs 2 > /tmp/r/train-mbv2-seed$seed-$act.log 2>&1
    echo "seed $seed $act: exit $? | $(grep -E '^\[epoch 2/2\] valid' /tmp/r/train-mbv2-seed$seed-$act.log | cut -c40-200)"
    cp /tmp/w-$seed-$act/accuracy.csv /tmp/r/accuracy-seed$seed-$act.csv 2>/dev/null
    cut -d, -f1,2 /tmp/r/accuracy-seed$seed-$act.csv | tr '\n' ' '; echo
  done
done
echo "== (C) MobileNetV2 TF32 gemm-all"
export AUTOSLIM_CONV=gemm-all AUTOSLIM_KERNEL_CACHE=/tmp/c8
timeout 120 $DEV/autoslim-B bench --model mobilenet_v2 --batch 128 --iters 15 --warmup 0 --mode sandwich > /tmp/r/tf32-ga-cold.log 2>&1
echo "cold: exit $? first step $(grep -o 'first step (process[^)]*): [0-9.]* s' /tmp/r/tf32-ga-cold.log | grep -o '[0-9.]* s$') | $(grep -o 'warm-up: [0-9]* of.*' /tmp/r/tf32-ga-cold.log)"
grep -h " step [0-9]*:" /tmp/r/tf32-ga-cold.log | awk '{printf "%s ", $4}'; echo
timeout 60 $DEV/autoslim-B bench --model mobilenet_v2 --batch 128 --iters 10 --warmup 3 --mode sandwich > /tmp/r/tf32-ga-warm.log 2>&1
grep "sandwich step:" /tmp/r/tf32-ga-warm.log
timeout 60 $DEV/autoslim-B bench --model mobilenet_v2 --batch 128 --iters 10 --warmup 3 --mode plain > /tmp/r/tf32-ga-plain.log 2>&1
grep "plain step:" /tmp/r/tf32-ga-plain.log
tar czf $OUT/call3.tgz -C /tmp/r .
