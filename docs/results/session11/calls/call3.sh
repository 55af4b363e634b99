#!/usr/bin/env bash
# Session 11, call 3: the CUDA layer tests with the contiguous padded copies (A's fix) and the
# one-pass spatial padding + fewer weight-gradient batches (B); then conv8 plain and sandwich
# (exact widths, caches warmed by an untimed run with the same seed) for A and B with TF32 and
# bf16 operands, PyTorch fp32/TF32 and bf16-autocast in the same run.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
left() { echo $(( ${DEADLINE:-520} - SECONDS )); }
for b in A B; do xz -dkf $DEV/autoslim-$b.xz && chmod +x $DEV/autoslim-$b; done
xz -dkf $DEV/slimmable-tests.xz && chmod +x $DEV/slimmable-tests
for b in A B; do for p in tf32 bf16; do
  printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=%s exec %s "$@"\n' $p $DEV/autoslim-$b > $DEV/$b-$p; chmod +x $DEV/$b-$p
done; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
( CUDA_CACHE_PATH=/tmp/kc/cache/cuda-driver timeout 200 $DEV/slimmable-tests on_cuda --test-threads=1 --nocapture > $OUT/tests.txt 2>&1; echo "tests: exit $?" ) &
echo "== warm-up, four at once ($(left) s left)"
for v in A-tf32 A-bf16 B-tf32 B-bf16; do
  ( timeout 200 $DEV/$v bench --model conv8 --batch 1024 --iters 24 --warmup 1 --mode plain sandwich > /tmp/w-$v.log 2>&1; echo "$v: exit $? $(grep -o 'not finite.*' /tmp/w-$v.log | head -1)" ) &
done
wait
cp /tmp/w-*.log $OUT/
grep -E "agrees|DISAGREES|^test |test result|panicked|max abs" $OUT/tests.txt | head -50
echo "== conv8 ($(left) s left)"
MODELS=conv8 MODES="plain sandwich" ITERS=20 WARMUP=3 TIMEOUT=60 PEERS="pytorch pytorch-bf16" \
  VARIANTS="A-tf32=$DEV/A-tf32:kernel-gemm A-bf16=$DEV/A-bf16:kernel-gemm B-tf32=$DEV/B-tf32:kernel-gemm B-bf16=$DEV/B-bf16:kernel-gemm" \
  timeout $(( $(left) - 15 )) scripts/bench_gpu.sh /tmp/b-conv8 2>&1 | tail -n 14
tar czf $OUT/bench-conv8.tgz -C /tmp/b-conv8 .
tar czf $OUT/kernel_cache.tgz -C /tmp/kc --exclude=cache/cuda-driver cache; ls -la $OUT
