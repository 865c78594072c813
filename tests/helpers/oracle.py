"""A brute-force float64 oracle, written independently of the package.

Everything is computed per query from the full distance list with plain Python/numpy,
and probabilities with exact fractions, so it shares no code path with the engine.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np


def distances(q: np.ndarray, x: np.ndarray, metric: str) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if metric == "l2":
        return np.array([sum((a - b) ** 2 for a, b in zip(q, row, strict=True)) for row in x])
    if metric == "cosine":
        nq = math.sqrt(sum(a * a for a in q)) or 1.0
        out = []
        for row in x:
            nx = math.sqrt(sum(b * b for b in row)) or 1.0
            out.append(-sum((a / nq) * (b / nx) for a, b in zip(q, row, strict=True)))
        return np.array(out)
    return np.array([-sum(a * b for a, b in zip(q, row, strict=True)) for row in x])


def scales(q: np.ndarray, x: np.ndarray, metric: str) -> list[float]:
    """The scale of each distance computation: |q|^2 + |x|^2 (l2), |q| |x| (ip), 1 (cosine)."""
    qq = sum(float(a) * float(a) for a in q)
    out = []
    for row in x:
        xx = sum(float(b) * float(b) for b in row)
        out.append(qq + xx if metric == "l2" else math.sqrt(qq * xx) if metric == "ip" else 1.0)
    return out


def tie(a: float, b: float, rtol: float, sa: float, sb: float) -> bool:
    return abs(a - b) <= rtol * max(sa, sb)


def query_facts(d: np.ndarray, s: list[float], positives: list[int], rtol: float) -> dict:
    """L, T, S, B of one query from its full distance and scale lists."""
    if not positives:
        return {"L": 0, "T": 0, "S": 0, "B": 0, "d_star": math.nan}
    pos = set(positives)
    d_star = min(d[j] for j in pos)
    s_star = s[min(j for j in pos if d[j] == d_star)]
    tied_pos = [j for j in pos if tie(d[j], d_star, rtol, s[j], s_star)]
    first = min(tied_pos)
    L = T = B = 0
    for j, dj in enumerate(d):
        if j in pos:
            continue
        if tie(dj, d_star, rtol, s[j], s_star):
            T += 1
            B += j < first
        elif dj < d_star:
            L += 1
    return {"L": L, "T": T, "S": len(tied_pos), "B": B, "d_star": d_star}


def topk(d: np.ndarray, s: list[float], k: int, rtol: float) -> list[int]:
    """k nearest ids: ascending distance, items that tie (chained to a group leader) by id."""
    order = sorted(range(len(d)), key=lambda j: (d[j], j))
    groups, leader, g = [], None, -1
    for j in order:
        if leader is None or not tie(d[j], d[leader], rtol, s[j], s[leader]):
            g, leader = g + 1, j
        groups.append((g, j))
    return [j for _, j in sorted(groups)][:k]


def success(f: dict, n: int, policy: str) -> Fraction:
    """P(rank <= n) of one query, exactly."""
    if f["S"] == 0:
        return Fraction(0)
    L, T, S, B = f["L"], f["T"], f["S"], f["B"]
    if policy == "optimistic":
        return Fraction(int(L + 1 <= n))
    if policy == "pessimistic":
        return Fraction(int(L + T + 1 <= n))
    if policy == "stable":
        return Fraction(int(L + B + 1 <= n))
    m = n - L
    if m <= 0:
        return Fraction(0)
    p_all_negative = Fraction(1)
    for i in range(min(m, T + 1)):
        p_all_negative *= Fraction(max(T - i, 0), T + S - i)
    return 1 - p_all_negative


def oracle(queries, database, positive_lists, metric="l2", rtol=1e-9, k=1):
    out = []
    for q, pos in zip(queries, positive_lists, strict=True):
        d = distances(q, database, metric)
        s = scales(q, database, metric)
        f = query_facts(d, s, list(pos), rtol)
        f["topk"] = topk(d, s, k, rtol)
        f["k_count"] = f["L"] + f["T"] + f["S"]
        out.append(f)
    return out
