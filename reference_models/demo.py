"""The main job: ``make demo`` (``python -m reference_models.demo --out runs/demo``).

1. Generate the small SynthTown (cached under ``OUT/data``; about 35 s on 2 cores).
2. Describe its test split with the raw-pixel baseline (16x32 grey, L2).
3. When torch is installed: train a ResNet-18 + GeM briefly on the train split (CPU, or
   CUDA when present), export its descriptors as a submission.
4. Score every submission with ``vprmetrics evaluate --protocol synthtown`` (the same
   command a user runs) and write ``OUT/summary.md`` comparing them, with each model's
   JSON/Markdown report, per-query CSV and plots under ``OUT/<model>/``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from vprmetrics.cli import main as vprmetrics_main
from vprmetrics.data.loaders import load_dataset
from vprmetrics.data.protocol import load_protocol
from vprmetrics.files import save_npz_atomic, write_atomic

PROTOCOL = "synthtown"


def _log(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def ensure_synthtown(data_dir: Path) -> Path:
    """The small SynthTown under ``data_dir`` (generated once, then reused)."""
    from reference_models.synthtown.dataset import SIZES, write_vg

    root = data_dir / "synthtown"
    if not (root / "manifest.json").is_file():
        _log(f"generating the small SynthTown into {data_dir} (about a minute on 2 cores)")
        start = time.perf_counter()
        write_vg(data_dir, SIZES["small"], workers=2, progress=sys.stderr.isatty())
        _log(f"generated in {time.perf_counter() - start:.0f} s")
    return root


def _load_images(root: Path, ids: np.ndarray) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.open(root / i).convert("RGB")) for i in ids])


def raw_pixel_submission(root: Path, out: Path) -> Path:
    """The raw-pixel baseline's descriptors of the protocol's test split, as a submission."""
    from reference_models.synthtown.baseline import raw_pixel_descriptors

    dataset = load_dataset(load_protocol(PROTOCOL), root)
    path = out / "raw_pixel" / "submission.npz"
    save_npz_atomic(
        path,
        queries=raw_pixel_descriptors(_load_images(root, dataset.query_ids)),
        database=raw_pixel_descriptors(_load_images(root, dataset.database_ids)),
        query_ids=dataset.query_ids,
        database_ids=dataset.database_ids,
    )
    return path


def score(name: str, submission: Path, root: Path, out: Path) -> dict:
    """Run ``vprmetrics evaluate --protocol synthtown`` on a submission; return its report."""
    folder = out / name
    args = [
        "evaluate",
        "--protocol",
        PROTOCOL,
        "--dataset-root",
        str(root),
        "--submission",
        str(submission),
        "--json",
        str(folder / "report.json"),
        "--markdown",
        str(folder / "report.md"),
        "--per-query",
        str(folder / "per_query.csv"),
        "--plots",
        str(folder / "plots"),
        "--label",
        name,
        "--no-progress",
    ]
    _log(f"vprmetrics {' '.join(args)}")
    if vprmetrics_main(args) != 0:
        raise SystemExit(f"scoring {name} failed; see the message above")
    return json.loads((folder / "report.json").read_text())


def summary_markdown(reports: dict[str, dict], notes: list[str]) -> str:
    """A table comparing the models on the synthtown test split (percentages, two
    decimals), the chance level, and a sentence wherever two models' intervals overlap."""
    from vprmetrics.report.compare import overlap_sentences
    from vprmetrics.report.numbers import percent
    from vprmetrics.report.writers import chance_sentence

    lines = [
        "# vprmetrics demo: SynthTown test split",
        "",
        "| model | R@1 | R@5 | R@10 | R@20 | R@1% | PSSR | R@1 tie gap | R@1 95% CI |",
        "|---|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for name, r in reports.items():
        rn, ci = r["recall_at_n"], r["confidence_intervals"]["recall_at_n"]["1"]
        gap = r["tie_bounds"]["recall_at_n"]["1"]["gap"]
        cells = [rn["1"], rn["5"], rn["10"], rn["20"], r["recall_at_percent"]["1"]]
        cells += [r["pssr"]["mean"], gap]
        values = " | ".join(percent(v) for v in cells)
        lines.append(f"| {name} | {values} | {percent(ci[0])}-{percent(ci[1])} |")
    first = next(iter(reports.values()))
    chance = chance_sentence(first)
    overlaps = overlap_sentences(reports)
    lines += ["", "All numbers are percentages.", *([chance] if chance else [])]
    lines += [*(["", *overlaps] if overlaps else []), "", *notes, ""]
    lines.append(
        "Each model's full report, per-query CSV and plots: `<model>/`; all models on one "
        "plot: `recall_at_n.png`; the leaderboard: `site/index.html`."
    )
    return "\n".join(lines) + "\n"


def run(out: Path, train: bool = True, epochs: int | None = None) -> dict[str, dict]:
    """The whole demo into ``out``; returns each model's report (see the module doc)."""
    out.mkdir(parents=True, exist_ok=True)
    root = ensure_synthtown(out / "data")
    submissions = {"raw_pixel": raw_pixel_submission(root, out)}
    reports = {"raw_pixel": score("raw_pixel", submissions["raw_pixel"], root, out)}
    notes = [
        f"Protocol `{PROTOCOL}`: {reports['raw_pixel']['n_queries']} queries, "
        f"{reports['raw_pixel']['n_database']} database images, positives within 25 m."
    ]
    if train:
        trained = train_reference_model(root, out, epochs)
        if trained is not None:
            name, submission, note = trained
            submissions[name] = submission
            reports[name] = score(name, submission, root, out)
            notes.append(note)
    write_comparison(out / "recall_at_n.png", reports)
    publish_leaderboard(out, root, submissions)
    write_atomic(out / "summary.md", summary_markdown(reports, notes).encode())
    print(summary_markdown(reports, notes))
    _log(f"wrote {out / 'summary.md'}")
    return reports


def publish_leaderboard(out: Path, root: Path, submissions: dict[str, Path]) -> None:
    """Put every model on a SynthTown leaderboard (``OUT/leaderboard.sqlite``) and build its
    static site into ``OUT/site/``. The store is built afresh beside the old one and moved
    over it only when complete, so a failed run keeps the previous board."""
    from vprmetrics.leaderboard import Leaderboard

    store = out / "leaderboard.sqlite"
    fresh = out / ".leaderboard.new.sqlite"
    _remove_sqlite(fresh)
    with Leaderboard.init(fresh, PROTOCOL, dataset_root=root) as board:
        for name, path in submissions.items():
            board.submit([path], name, team="vprmetrics demo")
    _remove_sqlite(store, companions_only=True)  # a stale -wal beside the new file would corrupt it
    fresh.replace(store)
    with Leaderboard(store) as board:
        site = board.build_site(out / "site")
    _log(f"leaderboard: {store}, site: {site / 'index.html'}")


def _remove_sqlite(path: Path, companions_only: bool = False) -> None:
    """Remove an SQLite file and its ``-wal`` and ``-shm`` companions (or only those)."""
    for suffix in ("-wal", "-shm") if companions_only else ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def write_comparison(path: Path, reports: dict[str, dict]) -> None:
    """Every model's Recall@N on one plot (skipped without matplotlib)."""
    try:
        from vprmetrics.report.plots import render_comparison

        png = render_comparison(reports, "SynthTown test split: Recall@N")
    except ImportError:
        return
    write_atomic(path, png)


def train_reference_model(
    root: Path, out: Path, epochs: int | None
) -> tuple[str, Path, str] | None:
    """Train and export a ResNet-18 + GeM; ``None`` (with a note) when torch is missing.

    Trains with the ``cpu-quick`` preset (``epochs`` overrides its epoch count) into
    ``OUT/resnet18_gem/run``, exports the test split's descriptors with the best-R@5
    checkpoint and returns ``(name, submission path, Markdown note)``.
    """
    try:
        import torch  # noqa: F401
    except ImportError:
        _log(
            "torch is not installed: skipping the trained model (pip install 'vprmetrics[models]')"
        )
        return None
    from reference_models.export import export_submission
    from reference_models.training.config import PRESETS, TrainConfig
    from reference_models.training.loop import train

    name = "resnet18_gem"
    preset = dict(PRESETS["cpu-quick"])
    if epochs is not None:
        preset["epochs"] = epochs
    # one thread: the same numbers on every machine, and no slowdown when the two cores
    # are shared (two torch threads on a busy 2-core machine ran 2.5x slower)
    cfg = TrainConfig(
        **preset,
        model="resnet18-gem",
        protocol=PROTOCOL,
        dataset_root=str(root),
        out=str(out / name / "run"),
        progress=True,  # a bar on a terminal, a line per tenth of an epoch in a log
        threads=1,
    )
    _log(f"training ResNet-18 + GeM from scratch ({cfg.epochs} epochs, cpu-quick preset)")
    result = train(cfg)
    _log(
        f"trained in {result.train_seconds:.0f} s; best validation epoch {result.best_epoch}: "
        + " ".join(f"R@{n} {v:.3f}" for n, v in result.best_recalls.items())
    )
    submission = out / name / "submission.npz"
    export_submission(result.run_dir, PROTOCOL, root, submission)
    h, w = cfg.image_size or (0, 0)
    steps = sum(int(rec["steps"]) for rec in result.history)
    note = (
        f"`{name}`: ResNet-18 + GeM trained from scratch on the train split in "
        f"{result.train_seconds:.0f} s on {cfg.threads} CPU thread "
        f"(`cpu-quick`: {h}x{w} images, {result.epochs_run} epochs, {steps} steps of "
        f"{cfg.places_per_batch} places x {cfg.images_per_place} images, "
        f"{cfg.loss} loss, {cfg.optimizer} lr {cfg.lr:g} ({cfg.lr_schedule}), seed {cfg.seed}); "
        f"best validation epoch {result.best_epoch}, chosen by validation R@5 "
        f"(val R@1 {100 * result.best_recalls.get(1, float('nan')):.2f}%)."
    )
    return name, submission, note


def main(argv: list[str] | None = None) -> int:
    """``python -m reference_models.demo [--out DIR] [--no-train] [--epochs N]``."""
    parser = argparse.ArgumentParser(
        prog="python -m reference_models.demo",
        description="End-to-end demo on the embedded SynthTown: generate, describe, train, score.",
    )
    parser.add_argument("--out", default="runs/demo", help="output folder (runs/demo)")
    parser.add_argument("--no-train", action="store_true", help="score the baseline only")
    parser.add_argument("--epochs", type=int, help="training epochs (default: the demo preset)")
    args = parser.parse_args(argv)
    run(Path(args.out), train=not args.no_train, epochs=args.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
