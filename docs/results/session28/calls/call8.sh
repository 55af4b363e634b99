#!/usr/bin/env bash
# Session 28, call 8. B4 against B5 (B4 + the strided depthwise input gradient's taps decided at
# compile time), MobileNetV2-224 batch 128: (1) B5's depthwise CUDA tests (background) beside
# pre-runs of both; (2) each width's pass, B4 then B5; (3) plain and sandwich steps, B5 then B4
# (no PyTorch: device time); (4) Nsight Compute of B5's full-width pass.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-B4.xz $DEV/autoslim-B5.xz $DEV/slimmable-tests-B5.xz && chmod +x $DEV/autoslim-B4 $DEV/autoslim-B5 $DEV/slimmable-tests-B5
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r
export AUTOSLIM_KERNEL_CACHE=/tmp/c
timeout 150 $DEV/slimmable-tests-B5 depthwise --test-threads=1 > /tmp/r/cuda-tests.log 2>&1 &
TESTS=$!
for v in B5 B4; do
  timeout 90 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 8 --warmup 2 --mode sandwich plain > /tmp/r/prerun-$v.log 2>&1; echo "prerun $v: exit $?"
done
wait $TESTS; echo "tests: exit $?"; grep -E "test result|FAILED|panicked" /tmp/r/cuda-tests.log | head -8
for v in B4 B5; do
  timeout 60 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1; echo "$v: exit $?"
  grep -o "width [0-9.]*: forward+backward [0-9.]* ms" /tmp/r/widths-$v.log | awk '{printf "%s %s  ", $2, $4} END {print ""}'
done
for v in B5 B4; do
  timeout 60 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 10 --warmup 3 --mode plain sandwich > /tmp/r/bench-$v.log 2>&1; echo "$v: exit $? $(grep -o '[a-z]* step: [0-9.]* ms, [0-9.]* img/s' /tmp/r/bench-$v.log | tr '\n' ' ')"
done
AUTOSLIM_WARM_UP=off timeout 60 /usr/local/cuda/bin/ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv --log-file /tmp/r/ncu-B5.csv \
  $DEV/autoslim-B5 bench --model mobilenet_v2 --batch 128 --mode widths --ratio 1 --iters 1 --warmup 1 > /tmp/r/ncu-B5.log 2>&1; echo "ncu: exit $?"
grep '"input_grad_kernel' /tmp/r/ncu-B5.csv | tail -4 | awk -F'","' '{print $5, $9, $NF}'
gzip -f /tmp/r/ncu-B5.csv
tar czf $OUT/call8.tgz -C /tmp/r .
