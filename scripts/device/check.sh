#!/usr/bin/env bash
# Runs every CUDA path of a bundle on a GPU machine, checks it against the CPU and times it
# against PyTorch, in stages with their own time limits (one hang cannot eat the lease).
#
# Usage: check.sh [options] OUT_DIR
#
#   --bundle DIR     the bundle scripts/device/bundle.sh made (default: the folder this script
#                    is in, when it holds the bundle's manifest.json)
#   --stages LIST    comma-separated, in this order: gpu,tests,sanitizer,parity,bench,peers
#                    (default: all)
#   --budget S       the whole run's time limit in seconds (default: 450); each stage gets its
#                    own limit, cut to what is left of the budget
#   --jobs N         ctest's parallel tests (default: the number of cores)
#   --tests-limit S  the tests stage's time limit in seconds (default: 300)
#   -h, --help       this text
#
# FF_PEER_PYTHON names the python3 that holds PyTorch (and numpy, Pillow, PyYAML) for the peers
# and the generated benchmark inputs (default: python3).
#
# Stages:
#   gpu        nvidia-smi: the device, driver, clocks and memory
#   tests      the whole ctest suite from the bundle (the CUDA tests run where a GPU is)
#   sanitizer  compute-sanitizer memcheck and racecheck on the CUDA attention tests, memcheck
#              on the CUDA toy training run and on one CUDA step of the tiny LM
#   parity     the tiny LM trained 6 steps on the CPU and on CUDA (same seed, same Philox
#              dropout masks): the losses of every step side by side
#   bench      fourierformer-bench: attention at the paper's shapes (fp32, bf16), the LM-small,
#              LM-medium and DeiT-tiny training steps (synthetic corpus, generated JPEGs)
#   peers      the PyTorch peers of scripts/bench on the same GPU: the reference Fourier
#              formula eager and compiled, SDPA fp32 and bf16, the LM and DeiT-tiny (timm)
#              steps eager and compiled, fp32 and bf16
# Without a GPU, the stages that need one say "skipped: no GPU"; bench and peers then run their
# command lines once on the CPU at toy sizes (a smoke test of the script, not a measurement).
#
# OUT_DIR (created; must not exist or be empty) gets summary.txt (one line per stage, also
# printed), check.json (every stage's status, seconds, details and results) and logs.tar.gz
# (every log and raw JSON). Exit code: 0 when no stage failed, 1 otherwise, 2 on bad arguments.
set -uo pipefail
# shellcheck source=../lib/cli.sh
here="$(cd "$(dirname "$0")" && pwd)"
if [[ -f "$here/cli.sh" ]]; then  # in a bundle
  source "$here/cli.sh"
else
  source "$here/../lib/cli.sh"
fi

all_stages="gpu,tests,sanitizer,parity,bench,peers"
bundle=""
stages="$all_stages"
budget=450
jobs="$(nproc)"
tests_limit=300
out=""
while (($#)); do
  case "$1" in
    -h | --help) ff_usage; exit 0 ;;
    --bundle) ff_need_value "$@"; bundle="$2"; shift 2 ;;
    --stages) ff_need_value "$@"; stages="$2"; shift 2 ;;
    --budget) ff_need_value "$@"; ff_positive_int "$1" "$2"; budget="$2"; shift 2 ;;
    --jobs) ff_need_value "$@"; ff_positive_int "$1" "$2"; jobs="$2"; shift 2 ;;
    --tests-limit) ff_need_value "$@"; ff_positive_int "$1" "$2"; tests_limit="$2"; shift 2 ;;
    --) shift; (($# <= 1)) || ff_usage_error "one OUT_DIR expected"; out="${1:-}"; break ;;
    -?*) ff_usage_error "unknown option '$1'" ;;
    *) [[ -z "$out" ]] || ff_usage_error "one OUT_DIR expected, got '$out' and '$1'"; out="$1"; shift ;;
  esac
done
[[ -n "$out" ]] || ff_usage_error "OUT_DIR is missing"
IFS=, read -r -a chosen <<< "$stages"
for s in "${chosen[@]}"; do
  [[ ",$all_stages," == *",$s,"* ]] || ff_usage_error "--stages: unknown stage '$s' (expected some of $all_stages)"
done
if [[ -z "$bundle" ]]; then
  [[ -f "$here/manifest.json" ]] ||
    ff_usage_error "no bundle: pass --bundle DIR (a folder scripts/device/bundle.sh made)"
  bundle="$here"
fi
[[ -f "$bundle/manifest.json" && (-f "$bundle/env.sh" || -f "$bundle/payload.tar.xz") ]] ||
  ff_usage_error "--bundle '$bundle' is not a bundle (no manifest.json and payload.tar.xz): make one with scripts/device/bundle.sh"
if [[ -e "$out" ]] && [[ ! -d "$out" || -n "$(ls -A "$out")" ]]; then
  ff_usage_error "OUT_DIR '$out' exists and is not empty: choose another"
fi

if [[ ! -f "$bundle/env.sh" || "$bundle/payload.tar.xz" -nt "$bundle/env.sh" ]]; then
  echo "check.sh: unpacking $bundle/payload.tar.xz"
  if command -v xz > /dev/null; then
    tar -C "$bundle" -xJf "$bundle/payload.tar.xz"
  else  # python3's lzma where there is no xz
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' \
      "$bundle/payload.tar.xz" "$bundle"
  fi || { echo "check.sh: could not unpack $bundle/payload.tar.xz" >&2; exit 1; }
  touch "$bundle/env.sh"
fi
# shellcheck source=env.sh
source "$bundle/env.sh"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
logs="$out/logs"
mkdir -p "$logs"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
bin="$FF_BUNDLE/build/apps"
py="${FF_PEER_PYTHON:-python3}"
tests_bin="$FF_BUNDLE/build/tests"
src="$FF_BUNDLE/src"
start=$SECONDS
deadline=$((start + budget))
gpu=0
failed=0
: > "$out/summary.txt"
: > "$logs/stages.tsv"

# ff_time LIMIT CMD...: CMD under `timeout`, limited to LIMIT seconds and to what is left of the
# budget (at least 1 second); 124 when it was stopped.
ff_time() {
  local limit="$1" left=$((deadline - SECONDS))
  shift
  ((left < limit)) && limit=$left
  ((limit < 1)) && limit=1
  timeout --kill-after=10 "$limit" "$@"
}

# record STAGE STATUS SECONDS DETAIL: one summary line and one row for check.json.
record() {
  printf '%-10s %-8s %5ss  %s\n' "$1" "$2" "$3" "$4" | tee -a "$out/summary.txt"
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$logs/stages.tsv"
  [[ "$2" != "fail" ]] || failed=1
}

# Each stage sets `detail` and returns 0 (pass), 1 (fail) or 3 (skipped).
stage_gpu() {
  if ! command -v nvidia-smi > /dev/null; then detail="skipped: no GPU (no nvidia-smi)"; return 3; fi
  if ! ff_time 30 nvidia-smi > "$logs/nvidia-smi.txt" 2>&1; then
    detail="skipped: no GPU (nvidia-smi failed: $(tail -1 "$logs/nvidia-smi.txt"))"
    return 3
  fi
  ff_time 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit \
    --format=csv > "$logs/nvidia-smi-query.csv" 2>&1
  gpu=1
  detail="$(sed -n 2p "$logs/nvidia-smi-query.csv")"
  return 0
}

stage_tests() {
  local dir="$scratch/ctest" f ctest_bin
  ctest_bin="$(command -v ctest || true)"
  if [[ -z "$ctest_bin" ]]; then detail="no ctest on PATH"; return 1; fi
  mkdir -p "$dir"
  : > "$dir/CTestTestfile.cmake"
  for f in "$FF_BUNDLE"/ctest/*.cmake; do
    sed "s|@FF_BUNDLE@|$FF_BUNDLE|g" "$f" > "$dir/$(basename "$f")"
    echo "include(\"$dir/$(basename "$f")\")" >> "$dir/CTestTestfile.cmake"
  done
  (cd "$dir" && ff_time "$tests_limit" "$ctest_bin" -j "$jobs" --timeout 240 --output-on-failure \
    --output-junit "$logs/ctest-junit.xml") > "$logs/ctest.log" 2>&1
  local rc=$?
  local total passed skipped failed_n
  total=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#' "$logs/ctest.log")
  passed=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#.* Passed ' "$logs/ctest.log")
  skipped=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#.*\*\*\*Skipped ' "$logs/ctest.log")
  failed_n=$((total - passed - skipped))
  detail="$total tests: $passed passed, $skipped skipped, $failed_n failed"
  ((rc == 124)) && detail+=" (stopped at the time limit)"
  ((rc == 0 && failed_n == 0 && total > 0)) && return 0
  detail+="; $(grep -E '^ *[0-9]+ - ' "$logs/ctest.log" | head -5 | sed 's/^ *//' | paste -sd';')"
  return 1
}

# One training step of the tiny LM on a 0.2 MB synthetic corpus, shared by sanitizer and parity.
tiny_corpus() {
  [[ -d "$scratch/tiny-corpus" ]] ||
    "$py" "$src/scripts/data/make-synthetic-corpus.py" "$scratch/tiny-corpus" --mb 0.2 --types 300 \
      > "$logs/tiny-corpus.log" 2>&1
}
# The tiny LM's trainer command line: tiny_lm DEVICE WORK_DIR STEPS sets the array `cmd`.
tiny_lm() {
  cmd=("$bin/fourierformer-train" --config "$src/configs/tests/lm-tiny-softmax.yaml" --no-progress
    --work-dir "$2" --set device="$1" --set data.path="$scratch/tiny-corpus" --set train.max_steps="$3"
    --set train.eval_interval=0 --set train.checkpoint.interval=0)
}

stage_sanitizer() {
  if ((!gpu)); then detail="skipped: no GPU"; return 3; fi
  local cs
  cs="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2> /dev/null || true)"
  if [[ -z "$cs" ]]; then detail="skipped: no compute-sanitizer"; return 3; fi
  tiny_corpus || { detail="the synthetic corpus failed (logs/tiny-corpus.log)"; return 1; }
  local runs=(
    "memcheck-attention|--tool memcheck $tests_bin/ff_tests_kernels [attention][cuda]"
    "racecheck-attention|--tool racecheck $tests_bin/ff_tests_kernels [attention][cuda]"
    "memcheck-toy-run|--tool memcheck $tests_bin/ff_tests_core [trainer][cuda]"
  )
  local ok=0 n=0 names=() entry name args
  for entry in "${runs[@]}"; do
    name="${entry%%|*}"
    args="${entry#*|}"
    n=$((n + 1))
    # shellcheck disable=SC2086
    if ff_time 90 "$cs" --error-exitcode 9 $args > "$logs/sanitizer-$name.log" 2>&1; then
      ok=$((ok + 1))
    else
      names+=("$name")
    fi
  done
  n=$((n + 1))
  tiny_lm cuda "$scratch/sanitizer-lm" 1
  if ff_time 90 "$cs" --tool memcheck --error-exitcode 9 "${cmd[@]}" > "$logs/sanitizer-memcheck-lm-step.log" 2>&1; then
    ok=$((ok + 1))
  else
    names+=("memcheck-lm-step")
  fi
  detail="$ok of $n sanitizer runs clean"
  ((ok == n)) && return 0
  detail+="; failed: ${names[*]} (logs/sanitizer-*.log)"
  return 1
}

stage_parity() {
  if ((!gpu)); then detail="skipped: no GPU"; return 3; fi
  tiny_corpus || { detail="the synthetic corpus failed (logs/tiny-corpus.log)"; return 1; }
  local d
  for d in cpu cuda; do
    tiny_lm "$d" "$scratch/parity-$d" 6
    if ! ff_time 60 "${cmd[@]}" > "$logs/parity-$d.log" 2>&1; then
      detail="the $d run failed (logs/parity-$d.log)"
      return 1
    fi
    cp "$scratch/parity-$d/metrics.jsonl" "$logs/parity-$d-metrics.jsonl"
  done
  detail="$(python3 - "$logs/parity-cpu-metrics.jsonl" "$logs/parity-cuda-metrics.jsonl" "$logs/parity.json" << 'EOF'
import json, sys
def losses(path):
    return {r["step"]: r["loss"] for r in map(json.loads, open(path)) if r.get("type") == "train"}
cpu, cuda = losses(sys.argv[1]), losses(sys.argv[2])
steps = sorted(cpu)
worst = max(abs(cpu[s] - cuda.get(s, float("nan"))) / abs(cpu[s]) for s in steps)
ok = len(steps) == 6 and sorted(cuda) == steps and worst <= 1e-4
json.dump({"steps": steps, "cpu": [cpu[s] for s in steps], "cuda": [cuda.get(s) for s in steps],
           "max_relative_difference": worst, "tolerance": 1e-4, "pass": ok}, open(sys.argv[3], "w"), indent=2)
print(f"{len(steps)} steps, max relative loss difference {worst:.2e} (tolerance 1e-4)" + ("" if ok else ": FAIL"))
EOF
)"
  [[ "$detail" != *FAIL* && -n "$detail" ]]
}

# The benchmark inputs: a synthetic corpus with the WikiText-103 vocabulary size, and JPEGs.
bench_inputs() {
  local mb="$1" types="$2" per_class="$3"
  [[ -d "$scratch/corpus" ]] ||
    "$py" "$src/scripts/data/make-synthetic-corpus.py" "$scratch/corpus" --mb "$mb" --types "$types" \
      > "$logs/corpus.log" 2>&1 || return 1
  [[ -d "$scratch/jpegs" ]] ||
    "$py" "$src/scripts/bench/make-jpeg-folder.py" "$scratch/jpegs" --classes 10 --train "$per_class" \
      --val 2 > "$logs/jpegs.log" 2>&1 || return 1
}

# run_one LIMIT NAME CMD...: one benchmark or peer command, its log in logs/NAME.log, counted.
bench_ok=0
bench_n=0
bench_failed=()
run_one() {
  local limit="$1" name="$2"
  shift 2
  bench_n=$((bench_n + 1))
  if ((SECONDS >= deadline)); then
    bench_failed+=("$name (not started: budget spent)")
  elif ff_time "$limit" "$@" > "$logs/$name.log" 2>&1; then
    bench_ok=$((bench_ok + 1))
  else
    bench_failed+=("$name")
  fi
}

stage_bench() {
  local device=cuda steps=20 warmup=5 repeats=10 small=() medium=() deit=() mode="" attention=(--shapes paper)
  if ((!gpu)); then
    # The command lines once on the CPU at toy sizes.
    device=cpu steps=1 warmup=0 repeats=1 mode="smoke"
    attention=(--kind fourier --shape "2,2,64,64,16" --causal)
    small=(--set data.batch_size=2 --set data.tgt_len=32 --set model.n_layer=2 --set "model.cutoffs=[1000,2000,3000]")
    medium=("${small[@]}")
    deit=(--set data.batch_size=4 --set data.workers=1 --set model.depth=1 --set data.repeated_aug=false)
  fi
  bench_inputs "$([[ -n $mode ]] && echo 0.5 || echo 24)" "$([[ -n $mode ]] && echo 5000 || echo 267735)" \
    "$([[ -n $mode ]] && echo 2 || echo 200)" || { detail="the benchmark inputs failed (logs/corpus.log, logs/jpegs.log)"; return 1; }
  bench_ok=0 bench_n=0 bench_failed=()
  local p
  for p in fp32 bf16; do
    run_one 120 "bench-attention-$p" "$bin/fourierformer-bench" --device "$device" --warmup "$warmup" \
      --repeats "$repeats" --precision "$p" --json "$logs/bench-attention-$p.json" attention "${attention[@]}"
  done
  local kind
  for p in fp32 bf16; do
    for kind in softmax fourier; do
      run_one 90 "bench-lm-small-$kind-$p" "$bin/fourierformer-bench" --device "$device" --warmup "$warmup" --precision "$p" \
        --json "$logs/bench-lm-small-$kind-$p.json" train --config "$src/configs/lm/wt103-small-$kind.yaml" \
        --set data.path="$scratch/corpus" --steps "$steps" "${small[@]}"
      run_one 90 "bench-deit-tiny-$kind-$p" "$bin/fourierformer-bench" --device "$device" --warmup "$warmup" --precision "$p" \
        --json "$logs/bench-deit-tiny-$kind-$p.json" train --config "$src/configs/vit/deit-tiny-imagenet-$kind.yaml" \
        --set data.path="$scratch/jpegs" --set data.batch_size=256 --steps "$steps" "${deit[@]}"
    done
    run_one 90 "bench-lm-medium-softmax-$p" "$bin/fourierformer-bench" --device "$device" --warmup "$warmup" --precision "$p" \
      --json "$logs/bench-lm-medium-softmax-$p.json" train --config "$src/configs/lm/wt103-medium-softmax.yaml" \
      --set data.path="$scratch/corpus" --steps "$steps" "${medium[@]}"
  done
  detail="$bench_ok of $bench_n benchmark runs completed"
  [[ -n "$mode" ]] && detail="skipped: no GPU (command lines smoke-tested on the CPU: $detail)"
  ((${#bench_failed[@]} == 0)) || { detail+="; failed: ${bench_failed[*]}"; return 1; }
  [[ -z "$mode" ]] || return 3
}

stage_peers() {
  local device=cuda attention_args=() lm_args=() vit_args=() mode="" runs=() vocab=267735
  if ! "$py" -c 'import torch' > /dev/null 2>&1; then detail="skipped: $py has no torch (set FF_PEER_PYTHON)"; return 3; fi
  if ((gpu)); then
    # The most wanted first: what is left when the budget ends is reported, not run.
    local m k
    for m in eager:fp32 eager:bf16 compile:bf16 compile:fp32; do
      for k in softmax fourier; do runs+=("lm-small:$k:$m" "deit-tiny:$k:$m"); done
    done
    runs+=(lm-medium:softmax:eager:bf16 lm-medium:softmax:compile:bf16 lm-medium:softmax:eager:fp32)
    vit_args=(--steps 20)
  else
    device=cpu mode="smoke" vocab=5000
    runs=(lm-small:softmax:eager:fp32 deit-tiny:softmax:eager:fp32 lm-small:fourier:eager:fp32 deit-tiny:fourier:eager:fp32)
    attention_args=(--cases lm-small --batch 1 --warmup 0 --repeats 1 --fourier-repeats 1)
    lm_args=(--tgt-len 32 --layers 2 --warmup 0 --steps 1)
    vit_args=(--depth 1 --warmup 0 --steps 1)
  fi
  bench_ok=0 bench_n=0 bench_failed=()
  run_one 180 "peer-attention" "$py" "$src/scripts/bench/attention_gpu_peer.py" --device "$device" \
    --json "$logs/peer-attention.json" "${attention_args[@]}"
  local r model kind c p name batch extra
  for r in "${runs[@]}"; do
    IFS=: read -r model kind c p <<< "$r"
    name="peer-$model-$kind-$c-$p"
    # Batches: the reference Fourier formula keeps (B, H, N, N, d) tensors per layer for the
    # backward: at our batches one is 3.2 GB (LM-small, 96 x 256 tokens) or 7.6 GB (DeiT-tiny,
    # 256 images), several per layer, 16 or 12 layers, which by that count exceeds the GPU's
    # 139 GiB (an estimate, not a measured OOM): its peers run smaller batches.
    if [[ "$model" == deit-tiny ]]; then
      batch=256
      [[ "$kind" == fourier ]] && batch=32
      ((gpu)) || batch=4
      extra=()
      [[ "$kind" == softmax ]] && "$py" -c 'import timm' > /dev/null 2>&1 && extra=(--timm)
      run_one 90 "$name" "$py" "$src/scripts/bench/vit_peer.py" --device "$device" --mode "$c" --precision "$p" \
        --config "$src/configs/vit/deit-tiny-imagenet-$kind.yaml" --batch-size "$batch" --json "$logs/$name.json" \
        "${extra[@]}" "${vit_args[@]}"
    else
      batch=$([[ "$kind" == fourier ]] && echo 16 || echo 96)
      ((gpu)) || batch=2
      run_one 90 "$name" "$py" "$src/scripts/bench/lm_peer.py" --device "$device" --mode "$c" --precision "$p" \
        --vocab "$vocab" --config "$src/configs/lm/wt103-${model#lm-}-$kind.yaml" --batch-size "$batch" \
        --json "$logs/$name.json" "${lm_args[@]}"
    fi
  done
  detail="$bench_ok of $bench_n peer runs completed"
  [[ -n "$mode" ]] && detail="skipped: no GPU (command lines smoke-tested on the CPU: $detail)"
  ((${#bench_failed[@]} == 0)) || { detail+="; failed: ${bench_failed[*]}"; return 1; }
  [[ -z "$mode" ]] || return 3
}

echo "check.sh: bundle $FF_BUNDLE ($(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["commit"][:12], m["date"])' "$FF_BUNDLE/manifest.json" 2> /dev/null)), budget ${budget}s, CUDA libraries: ${FF_CUDA_LIBS:-none}${FF_CUDA_LIBS_MISSING:+ (missing: $FF_CUDA_LIBS_MISSING)}"
for s in ${all_stages//,/ }; do
  [[ ",$stages," == *",$s,"* ]] || continue
  t0=$SECONDS
  if ((SECONDS >= deadline)); then
    record "$s" "fail" 0 "not started: the ${budget}s budget is spent"
    continue
  fi
  detail=""
  "stage_$s"
  rc=$?
  case $rc in
    0) status=pass ;;
    3) status=skipped ;;
    *) status=fail ;;
  esac
  record "$s" "$status" $((SECONDS - t0)) "$detail"
done

python3 - "$logs" "$out/check.json" "$FF_BUNDLE/manifest.json" "$((SECONDS - start))" << 'EOF' 2> "$logs/check-json.err"
import glob, json, os, sys
logs, dest, manifest, seconds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
stages = []
for line in open(os.path.join(logs, "stages.tsv")):
    name, status, secs, detail = line.rstrip("\n").split("\t", 3)
    stages.append({"stage": name, "status": status, "seconds": int(secs), "detail": detail})
results = {}
for path in sorted(glob.glob(os.path.join(logs, "*.json"))):
    try:
        results[os.path.basename(path)[:-5]] = json.load(open(path))
    except ValueError as e:
        results[os.path.basename(path)[:-5]] = {"unreadable": str(e)}
json.dump({"bundle": json.load(open(manifest)), "seconds": seconds, "cuda_libraries": os.environ.get("FF_CUDA_LIBS", ""),
           "cuda_libraries_missing": os.environ.get("FF_CUDA_LIBS_MISSING", ""), "stages": stages,
           "results": results}, open(dest, "w"), indent=1)
EOF
tar -czf "$out/logs.tar.gz" -C "$out" logs && rm -rf "$logs"
echo "check.sh: $((SECONDS - start))s; $out: summary.txt, check.json, logs.tar.gz"
exit $failed
