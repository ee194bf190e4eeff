#!/usr/bin/python3
"""kmoe beside the PyTorch reference on the CPU, same shapes (d_model 384, 6 layers, 8 experts of
1536, top-2, 8 × 512 tokens, vocab 8192), same thread count, one run each:

  kmoe: bench_model_step (forward + backward, its GEMM-bound limit and the fraction reached;
        the hybrid update), combined into a full step of grad_accum micro-batches;
  torch: torch_moe.py --bench --accum grad_accum (eager, its Muon + AdamW).

kmoe's step also draws dropout (0.1) and router noise, which the reference does not.

usage: compare_with_torch.py [--build build/default] [--reference ../shared/reference/torch_moe.py]
                             [--accum 4] [--threads N]
"""
import argparse
import json
import os
import re
import subprocess
import sys


def kmoe_numbers(build, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_PROC_BIND="false")
    out = subprocess.run([os.path.join(build, "benchmarks", "bench_model_step"), "--benchmark_format=json",
                          "--benchmark_filter=OptimizerStep|TrainStep/moe"],
                         env=env, check=True, capture_output=True, text=True).stdout
    runs = {b["name"].split("/")[0] + ("/moe" if "/moe" in b["name"] else ""): b for b in json.loads(out)["benchmarks"]}
    step = runs["BM_TrainStep/moe"]
    return {"step_s": step["real_time"] / 1e3, "tokens_per_s": step["tokens/s"],
            "fraction": step["fraction_of_gemm_limit"], "limit_tokens_per_s": step["gemm_limit_tokens/s"],
            "optimizer_s": runs["BM_OptimizerStep"]["optimizer_ms"] / 1e3}


def torch_seconds_per_micro_batch(reference, accum, threads):
    steps = 2 * accum + 1  # the first micro-batch is not timed
    out = subprocess.run(["/usr/bin/python3", reference, "--bench", "--accum", str(accum), "--steps", str(steps),
                          "--threads", str(threads)], check=True, capture_output=True, text=True).stdout
    return float(re.search(r"ms/step ([0-9.]+)", out).group(1)) / 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build/default")
    ap.add_argument("--reference", default=os.path.join("..", "shared", "reference", "torch_moe.py"))
    ap.add_argument("--accum", type=int, default=4)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    if not os.path.exists(args.reference):
        sys.exit(f"compare_with_torch: {args.reference} not found (--reference)")
    k = kmoe_numbers(args.build, args.threads)
    t = torch_seconds_per_micro_batch(args.reference, args.accum, args.threads)
    tokens = 8 * 512
    kmoe_update = args.accum * k["step_s"] + k["optimizer_s"]
    torch_update = args.accum * t
    print(f"threads {args.threads}, 8 x 512 tokens per micro-batch, grad_accum {args.accum}")
    print(f"kmoe forward+backward   {k['step_s']:.2f} s  ({k['tokens_per_s']:.0f} tokens/s); GEMM-bound limit "
          f"{k['limit_tokens_per_s']:.0f} tokens/s; fraction reached {k['fraction']:.2f}")
    print(f"kmoe hybrid update      {k['optimizer_s']:.2f} s  ({k['optimizer_s'] / kmoe_update:.0%} of a full step)")
    print(f"kmoe full step          {kmoe_update:.2f} s  ({args.accum * tokens / kmoe_update:.0f} tokens/s)")
    print(f"torch full step         {torch_update:.2f} s  ({args.accum * tokens / torch_update:.0f} tokens/s)")
    print(f"kmoe / torch            {torch_update / kmoe_update:.2f}x")


if __name__ == "__main__":
    main()
