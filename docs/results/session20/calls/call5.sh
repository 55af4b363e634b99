#!/usr/bin/env bash
# Session 20, call 5 (build G; kernel cache: call 4's, which compiled G's kernels for the bench's
# sandwich widths). A first sandwich run fills the cache with any kernel still missing; then
# conv8 (batch 1024) and MobileNetV2-224 (batch 128) plain and sandwich steps, G (fitted weight-
# gradient stages) against G-inferred (conv8 only) and PyTorch, all bf16 on the GEMM path.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-G.xz && chmod +x $DEV/autoslim-G
mkdir -p /tmp/kc && export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
[ -f $DEV/kc.txz ] && xz -dc $DEV/kc.txz | tar xf - -C /tmp/kc
rm -rf /tmp/r; mkdir -p /tmp/r
wrap() { printf '#!/bin/sh\nAUTOSLIM_GEMM_PRECISION=bf16 %s exec %s "$@"\n' "$2" $DEV/autoslim-G > $DEV/$1; chmod +x $DEV/$1; }
wrap G ""
wrap G-inferred "AUTOSLIM_WGRAD_STAGES=inferred"
timeout 60 $DEV/G bench --model conv8 --batch 1024 --iters 12 --warmup 6 --mode sandwich > /tmp/r/prerun-G.log 2>&1
echo "pre-run: exit $? $(grep -o 'sandwich step: .*' /tmp/r/prerun-G.log)"
VARIANTS="G=$DEV/G:kernel-gemm G-inferred=$DEV/G-inferred:kernel-gemm"
MODELS=conv8 MODES="plain sandwich" ITERS=12 WARMUP=6 TIMEOUT=50 PEERS="pytorch" VARIANTS="$VARIANTS" \
  timeout 160 scripts/bench_gpu.sh /tmp/r/bench-conv8 2>&1 | tail -n 6
grep -h "sandwich step [0-9]*:" /tmp/r/bench-conv8/burn-G-conv8-sandwich.log | tr '\n' ' ' | cut -c1-400; echo
MODELS=mobilenet_v2 MODES="plain sandwich" ITERS=8 WARMUP=2 TIMEOUT=45 PEERS="pytorch" VARIANTS="G=$DEV/G:kernel-gemm" \
  timeout 140 scripts/bench_gpu.sh /tmp/r/bench-mbv2 2>&1 | tail -n 5
tar czf $OUT/call5.tgz -C /tmp/r .
ls -la $OUT
