#!/usr/bin/env bash
# Session 19, call 6: the named-tilings CUDA test with a swizzled 2x2-warp stage on the mma
# kernel (new in its list) and a swizzled stage on the cmma kernel (must be refused, the
# inferred stage running instead) (build D = the committed code + that test). NOT RUN: the
# session's device time ran out before a machine could start; kept for the next session.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/slimmable-tests-D.xz && chmod +x $DEV/slimmable-tests-D
mkdir -p /tmp/r6
timeout 170 $DEV/slimmable-tests-D gemm_conv::tests::on_cuda_named --test-threads=1 --nocapture > /tmp/r6/tests.txt 2>&1
echo "tests: exit $?"; grep -E "test result|panicked|FAILED|agrees|DISAGREES|swizzle" /tmp/r6/tests.txt | cut -c1-120 | head -20
cp /tmp/r6/tests.txt $OUT/tests.txt
