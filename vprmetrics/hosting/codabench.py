"""A Codabench / CodaLab scoring program.

    python -m vprmetrics.hosting.codabench INPUT_DIR OUTPUT_DIR

``INPUT_DIR/ref/`` holds the ground truth: one ``GT.npz`` (naming its protocol) and,
optionally, the protocol's ``.toml``; ``INPUT_DIR/res/`` holds the participant's
submission: one ``.npz``, or ``queries.npy`` and ``database.npy``. It writes
``OUTPUT_DIR/scores.json`` (``{"recall_at_1": 92.4, ..., "pssr": 0.99}``: percent, PSSR
as a fraction; the keys are the leaderboard's column keys in the competition YAML) and
``OUTPUT_DIR/report.json`` (the full report). A bad submission prints its one-line
reason on stderr and exits with code 2, which Codabench shows as a failed submission.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from vprmetrics.errors import InputError, VPRMetricsError
from vprmetrics.files import write_atomic
from vprmetrics.hosting.common import flat_metrics, protocol_of, score_files

__all__ = ["main", "score_dirs"]


def _one(folder: Path, pattern: str, what: str) -> Path | None:
    found = sorted(folder.glob(pattern))
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise InputError(f"{folder} holds several {what} ({names}); keep exactly one")
    return found[0] if found else None


def _submission_files(res: Path) -> list[Path]:
    npz = _one(res, "*.npz", ".npz files")
    if npz is not None:
        return [npz]
    pair = [res / "queries.npy", res / "database.npy"]
    if all(p.is_file() for p in pair):
        return pair
    raise InputError(
        "the submission holds neither one .npz nor queries.npy and database.npy; zip one "
        "submission .npz (see docs/submissions.md)"
    )


def score_dirs(input_dir: str | Path, output_dir: str | Path) -> dict[str, float]:
    """Score ``input_dir/res`` against ``input_dir/ref`` and write ``scores.json``."""
    ref, res = Path(input_dir) / "ref", Path(input_dir) / "res"
    for folder in (ref, res):
        if not folder.is_dir():
            raise InputError(f"{folder} is not a folder; the scoring program needs ref/ and res/")
    gt = _one(ref, "*.npz", "ground-truth files")
    if gt is None:
        raise InputError(f"{ref} holds no ground-truth .npz; add the GT.npz to the bundle")
    protocol = protocol_of(gt, _one(ref, "*.toml", "protocol files"))
    report = score_files(gt, _submission_files(res), protocol)
    scores = flat_metrics(report, slugs=True)
    out = Path(output_dir)
    write_atomic(out / "report.json", (json.dumps(report, indent=2) + "\n").encode())
    write_atomic(out / "scores.json", (json.dumps(scores, indent=2) + "\n").encode())
    return scores


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m vprmetrics.hosting.codabench INPUT_DIR OUTPUT_DIR", file=sys.stderr)
        return 2
    try:
        scores = score_dirs(*args)
    except (VPRMetricsError, OSError) as err:
        print(f"vprmetrics scoring: error: {err}", file=sys.stderr)
        return 2
    print(", ".join(f"{k} {v:.4g}" for k, v in scores.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
