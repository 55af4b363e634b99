#!/usr/bin/env bash
# Session 23, call 6. Build W4 (W3 + the warm-up's processes polled, stopped after a timeout or
# when the warm-up is dropped unfinished). conv8 (batch 1024, bf16): the cold sandwich with the
# warm-up, then plain and sandwich against PyTorch twice in the same call (bench_gpu.sh).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-W4.xz && chmod +x $DEV/autoslim-W4
rm -rf /tmp/r; mkdir -p /tmp/r
export AUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_KERNEL_CACHE=/tmp/c6
timeout 150 $DEV/autoslim-W4 bench --model conv8 --batch 1024 --iters 30 --warmup 0 --mode sandwich > /tmp/r/cold-sandwich.log 2>&1
echo "cold: exit $? first step $(grep -o 'first step (process[^)]*): [0-9.]* s' /tmp/r/cold-sandwich.log | grep -o '[0-9.]* s$') | $(grep -o 'warm-up: [0-9]* of.*' /tmp/r/cold-sandwich.log)"
grep -h " step [0-9]*:" /tmp/r/cold-sandwich.log | awk '{printf "%s ", $4}'; echo
timeout 60 $DEV/autoslim-W4 bench --model conv8 --batch 1024 --iters 3 --warmup 1 --mode plain > /tmp/r/prerun-plain.log 2>&1
for round in 1 2; do
  MODELS=conv8 MODES="plain sandwich" ITERS=20 WARMUP=3 TIMEOUT=120 VARIANTS="W4=$DEV/autoslim-W4:kernel-gemm" \
    scripts/bench_gpu.sh /tmp/r/bench-conv8-$round 2>&1 | tail -4
done
tar czf $OUT/call6.tgz -C /tmp/r .
