#!/usr/bin/env bash
# Session 11, call 2: the CUDA layer tests (bf16 operands and the one-pass padded copies
# included), and which setting gives call 1's non-finite sandwich loss: 3 sandwich steps each.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim.xz && chmod +x $DEV/autoslim
xz -dkf $DEV/slimmable-tests.xz && chmod +x $DEV/slimmable-tests
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
export CUDA_CACHE_PATH=/tmp/kc/cache/cuda-driver CUDA_CACHE_MAXSIZE=1073741824
( timeout 250 $DEV/slimmable-tests on_cuda --test-threads=1 --nocapture > $OUT/tests.txt 2>&1; echo "tests: exit $?" ) &
sleep 1
run() { local label=$1; shift; env "$@" timeout 100 $DEV/autoslim bench --model conv8 --batch 256 --iters 3 --warmup 0 --mode sandwich > $OUT/nan-$label.log 2>&1; echo "$label: exit $? $(grep -o 'not finite.*width `[a-z]*` (channels per group [^)]*)' $OUT/nan-$label.log | head -1) $(grep 'sandwich step:' $OUT/nan-$label.log)"; }
run default A=1
run align1 AUTOSLIM_GEMM_ALIGN=1
run strided AUTOSLIM_GEMM_KERNEL=simple_sync_strided/mma
run bf16 AUTOSLIM_GEMM_PRECISION=bf16
run bf16-align1 AUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_GEMM_ALIGN=1
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim > $DEV/autoslim-bf16; chmod +x $DEV/autoslim-bf16
BIN=$DEV/autoslim-bf16 RUNS="bf16=conv8:plain:kernel-gemm" BATCH=1024 ITERS=3 WARMUP=2 TIMEOUT=90 scripts/profile_gpu.sh /tmp/prof > /dev/null 2>&1
cp /tmp/prof/bf16.txt $OUT/profile-bf16-plain.txt; grep -E "^\| " $OUT/profile-bf16-plain.txt | head -30 | cut -c1-150
wait
grep -E "agrees|DISAGREES|^test |test result|panicked|max abs" $OUT/tests.txt | head -60
