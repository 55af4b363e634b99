#!/usr/bin/env bash
# Session 12, call 6: the final code (build G = F + the weight-gradient kernel's fallback for
# devices without the tile, a no-op on CUDA): example gemm_stages on the H200, and conv8's plain
# step (bf16, batch 1024) to check it against F's.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
for f in autoslim-G gemm_stages-G; do xz -dkf $DEV/$f.xz && chmod +x $DEV/$f; done
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
timeout 200 $DEV/gemm_stages-G > $OUT/example.txt 2>&1; echo "example: exit $?"; cat $OUT/example.txt
AUTOSLIM_GEMM_PRECISION=bf16 timeout 120 $DEV/autoslim-G bench --model conv8 --batch 1024 --iters 12 --warmup 3 --mode plain > $OUT/plain-G-bf16.log 2>&1
echo "G bf16 plain: exit $? $(grep -E 'plain step:|inferred stage|fell back' $OUT/plain-G-bf16.log | tr '\n' ' ')"
