"""How evenly each layer spread its (token, slot) assignments over the experts at one step, from
a record's router/load rows [step, layer, expert] (every record has them, older ones included):
  dead_experts        experts given no assignment;
  max_over_mean_load  the busiest expert's load over the mean load (OLMo-core's "load imbalance", 1 = even);
  load_kl_uniform     KL(q ‖ uniform) = Σ_e q_e log(E q_e) in nats with q = load / Σ load (0 = even,
                      log E = all on one expert)."""
import numpy as np

COLUMNS = ("dead_experts", "max_over_mean_load", "load_kl_uniform")


def load_balance(load):
    """The three measures for load [..., experts] (any leading shape); NaN where a layer had no
    assignments."""
    load = np.asarray(load, dtype=float)
    experts = load.shape[-1]
    total = load.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = load / total[..., None]
        terms = np.where(share > 0, share * np.log(experts * share), 0.0)
        kl = np.where(total > 0, terms.sum(axis=-1), np.nan)
        ratio = np.where(total > 0, load.max(axis=-1) / (total / experts), np.nan)
    return {"dead_experts": (load == 0).sum(axis=-1), "max_over_mean_load": ratio, "load_kl_uniform": kl}
