#!/usr/bin/env bash
# Session 27, call 6: the slimmable crate's whole CUDA test suite on the session's final code
# (C), one test thread.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/slimmable-tests-final.xz && chmod +x $DEV/slimmable-tests-final
rm -rf /tmp/r; mkdir -p /tmp/r
timeout 420 $DEV/slimmable-tests-final on_cuda --test-threads=1 > /tmp/r/cuda-tests.log 2>&1; echo "tests: exit $?"
grep -E "test result|FAILED|panicked" /tmp/r/cuda-tests.log | head -12; grep -c "\.\.\. ok" /tmp/r/cuda-tests.log
tar czf $OUT/call6.tgz -C /tmp/r .
