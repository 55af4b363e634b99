#!/usr/bin/env bash
# Session 11, call 7: where build C's bf16 conv8 plain step goes now (cubecl's kernel profile,
# batch 1024, after the layout fix), and the plain step with burn's kernel against
# simple_sync_strided/mma with bf16 operands, same run.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-C.xz && chmod +x $DEV/autoslim-C
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-C > $DEV/C-bf16; chmod +x $DEV/C-bf16
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 AUTOSLIM_GEMM_KERNEL=simple_sync_strided/mma exec %s "$@"\n' $DEV/autoslim-C > $DEV/C-bf16-strided; chmod +x $DEV/C-bf16-strided
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 90 $DEV/C-bf16-strided bench --model conv8 --batch 1024 --iters 3 --warmup 1 --mode plain > $OUT/w-strided.log 2>&1; echo "strided warm-up: exit $?"
for v in C-bf16 C-bf16-strided C-bf16; do
  timeout 60 $DEV/$v bench --model conv8 --batch 1024 --iters 20 --warmup 3 --mode plain > $OUT/plain-$v.log 2>&1; echo "$v: exit $? $(grep 'plain step:' $OUT/plain-$v.log)"
done
BIN=$DEV/C-bf16 RUNS="bf16=conv8:plain:kernel-gemm" BATCH=1024 ITERS=3 WARMUP=2 TIMEOUT=90 scripts/profile_gpu.sh /tmp/prof > /dev/null 2>&1
cp /tmp/prof/bf16.txt $OUT/profile-C-bf16-plain.txt
grep -E "^\| " $OUT/profile-C-bf16-plain.txt | awk -F'|' '{n=NF; printf "%-40s %s %s\n", substr($2,1,40), $(n-3), $(n-2)}' | head -32
