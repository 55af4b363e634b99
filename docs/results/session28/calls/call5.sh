#!/usr/bin/env bash
# Session 28, call 5. B (the depthwise kernels rewritten; glibc's allocator) against B4 (B +
# mimalloc as the command line's allocator + the wall-clock thread states; the final code):
# (1) pre-runs of both, MobileNetV2-224 batch 128 and conv8 batch 1024 (every width's kernels
# compiled into one cache); (2) MobileNetV2's widths, B then B4; (3) plain and sandwich steps
# of both models: B4, B, PyTorch.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-B.xz $DEV/autoslim-B4.xz && chmod +x $DEV/autoslim-B $DEV/autoslim-B4
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r
export AUTOSLIM_KERNEL_CACHE=/tmp/c
echo "== (1) pre-runs"
for v in B4 B; do
  timeout 100 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 12 --warmup 2 --mode sandwich plain > /tmp/r/prerun-mbv2-$v.log 2>&1; echo "prerun mbv2 $v: exit $? $(grep -o 'time to the first step.*' /tmp/r/prerun-mbv2-$v.log | head -1)"
  timeout 60 $DEV/autoslim-$v bench --model conv8 --batch 1024 --iters 12 --warmup 2 --mode sandwich plain > /tmp/r/prerun-conv8-$v.log 2>&1; echo "prerun conv8 $v: exit $? $(grep -o 'time to the first step.*' /tmp/r/prerun-conv8-$v.log | head -1)"
done
echo "== (2) widths"
for v in B B4; do
  timeout 70 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1; echo "$v: exit $?"
  grep -o "width [0-9.]*: forward+backward [0-9.]* ms (queued in [0-9.]* ms)" /tmp/r/widths-$v.log | awk '{printf "%s %s/%s  ", $2, $4, $8} END {print ""}'
done
echo "== (3) benches"
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=60 VARIANTS="B4=$DEV/autoslim-B4:gemm-all B=$DEV/autoslim-B:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -6
MODELS=conv8 MODES="plain sandwich" ITERS=20 WARMUP=3 TIMEOUT=60 VARIANTS="B4=$DEV/autoslim-B4:gemm-all B=$DEV/autoslim-B:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -6
tar czf $OUT/call5.tgz -C /tmp/r .
