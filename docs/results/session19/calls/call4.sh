#!/usr/bin/env bash
# Session 19, call 4: the CUDA tests call 2 did not reach in its 180 s (the whole binary runs
# longer): the named-tilings test on B's CUDA default kernel (simple_sync_cyclic/mma), then the
# rest of the slimmable crate's tests after it (layout copies and batch sums, linear, norms,
# im2col, widths, settings).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/slimmable-tests-B.xz && chmod +x $DEV/slimmable-tests-B
mkdir -p /tmp/kc && export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
rm -rf /tmp/r; mkdir -p /tmp/r
timeout 170 $DEV/slimmable-tests-B gemm_conv::tests::on_cuda_named --test-threads=1 --nocapture > /tmp/r/tests-named.txt 2>&1
echo "named: exit $?"; grep -E "test result|panicked|FAILED|DISAGREES|not used|^kernel|agrees" /tmp/r/tests-named.txt | cut -c1-160 | head -20
timeout 150 $DEV/slimmable-tests-B gemm_operands gemm_kernel gemm_precision gemm_tiling im2col linear norm record_tests width --test-threads=1 > /tmp/r/tests-rest.txt 2>&1
echo "rest: exit $?"; grep -E "test result|panicked|FAILED" /tmp/r/tests-rest.txt | head -10
tar czf $OUT/call4.tgz -C /tmp/r .
