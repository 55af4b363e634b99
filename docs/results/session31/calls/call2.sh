#!/usr/bin/env bash
# Session 31, call 2. E = D with BatchNorm's finishing kernels by rows of 32 threads a channel;
# F = E with BatchNorm's one-cube kernels in cubes of 1 024 threads. The CUDA tests of F's
# BatchNorm (background); each width's pass of F and D (MobileNetV2-224 batch 128, 2/12 and
# full width); Nsight Compute's per-kernel times of F (against session 30's C log); then plain
# and sandwich steps of F against D and PyTorch.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-D.xz $DEV/autoslim-F.xz $DEV/slimmable-tests-F.xz && chmod +x $DEV/autoslim-? $DEV/slimmable-tests-F
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r; tar xJf $DEV/kc/kc.txz -C /tmp
export AUTOSLIM_KERNEL_CACHE=/tmp/c
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "== CUDA tests (background); widths"
timeout 200 $DEV/slimmable-tests-F batch_norm > /tmp/r/cuda-tests.log 2>&1 &
TESTS=$!
for v in F D; do
  AUTOSLIM_WARM_UP=off timeout 100 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 8 --warmup 3 --mode widths --ratio 2/12 1 > /tmp/r/widths-mobilenet_v2-$v.log 2>&1
  echo "$v: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-mobilenet_v2-$v.log | awk '{printf "%s %s  ", $2, $4}')"
done
wait $TESTS; echo "tests: exit $?"; grep -E "test result|FAILED|panicked" /tmp/r/cuda-tests.log | head -12
echo "== ncu of F"
AUTOSLIM_WARM_UP=off timeout 150 /usr/local/cuda/bin/ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv --log-file /tmp/r/ncu-widths-F.csv \
  $DEV/autoslim-F bench --model mobilenet_v2 --batch 128 --mode widths --ratio 2/12 1 --iters 1 --warmup 1 > /tmp/r/ncu-widths-F.log 2>&1
echo "ncu: exit $?"; python3 scripts/ncu_passes.py /tmp/r/ncu-widths-F.csv 2/12,1 2>&1 | head -8
gzip -f /tmp/r/ncu-widths-F.csv
echo "== benches"
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=50 VARIANTS="F=$DEV/autoslim-F:gemm-all D=$DEV/autoslim-D:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -6
tar czf $OUT/call2.tgz -C /tmp/r .
