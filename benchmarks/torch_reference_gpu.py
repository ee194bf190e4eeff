#!/usr/bin/env python3
"""The PyTorch reference model (torch_moe.py, given by path) timed on a CUDA GPU: eager or
torch.compile, fp32 or bf16 autocast, with its hybrid Muon + AdamW step after every grad_accum
micro-batches. Prints one line: mode, precision, tokens/s, ms per micro-batch.

usage: torch_reference_gpu.py TORCH_MOE.py [--compile] [--bf16] [--batch 8] [--accum 1] [--steps 20]
"""
import argparse
import importlib.util
import time

import torch


class _TorchOnTheGpu:
    """torch for the reference module, with its factory calls (masks, RoPE tables) on the GPU:
    torch.compile traces them on the CPU otherwise, whatever the default device."""

    def __getattr__(self, name):
        value = getattr(torch, name)
        if name in ("arange", "ones", "zeros", "empty"):
            return lambda *args, **kwargs: value(*args, **{"device": "cuda", **kwargs})
        return value


def reference_module(path):
    spec = importlib.util.spec_from_file_location("torch_moe", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.torch = _TorchOnTheGpu()
    return module


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reference")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--accum", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20, help="timed micro-batches (after 2 optimizer steps of warm-up)")
    args = ap.parse_args()
    ref = reference_module(args.reference)
    torch.set_default_device("cuda")
    torch.manual_seed(42)
    shape = argparse.Namespace(vocab=8192, d_model=384, heads=8, layers=6, d_ff=1536, experts=8, top_k=2,
                               noise_std=0.0, lb_weight=0.01, z_weight=0.0, eps=1.1920929e-07, embed_scale=True)
    model = ref.Model(shape)
    named = model.named_tensors()
    muon = [p for n, p in named.items() if p.ndim == 2 and n != "tok_emb"]
    adam = [p for n, p in named.items() if not (p.ndim == 2 and n != "tok_emb")]
    optimizers = [ref.Muon(muon, lr=0.01), torch.optim.AdamW(adam, lr=0.001, weight_decay=0.1)]
    forward = torch.compile(model) if args.compile else model
    tokens = torch.randint(0, shape.vocab, (args.batch, args.seq + 1))
    idx, tgt = tokens[:, :-1], tokens[:, 1:]

    def micro_batch(i):
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=args.bf16):
            loss = forward(idx, tgt)[0]
        (loss / args.accum).backward()
        if (i + 1) % args.accum == 0:
            for o in optimizers:
                o.step()
                o.zero_grad(set_to_none=True)

    for i in range(2 * args.accum):  # warm-up: compilation, allocator, cuBLAS handles
        micro_batch(i)
    torch.cuda.synchronize()
    steps = max(args.accum, args.steps // args.accum * args.accum)
    start = time.perf_counter()
    for i in range(steps):
        micro_batch(i)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    mode = "compile" if args.compile else "eager"
    print(f"torch {mode} {'bf16' if args.bf16 else 'fp32'} batch {args.batch} accum {args.accum}: "
          f"tokens/s {args.batch * args.seq * steps / seconds:.0f}  ms/micro-batch {1e3 * seconds / steps:.1f}")


if __name__ == "__main__":
    main()
