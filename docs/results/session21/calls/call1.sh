#!/usr/bin/env bash
# Session 21, call 1. Builds: G = session 20's committed code (0460479); I = G + channels-last to
# channels-last copies by a vector kernel (shift_kernel) + the stride-1 forward operand written
# padded once and kept for the backward pass + the stride-1 output gradient written once in the
# padded grid's memory (caa9c44 + the next commit). Carries cubecl's PTX cache only (the CUDA
# driver's is 40 MB compressed): the first passes compile. (1) I's CUDA tests of the GEMM convs,
# copies and tilings; (2) conv8 width passes, G against I (bf16); (3) Nsight Compute per-kernel
# times of I's width passes; the kernel cache (with the driver's) comes back for call 2.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-G autoslim-I tests-I; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
[ -f $DEV/kc-ptx.txz ] && xz -dc $DEV/kc-ptx.txz | tar xf - -C /tmp/kc
rm -rf /tmp/r; mkdir -p /tmp/r
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > /tmp/r/gpu.txt
wrap() { printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 %s exec %s "$@"\n' "$3" $DEV/$2 > $DEV/$1; chmod +x $DEV/$1; }
wrap G autoslim-G ""
wrap I autoslim-I ""
timeout 150 $DEV/tests-I gemm_ --test-threads=1 > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "test result|panicked|FAILED|DISAGREES|refused" /tmp/r/tests.txt | cut -c1-200 | head -12
for v in I G I G; do
  timeout 70 $DEV/$v bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1
  echo "$v: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$v.log | awk '{printf "%s ", $4}')"
done
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
timeout 100 $NCU --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv --log-file /tmp/r/ncu-widths-I.csv \
  $DEV/I bench --model conv8 --batch 1024 --iters 1 --warmup 1 --mode widths > /tmp/r/ncu-widths-I.log 2>&1
echo "ncu: exit $? $(wc -l < /tmp/r/ncu-widths-I.csv) lines"
gzip -f /tmp/r/ncu-widths-I.csv /tmp/r/tests.txt
tar czf $OUT/call1.tgz -C /tmp/r .
tar cf - -C /tmp/kc cache | xz -T8 -3 | split -b 15m - $OUT/kc.txz.
ls -la $OUT
