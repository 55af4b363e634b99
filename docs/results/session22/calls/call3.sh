#!/usr/bin/env bash
# Session 22, call 3. Build L3 = L2 + AUTOSLIM_GEMM_CHECKS=all-or-none (every check where a
# product needs any, none where it needs none). (1) CUDA test of the extra checks (always and
# all-or-none, bf16 and TF32, against burn-ndarray with gradients); (2) cold first steps with
# all-or-none (conv8 sandwich, 6 steps; conv8 plain); (3) warm: conv8 width passes and plain and
# sandwich steps, needed (N) against all-or-none (O), with the PyTorch peer in the same run.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-L3 slim-test; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
rm -rf /tmp/r /tmp/kc; mkdir -p /tmp/r /tmp/kc
xz -dc $DEV/kc-ptx.txz | tar xf - -C /tmp/kc
AUTOSLIM_KERNEL_CACHE=/tmp/kt timeout 170 $DEV/slim-test on_cuda_extra_bounds_checks --test-threads=1 --nocapture > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "test result|panicked|checks|DISAGREES" /tmp/r/tests.txt | cut -c1-200 | head -12
export AUTOSLIM_GEMM_PRECISION=bf16
cold() { timeout $1 $DEV/autoslim-L3 bench --model conv8 --batch 1024 --iters $2 --warmup 0 --mode $3 > /tmp/r/$4.log 2>&1; echo "$4: exit $? $(grep -o 'first step[^;]*' /tmp/r/$4.log | head -1)"; grep -h "step [0-9]*:" /tmp/r/$4.log | tr '\n' ' ' | cut -c1-600; echo; }
AUTOSLIM_GEMM_CHECKS=all-or-none AUTOSLIM_KERNEL_CACHE=/tmp/co cold 150 6 sandwich cold-allornone-sandwich
AUTOSLIM_GEMM_CHECKS=all-or-none AUTOSLIM_KERNEL_CACHE=/tmp/cop cold 90 3 plain cold-allornone-plain
AUTOSLIM_GEMM_CHECKS=all-or-none AUTOSLIM_KERNEL_CACHE=/tmp/co cold 90 30 sandwich prerun-allornone
AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache cold 90 30 sandwich prerun-needed
printf '#!/bin/sh\nAUTOSLIM_KERNEL_CACHE=/tmp/kc/cache AUTOSLIM_GEMM_CHECKS=needed exec %s "$@"\n' $DEV/autoslim-L3 > $DEV/N; chmod +x $DEV/N
printf '#!/bin/sh\nAUTOSLIM_KERNEL_CACHE=/tmp/co AUTOSLIM_GEMM_CHECKS=all-or-none exec %s "$@"\n' $DEV/autoslim-L3 > $DEV/O; chmod +x $DEV/O
for round in 1 2; do for v in N O; do
  timeout 70 $DEV/$v bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v-$round.log 2>&1
  echo "widths $v: exit $? sum $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$v-$round.log | awk '{s+=$4} END {printf "%.2f", s}') ms: $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$v-$round.log | awk '{printf "%s ", $4}')"
done; done
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=6 TIMEOUT=45 PEERS="pytorch" VARIANTS="N=$DEV/N:kernel-gemm O=$DEV/O:kernel-gemm" \
  timeout 300 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 6
tar czf $OUT/call3.tgz -C /tmp/r .
