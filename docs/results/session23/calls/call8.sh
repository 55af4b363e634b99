#!/usr/bin/env bash
# Session 23, call 8. Build W4. MobileNetV2-224 (batch 128) with the default TF32 operands and
# every dense conv on the implicit-GEMM kernels (AUTOSLIM_CONV=gemm-all: cubek's inferred f32
# stages, no autotuning): cold first sandwich step with the warm-up, then warm plain and
# sandwich steps, against call 7's kernel-gemm TF32 run (34.1 s; steps ~160-170 ms).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-W4.xz && chmod +x $DEV/autoslim-W4
rm -rf /tmp/r; mkdir -p /tmp/r
export AUTOSLIM_CONV=gemm-all AUTOSLIM_KERNEL_CACHE=/tmp/c8
timeout 120 $DEV/autoslim-W4 bench --model mobilenet_v2 --batch 128 --iters 15 --warmup 0 --mode sandwich > /tmp/r/tf32-ga-cold.log 2>&1
echo "cold: exit $? first step $(grep -o 'first step (process[^)]*): [0-9.]* s' /tmp/r/tf32-ga-cold.log | grep -o '[0-9.]* s$') | $(grep -o 'warm-up: [0-9]* of.*' /tmp/r/tf32-ga-cold.log)"
grep -h " step [0-9]*:" /tmp/r/tf32-ga-cold.log | awk '{printf "%s ", $4}'; echo
timeout 60 $DEV/autoslim-W4 bench --model mobilenet_v2 --batch 128 --iters 10 --warmup 3 --mode sandwich > /tmp/r/tf32-ga-warm.log 2>&1
grep "sandwich step:" /tmp/r/tf32-ga-warm.log
tar czf $OUT/call8.tgz -C /tmp/r .
