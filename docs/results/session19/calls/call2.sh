#!/usr/bin/env bash
# Session 19, call 2. Build B = A + `simple_sync_cyclic/mma` as the CUDA default kernel (burn's
# `simple_sync_cyclic/cmma` stays the default elsewhere, and is named here by
# AUTOSLIM_GEMM_KERNEL for the comparison). The whole CUDA test binary of the slimmable crate
# with B (its GEMM conv tests now run the mma kernel); conv8 (batch 1024, bf16) each width's
# pass with B and with B on cmma; the Fashion-MNIST subset config trained with B.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-B slimmable-tests-B; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > /tmp/r/gpu.txt 2>&1
timeout 180 $DEV/slimmable-tests-B --test-threads=1 --nocapture > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "test result|panicked|FAILED|DISAGREES|not used|^kernel" /tmp/r/tests.txt | head -12
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-B > $DEV/B-mma
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_GEMM_KERNEL=simple_sync_cyclic/cmma exec %s "$@"\n' $DEV/autoslim-B > $DEV/B-cmma
chmod +x $DEV/B-mma $DEV/B-cmma
for v in B-mma B-cmma; do
  timeout 80 $DEV/$v bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1
  echo "$v widths: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$v.log | awk '{printf "%s=%s ", $2, $4; s+=$4} END {printf "sum=%.2f", s}')"
done
timeout 90 $DEV/B-mma train --config configs/autoslim_cnn_fashion_mnist.toml > /tmp/r/train-B.log 2>&1
echo "train B: exit $?"; grep -v "^\s*$" /tmp/r/train-B.log | tail -n 14
cp -r runs/autoslim_cnn_fashion_mnist/accuracy.* /tmp/r/ 2>/dev/null; rm -rf runs/autoslim_cnn_fashion_mnist
tar czf $OUT/call2.tgz -C /tmp/r .
