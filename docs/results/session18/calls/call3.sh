#!/usr/bin/env bash
# Session 18, call 3: the CUDA tests of the changed ops with the final code (Z5 = Z4 + the GEMM
# conv tests' tolerance grown with the square root of the longest sum, for the new cases of
# 40–152 channels).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/slimmable-tests-Z5.xz && chmod +x $DEV/slimmable-tests-Z5
mkdir -p /tmp/r4
timeout 150 $DEV/slimmable-tests-Z5 gemm_operands::tests::on_cuda gemm_conv::tests::on_cuda:: gemm_conv::tests::on_cuda_bf16 gemm_conv::tests::on_cuda_every_weight gemm_conv::tests::on_cuda_named gemm_conv::spread_tests conv::tests::on_cuda --test-threads=1 --nocapture > /tmp/r4/tests.txt 2>&1
echo "tests: exit $?"; grep -E "test result|panicked|FAILED|DISAGREES|not used" /tmp/r4/tests.txt | head -12
cp /tmp/r4/tests.txt $OUT/tests.txt
