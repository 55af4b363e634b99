#!/usr/bin/env bash
# Session 21, call 4. Build I = the committed code (da8ea28: the copies of call 1; the direct stem
# of calls 2-3 reverted). Kernel cache: session 20's (MobileNetV2's kernels) merged with call 3's.
# conv8 (batch 1024) and MobileNetV2-224 (batch 128) plain and sandwich steps against PyTorch,
# bf16 on the GEMM path; a MobileNetV2 sandwich pre-run first compiles any kernel still missing.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-I.xz && chmod +x $DEV/autoslim-I
mkdir -p /tmp/kc && export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
xz -dc $DEV/kc.txz | tar xf - -C /tmp/kc
rm -rf /tmp/r; mkdir -p /tmp/r
printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 exec %s "$@"\n' $DEV/autoslim-I > $DEV/I; chmod +x $DEV/I
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=6 TIMEOUT=45 PEERS="pytorch" VARIANTS="I=$DEV/I:kernel-gemm" \
  timeout 150 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 4
timeout 70 $DEV/I bench --model mobilenet_v2 --batch 128 --iters 10 --warmup 2 --mode sandwich > /tmp/r/prerun-mbv2.log 2>&1
echo "pre-run: exit $? $(grep -o 'sandwich step: .*' /tmp/r/prerun-mbv2.log)"
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=10 WARMUP=3 TIMEOUT=60 PEERS="pytorch" VARIANTS="I=$DEV/I:kernel-gemm" \
  timeout 200 scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -n 4
grep -h "sandwich step [0-9]*:" /tmp/r/bench-mbv2/burn-I-mobilenet_v2-sandwich.log | tr '\n' ' ' | cut -c1-400; echo
tar czf $OUT/call4.tgz -C /tmp/r .
ls -la $OUT
