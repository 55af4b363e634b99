#!/usr/bin/env bash
# Session 16, call 3: cubek's other implicit-GEMM kernels for the convs, with build S (no
# rebuild: AUTOSLIM_GEMM_KERNEL). simple_sync_cyclic with the `mma` tile, and
# simple_sync_tilewise with either tile, were never measured (session 10 timed nine others;
# simple_sync_strided/mma was faster but failed cubek's launch validation for small shapes).
# Each kernel: the CUDA check against burn-ndarray (three geometries) in its own process, then
# conv8's per-width passes (which also compile its kernels); then plain and sandwich steps of
# the default and of each kernel that agreed, against PyTorch in the same run.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for b in autoslim-S slimmable-tests-S; do xz -dkf $DEV/$b.xz && chmod +x $DEV/$b; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-S > $DEV/S-default; chmod +x $DEV/S-default
variants="S-default=$DEV/S-default:kernel-gemm"
for k in simple_sync_cyclic/mma simple_sync_tilewise/cmma simple_sync_tilewise/mma; do
  name=$(echo $k | tr '/' '-')
  AUTOSLIM_TEST_GEMM_KERNELS=$k timeout 90 $DEV/slimmable-tests-S on_cuda_every_gemm_kernel --test-threads=1 --nocapture > /tmp/r/test-$name.txt 2>&1
  echo "$k test: exit $? $(grep -E 'agrees|DISAGREES' /tmp/r/test-$name.txt | head -1)"
  printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_GEMM_KERNEL=%s exec %s "$@"\n' $k $DEV/autoslim-S > $DEV/S-$name; chmod +x $DEV/S-$name
  timeout 120 $DEV/S-$name bench --model conv8 --batch 1024 --iters 6 --warmup 2 --mode widths > /tmp/r/widths-$name.log 2>&1
  rc=$?
  echo "$k widths: exit $rc $(grep -o 'width [0-9.]*: forward+backward [0-9.]* ms' /tmp/r/widths-$name.log | awk '{printf "%s=%s ", $2, $4}') $(grep -o 'fell back.*\|inferred stage.*' /tmp/r/widths-$name.log | head -1)"
  if [ $rc = 0 ] && grep -q ' agrees' /tmp/r/test-$name.txt; then
    timeout 100 $DEV/S-$name bench --model conv8 --batch 1024 --iters 8 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-$name.log 2>&1; echo "$k warm-up: exit $?"
    variants="$variants S-$name=$DEV/S-$name:kernel-gemm"
  fi
done
timeout 100 $DEV/S-default bench --model conv8 --batch 1024 --iters 8 --warmup 1 --mode plain sandwich --seed 0 > /tmp/r/w-S-default.log 2>&1; echo "default warm-up: exit $?"
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=3 TIMEOUT=80 PEERS="pytorch" VARIANTS="$variants" \
  timeout 330 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 8
tar czf $OUT/call3.tgz -C /tmp/r .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
