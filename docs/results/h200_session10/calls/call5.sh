#!/usr/bin/env bash
# Session 10, call 5: the slimmable layer tests on CUDA with the new default implicit-GEMM kernel
# (simple_sync_strided/mma) and channel alignment, and each verified kernel against burn-ndarray.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/slimmable-tests.xz && chmod +x $DEV/slimmable-tests
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export CUDA_CACHE_PATH=/tmp/kc/cache/cuda-driver CUDA_CACHE_MAXSIZE=1073741824
timeout 200 $DEV/slimmable-tests on_cuda --test-threads=1 --nocapture > $OUT/tests.txt 2>&1; echo "exit $?"
grep -E "agrees|DISAGREES|^test |test result" $OUT/tests.txt
