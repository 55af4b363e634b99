#!/usr/bin/env bash
# Session 28, call 2 (build B). (1) B's cold first MobileNetV2-224 sandwich step (batch 128):
# empty kernel cache, the defaults (warm-up processes on), nothing else on the machine.
# (2) Where the host's time goes in a 2/12 and a full-width pass (the `host-profile` sampler,
# every thread of the process), with the kernels compiled by (1).
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-B.xz && chmod +x $DEV/autoslim-B
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r/hp
export AUTOSLIM_KERNEL_CACHE=/tmp/c
echo "== (1) cold first step"
timeout 150 $DEV/autoslim-B bench --model mobilenet_v2 --batch 128 --iters 12 --warmup 2 --mode sandwich > /tmp/r/cold-mbv2.log 2>&1; echo "exit $?"
grep -E "time to the first|sandwich step:" /tmp/r/cold-mbv2.log
echo "== (2) host profiles"
for r in 2/12 1; do
  AUTOSLIM_HOST_PROFILE=/tmp/r/hp/w timeout 120 $DEV/autoslim-B bench --model mobilenet_v2 --batch 128 --iters 10 --warmup 3 --mode widths --ratio $r > /tmp/r/hp-$(echo $r | tr / _).log 2>&1; echo "$r: exit $?"
  grep -o "width [0-9.]*: forward+backward [0-9.]* ms (queued in [0-9.]* ms)" /tmp/r/hp-$(echo $r | tr / _).log
done
ls /tmp/r/hp
for f in /tmp/r/hp/*.txt; do echo "-- $f"; head -60 $f; done
tar czf $OUT/call2.tgz -C /tmp/r .
