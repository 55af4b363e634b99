#!/usr/bin/env bash
# Session 10, call 1: what makes a sandwich step that meets new widths slow (0.55-1.1 s in
# session 9 even with cubecl's PTX cache warm)? conv8 sandwich runs with cubecl's compilation
# and memory-page logs on, one line per step, and the CUDA driver's JIT cache in a known place:
#   A: seed 0 (widths that session 9's runs met: PTX cache warm), driver JIT cache empty
#   B: seed 0 again (PTX and driver JIT caches warm)
#   C: seed 1 (new widths), D: seed 1 again
#   E: seed 0 with the driver JIT cache off (CUDA_CACHE_DISABLE=1)
set -uo pipefail
DEV=$(pwd)/artifacts/dev
xz -dkf $DEV/autoslim.xz && chmod +x $DEV/autoslim
mkdir -p /tmp/kc && tar xzf $DEV/kernel_cache.tgz -C /tmp/kc
export AUTOSLIM_KERNEL_CACHE=/tmp/kc/cache
mkdir -p /tmp/diag && cd /tmp/diag
cat > cubecl.toml <<'TOML'
[compilation.logger]
level = "basic"
stdout = true
[memory.logger]
level = "basic"
stdout = true
TOML
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
echo "HOME=$HOME CUDA_CACHE_PATH=${CUDA_CACHE_PATH:-unset}; ~/.nv: $(du -sh ~/.nv 2>/dev/null)"
export CUDA_CACHE_PATH=/tmp/nvjit CUDA_CACHE_MAXSIZE=4294967296
run() { # label seed [env...]
  local label=$1 seed=$2; shift 2
  local t0=$SECONDS
  env "$@" timeout 120 $DEV/autoslim bench --model conv8 --batch 1024 --iters 20 --warmup 2 --mode sandwich --seed $seed > $OUT/$label.log 2>&1
  echo "== $label (seed $seed, $* ; exit $?, $((SECONDS-t0)) s): compiles $(grep -c 'Compiling kernel' $OUT/$label.log), memory lines $(grep -vc 'Compiling\|step\|RESULT' $OUT/$label.log), jit cache $(du -sh /tmp/nvjit 2>/dev/null | cut -f1)"
  grep -E 'sandwich step [0-9]+:|first step' $OUT/$label.log | awk '{printf "%s ", $(NF-1)} END {print ""}'
}
run A 0
run B 0
run C 1
run D 1
run E 0 CUDA_CACHE_DISABLE=1
cd $OUT && tar czf logs.tgz *.log && rm -f *.log
tar czf $OUT/kernel_cache.tgz -C /tmp/kc cache
[ $(du -sm /tmp/nvjit | cut -f1) -lt 40 ] && tar czf $OUT/nvjit.tgz -C /tmp nvjit; ls -la $OUT
