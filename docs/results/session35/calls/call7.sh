#!/usr/bin/env bash
# Session 35, call 7: where a warm-up process of the Fashion-MNIST CNN's training goes (N, process
# 1 of 6 alone, empty caches, cubecl's compilation log; `scripts/compile_log.py`). Prepared, not
# run: session 35 had no device time left to start a machine.
set -uo pipefail
DEV=$(pwd)/artifacts/dev
[ -x $DEV/autoslim-N ] || { xz -dkf $DEV/autoslim-N.xz && chmod +x $DEV/autoslim-N; }
R=/tmp/r7; mkdir -p $R
trap 'cp $R/summary.txt $OUT/ 2>/dev/null; tar czf $OUT/logs.tgz -C $R .' EXIT
trap "exit 143" TERM
start=$(date +%s%N)
AUTOSLIM_KERNEL_CACHE=/tmp/shard AUTOSLIM_WARM_UP_SHARD=0/6 CUBECL_DEBUG_LOG=$R/compile.full timeout 100 $DEV/autoslim-N train --config configs/autoslim_cnn_fashion_mnist.toml --work-dir $R/run > $R/shard.log 2>&1
echo "cnn warm-up process 1/6 alone: exit $? in $(( ($(date +%s%N) - start) / 1000000 )) ms; $(tail -1 $R/shard.log)" | tee $R/summary.txt
awk '/^source:/{skip=1} /END_KERNEL_COMPILATION/{skip=0; print "----"; next} !skip' $R/compile.full | gzip > $R/compile-cnn.log.gz
rm -f $R/compile.full
