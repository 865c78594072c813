"""The raw-pixel baseline: a downsampled greyscale image as the descriptor.

A classic VPR sanity baseline (e.g. the "raw pixels" / tiny-image baselines of Milford
and Wyeth, SeqSLAM 2012, and Torralba et al. 2008). Each image is converted to grey
(ITU-R 601 luma), box-averaged to ``16 x 32`` and normalised to zero mean and unit norm,
so L2 distance between descriptors is a monotone function of correlation.

:func:`recall_report` scores descriptors with a brute-force float64 distance matrix and
UTM ground truth (closed 25 m ball, kd-tree), for use until the core engine scores it.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["raw_pixel_descriptors", "recall_report"]


def raw_pixel_descriptors(images: np.ndarray, shape: tuple[int, int] = (16, 32)) -> np.ndarray:
    """Descriptors ``(n, shape[0] * shape[1])`` float32 from uint8 images ``(n, h, w, 3)``.

    ``h`` and ``w`` must be multiples of ``shape`` (box averaging).
    """
    imgs = np.asarray(images)
    if imgs.ndim != 4 or imgs.shape[-1] != 3:
        raise ValueError(f"images must have shape (n, h, w, 3); got {imgs.shape}")
    n, h, w, _ = imgs.shape
    bh, bw = h // shape[0], w // shape[1]
    if bh * shape[0] != h or bw * shape[1] != w:
        raise ValueError(f"image size {h}x{w} is not a multiple of the descriptor {shape}")
    grey = imgs.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    small = grey.reshape(n, shape[0], bh, shape[1], bw).mean(axis=(2, 4)).reshape(n, -1)
    small -= small.mean(axis=1, keepdims=True)
    small /= np.maximum(np.linalg.norm(small, axis=1, keepdims=True), 1e-6)
    return small.astype(np.float32)


def recall_report(
    db_desc: np.ndarray,
    q_desc: np.ndarray,
    db_xy: np.ndarray,
    q_xy: np.ndarray,
    radius_m: float = 25.0,
    recall_at: tuple[int, ...] = (1, 5, 10, 20),
) -> dict[str, float]:
    """R@N, R@1% (N = ceil(n / 100)), PSSR and chance R@1 (queries without positives miss).

    Ties: distances are exact float64; a positive tied with negatives counts as ranked
    after them (pessimistic), which for continuous descriptors almost never matters.
    PSSR_q = (n - k_q) / n with k_q = #{j : d_j <= d*} (Debnath et al.).
    """
    from scipy.spatial import cKDTree

    qd = q_desc.astype(np.float64)
    dd = db_desc.astype(np.float64)
    d = ((qd[:, None, :] - dd[None, :, :]) ** 2).sum(-1)
    n = db_desc.shape[0]
    pos = cKDTree(db_xy).query_ball_point(q_xy, r=radius_m)
    ranks = np.full(len(q_xy), np.inf)
    pssr = np.zeros(len(q_xy))
    chance = np.zeros(len(q_xy))
    for q, p in enumerate(pos):
        if not p:
            continue
        best = d[q, p].min()
        k = int((d[q] <= best).sum())
        ranks[q] = k
        pssr[q] = (n - k) / n
        chance[q] = len(p) / n
    out = {f"R@{m}": float((ranks <= m).mean()) for m in recall_at}
    out["R@1%"] = float((ranks <= math.ceil(n / 100)).mean())
    out["PSSR"] = float(pssr.mean())
    out["chance_R@1"] = float(chance.mean())
    out["no_positive"] = float(np.mean([not p for p in pos]))
    return out
