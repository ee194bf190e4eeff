#!/usr/bin/python3
"""kmoe beside the PyTorch reference on the CPU, same shapes (d_model 384, 6 layers, 8 experts of
1536, top-2, 8 × 512 tokens, vocab 8192), same thread count:

  kmoe: bench_model_step (forward + backward, its GEMM-bound limit and the fraction reached;
        the hybrid update), combined into a full step of grad_accum micro-batches;
  torch: torch_moe.py --bench --accum grad_accum (eager, its Muon + AdamW), and its update
         alone (its Muon class and AdamW on random gradients).

The reference draws no dropout and no router noise, so the ratio that compares the same work is
kmoe's step without them (`moe_without_dropout`); kmoe at the research's settings (dropout 0.1,
noise 0.1) is printed beside it. With --repeat N the two programs alternate N times and the
medians are reported (the VMs are noisy).

usage: compare_with_torch.py [--build build/default] [--reference ../shared/reference/torch_moe.py]
                             [--accum 4] [--threads N] [--repeat 1]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys


def kmoe_numbers(build, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_PROC_BIND="false")
    out = subprocess.run([os.path.join(build, "benchmarks", "bench_model_step"), "--benchmark_format=json",
                          "--benchmark_filter=OptimizerStep|TrainStep/moe"],
                         env=env, check=True, capture_output=True, text=True).stdout
    runs = {b["name"].split("/iterations")[0]: b for b in json.loads(out)["benchmarks"]}

    def step(name):
        b = runs[name]
        return {"step_s": b["real_time"] / 1e3, "tokens_per_s": b["tokens/s"],
                "fraction": b["fraction_of_gemm_limit"], "limit_tokens_per_s": b["gemm_limit_tokens/s"]}

    return {"same_work": step("BM_TrainStep/moe_without_dropout"), "research": step("BM_TrainStep/moe"),
            "optimizer_s": runs["BM_OptimizerStep"]["optimizer_ms"] / 1e3}


def torch_seconds_per_micro_batch(reference, accum, threads):
    steps = 2 * accum + 1  # the first micro-batch is not timed
    out = subprocess.run(["/usr/bin/python3", reference, "--bench", "--accum", str(accum), "--steps", str(steps),
                          "--threads", str(threads)], check=True, capture_output=True, text=True).stdout
    return float(re.search(r"ms/step ([0-9.]+)", out).group(1)) / 1e3


# The reference's Muon + AdamW update alone, on random gradients at the same shapes (median of 3,
# after one untimed update): what bounds the full-step ratio at grad_accum 4.
TORCH_UPDATE = """
import importlib.util, statistics, sys, time, types
import torch
spec = importlib.util.spec_from_file_location("torch_moe", sys.argv[1])
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)
torch.set_num_threads(int(sys.argv[2]))
torch.manual_seed(0)
a = types.SimpleNamespace(vocab=8192, d_model=384, heads=8, layers=6, d_ff=1536, experts=8, top_k=2, noise_std=0.0,
                          lb_weight=0.01, z_weight=0.0, seq=512, batch=8, eps=1.1920929e-07, embed_scale=True)
named = ref.Model(a).named_tensors()
for p in named.values():
    p.grad = torch.randn_like(p) * 1e-3
muon = [p for n, p in named.items() if p.ndim == 2 and n != "tok_emb"]
adamw = [p for n, p in named.items() if not (p.ndim == 2 and n != "tok_emb")]
opts = [ref.Muon(muon, lr=0.01), torch.optim.AdamW(adamw, lr=1e-3, weight_decay=0.1)]
times = []
for _ in range(4):
    t = time.perf_counter()
    for o in opts:
        o.step()
    times.append(time.perf_counter() - t)
print(statistics.median(times[1:]))
"""


def torch_update_seconds(reference, threads):
    out = subprocess.run(["/usr/bin/python3", "-c", TORCH_UPDATE, reference, str(threads)], check=True,
                         capture_output=True, text=True).stdout
    return float(out.split()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build/default")
    ap.add_argument("--reference", default=os.path.join("..", "shared", "reference", "torch_moe.py"))
    ap.add_argument("--accum", type=int, default=4)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    if not os.path.exists(args.reference):
        sys.exit(f"compare_with_torch: {args.reference} not found (--reference)")
    tokens = args.accum * 8 * 512
    rows = []
    for _ in range(args.repeat):
        k = kmoe_numbers(args.build, args.threads)
        torch_step = args.accum * torch_seconds_per_micro_batch(args.reference, args.accum, args.threads)
        torch_update = torch_update_seconds(args.reference, args.threads)
        row = {"same_work_fb": k["same_work"]["step_s"], "research_fb": k["research"]["step_s"],
               "fraction": k["same_work"]["fraction"], "research_fraction": k["research"]["fraction"],
               "update": k["optimizer_s"], "torch": torch_step, "torch_update": torch_update}
        row["same_work_step"] = args.accum * row["same_work_fb"] + row["update"]
        row["research_step"] = args.accum * row["research_fb"] + row["update"]
        row["ratio"] = torch_step / row["same_work_step"]
        row["research_ratio"] = torch_step / row["research_step"]
        rows.append(row)
        print(f"run {len(rows)}: kmoe {row['same_work_step']:.2f} s (research settings {row['research_step']:.2f} s), "
              f"torch {torch_step:.2f} s, ratio {row['ratio']:.2f}x ({row['research_ratio']:.2f}x)", flush=True)
    m = {key: statistics.median([r[key] for r in rows]) for key in rows[0]}
    print(f"threads {args.threads}, 8 x 512 tokens per micro-batch, grad_accum {args.accum}, "
          f"medians of {len(rows)} run(s)")
    print(f"kmoe forward+backward   {m['same_work_fb']:.2f} s without dropout and noise (fraction of the GEMM-bound "
          f"limit {m['fraction']:.2f}); {m['research_fb']:.2f} s with them ({m['research_fraction']:.2f})")
    print(f"kmoe hybrid update      {m['update']:.2f} s; the reference's alone {m['torch_update']:.2f} s")
    print(f"kmoe full step          {m['same_work_step']:.2f} s ({tokens / m['same_work_step']:.0f} tokens/s) the "
          f"reference's work; {m['research_step']:.2f} s at the research's settings")
    print(f"torch full step         {m['torch']:.2f} s ({tokens / m['torch']:.0f} tokens/s)")
    print(f"kmoe / torch            {m['ratio']:.2f}x on the same work; {m['research_ratio']:.2f}x with kmoe's "
          f"dropout and noise on")


if __name__ == "__main__":
    main()
