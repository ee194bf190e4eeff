#!/usr/bin/env python3
"""The quickstart on the GPU against this machine's CPU records (part b of gpu_check.sh): the
routing decisions of the first steps (per-layer expert loads, fp32 GPU vs CPU), the training loss
over the first steps, and the final validation losses, with the issue's targets: identical routing
for the first steps, bf16 within 1 % of fp32 in validation loss.

usage: gpu_check_compare.py CPU_DIR GPU_DIR   (each holding quickstart-fp32.h5 and quickstart-bf16.h5)
"""
import os
import sys

import h5py
import numpy as np

FIRST_STEPS = 5


def read(directory, precision):
    with h5py.File(os.path.join(directory, f"quickstart-{precision}.h5"), "r") as f:
        return {"load": f["router/load"][:], "loss": f["train/total_loss"][:], "val_loss": f["eval/val_loss"][:],
                "backend": f.attrs["backend"]}


def first_difference(a, b):
    """The first step whose expert loads differ (None when all compared steps agree)."""
    steps = min(len(a), len(b))
    for step in range(steps):
        if not np.array_equal(a[step], b[step]):
            return step + 1
    return None


def main(cpu_dir, gpu_dir):
    cpu = {p: read(cpu_dir, p) for p in ("fp32", "bf16")}
    gpu = {p: read(gpu_dir, p) for p in ("fp32", "bf16")}
    print(f"CPU: {cpu['fp32']['backend']}\nGPU: {gpu['fp32']['backend']}\n")
    differs = first_difference(cpu["fp32"]["load"], gpu["fp32"]["load"])
    same_first = differs is None or differs > FIRST_STEPS
    print(f"routing, fp32 GPU vs CPU: expert loads identical for the first {FIRST_STEPS} steps: "
          f"{'PASS' if same_first else 'MISS'} (first differing step: {differs or 'none'})")
    n = min(10, len(cpu["fp32"]["loss"]), len(gpu["fp32"]["loss"]))
    gap = np.max(np.abs(cpu["fp32"]["loss"][:n] - gpu["fp32"]["loss"][:n]) / cpu["fp32"]["loss"][:n])
    print(f"training loss, fp32 GPU vs CPU, first {n} steps: largest relative difference {gap:.2e}")
    for precision in ("fp32", "bf16"):
        c, g = cpu[precision]["val_loss"][-1], gpu[precision]["val_loss"][-1]
        print(f"final validation loss {precision}: CPU {c:.5f}, GPU {g:.5f} ({(g - c) / c:+.3%})")
    fp32, bf16 = gpu["fp32"]["val_loss"][-1], gpu["bf16"]["val_loss"][-1]
    within = abs(bf16 - fp32) / fp32 <= 0.01
    print(f"bf16 vs fp32 on the GPU: {(bf16 - fp32) / fp32:+.3%} in final validation loss: "
          f"{'PASS' if within else 'MISS'} (target within 1 %)")
    return 0 if same_first and within else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
