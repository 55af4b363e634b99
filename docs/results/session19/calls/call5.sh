#!/usr/bin/env bash
# Session 19, call 5: the committed code's CUDA tests that changed after call 4 (build C = B +
# the fused SGD test's tolerance, the kernel setting reset by the tests, `is_multiple_of` in the
# spread, fold and depthwise kernels): fused SGD, the kernel settings, the depthwise op, the
# strided input gradient (fold), the GEMM conv's layer tests and the every-kernel test, the
# layout copies.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/slimmable-tests-C.xz && chmod +x $DEV/slimmable-tests-C
mkdir -p /tmp/r5
timeout 200 $DEV/slimmable-tests-C fused_sgd gemm_kernel depthwise spread_tests gemm_conv::tests::on_cuda:: on_cuda_every_gemm_kernel gemm_operands --test-threads=1 > /tmp/r5/tests.txt 2>&1
echo "tests: exit $?"; grep -E "test result|panicked|FAILED" /tmp/r5/tests.txt | head -10
cp /tmp/r5/tests.txt $OUT/tests.txt
