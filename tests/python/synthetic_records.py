"""HDF5 run records with known values, in kmoe's schema, and study directories made of them, for
the postprocess tests."""
import os

import h5py
import numpy as np


def write_record(path, noise, seed, status="complete", steps=3, layers=2, experts=4, val_loss=2.0,
                 expert_cv=0.1, lb_weight=None):
    with h5py.File(path, "w") as f:
        moe = f"noise_std = {noise}\nnum_experts = {experts}\n"
        if lb_weight is not None:  # a record's deck is resolved: the end weight follows the start by default
            moe += f"load_balancing_weight = {lb_weight}\nload_balancing_weight_end = {lb_weight}\n"
        f.attrs["deck"] = f'[run]\nname = "r"\nseed = {seed}\n[moe]\n{moe}'
        f.attrs["status"] = status
        f.attrs["stop_reason"] = ""
        f.attrs["total_params"] = 1000
        f.attrs["active_params"] = 600
        f.attrs["unigram_entropy"] = 5.5
        f["train/step"] = np.arange(1, steps + 1)
        f["train/ce_loss"] = np.linspace(4.0, 3.0, steps)
        f["train/tokens_per_s"] = np.full(steps, 1000.0)
        f["train/lr_muon"] = np.full(steps, 0.01)
        f["train/aux_coef"] = np.full(steps, 0.01)
        f["router/load"] = np.arange(steps * layers * experts).reshape(steps, layers, experts)
        f["router/importance"] = np.full((steps, layers, experts), 0.25)
        f["router/entropy"] = np.full((steps, layers), 1.2)
        f["router/max_load_frac"] = np.full((steps, layers), 0.4)
        f["router/min_load_frac"] = np.full((steps, layers), 0.1)
        f["router/dropped"] = np.ones((steps, layers), dtype=np.int64)
        f["eval/step"] = np.array([steps])
        f["eval/val_loss"] = np.array([val_loss])
        f["eval/val_ppl"] = np.exp([val_loss])
        # last evaluation: layer 0 loads 1,1,1,1 (max share 1/4), layer 1 loads 3,1,0,0 (max share 3/4)
        load = np.zeros((1, layers, experts), dtype=np.int64)
        load[0, 0, :] = 1
        load[0, 1, :2] = (3, 1)
        f["eval/load"] = load
        f["eval/router_entropy"] = np.array([[1.0, 0.5]])
        # the routing probe: 4 probe tokens, each routed to experts 0 and 1 in every layer
        f.attrs["routing_probe_tokens"] = 4
        f["eval/routing_change"] = np.array([[0.1, 0.3]])
        coactivation = np.zeros((1, layers, experts, experts), dtype=np.int64)
        coactivation[0, :, :2, :2] = 4
        f["eval/coactivation"] = coactivation
        if status == "complete":
            f["final/val_loss"] = val_loss
            f["final/val_ppl"] = np.exp(val_loss)
            f["final/best_val_ppl"] = np.exp(val_loss)
            f["final/val_accuracy"] = 0.3
            f["final/expert_cv"] = expert_cv
            f["final/train_seconds"] = 120.0
            f["final/peak_host_memory_mib"] = 512.0


def write_study(tmp, values, states=None, factors=("noise_std",)):
    """A study deck, its manifest and records: values maps (factor values..., seed) to
    (val_loss, expert_cv); states maps the same keys to a cell state other than complete."""
    states = states or {}
    out = os.path.join(tmp, "out")
    os.makedirs(os.path.join(out, "runs"))
    with open(os.path.join(tmp, "study.toml"), "w") as f:
        f.write('[study]\nname = "demo"\nbase = "b.toml"\noutput_dir = "out"\nseeds = [1, 2, 3]\n')
    sections = {"noise_std": "moe", "load_balancing_weight": "moe"}
    with open(os.path.join(out, "manifest.toml"), "w") as f:
        for key, (val_loss, cv) in values.items():
            *levels, seed = key
            condition = ",".join(f"{k}={v}" for k, v in zip(factors, levels))
            name = f"{condition},seed={seed}"
            state = states.get(key, "complete")
            varied = "".join(f"varied.{sections[k]}.{k} = {v}\n" for k, v in zip(factors, levels))
            f.write(f'[[cells]]\nname = "{name}"\ncondition = "{condition}"\nstate = "{state}"\n'
                    f'{varied}varied.run.seed = {seed}\n')
            suffix = ".h5.partial" if state == "running" else ".h5"
            lb = levels[1] if len(levels) > 1 else None
            write_record(os.path.join(out, "runs", name + suffix), levels[0], seed,
                         "running" if state == "running" else "complete", val_loss=val_loss, expert_cv=cv,
                         lb_weight=lb)
    return os.path.join(tmp, "study.toml")
