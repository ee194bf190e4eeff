"""Expert choice, Sinkhorn selection and the capacity drop policies against an independent NumPy
implementation written from the catalogue's formulas (docs/routing.md): which (token, expert)
pairs are kept, the gates, and ∂L/∂logits by central differences with the assignment held fixed."""
import itertools
import math
import os
import subprocess
import unittest

import numpy as np

from kmoe_run import BUILD_DIR
from test_router_reference import forward, numeric_gradient, select, softmax, top

PROBE = os.path.join(BUILD_DIR, "tests", "assignment_probe")


def run_probe(header, *arrays):
    text = " ".join(map(str, header)) + "\n" + " ".join(f"{v:.17g}" for a in arrays for v in np.ravel(a))
    r = subprocess.run([PROBE], input=text, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, OMP_NUM_THREADS="2"))
    assert r.returncode == 0, r.stderr
    return {name: np.array([float(v) for v in values])
            for name, *values in (line.split() for line in r.stdout.splitlines())}


def scores_of(logits, score):
    return softmax(logits) if score == "softmax" else 1 / (1 + np.exp(-logits))


def expert_choice(scores, group_tokens, capacity):
    """chosen[n, e]: expert e takes the `capacity` best tokens of n's group (ties: lower token)."""
    tokens, experts = scores.shape
    chosen = np.zeros((tokens, experts), bool)
    for g, e in itertools.product(range(tokens // group_tokens), range(experts)):
        first = g * group_tokens
        for n in top(list(scores[first:first + group_tokens, e]), capacity):
            chosen[first + n, e] = True
    return chosen


def sinkhorn(cost, tol=1e-4, eps=1e-8):
    """Megatron's moe_utils.sinkhorn, as written there."""
    c = np.exp(cost)
    d0, d1 = np.ones(c.shape[0]), np.ones(c.shape[1])
    error, d1_old = 1e9, d1
    while error > tol:
        d0 = (1 / d0.size) / (np.sum(d1 * c, 1) + eps)
        d1 = (1 / d1.size) / (np.sum(d0[:, None] * c, 0) + eps)
        error = np.mean(np.abs(d1_old - d1))
        d1_old = d1
    return d1 * c * d0[:, None], d1


def kept_after_drop(idx, gates, experts, capacity, policy):
    """kept[n, s] for the capacity's policy: each expert keeps its first `capacity` assignments
    n·k + s in order (position) or its `capacity` highest gates, ties to the lower assignment."""
    tokens, k = idx.shape
    kept = np.zeros((tokens, k), bool)
    for e in range(experts):
        mine = [a for a in range(tokens * k) if idx[a // k, a % k] == e]
        if policy == "probability":
            mine.sort(key=lambda a: (-gates[a // k, a % k], a))
        for a in mine[:capacity]:
            kept[a // k, a % k] = True
    return kept


class AssignmentReference(unittest.TestCase):
    def test_expert_choice_takes_each_experts_best_tokens(self):
        rng = np.random.default_rng(3)
        tokens, experts, k = 12, 4, 2
        for score, group_tokens, factor, scale in itertools.product(("softmax", "sigmoid"), (12, 4), (1.0, 0.5),
                                                                    (1.0, 2.0)):
            with self.subTest(score=score, group_tokens=group_tokens, factor=factor, scale=scale):
                logits = rng.normal(0, 1.5, (tokens, experts))
                logits[5] = logits[2]  # a tie between two tokens
                dgates = rng.normal(0, 1, (tokens, experts))
                got = run_probe(["expert_choice", tokens, experts, k, score, "none", scale, group_tokens, factor],
                                logits, dgates)
                capacity = min(group_tokens, math.ceil(factor * group_tokens * k / experts))
                chosen = expert_choice(scores_of(logits, score), group_tokens, capacity)
                np.testing.assert_array_equal(got["slot_of"].reshape(tokens, experts) >= 0, chosen)
                self.assertEqual(len(set(got["slot_of"][got["slot_of"] >= 0])), chosen.sum())
                np.testing.assert_allclose(got["gates"].reshape(tokens, experts), scale * scores_of(logits, score),
                                           rtol=1e-13)

                def loss(x):
                    return (dgates * chosen * scale * scores_of(x, score)).sum()

                np.testing.assert_allclose(got["dlogits"].reshape(tokens, experts), numeric_gradient(loss, logits),
                                           rtol=1e-6, atol=1e-8)

    def test_sinkhorn_selects_from_the_balanced_matrix(self):
        rng = np.random.default_rng(4)
        tokens, experts, k = 16, 4, 2
        for score, norm in itertools.product(("softmax", "sigmoid"), ("selected", "none")):
            with self.subTest(score=score, norm=norm):
                logits = rng.normal(0, 2.0, (tokens, experts))
                logits[:, 0] += 2.0  # an expert everyone wants: the balancing must move tokens off it
                got = run_probe(["sinkhorn", tokens, experts, k, score, norm, 1.0], logits)
                balanced, d1 = sinkhorn(logits)
                idx = np.array([top(list(row), k) for row in balanced])
                np.testing.assert_array_equal(got["top_idx"].reshape(tokens, k), idx)
                # Equal up to ε's weight, which the row shift moves (the iteration stops at 1e-4 anyway).
                np.testing.assert_allclose(got["bias"], np.log(d1), rtol=1e-5)
                plain = select(logits, np.zeros(experts), k, "softmax")
                self.assertGreater(np.sum(plain == 0), np.sum(idx == 0))
                gates, _, _ = forward(logits, idx, score, norm, 1.0)
                np.testing.assert_allclose(got["gates"].reshape(tokens, k), gates, rtol=1e-12)

    def test_drop_policies_and_renormalisation(self):
        rng = np.random.default_rng(6)
        tokens, experts, k = 14, 4, 2
        for policy, renorm, norm, scale in itertools.product(("position", "probability"), (0, 1),
                                                             ("selected", "none"), (1.0, 2.5)):
            with self.subTest(policy=policy, renorm=renorm, norm=norm, scale=scale):
                logits = rng.normal(0, 1.5, (tokens, experts))
                logits[:, 1] += 1.0  # over capacity
                dgates = rng.normal(0, 1, (tokens, k))
                factor = 0.75
                got = run_probe(["drop", tokens, experts, k, "softmax", norm, scale, factor, policy, renorm],
                                logits, dgates)
                idx = select(logits, np.zeros(experts), k, "softmax")
                gates, _, _ = forward(logits, idx, "softmax", norm, scale)
                capacity = math.ceil(factor * tokens * k / experts)
                kept = kept_after_drop(idx, gates, experts, capacity, policy)
                self.assertLess(kept.sum(), tokens * k)
                np.testing.assert_array_equal(got["slot_of"].reshape(tokens, k) >= 0, kept)

                def renormalised(g):
                    total = (g * kept).sum(axis=1, keepdims=True)
                    return np.where(kept, scale * g / np.where(total > 0, total, 1), 0)

                if renorm:
                    np.testing.assert_allclose(got["kept_gates"].reshape(tokens, k), renormalised(gates), rtol=1e-12)

                def loss(x):
                    g = forward(x, idx, "softmax", norm, scale)[0]
                    return (dgates * (renormalised(g) if renorm else g)).sum()

                np.testing.assert_allclose(got["dlogits"].reshape(tokens, experts), numeric_gradient(loss, logits),
                                           rtol=1e-6, atol=1e-8)


if __name__ == "__main__":
    unittest.main()
