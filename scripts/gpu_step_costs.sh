#!/usr/bin/env bash
# What the MobileNetV2-small sandwich step costs with this project's depthwise kernels, once
# kernel compilation is out of the way (issue 6). One device call, from the repository root:
#
#   DEV=artifacts/dev scripts/gpu_step_costs.sh OUT_DIR
#
# DEV holds `autoslim` or `autoslim.xz` (release build with `--features cuda`, stripped).
#
# 1. profile: cubecl's per-kernel table of a sandwich step with PROFILE_CONV (default
#    depthwise-kernel; scripts/profile_gpu.sh), to see where the step goes;
# 2. compile: kernel-matmul (depthwise kernels, 1x1 convs as cubecl's matmul) for ITERS
#    sandwich steps with cubecl's PTX cache in a fresh directory, then again with that cache
#    warm, cubecl's compilation log on: per-step times (the bench's `steps_ms`) show whether
#    its slow first steps are compilation, and how much a shipped cache saves;
# 3. aligned: the bench with widths rounded to multiples of 8 (DIVISOR=8), depthwise-kernel
#    and kernel-matmul against the PyTorch peer.
#
# OUT_DIR gets profile.tgz, compile.tgz, aligned.tgz.
set -uo pipefail
OUT_DIR=${1:?usage: gpu_step_costs.sh OUT_DIR}
DEV=$(cd "${DEV:-artifacts/dev}" && pwd)
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
[ -e "$DEV/autoslim.xz" ] && xz -dkf "$DEV/autoslim.xz"
chmod +x "$DEV/autoslim"
BIN=$DEV/autoslim
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

echo "== 1. profile"
BIN=$BIN RUNS="step=mobilenet_v2_small:sandwich:${PROFILE_CONV:-depthwise-kernel}" ITERS=2 WARMUP=1 TIMEOUT=${PROFILE_TIMEOUT:-80} \
  scripts/profile_gpu.sh /tmp/profile | tail -n 5
tar czf "$OUT_DIR/profile.tgz" -C /tmp/profile .

echo "== 2. compile"
dir=/tmp/compile
mkdir -p "$dir/cache"
# cubecl reads cubecl.toml from the working directory.
printf '[compilation]\ncache = { file = "%s/cache" }\n[compilation.logger]\nlevel = "basic"\nfile = "%s/compile.log"\nappend = true\n' \
  "$dir" "$dir" > "$dir/cubecl.toml"
for run in cold warm; do
  echo "-- $run cache"
  (cd "$dir" && AUTOSLIM_CONV=kernel-matmul timeout "${COMPILE_TIMEOUT:-150}" "$BIN" bench --model mobilenet_v2_small \
     --batch 256 --iters "${ITERS:-12}" --warmup 1 --mode sandwich) > "$dir/$run.txt" 2>&1
  echo "   exit $?; $(grep -c . "$dir/compile.log" 2>/dev/null) compilation log lines so far"
  grep -v '^RESULT' "$dir/$run.txt" | tail -n 3
  grep '^RESULT' "$dir/$run.txt" | grep -o '"steps_ms":\[[^]]*\]'
done
du -sh "$dir/cache"
(cd "$dir" && tar czf "$OUT_DIR/compile.tgz" cold.txt warm.txt compile.log cubecl.toml)

echo "== 3. aligned widths"
MODELS=mobilenet_v2_small MODES=sandwich DIVISOR=8 ITERS=6 WARMUP=1 TIMEOUT=${ALIGNED_TIMEOUT:-100} BIN=$BIN \
  CONVS="depthwise-kernel kernel-matmul" scripts/bench_gpu.sh /tmp/aligned 2>&1 | tail -n 12
tar czf "$OUT_DIR/aligned.tgz" -C /tmp/aligned .
