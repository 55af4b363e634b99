#!/usr/bin/env bash
# Session 18, call 2 (first part). Builds: Y = session 17's committed code; Z4 = Y + the batch
# sums' cubes over the active block only + the unfold reading a vector of channels per thread
# (call 1's Z read one value at a time: its vector-size check also tested the channels' own
# stride) + AUTOSLIM_GEMM_COLUMNS (how the conv stages' columns fit the channels; default pow2,
# as Y). Call 1's bf16 GEMM outputs and fitted weight-gradient stages are not in Z4. Z4's CUDA
# tests of the changed ops; conv8 (batch 1024) each width's pass with Y and with Z4 at each
# column setting; the fastest setting (least summed pass time) written to /tmp/r/best and
# trained on the Fashion-MNIST subset config.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-Y autoslim-Z4 slimmable-tests-Z4; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > /tmp/r/gpu.txt 2>&1
timeout 140 $DEV/slimmable-tests-Z4 gemm_operands::tests::on_cuda gemm_conv::tests::on_cuda:: gemm_conv::tests::on_cuda_bf16 gemm_conv::tests::on_cuda_every_weight gemm_conv::tests::on_cuda_named gemm_conv::spread_tests conv::tests::on_cuda --test-threads=1 --nocapture > /tmp/r/tests.txt 2>&1
echo "tests: exit $?"; grep -E "test result|panicked|FAILED|DISAGREES|not used|refused" /tmp/r/tests.txt | head -10
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-Y > $DEV/Y-bf16
for c in pow2 8 16 32; do printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_GEMM_COLUMNS=%s exec %s "$@"\n' $c $DEV/autoslim-Z4 > $DEV/Z4-c$c; done
chmod +x $DEV/Y-bf16 $DEV/Z4-c*
for v in Y-bf16 Z4-cpow2 Z4-c8 Z4-c16 Z4-c32; do
  timeout 45 $DEV/$v bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$v.log 2>&1
  echo "$v widths: exit $? $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$v.log | awk '{printf "%s=%s ", $2, $4; s+=$4} END {printf "sum=%.2f", s}')"
done
for v in Z4-cpow2 Z4-c8 Z4-c16 Z4-c32; do
  echo "$(grep -o 'forward+backward [0-9.]* ms' /tmp/r/widths-$v.log | awk '{s+=$2} END {printf "%.3f", s}') $v"
done | sort -n | head -1 | awk '{print $2}' > /tmp/r/best
echo "best: $(cat /tmp/r/best)"
B=$(cat /tmp/r/best)
timeout 60 $DEV/$B train --config configs/autoslim_cnn_fashion_mnist.toml > /tmp/r/train-$B.log 2>&1
echo "train $B: exit $?"; grep -v "^\s*$" /tmp/r/train-$B.log | tail -n 14
cp -r runs/autoslim_cnn_fashion_mnist/accuracy.* /tmp/r/ 2>/dev/null; rm -rf runs/autoslim_cnn_fashion_mnist
tar czf $OUT/call2a.tgz -C /tmp/r .
