"""The router kernels against an independent NumPy implementation written from the catalogue's
formulas (docs/routing.md): selection, gates, the balancing loss, z-loss, entropy and ∂L/∂logits
(by central differences of the NumPy loss), for every score function, normalisation and scale,
on the same logits."""
import itertools
import os
import subprocess
import unittest

import numpy as np

from kmoe_run import BUILD_DIR

PROBE = os.path.join(BUILD_DIR, "tests", "router_probe")
EPS = 1e-20  # the sigmoid gates' and probabilities' ε (DeepSeek-V3, Megatron)


def softmax(x):
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def top(values, count):
    """Indices of the `count` largest values, ties to the lower index."""
    return sorted(range(len(values)), key=lambda i: (-values[i], i))[:count]


def select(logits, bias, k, score, groups=1, group_topk=1, group_score="max"):
    """Top-k of the selection scores (logits for softmax, sigmoid scores for sigmoid, + bias);
    ties go to the lower index. Group-limited: the experts of the best group_topk groups only,
    a group scored by its best selection score or the sum of its top k / group_topk."""
    chosen = logits if score == "softmax" else 1 / (1 + np.exp(-logits))
    keyed = chosen + bias
    picks = []
    for row in keyed:
        size = len(row) // groups
        per_group = [row[g * size:(g + 1) * size] for g in range(groups)]
        if group_score == "max":
            group_scores = [max(v) for v in per_group]
        else:
            group_scores = [sum(sorted(v, reverse=True)[:k // group_topk]) for v in per_group]
        allowed = {g for g in top(group_scores, group_topk)} if groups > 1 else {0}
        masked = [v if e // size in allowed else -np.inf for e, v in enumerate(row)]
        picks.append(top(masked, k))
    return np.array(picks)


def forward(logits, idx, score, norm, scale):
    """Gates, P, lse with the selection held fixed."""
    lse = np.log(np.exp(logits).sum(axis=1))
    if score == "softmax":
        s = softmax(logits)
        probs = s
    else:
        s = 1 / (1 + np.exp(-logits))
        probs = s / (s.sum(axis=1, keepdims=True) + EPS)
    picked = np.take_along_axis(s, idx, axis=1)
    if norm == "none":
        gates = picked
    elif score == "softmax":  # softmax over the selected logits
        gates = softmax(np.take_along_axis(logits, idx, axis=1))
    else:
        gates = picked / (picked.sum(axis=1, keepdims=True) + EPS)
    return scale * gates, probs, lse


def load_fractions(idx, experts, convention):
    """f: each expert's share of all picks (per_pick), picks per token (per_token), or share of
    first picks (first_choice)."""
    tokens, k = idx.shape
    if convention == "first_choice":
        return np.bincount(idx[:, 0], minlength=experts) / tokens
    counts = np.bincount(idx.ravel(), minlength=experts)
    return counts / (tokens * k) if convention == "per_pick" else counts / tokens


def losses(logits, idx, fractions, dgates, score, norm, scale, lb_coef, z_coef):
    gates, probs, lse = forward(logits, idx, score, norm, scale)
    experts = logits.shape[1]
    lb = experts * np.dot(fractions, probs.mean(axis=0))
    z = np.mean(lse ** 2)
    return (dgates * gates).sum() + lb_coef * lb + z_coef * z, lb, z, probs


def numeric_gradient(loss, logits, h=1e-6):
    """∂loss/∂logits by central differences (loss returns a number)."""
    grad = np.zeros_like(logits)
    for n, e in itertools.product(*map(range, logits.shape)):
        up, down = logits.copy(), logits.copy()
        up[n, e] += h
        down[n, e] -= h
        grad[n, e] = (loss(up) - loss(down)) / (2 * h)
    return grad


def run_probe(logits, bias, dgates, k, score, norm, scale, lb_coef, z_coef, groups=1, group_topk=1,
              group_score="max", fractions="per_pick", balance_groups=1):
    tokens, experts = logits.shape
    text = " ".join(map(str, [tokens, experts, k, score, norm, scale, groups, group_topk, group_score, fractions,
                              balance_groups, lb_coef, z_coef]))
    text += "\n" + " ".join(f"{v:.17g}" for v in np.concatenate([bias, logits.ravel(), dgates.ravel()]))
    r = subprocess.run([PROBE], input=text, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        name, *values = line.split()
        out[name] = np.array([float(v) for v in values])
    return out


class RouterReference(unittest.TestCase):
    def test_every_score_function_normalisation_and_scale(self):
        rng = np.random.default_rng(7)
        tokens, experts = 9, 6
        for score, norm, scale, k in itertools.product(("softmax", "sigmoid"), ("selected", "none"),
                                                        (1.0, 2.5), (1, 2, 3)):
            if norm == "selected" and k == 1:
                continue  # refused by the deck: the gate is constant
            with self.subTest(score=score, norm=norm, scale=scale, k=k):
                logits = rng.normal(0, 1.5, (tokens, experts))
                bias = rng.normal(0, 0.3, experts)
                dgates = rng.normal(0, 1, (tokens, k))
                lb_coef, z_coef = 0.3, 0.05
                got = run_probe(logits, bias, dgates, k, score, norm, scale, lb_coef, z_coef)

                idx = select(logits, bias, k, score)
                np.testing.assert_array_equal(got["top_idx"].reshape(tokens, k), idx)
                gates, probs, _ = forward(logits, idx, score, norm, scale)
                np.testing.assert_allclose(got["gates"].reshape(tokens, k), gates, rtol=1e-12, atol=1e-15)

                counts = np.bincount(idx.ravel(), minlength=experts)
                fractions = counts / (tokens * k)  # f: each expert's share of all picks
                np.testing.assert_allclose(got["fractions"], fractions, rtol=1e-14)
                total, lb, z, _ = losses(logits, idx, fractions, dgates, score, norm, scale, lb_coef, z_coef)
                self.assertAlmostEqual(got["load_balancing"][0], lb, places=12)
                self.assertAlmostEqual(got["z_loss"][0], z, places=12)
                entropy = -np.mean((probs * np.log(probs)).sum(axis=1))
                self.assertAlmostEqual(got["entropy"][0], entropy, places=12)

                numeric = numeric_gradient(
                    lambda x: losses(x, idx, fractions, dgates, score, norm, scale, lb_coef, z_coef)[0], logits)
                np.testing.assert_allclose(got["dlogits"].reshape(tokens, experts), numeric, rtol=1e-6, atol=1e-8)

    def test_group_limited_selection_and_its_gradient(self):
        # 8 experts in 4 groups of 2; the masked experts never enter the selection and get no gate
        # gradient; ∂L/∂logits against central differences with the selection held fixed.
        rng = np.random.default_rng(11)
        tokens, experts = 12, 8
        for score, group_topk, group_score, k in itertools.product(("softmax", "sigmoid"), (1, 2), ("max", "topk_sum"),
                                                                   (2,)):
            with self.subTest(score=score, group_topk=group_topk, group_score=group_score):
                logits = rng.normal(0, 1.5, (tokens, experts))
                bias = rng.normal(0, 0.3, experts)
                dgates = rng.normal(0, 1, (tokens, k))
                got = run_probe(logits, bias, dgates, k, score, "selected", 1.0, 0.3, 0.05, 4, group_topk, group_score)
                idx = select(logits, bias, k, score, 4, group_topk, group_score)
                np.testing.assert_array_equal(got["top_idx"].reshape(tokens, k), idx)
                if group_topk == 1:  # both picks in one group of two
                    self.assertTrue(np.all(idx[:, 0] // 2 == idx[:, 1] // 2))
                fractions = np.bincount(idx.ravel(), minlength=experts) / (tokens * k)
                numeric = numeric_gradient(
                    lambda x: losses(x, idx, fractions, dgates, score, "selected", 1.0, 0.3, 0.05)[0], logits)
                np.testing.assert_allclose(got["dlogits"].reshape(tokens, experts), numeric, rtol=1e-6, atol=1e-8)

    def test_each_balancing_convention_and_its_gradient(self):
        rng = np.random.default_rng(5)
        tokens, experts, k = 10, 5, 2
        for score, convention in itertools.product(("softmax", "sigmoid"), ("per_pick", "per_token", "first_choice")):
            with self.subTest(score=score, convention=convention):
                logits = rng.normal(0, 1.5, (tokens, experts))
                dgates = rng.normal(0, 1, (tokens, k))
                got = run_probe(logits, np.zeros(experts), dgates, k, score, "selected", 1.0, 0.3, 0.05,
                                fractions=convention)
                idx = select(logits, np.zeros(experts), k, score)
                fractions = load_fractions(idx, experts, convention)
                np.testing.assert_allclose(got["fractions"], fractions, rtol=1e-14)
                total, lb, _, _ = losses(logits, idx, fractions, dgates, score, "selected", 1.0, 0.3, 0.05)
                self.assertAlmostEqual(got["load_balancing"][0], lb, places=12)
                numeric = numeric_gradient(
                    lambda x: losses(x, idx, fractions, dgates, score, "selected", 1.0, 0.3, 0.05)[0], logits)
                np.testing.assert_allclose(got["dlogits"].reshape(tokens, experts), numeric, rtol=1e-6, atol=1e-8)

    def test_sequence_scope_balances_each_sequence_and_averages(self):
        # DeepSeek's seq_aux: f and P̄ per sequence, the loss the sequences' mean; its gradient.
        rng = np.random.default_rng(9)
        sequences, length, experts, k = 3, 4, 5, 2
        tokens = sequences * length
        for convention in ("per_pick", "per_token", "first_choice"):
            with self.subTest(convention=convention):
                logits = rng.normal(0, 1.5, (tokens, experts))
                dgates = rng.normal(0, 1, (tokens, k))
                got = run_probe(logits, np.zeros(experts), dgates, k, "softmax", "selected", 1.0, 0.3, 0.0,
                                fractions=convention, balance_groups=sequences)
                idx = select(logits, np.zeros(experts), k, "softmax")
                f = np.stack([load_fractions(idx[b * length:(b + 1) * length], experts, convention)
                              for b in range(sequences)])
                np.testing.assert_allclose(got["fractions"].reshape(sequences, experts), f, rtol=1e-14)

                def loss(x):
                    gates, probs, _ = forward(x, idx, "softmax", "selected", 1.0)
                    per_sequence = [experts * np.dot(f[b], probs[b * length:(b + 1) * length].mean(axis=0))
                                    for b in range(sequences)]
                    return (dgates * gates).sum() + 0.3 * np.mean(per_sequence), np.mean(per_sequence)

                self.assertAlmostEqual(got["load_balancing"][0], loss(logits)[1], places=12)
                numeric = numeric_gradient(lambda x: loss(x)[0], logits)
                np.testing.assert_allclose(got["dlogits"].reshape(tokens, experts), numeric, rtol=1e-6, atol=1e-8)

    def test_balancing_loss_at_perfect_balance_is_what_the_catalogue_says(self):
        # Uniform P (equal logits) gives E·Σ f·(1/E) = Σ f: 1 for per_pick and first_choice, k for
        # per_token (Hugging Face's), whatever f is.
        tokens, experts, k = 4, 4, 2
        for score, convention in itertools.product(("softmax", "sigmoid"), ("per_pick", "per_token", "first_choice")):
            expected = k if convention == "per_token" else 1
            got = run_probe(np.zeros((tokens, experts)), np.zeros(experts), np.zeros((tokens, k)), k, score, "none", 1.0,
                            0, 0, fractions=convention)
            self.assertAlmostEqual(got["load_balancing"][0], expected, places=14, msg=(score, convention))


if __name__ == "__main__":
    unittest.main()
