#!/usr/bin/env bash
# Session 28, call 4. B2 (B + wall-clock thread states in the host profile) against B3 (B2 with
# mimalloc as the command line's allocator), MobileNetV2-224 batch 128: (1) pre-runs (every
# width's kernels compiled, into one cache); (2) each width's pass, B2 then B3, twice; (3) plain
# and sandwich steps: B3, B2, PyTorch; (4) B3's host profile at 2/12.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-B2.xz $DEV/autoslim-B3.xz && chmod +x $DEV/autoslim-B2 $DEV/autoslim-B3
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r/hp
export AUTOSLIM_KERNEL_CACHE=/tmp/c
echo "== (1) pre-runs"
for v in B3 B2; do
  timeout 120 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 12 --warmup 2 --mode sandwich plain > /tmp/r/prerun-$v.log 2>&1; echo "prerun $v: exit $? $(grep -o 'sandwich step: [0-9.]* ms' /tmp/r/prerun-$v.log | head -1)"
done
echo "== (2) widths"
for v in B2 B3 B2 B3; do
  timeout 80 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1; echo "$v: exit $?"
  grep -o "width [0-9.]*: forward+backward [0-9.]* ms (queued in [0-9.]* ms)" /tmp/r/widths-$v.log | awk '{printf "%s %s/%s  ", $2, $4, $8} END {print ""}'
done
echo "== (3) benches"
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=90 VARIANTS="B3=$DEV/autoslim-B3:gemm-all B2=$DEV/autoslim-B2:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -6
echo "== (4) host profile of B3 at 2/12"
AUTOSLIM_HOST_PROFILE=/tmp/r/hp/w timeout 120 $DEV/autoslim-B3 bench --model mobilenet_v2 --batch 128 --iters 10 --warmup 3 --mode widths --ratio 2/12 > /tmp/r/hp-2_12.log 2>&1; echo "exit $?"
grep -o "width [0-9.]*: forward+backward [0-9.]* ms (queued in [0-9.]* ms)" /tmp/r/hp-2_12.log
for f in /tmp/r/hp/*.txt; do head -60 $f; sed -n '/wall-clock/,$p' $f; done
tar czf $OUT/call4.tgz -C /tmp/r .
