#!/usr/bin/env bash
# Session 28, call 3 (build B2 = B + wall-clock thread states in the host profile). What each
# thread does over wall-clock time in a MobileNetV2-224 (batch 128) pass at 2/12 and at full
# width: running, or waiting in which system call (the CPU-time profile of call 2 saw the two
# busy threads run 2.5 ms of a 17 ms narrow pass).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-B2.xz && chmod +x $DEV/autoslim-B2
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r/hp
export AUTOSLIM_KERNEL_CACHE=/tmp/c
timeout 120 $DEV/autoslim-B2 bench --model mobilenet_v2 --batch 128 --iters 4 --warmup 2 --mode widths --ratio 2/12 1 > /tmp/r/compile.log 2>&1; echo "compile run: exit $?"
for r in 2/12 1; do
  AUTOSLIM_HOST_PROFILE=/tmp/r/hp/w timeout 120 $DEV/autoslim-B2 bench --model mobilenet_v2 --batch 128 --iters 10 --warmup 3 --mode widths --ratio $r > /tmp/r/hp-$(echo $r | tr / _).log 2>&1; echo "$r: exit $?"
  grep -o "width [0-9.]*: forward+backward [0-9.]* ms (queued in [0-9.]* ms)" /tmp/r/hp-$(echo $r | tr / _).log
done
for f in /tmp/r/hp/*.txt; do echo "-- $f"; head -8 $f; sed -n '/wall-clock/,$p' $f; done
tar czf $OUT/call3.tgz -C /tmp/r .
