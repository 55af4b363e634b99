#!/usr/bin/env bash
# Session 26, call 2 (the machine of call 1, kept warm). Build A. (1) The CUDA tests that failed
# in call 1 when the harness ran them on parallel threads (process-wide GEMM settings changed by
# one test under another), on one thread as every earlier session ran them; (2) MobileNetV2-224
# plain and sandwich steps, one band (A) against bands up to 262 144 threads, after a pre-run of
# each that compiles the sandwich's kernels (call 1's A run compiled them in its timed steps).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-A.xz $DEV/slimmable-tests-A.xz && chmod +x $DEV/autoslim-A $DEV/slimmable-tests-A
printf '#!/bin/sh\nAUTOSLIM_DEPTHWISE_WGRAD_THREADS=262144 exec %s "$@"\n' "$DEV/autoslim-A" > $DEV/autoslim-A-262144; chmod +x $DEV/autoslim-A-262144
rm -rf /tmp/r; mkdir -p /tmp/r /tmp/c
export AUTOSLIM_KERNEL_CACHE=/tmp/c AUTOSLIM_WARM_UP=off
echo "== (1) CUDA tests, one thread"
timeout 300 $DEV/slimmable-tests-A on_cuda --test-threads=1 > /tmp/r/cuda-tests.log 2>&1; echo "tests: exit $?"
grep -E "^test |test result|FAILED|panicked" /tmp/r/cuda-tests.log | grep -v " ok$" | head -20
grep -c " ok$" /tmp/r/cuda-tests.log
echo "== (2) pre-runs"
for v in A A-262144; do timeout 100 $DEV/autoslim-$v bench --model mobilenet_v2 --batch 128 --iters 12 --warmup 2 --mode sandwich > /tmp/r/prerun-$v.log 2>&1; echo "pre-run $v exit $?"; done
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=100 \
  VARIANTS="A=$DEV/autoslim-A:gemm-all A262k=$DEV/autoslim-A-262144:gemm-all A-again=$DEV/autoslim-A:gemm-all A262k-again=$DEV/autoslim-A-262144:gemm-all" \
  scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -9
tar czf $OUT/call2.tgz -C /tmp/r .
