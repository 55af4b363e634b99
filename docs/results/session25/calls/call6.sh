#!/usr/bin/env bash
# Session 25, call 6. Build N. MobileNetV2-224's passes at each uniform width (batch 128) with
# the host's sampling profile (AUTOSLIM_HOST_PROFILE: every thread, CPU time) of each width's
# timed passes: is a narrow pass bound by the host (burn's autodiff, cubecl's launches)?
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim-N.xz && chmod +x $DEV/autoslim-N
rm -rf /tmp/r /tmp/c; mkdir -p /tmp/r
export AUTOSLIM_KERNEL_CACHE=/tmp/c AUTOSLIM_WARM_UP=off
AUTOSLIM_HOST_PROFILE=/tmp/r/mbv2 timeout 150 $DEV/autoslim-N bench --model mobilenet_v2 --batch 128 --iters 10 --warmup 3 --mode widths > /tmp/r/widths-profile.log 2>&1
echo "exit $?"; grep -o "width [0-9.]*: forward+backward [0-9.]* ms (queued in [0-9.]* ms)" /tmp/r/widths-profile.log
for f in /tmp/r/mbv2-width0.167.txt /tmp/r/mbv2-width1.000.txt; do echo "== $f"; sed -n 1,8p $f; done
rm -f /tmp/r/*.svg
tar czf $OUT/call6.tgz -C /tmp/r .
