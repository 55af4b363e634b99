#!/usr/bin/env bash
# Session 12, call 3: build F = the defaults this session chose (bf16 operands get the
# 128x128x64/4 stage, the weight gradient's products run simple_cyclic/mma) + the unfolded
# input (stride-2 and small-image weight gradients) and the strided input gradient's spread
# output gradient each written by one kernel. The whole CUDA layer suite on F; then conv8
# (batch 1024) plain and sandwich steps: build E with session 11's settings (inferred stages,
# burn's simple_cyclic/cmma products) against F, bf16 and TF32, PyTorch in the same run; then
# F's kernel profile.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for f in autoslim-E autoslim-F slimmable-tests-F; do xz -dkf $DEV/$f.xz && chmod +x $DEV/$f; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
timeout 240 $DEV/slimmable-tests-F on_cuda --test-threads=1 --nocapture > $OUT/tests.txt 2>&1
echo "tests: exit $?"; grep -E "agrees|DISAGREES|FAILED|test result|panicked|max abs" $OUT/tests.txt | grep -v "^   " | head -40
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_GEMM_TILING=auto AUTOSLIM_GEMM_WGRAD=simple_cyclic/cmma exec %s "$@"\n' $DEV/autoslim-E > $DEV/E-s11-bf16
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-F > $DEV/F-bf16
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=tf32 exec %s "$@"\n' $DEV/autoslim-F > $DEV/F-tf32
chmod +x $DEV/E-s11-bf16 $DEV/F-bf16 $DEV/F-tf32
for v in E-s11-bf16 F-bf16 F-tf32; do
  ( timeout 150 $DEV/$v bench --model conv8 --batch 1024 --iters 24 --warmup 1 --mode plain sandwich --seed 0 > $OUT/w-$v.log 2>&1; echo "$v warm-up: exit $? $(grep -E 'sandwich step:|inferred stage|fell back' $OUT/w-$v.log | tr '\n' ' ')" ) &
done
wait
MODELS=conv8 MODES="plain sandwich" ITERS=20 WARMUP=3 TIMEOUT=60 PEERS="pytorch" \
  VARIANTS="E-s11-bf16=$DEV/E-s11-bf16:kernel-gemm F-bf16=$DEV/F-bf16:kernel-gemm F-tf32=$DEV/F-tf32:kernel-gemm" \
  timeout 240 scripts/bench_gpu.sh /tmp/b-conv8 2>&1 | tail -n 8
tar czf $OUT/bench-conv8.tgz -C /tmp/b-conv8 .
BIN=$DEV/F-bf16 RUNS="p=conv8:plain:kernel-gemm" BATCH=1024 ITERS=3 WARMUP=2 TIMEOUT=90 scripts/profile_gpu.sh /tmp/prof > /dev/null 2>&1
cp /tmp/prof/p.txt $OUT/profile-F-bf16.txt
grep -E "^\| " $OUT/profile-F-bf16.txt | awk -F'|' '{n=NF; printf "%-28s %s %s\n", substr($2,1,28), $(n-3), $(n-2)}' | head -16
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude cache/cuda-driver cache
