#!/usr/bin/env bash
# Session 9, call 6: the slimmable layer tests on CUDA, at the session's last commit.
set -uo pipefail
DEV=artifacts/dev
xz -dkf $DEV/slimmable-tests.xz && chmod +x $DEV/slimmable-tests
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
timeout 300 $DEV/slimmable-tests on_cuda --test-threads=1 > $OUT/tests.txt 2>&1; echo "exit $?"
grep -E "^test |test result|panicked|difference" $OUT/tests.txt | tail -n 40
