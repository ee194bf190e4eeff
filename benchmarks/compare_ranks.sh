#!/bin/bash
# Tokens/s of the reference shapes (inputs/reference.toml at 8 x 512 tokens per micro-batch,
# grad_accum 2) on 1 rank x 2 threads against 2 ranks x 1 thread, the optimizer sharded (each rank
# updates its tensors, then shares them) or replicated (--replicate-optimizer: every rank updates
# every tensor), alternated REPEAT times; the records' median tokens/s and ms per update over the
# updates after the first. Usage: benchmarks/compare_ranks.sh [REPEAT]
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=${1:-2}
out=$(mktemp -d)
sets=(--set train.batch_size=8 --set train.grad_accum=2 --set train.max_steps=5 --set eval.every=0
      --set eval.batches=1 --set "run.output_dir=\"$out\"")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_PROC_BIND=false
for i in $(seq "$repeat"); do
  OMP_NUM_THREADS=2 build/default/apps/kmoe-train inputs/reference.toml "${sets[@]}" --set "run.name=\"one_$i\"" >/dev/null
  OMP_NUM_THREADS=1 mpirun -np 2 --bind-to core build/default/apps/kmoe-train inputs/reference.toml "${sets[@]}" \
    --set "run.name=\"two_sharded_$i\"" >/dev/null
  OMP_NUM_THREADS=1 mpirun -np 2 --bind-to core build/default/apps/kmoe-train inputs/reference.toml "${sets[@]}" \
    --set "run.name=\"two_replicated_$i\"" --replicate-optimizer >/dev/null
done
/usr/bin/python3 - "$out" <<'PY'
import glob, sys
import h5py, numpy as np
for path in sorted(glob.glob(sys.argv[1] + "/*.h5")):
    if path.endswith(".weights.h5"):
        continue
    with h5py.File(path, "r") as f:
        print(f"{path.split('/')[-1]}: {f.attrs['ranks']} rank(s), median "
              f"{np.median(f['train/tokens_per_s'][1:]):.0f} tokens/s, "
              f"{np.median(f['train/ms_per_step'][1:]):.0f} ms per update")
PY
rm -rf "$out"
