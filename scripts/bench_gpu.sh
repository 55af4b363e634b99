#!/usr/bin/env bash
# GPU benchmark in one invocation: `autoslim bench` (burn, CUDA build) against the PyTorch peer
# (scripts/peer/bench_peer.py: same networks, widths and step semantics), on the same GPU.
#
#   BIN=artifacts/autoslim scripts/bench_gpu.sh [OUT_DIR]
#
# Each (tool, model, step) runs in its own process, so that its time to the first step and its
# peak GPU memory (nvidia-smi, sampled every 50 ms: the whole process, CUDA context included; and, for burn on CUDA, the most cubecl's pool held at a step's end and the high-water mark of CUDA's own pool over the timed steps)
# are its own. The ratios are printed last and written to OUT_DIR/summary.md.
#
# burn's kernels are compiled on first use: fill its kernel cache (AUTOSLIM_KERNEL_CACHE) first
# with an untimed `autoslim bench` of the same model, mode, --iters and --warmup (the same seed
# draws the same widths), or the timed sandwich steps count the compilation of widths the cache
# has not met (docs/BENCHMARKS.md, session 36, calls 3 and 4: conv8's mean 9 458 against 21 065 img/s).
#
# Environment: MODELS ("conv8 mobilenet_v2"), MODES ("plain sandwich widths"), ITERS, WARMUP,
# DIVISOR (8: aligned widths), TIMEOUT (seconds per process), CONV8_BATCH, MBV2_BATCH, and the
# burn builds to time: VARIANTS, a list of LABEL=BINARY:CONV (CONV one of AUTOSLIM_CONV's
# values, or `default` to leave it unset), e.g. "new=artifacts/autoslim:default
# native=artifacts/autoslim:native"; without it, BIN with each of CONVS ("default"). PEERS: the
# PyTorch runs, "pytorch" (fp32 with TF32, the default and the peer of every ratio) and
# "pytorch-bf16" (bfloat16 autocast).
set -uo pipefail
OUT_DIR=${1:-runs/bench_gpu}
BIN=${BIN:-target/release/autoslim}
PY=${PY:-python3}
MODELS=${MODELS:-conv8 mobilenet_v2}
CONVS=${CONVS:-default}
MODES=${MODES:-plain sandwich widths}
if [ -z "${VARIANTS:-}" ]; then
  VARIANTS=""; for conv in $CONVS; do VARIANTS="$VARIANTS $conv=$BIN:$conv"; done
fi
ITERS=${ITERS:-10}
WARMUP=${WARMUP:-3}
DIVISOR=${DIVISOR:-}
TIMEOUT=${TIMEOUT:-240}
PEERS=${PEERS:-pytorch}
# The warm-up processes (src/warm_up.rs) would count in the GPU-wide memory sampled below: off
# unless set (time them on their own, on an empty kernel cache).
export AUTOSLIM_WARM_UP=${AUTOSLIM_WARM_UP:-off}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT_DIR"
RESULTS="$OUT_DIR/results.jsonl"
: > "$RESULTS"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT_DIR/gpu.txt"

batch_of() { case $1 in conv8) echo "${CONV8_BATCH:-1024}" ;; mobilenet_v2_small) echo "${MBV2S_BATCH:-256}" ;; *) echo "${MBV2_BATCH:-128}" ;; esac; }

# run TOOL MODEL MODE CMD...: runs CMD with a memory sampler, appends its RESULT lines and peak.
run() {
  local tool=$1 model=$2 mode=$3; shift 3
  local log="$OUT_DIR/$tool-$model-$mode.log" peak="$OUT_DIR/.peak"
  echo "== $tool $model $mode"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 50 > "$peak" &
  local sampler=$!
  local start; start=$(date +%s%N)
  timeout "$TIMEOUT" "$@" > "$log" 2>&1
  local rc=$?
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
  grep -v RESULT "$log" | tail -n 15
  [ $rc -ne 0 ] && echo "   (exit $rc; see $log)"
  grep '^RESULT ' "$log" | sed 's/^RESULT //' | TOOL=$tool "$PY" -c '
import json, os, sys
for line in sys.stdin:
    r = json.loads(line); r["tool"] = os.environ["TOOL"]; print(json.dumps(r))' >> "$RESULTS"
  local mib; mib=$(sort -n "$peak" | tail -1)
  printf '{"tool":"%s","model":"%s","mode":"peak_mem_%s","mib":%s,"exit":%s,"wall_ms":%s}\n' \
    "$tool" "$model" "$mode" "${mib:-0}" "$rc" "$(( ($(date +%s%N) - start) / 1000000 ))" >> "$RESULTS"
}

div_args=(); [ -n "$DIVISOR" ] && div_args=(--divisor "$DIVISOR")
for model in $MODELS; do
  batch=$(batch_of "$model")
  for mode in $MODES; do
    for peer in $PEERS; do
      amp=none; [ "$peer" = pytorch-bf16 ] && amp=bf16
      run "$peer" "$model" "$mode" "$PY" "$HERE/peer/bench_peer.py" --model "$model" --batch "$batch" \
        --iters "$ITERS" --warmup "$WARMUP" --mode "$mode" --amp "$amp" "${div_args[@]}"
    done
    first=1
    for variant in $VARIANTS; do
      label=${variant%%=*}; rest=${variant#*=}; bin=${rest%:*}; conv=${rest##*:}
      [ "$mode" = widths ] && [ $first = 0 ] && continue   # widths: the first variant only
      first=0
      conv_env=(AUTOSLIM_CONV="$conv"); [ "$conv" = default ] && conv_env=(-u AUTOSLIM_CONV)
      run "burn-$label" "$model" "$mode" env "${conv_env[@]}" "$bin" bench --model "$model" --batch "$batch" \
        --iters "$ITERS" --warmup "$WARMUP" --mode "$mode" "${div_args[@]}"
    done
  done
done

"$PY" - "$RESULTS" "$OUT_DIR/summary.md" <<'PY'
import collections, json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = collections.defaultdict(dict)
for r in rows:
    by[(r["model"], r["tool"])].setdefault(r["mode"], []).append(r)
def get(model, tool, mode, key):
    for r in by[(model, tool)].get(mode, []):
        if key in r:
            return r[key]
    return None
out = []
for model in sorted({m for m, _ in by}):
    tools = sorted({t for m, t in by if m == model}, key=lambda t: (not t.startswith("pytorch"), t))
    out.append(f"\n### {model}\n")
    out.append("| tool | plain img/s | sandwich img/s | sandwich img/s, median step | sandwich / plain time | first step (s) | peak MiB plain | peak MiB sandwich | pool MiB plain / sandwich | CUDA pool peak MiB plain / sandwich | sandwich vs PyTorch |")
    out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    peer = get(model, "pytorch", "sandwich", "img_per_s")
    for t in tools:
        p, s = get(model, t, "plain", "img_per_s"), get(model, t, "sandwich", "img_per_s")
        # The median step leaves out steps that compiled kernels for widths not met before.
        median_ms, batch = get(model, t, "sandwich", "median_ms"), get(model, t, "sandwich", "batch")
        s_median = batch * 1000.0 / median_ms if median_ms and batch else None
        first = get(model, t, "first_step", "s")
        mp, ms = get(model, t, "peak_mem_plain", "mib"), get(model, t, "peak_mem_sandwich", "mib")
        f = lambda x, d=0: "—" if x is None else f"{x:.{d}f}"
        pp, ps = get(model, t, "reserved_plain", "mib"), get(model, t, "reserved_sandwich", "mib")
        ratio = f(p / s, 2) if p and s else "—"
        vs = f(s / peer, 3) + "×" if s and peer else "—"
        pool = f"{f(pp)} / {f(ps)}" if pp or ps else "—"
        cp, cs = get(model, t, "cuda_pool_plain", "mib"), get(model, t, "cuda_pool_sandwich", "mib")
        cuda_pool = f"{f(cp)} / {f(cs)}" + (f" ({cs / cp:.3f})" if cp and cs else "") if cp or cs else "—"
        out.append(f"| {t} | {f(p)} | {f(s)} | {f(s_median)} | {ratio} | {f(first, 1)} | {f(mp)} | {f(ms)} | {pool} | {cuda_pool} | {vs} |")
    ideal = next((r for t in tools for r in by[(model, t)].get("sandwich_ideal", [])), None)
    if ideal:
        out.append(f"\nA sandwich step over a plain one if time followed the arithmetic: {ideal['arithmetic']:.2f}×; the values written: {ideal['values']:.2f}× (burn's widths; expected).")
    widths = {t: {r["ratio"]: r["ms"] for r in by[(model, t)].get("width", [])} for t in tools}
    if any(widths.values()):
        have = [t for t in tools if widths[t]]
        out.append("\n| width | " + " | ".join(f"{t} fwd+bwd ms" for t in have) + " |")
        out.append("| --- |" + " --- |" * len(have))
        for r in sorted(widths[have[0]]):
            out.append(f"| {r:.3f} | " + " | ".join(f"{widths[t].get(r, float('nan')):.2f}" for t in have) + " |")
text = "\n".join(out)
print(text)
open(sys.argv[2], "w").write(text + "\n")
PY
