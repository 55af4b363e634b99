#!/usr/bin/env bash
# Session 25, call 7. Build N. cubecl's kernel profile of MobileNetV2-224's passes at each
# uniform width (batch 128; one table per width: 2 passes after 1, scripts/profile_gpu.sh):
# which kernels do not shrink with the width (call 5: the 2/12 pass costs 45 % of the full one).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-N.xz && chmod +x $DEV/autoslim-N
mkdir -p /tmp/r
export AUTOSLIM_WARM_UP=off
BIN=$DEV/autoslim-N RUNS="mbv2-widths=mobilenet_v2:widths:gemm-all" BATCH=128 ITERS=2 WARMUP=1 TIMEOUT=110 \
  scripts/profile_gpu.sh /tmp/r > /tmp/r/profile.out 2>&1
grep -E "width [0-9.]*: forward|exit" /tmp/r/profile.out | head -14
cp /tmp/r/*.log.gz /tmp/r/*.txt $OUT/ 2>/dev/null; ls -la $OUT
