"""The retrieval benchmark's scoring (bench/retrieval/run.py) and lexical floor (systems.py).

Test data: hand-made similarity matrices and two small functions.
"""
from __future__ import annotations


import numpy as np


from bench.retrieval.run import ranks_in_pools, score
from bench.retrieval.systems import LexicalTfidf, lexical_features


def test_ranks_count_ties_against_the_positive():
    sim = np.array([[0.9, 0.1, 0.9],   # tie with a negative: rank 2
                    [0.5, 0.4, 0.1],   # one negative above: rank 2
                    [0.0, 0.1, 0.7]])  # best: rank 1
    (ranks,) = ranks_in_pools(sim, pool=3, seeds=5)  # a pool of every key: one seed
    assert sorted(ranks.tolist()) == [1, 2, 2]


def test_pools_are_disjoint_and_cover_every_key_per_seed():
    n = 10
    sim = np.eye(n)  # every positive best: rank 1 whatever the pool
    per_seed = ranks_in_pools(sim, pool=4, seeds=3)
    assert len(per_seed) == 3 and all(r.size == 8 and (r == 1).all() for r in per_seed)  # 2 pools of 4
    rows = score(np.eye(n), np.eye(n), [4, 100], seeds=3)
    assert [(r["pool"], r["pool_used"], r["seeds"], r["r1"], r["mrr"]) for r in rows] == [
        (4, 4, 3, 1.0, 1.0), (100, 10, 1, 1.0, 1.0)]


def test_random_vectors_score_near_chance():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(2000, 64))
    c = rng.normal(size=(2000, 64))
    (row,) = score(q, c, [32], seeds=2)
    assert abs(row["r1"] - 1 / 32) < 0.02


def test_lexical_features_and_tfidf_find_the_same_code_under_other_registers():
    a = "FUNC:\nadd w0, w0, w1\nlsl w0, w0, 2\nbl helper\nret"
    b = "FUNC:\nadd w2, w3, w4\nlsl w2, w2, 2\nbl helper\nret"
    other = "FUNC:\nldr x0, [x0]\nret"
    feats = lexical_features(a)
    assert feats["g2:add lsl"] == 1 and feats["i:add w,w,w"] == 1 and feats["c:helper"] == 1
    assert lexical_features(a) == lexical_features(b)
    q, c = LexicalTfidf().embed_many([[a], [b, other]])
    sims = q @ c.T
    assert sims[0, 0] > 0.99 > sims[0, 1]
