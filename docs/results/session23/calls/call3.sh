#!/usr/bin/env bash
# Session 23, call 3. Build W2 (GemmChecks::Channels: every check along the sizes that are
# channel counts, the others as needed). (A) the CUDA test of the extra checks (now with
# channels) against burn-ndarray; (B) conv8's passes at each of 11 widths with needed, channels
# and always checks, two rounds; (C) conv8 cold sandwich with channels (now the default of runs
# of many widths; warm-up on), then plain
# and sandwich against PyTorch in the same call (bench_gpu.sh, warm cache).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for f in autoslim-W2 slimmable-test-W2; do xz -dkf $DEV/$f.xz && chmod +x $DEV/$f; done
rm -rf /tmp/r; mkdir -p /tmp/r
export AUTOSLIM_GEMM_PRECISION=bf16
echo "== (A) CUDA test"
timeout 200 $DEV/slimmable-test-W2 on_cuda_extra_bounds_checks --nocapture > /tmp/r/test-checks.log 2>&1
echo "test exit $?"; grep -E "^checks|test result" /tmp/r/test-checks.log
echo "== (B) conv8 widths"
W="--model conv8 --batch 1024 --iters 10 --warmup 3 --mode widths"
for round in 1 2; do
  for checks in needed channels always; do
    AUTOSLIM_GEMM_CHECKS=$checks AUTOSLIM_KERNEL_CACHE=/tmp/c-w-$checks timeout 150 $DEV/autoslim-W2 bench $W > /tmp/r/widths-$checks-$round.log 2>&1
    echo "$checks round $round: exit $? $(grep -o 'warm-up: [0-9]* of.*' /tmp/r/widths-$checks-$round.log)$(grep -o 'warm-up: skipped' /tmp/r/widths-$checks-$round.log)"
    grep -o "width [0-9.]*: forward+backward [0-9.]* ms" /tmp/r/widths-$checks-$round.log | awk '{printf "%s ", $4; s+=$4} END {printf "| sum %.2f ms\n", s}'
  done
done
echo "== (C) conv8 sandwich, channels"
AUTOSLIM_GEMM_CHECKS=channels AUTOSLIM_KERNEL_CACHE=/tmp/c-s timeout 150 $DEV/autoslim-W2 bench --model conv8 --batch 1024 --iters 30 --warmup 0 --mode sandwich > /tmp/r/cold-sandwich-channels.log 2>&1
echo "cold: exit $? first step $(grep -o 'first step (process[^)]*): [0-9.]* s' /tmp/r/cold-sandwich-channels.log | grep -o '[0-9.]* s$') | $(grep -o 'warm-up: [0-9]* of.*' /tmp/r/cold-sandwich-channels.log)"
grep -h " step [0-9]*:" /tmp/r/cold-sandwich-channels.log | awk '{printf "%s ", $4}'; echo
AUTOSLIM_KERNEL_CACHE=/tmp/c-s timeout 60 $DEV/autoslim-W2 bench --model conv8 --batch 1024 --iters 3 --warmup 1 --mode plain > /tmp/r/prerun-plain.log 2>&1
AUTOSLIM_KERNEL_CACHE=/tmp/c-s MODELS=conv8 MODES="plain sandwich" ITERS=20 WARMUP=3 TIMEOUT=120 \
  VARIANTS="W2=$DEV/autoslim-W2:kernel-gemm" scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -8
tar czf $OUT/call3.tgz -C /tmp/r .
