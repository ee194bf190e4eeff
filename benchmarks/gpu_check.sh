#!/usr/bin/env bash
# The GPU check (issue 26) in one run, for a lent GPU machine with little time: unpacks the bundle
# that scripts/package-gpu-check made here, then runs, each part under its own time limit and in
# order of importance:
#   a. the test binaries on the GPU (ctest's suites; the build tree's paths are this machine's);
#   b. the quickstart in fp32 and bf16, compared with this machine's CPU records
#      (benchmarks/gpu_check_compare.py: routing of the first steps, validation losses);
#   c. benchmarks/gpu_speed_table.py at 8 × 512 and 24 × 512 × 4 (kmoe fp32/bf16 against the
#      PyTorch reference eager/compiled, fp32/bf16; tokens/s, MFU);
#   d. the noise-lb-small study, 18 cells with --jobs 4, timed, and its report;
#   e. an oversized deck: the out-of-memory message;
#   f. one training update's GPU utilisation and memory, sampled by nvidia-smi while
#      bench_model_step runs.
# Everything lands in $OUT/gpu-check.tar.gz (summary.txt first: each part's exit code and seconds).
#   benchmarks/gpu_check.sh                     on the GPU machine, in the repository root, with
#                                               gpu-bundle/ and data/ carried
#   GPU_CHECK_DRY_RUN=1 benchmarks/gpu_check.sh on this CPU machine: the same parts on build/default,
#                                               at small sizes, to check the script itself
#   GPU_CHECK_PARTS="speed study"               only these parts (a rerun of what a first run missed)
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
out=${OUT:-$repo/gpu-check-out}
dry=${GPU_CHECK_DRY_RUN:-0}
work=$(mktemp -d)
logs=$work/logs
mkdir -p "$out" "$logs"
summary=$logs/summary.txt
trap 'tar czf "$out/gpu-check.tar.gz" -C "$logs" . ; rm -rf "$work"' EXIT

if [ "$dry" = 1 ]; then
  build=$repo/build/default
  cpu=$work/cpu
  mkdir -p "$cpu"
  reference=../shared/reference/torch_moe.py
  for precision in fp32 bf16; do  # the CPU records the bundle would hold, at 40 steps
    "$build/apps/kmoe-train" inputs/quickstart.toml --set "train.precision=\"$precision\"" --set train.max_steps=40 \
      --set eval.every=20 --set "run.name=\"quickstart-$precision\"" --set "run.output_dir=\"$cpu\"" >/dev/null
  done
  quick="--set train.max_steps=40 --set eval.every=20"
  study_jobs=2
else
  tar xJf gpu-bundle/kmoe-gpu-check.tar.xz -C "$work"
  build=$work/build
  cpu=$work/cpu
  reference=$work/torch_moe.py
  # cuBLAS is the machine's own (the CUDA toolkit's, else the one PyTorch's wheels bring).
  cublas=$(find /usr/local/cuda*/ /opt /usr/lib -name 'libcublasLt.so.13*' 2>/dev/null | head -n1)
  export LD_LIBRARY_PATH="$work/lib${cublas:+:$(dirname "$cublas")}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # The build carries sm_80 code and PTX: the driver compiles the PTX for this GPU once, into a
  # cache every program shares.
  export CUDA_CACHE_PATH=$work/cuda-cache CUDA_CACHE_MAXSIZE=4294967296
  quick=""
  study_jobs=4
  cp "$work/identity.txt" "$logs/"
  { nvidia-smi; echo "cuBLAS: ${cublas:-not found}"; ldd "$build/apps/kmoe-train"; } > "$logs/machine.txt" 2>&1
fi
# The first Python with h5py (the GPU machine's python3 has it; here, Debian's /usr/bin/python3).
for python in python3 /usr/bin/python3; do "$python" -c "import h5py" 2>/dev/null && break; done
export OMP_PROC_BIND=false build work logs cpu dry reference quick study_jobs python
echo "gpu check: $(date -u +%FT%TZ), dry run $dry, build $build" | tee "$summary"

# part NAME SECONDS FUNCTION: runs FUNCTION (below) under a time limit, its output in NAME.log.
part() {
  local name=$1 limit=$2 function=$3
  local start=$SECONDS
  [[ " ${GPU_CHECK_PARTS:-tests quickstart speed study oom profile} " == *" $name "* ]] || return 0
  export -f "$function"
  timeout --kill-after=10 "$limit" bash -o pipefail -c "$function" > "$logs/$name.log" 2>&1
  local code=$?
  echo "$name: exit $code, $((SECONDS - start)) s (limit $limit s)" | tee -a "$summary"
}

run_tests() {
  local failed=0
  for test in "$build"/tests/test_*; do
    [ -f "$test" ] && [ -x "$test" ] || continue
    echo "== $(basename "$test")"
    "$test" --gtest_brief=1 || failed=$((failed + 1))
  done
  echo "test binaries failing: $failed"
  [ "$failed" = 0 ]
}

quickstart() {
  for precision in fp32 bf16; do
    # shellcheck disable=SC2086  # $quick: options, split on purpose
    "$build/apps/kmoe-train" inputs/quickstart.toml --set "train.precision=\"$precision\"" $quick \
      --set "run.name=\"quickstart-$precision\"" --set "run.output_dir=\"$work/gpu\"" || return
  done
  "$python" benchmarks/gpu_check_compare.py "$cpu" "$work/gpu" | tee "$logs/quickstart-agreement.txt"
  cp "$work"/gpu/quickstart-*.h5 "$logs/" 2>/dev/null
}

speed_table() {
  if [ "$dry" = 1 ]; then  # no GPU: kmoe's side of the table only
    "$build/benchmarks/bench_train_update" --benchmark_filter='batch:8/accum:1'

  else
    "$python" benchmarks/gpu_speed_table.py --build "$build" --reference "$reference" --torch-steps 10
  fi
}

study() {
  local deck=inputs/studies/noise-lb-small.toml start=$SECONDS
  if [ "$dry" = 1 ]; then  # two steps per cell
    sed -e 's/max_steps = 150/max_steps = 2/' -e 's/every = 50/every = 2/' \
      -e "s#output_dir = \"../../studies/noise-lb-small\"#output_dir = \"$work/study\"#" "$deck" > inputs/studies/.dry.toml
    deck=inputs/studies/.dry.toml
  fi
  "$build/apps/kmoe-study" run "$deck" --jobs "$study_jobs"
  local code=$?
  echo "study wall-clock: $((SECONDS - start)) s"
  scripts/report "$deck" --out "$logs/study-report" --reference noise_std=0.0,load_balancing_weight=0.01 >/dev/null
  rm -f inputs/studies/.dry.toml
  return $code
}

# About 1 TB of parameters, gradients and optimizer state: more than any one GPU or this machine has.
out_of_memory() {
  local message
  message=$("$build/apps/kmoe-train" inputs/quickstart.toml --set model.d_model=4096 --set model.n_heads=32 \
    --set model.n_layers=32 --set moe.num_experts=16 --set moe.expert_d_ff=16384 \
    --set "run.output_dir=\"$work/oom\"" 2>&1)
  local code=$?
  echo "$message"
  [ "$code" != 0 ] && grep -q "GiB are available" <<< "$message"
}

profile() {
  if [ "$dry" = 1 ]; then  # a CPU step at the reference shapes outlasts the limit: the benchmark's names only
    "$build/benchmarks/bench_model_step" --benchmark_filter=moe --benchmark_list_tests
    return
  fi
  nvidia-smi --query-gpu=timestamp,utilization.gpu,utilization.memory,memory.used,power.draw,clocks.sm \
    --format=csv -lms 50 > "$logs/nvidia-smi-samples.csv" &
  local sampler=$!
  "$build/benchmarks/bench_model_step" --benchmark_filter=moe --benchmark_min_time=1
  kill "$sampler"
}

# About 6.5 minutes in all, so that a lent machine's 15 minutes hold its start, this run and a rerun
# of the parts it missed. (ctest took 63 s on an H100 with 143 tests; the PTX compiles once.)
part tests 90 run_tests
part quickstart 50 quickstart
part speed 140 speed_table
part study 75 study
part oom 15 out_of_memory
part profile 20 profile
echo "gpu check done: $(date -u +%FT%TZ)" | tee -a "$summary"
