#!/usr/bin/env bash
# Session 23, call 7. Build W4. The default operand precision (TF32: AUTOSLIM_GEMM_PRECISION
# unset, so kernel-gemm and cubek's inferred f32 stages): cold first sandwich step with the
# warm-up processes, conv8 (batch 1024) and MobileNetV2-224 (batch 128), 15 steps each.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-W4.xz && chmod +x $DEV/autoslim-W4
rm -rf /tmp/r; mkdir -p /tmp/r
for model in conv8:1024 mobilenet_v2:128; do
  name=${model%%:*}; batch=${model##*:}
  rm -rf /tmp/c7-$name
  AUTOSLIM_KERNEL_CACHE=/tmp/c7-$name timeout 150 $DEV/autoslim-W4 bench --model $name --batch $batch --iters 15 --warmup 0 --mode sandwich > /tmp/r/tf32-$name.log 2>&1
  echo "$name tf32: exit $? first step $(grep -o 'first step (process[^)]*): [0-9.]* s' /tmp/r/tf32-$name.log | grep -o '[0-9.]* s$') | $(grep -o 'warm-up: [0-9]* of.*' /tmp/r/tf32-$name.log)"
  grep -h " step [0-9]*:" /tmp/r/tf32-$name.log | awk '{printf "%s ", $4}'; echo
  grep "sandwich step:" /tmp/r/tf32-$name.log
done
tar czf $OUT/call7.tgz -C /tmp/r .
