#!/usr/bin/python3
"""Prints the summary of one kmoe run record: status, parameters, final validation and test
numbers, and how far the validation loss is below the unigram entropy of the corpus.

usage: run_summary.py RUN.h5
"""
import sys

import h5py


def summarize(path):
    with h5py.File(path, "r") as f:
        status = f.attrs["status"]
        lines = [f"{path}: {status}",
                 f"  parameters: {int(f.attrs['total_params']):,} total, {int(f.attrs['active_params']):,} active"]
        steps = f["train/step"].shape[0]
        lines.append(f"  steps: {steps}, tokens: {int(f['train/tokens'][-1]) if steps else 0:,}")
        if "final" in f:
            final = {k: float(f["final"][k][()]) for k in f["final"]}
            lines.append(f"  validation: loss {final['val_loss']:.4f}, accuracy {final['val_accuracy']:.4f}, "
                         f"ppl {final['val_ppl']:.2f} (best {final['best_val_ppl']:.2f})")
            if "test_loss" in final:
                lines.append(f"  test: loss {final['test_loss']:.4f}, ppl {final['test_ppl']:.2f}")
            if "expert_cv" in final:
                lines.append(f"  expert usage CV (validation, mean over layers): {final['expert_cv']:.4f}")
            entropy = float(f.attrs["unigram_entropy"])
            if entropy == entropy:
                lines.append(f"  unigram entropy of the corpus: {entropy:.4f} nats; validation loss is "
                             f"{entropy - final['val_loss']:.4f} nats below it")
            lines.append(f"  training time {final['train_seconds']:.1f} s, peak memory "
                         f"{final['peak_host_memory_mib']:.0f} MiB (host)"
                         + (f", {final['peak_device_memory_mib']:.0f} MiB in {f.attrs['backend']}'s model space"
                            if "peak_device_memory_mib" in final else ""))
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(summarize(sys.argv[1]))
