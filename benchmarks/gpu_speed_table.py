#!/usr/bin/python3
"""kmoe beside the PyTorch reference on one GPU, in one run: kmoe fp32 and bf16
(bench_train_update) and torch_moe.py eager and torch.compile, fp32 and bf16 autocast
(torch_reference_gpu.py), at the reference micro-batch (8 × 512, update every micro-batch) and at
the research's settings (24 × 512, grad_accum 4). Prints a Markdown table of tokens/s and MFU
(model FLOPs per token from bench_train_update, divided by the precision's dense peak) and the
ratios the issue's targets name.

usage: gpu_speed_table.py [--build build/cuda] [--reference torch_moe.py] [--peak-bf16 989] [--peak-fp32 67]
                          [--torch-steps 40]
Peaks in TFLOP/s, default an H100 SXM's dense bf16 tensor-core and fp32 rates.
"""
import argparse
import json
import os
import re
import subprocess
import sys

SHAPES = ((8, 1), (24, 4))


def kmoe_rates(build):
    out = subprocess.run([os.path.join(build, "benchmarks", "bench_train_update"), "--benchmark_format=json"],
                         check=True, capture_output=True, text=True).stdout
    rates, flops_per_token = {}, None
    for b in json.loads(out)["benchmarks"]:
        m = re.search(r"batch:(\d+)/accum:(\d+)/bf16:(\d)", b["name"])
        rates[(int(m.group(1)), int(m.group(2)), "bf16" if m.group(3) == "1" else "fp32")] = b["tokens/s"]
        flops_per_token = b["model_flops_per_token"]
    return rates, flops_per_token


def torch_rate(reference, batch, accum, compiled, bf16, steps):
    here = os.path.dirname(os.path.abspath(__file__))
    command = [sys.executable, os.path.join(here, "torch_reference_gpu.py"), reference, "--batch", str(batch),
               "--accum", str(accum), "--steps", str(steps)]
    command += ["--compile"] if compiled else []
    command += ["--bf16"] if bf16 else []
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return float(re.search(r"tokens/s ([0-9.]+)", out).group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build/cuda")
    ap.add_argument("--reference", default=os.path.join("..", "shared", "reference", "torch_moe.py"))
    ap.add_argument("--peak-bf16", type=float, default=989.0)
    ap.add_argument("--peak-fp32", type=float, default=67.0)
    ap.add_argument("--torch-steps", type=int, default=40)
    args = ap.parse_args()
    kmoe, flops_per_token = kmoe_rates(args.build)
    peak = {"bf16": args.peak_bf16 * 1e12, "fp32": args.peak_fp32 * 1e12}
    rows = []
    for batch, accum in SHAPES:
        for precision in ("fp32", "bf16"):
            rows.append((batch, accum, "kmoe", precision, kmoe[(batch, accum, precision)]))
            for compiled in (False, True):
                rate = torch_rate(args.reference, batch, accum, compiled, precision == "bf16", args.torch_steps)
                rows.append((batch, accum, "torch " + ("compile" if compiled else "eager"), precision, rate))
    print(f"model FLOPs per token {flops_per_token:.4g}; MFU against {args.peak_bf16:g} (bf16) and "
          f"{args.peak_fp32:g} (fp32) TFLOP/s\n")
    print("| micro-batch × accum | code | precision | tokens/s | MFU |")
    print("|---|---|---|---|---|")
    for batch, accum, code, precision, rate in rows:
        print(f"| {batch} × 512 × {accum} | {code} | {precision} | {rate:,.0f} | "
              f"{rate * flops_per_token / peak[precision]:.1%} |")
    rate = {(b, a, c, p): r for b, a, c, p, r in rows}
    for batch, accum in SHAPES:
        k = rate[(batch, accum, "kmoe", "bf16")]
        print(f"\n{batch} × 512 × {accum}: kmoe bf16 / torch eager bf16 {k / rate[(batch, accum, 'torch eager', 'bf16')]:.2f}x,"
              f" / torch.compile bf16 {k / rate[(batch, accum, 'torch compile', 'bf16')]:.2f}x")


if __name__ == "__main__":
    main()
