"""``vprmetrics visualize``: a grid of queries and their top-N retrieved images.

    vprmetrics visualize --protocol pitts30k-test --dataset-root DIR --submission S.npz \\
        --worst 20 --top 5 --out worst.png

Each row is one query (blue frame, with the rank of its first positive), then its top-N
database images in ranked order: a green frame when the image is a positive of the query
(within the protocol's radius, and its heading limit if any), red when not, with the
distance from the query in metres under each. ``--worst`` shows the queries whose first
positive ranks lowest first (the failures to look at); ``--queries`` picks rows by
number, ``--random`` draws them with ``--seed``. Needs the ``plots`` extra (matplotlib,
Pillow).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from vprmetrics.errors import InputError, ProtocolError, require
from vprmetrics.files import write_atomic
from vprmetrics.geo.geodesy import geo_distance_m
from vprmetrics.geo.positives import Positives
from vprmetrics.ranking.distances import METRICS
from vprmetrics.ranking.engine import rank
from vprmetrics.ranking.facts import RankingFacts

__all__ = ["add_parser", "first_positive_rank", "run", "select_queries"]

MAX_ROWS = 50
MAX_TOP = 20


def first_positive_rank(facts: RankingFacts) -> np.ndarray:
    """Rank of the first positive with ties broken by the lowest database index (the
    order the grid shows); ``n + 1`` for a query without positives.

    >>> from vprmetrics.geo.positives import Positives
    >>> f = rank(np.array([[0.0], [2.9]]), np.array([[0.0], [1.0], [3.0]]),
    ...          Positives.from_lists([[1], []], 3), k=1)
    >>> first_positive_rank(f).tolist()
    [2, 4]
    """
    return np.where(facts.has_positive, facts.rank_stable, facts.n_database + 1)


def select_queries(
    facts: RankingFacts,
    *,
    queries: list[int] | None = None,
    worst: int | None = None,
    random: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """The query rows to draw: as given, the ``worst`` (lowest-ranked first positive first,
    then by query number), or ``random`` ones in query order.

    >>> f = rank(np.array([[0.0], [2.0], [0.9]]), np.array([[0.0], [1.0], [3.0]]),
    ...          Positives.from_lists([[2], [1], [1]], 3), k=1)
    >>> select_queries(f, worst=2).tolist()
    [0, 1]
    """
    nq = facts.n_queries
    for name, value in (("--worst", worst), ("--random", random)):
        if value is not None and value < 1:
            raise InputError(f"{name} {value} must be at least 1")
    if queries is not None:
        bad = [q for q in queries if not 0 <= q < nq]
        if bad:
            raise InputError(f"--queries {bad[0]} is outside [0, {nq}); give query row numbers")
        chosen = np.asarray(queries, dtype=np.int64)
    elif worst is not None:
        order = np.lexsort((np.arange(nq), -first_positive_rank(facts)))
        chosen = order[: min(worst, nq)]
    else:
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(nq, size=min(random or nq, nq), replace=False))
    if len(chosen) > MAX_ROWS:
        raise InputError(f"{len(chosen)} rows asked; draw at most {MAX_ROWS} per grid")
    return chosen


def _image(root: Path, image_id: str, size: int):
    path = (root / image_id).resolve()
    if not path.is_relative_to(root.resolve()):
        raise InputError(f"image id {image_id!r} leaves the dataset root; fix the image list")
    pil = require("PIL.Image", "plots", "reading images")
    try:
        with pil.open(path) as img:
            img = img.convert("RGB")
            img.thumbnail((size, size))
            return np.asarray(img)
    except FileNotFoundError:
        raise InputError(f"image {path} is missing; check --dataset-root") from None
    except pil.UnidentifiedImageError:
        raise InputError(f"{path} is not an image Pillow can read") from None


def _frame(ax, colour: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor(colour)
        spine.set_linewidth(4)


def render_grid(
    root: Path,
    query_ids: np.ndarray,
    database_ids: np.ndarray,
    facts: RankingFacts,
    positives: Positives,
    rows: np.ndarray,
    distances_m: np.ndarray | None,
    *,
    title: str,
    thumb: int = 160,
) -> bytes:
    """The grid as PNG bytes: one row per query of ``rows``, then its top-k images."""
    from vprmetrics.report.plots import figure_png, pyplot

    plt = pyplot()
    top = facts.k
    ranks = first_positive_rank(facts)
    fig, axes = plt.subplots(
        len(rows), top + 1, figsize=(1.75 * (top + 1), 1.9 * len(rows) + 0.4), squeeze=False
    )
    for r, q in enumerate(rows):
        ax = axes[r, 0]
        ax.imshow(_image(root, str(query_ids[q]), thumb))
        _frame(ax, "tab:blue")
        first = "no positive" if not facts.has_positive[q] else f"1st positive #{ranks[q]}"
        ax.set_title(f"query {q}", fontsize=8)
        ax.set_xlabel(first, fontsize=7)
        wanted = set(positives.of(int(q)).tolist())
        for i, j in enumerate(facts.topk_ids[q]):
            ax = axes[r, i + 1]
            ax.imshow(_image(root, str(database_ids[j]), thumb))
            _frame(ax, "tab:green" if int(j) in wanted else "tab:red")
            ax.set_title(f"#{i + 1}  db {j}", fontsize=7)
            if distances_m is not None:
                ax.set_xlabel(f"{distances_m[q, i]:.1f} m", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return figure_png(fig)


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list like 0,5,9") from err


def run(args: argparse.Namespace) -> int:
    from vprmetrics.data.loaders import open_dataset
    from vprmetrics.data.protocol import load_protocol
    from vprmetrics.data.submission import load_submission
    from vprmetrics.data.validation import raise_for_problems, validate_submission

    require("matplotlib", "plots", "drawing the grid")
    require("PIL", "plots", "reading images")
    if not 1 <= args.top <= MAX_TOP:
        raise InputError(f"--top {args.top} must be in [1, {MAX_TOP}]")
    if not 16 <= args.thumb <= 1024:
        raise InputError(f"--thumb {args.thumb} must be in [16, 1024] pixels")
    protocol = load_protocol(args.protocol)
    dataset = open_dataset(protocol, args.dataset_root)
    if dataset.database_groups is not None:
        raise ProtocolError(f"protocol {protocol.name!r} ranks panoramas; use its cutout protocol")
    files = args.submission
    submission = load_submission(files[0] if len(files) == 1 else files)
    problems = validate_submission(submission, protocol, dataset)
    for problem in problems:
        if problem.severity != "error":
            print(f"vprmetrics visualize: {problem}", file=sys.stderr)
    raise_for_problems(problems)
    positives = dataset.ground_truth()
    top = min(args.top, dataset.n_database)
    facts = rank(submission.queries, submission.database, positives, metric=args.metric, k=top)
    rows = select_queries(
        facts, queries=args.queries, worst=args.worst, random=args.random, seed=args.seed
    )
    distances = None
    if dataset.query_coords is not None and dataset.database_coords is not None:
        coords = protocol.coordinates if protocol.coordinates in ("utm", "latlon") else "utm"
        distances = np.full((facts.n_queries, top), np.nan)
        distances[rows] = geo_distance_m(
            np.repeat(dataset.query_coords[rows], top, axis=0),
            dataset.database_coords[facts.topk_ids[rows].reshape(-1)],
            coords,
        ).reshape(len(rows), top)
    how = (
        "chosen queries"
        if args.queries is not None
        else (f"the {len(rows)} worst queries" if args.worst else f"{len(rows)} random queries")
    )
    radius = f", green: within {protocol.radius_m:g} m" if protocol.radius_m else ""
    label = f"{args.label}: " if args.label else ""
    png = render_grid(
        Path(args.dataset_root),
        dataset.query_ids,
        dataset.database_ids,
        facts,
        positives,
        rows,
        distances,
        title=f"{label}{protocol.name}, {how}, top {top} ({args.metric}{radius})",
        thumb=args.thumb,
    )
    write_atomic(args.out, png)
    print(f"wrote {args.out} ({len(rows)} queries x top {top})")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "visualize",
        help="draw queries and their top-N retrieved images (green: positive, red: not)",
        description="Draw a grid of queries and their top-N retrieved database images from a "
        "submission scored against a protocol: green frame for a positive, red for a miss, "
        "distance in metres under each image.",
    )
    p.add_argument("--protocol", required=True, metavar="NAME", help="a protocol name")
    p.add_argument("--dataset-root", required=True, metavar="DIR", help="the dataset folder")
    p.add_argument(
        "--submission", required=True, nargs="+", metavar="FILE", help="S.npz, or Q.npy D.npy"
    )
    pick = p.add_mutually_exclusive_group(required=True)
    pick.add_argument("--queries", type=_int_list, metavar="I,J,...", help="query row numbers")
    pick.add_argument("--worst", type=int, metavar="N", help="the N queries ranked worst")
    pick.add_argument("--random", type=int, metavar="N", help="N random queries (see --seed)")
    p.add_argument("--top", type=int, default=5, help=f"retrieved images per row (5, <= {MAX_TOP})")
    p.add_argument("--seed", type=int, default=0, help="seed of --random (0)")
    p.add_argument("--metric", choices=METRICS, default="l2", help="distance (default l2)")
    p.add_argument("--thumb", type=int, default=160, help="thumbnail size in pixels (160)")
    p.add_argument("--label", metavar="NAME", help="the model's name, shown in the title")
    p.add_argument("--out", required=True, metavar="GRID.png", help="the PNG to write")
    p.set_defaults(func=run)
    return p
