"""The Python face of the leaderboard: :class:`Leaderboard`. Typical use::

board = Leaderboard.init("lb.sqlite", "synthtown", dataset_root="runs/demo/synthtown")
board.submit(["raw.npz"], name="raw pixels", team="vprmetrics")
board.standings().rows[0].entry.name
board.build_site("runs/demo/site")
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from vprmetrics._version import __version__
from vprmetrics.data.loaders import Dataset, ground_truth_hash, open_dataset
from vprmetrics.data.protocol import load_protocol, protocol_hash
from vprmetrics.data.submission import submission_hash
from vprmetrics.errors import InputError, InputTypeError, ProtocolError
from vprmetrics.leaderboard.codec import facts_to_blob
from vprmetrics.leaderboard.columns import Column, column, columns
from vprmetrics.leaderboard.scoring import (
    DEFAULT_SETTINGS,
    dataset_from_blob,
    ground_truth_blob,
    protocol_from_text,
    score_submission,
)
from vprmetrics.leaderboard.standings import Family, Standings, compare_family
from vprmetrics.leaderboard.store import Entry, ProtocolRecord, Store
from vprmetrics.ranking.facts import RankingFacts
from vprmetrics.report.evaluation import EvaluationSettings

__all__ = ["MAX_TEXT", "Leaderboard"]

MAX_TEXT = {"name": 200, "team": 200, "notes": 4000}
_REJECTIONS = (InputError, InputTypeError, ProtocolError)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _text(value: str, field: str, required: bool = False) -> str:
    value = value.strip()
    if required and not value:
        raise InputError(f"--{field} is empty; give the submission a name")
    if field != "notes" and any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InputError(f"--{field} {value!r} has control characters; give one plain line")
    if len(value) > MAX_TEXT[field]:
        raise InputError(f"--{field} has {len(value)} characters; keep it to {MAX_TEXT[field]}")
    return value


class Leaderboard:
    """A store of submissions per protocol: :meth:`init`, :meth:`submit`,
    :meth:`standings`, :meth:`compare`, :meth:`build_site`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.store = Store(path)
        self._facts: dict[int, RankingFacts] = {}
        self._values: dict[tuple[int, str], np.ndarray] = {}
        self._datasets: dict[int, Dataset] = {}
        self._families: dict[tuple, Family] = {}

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Leaderboard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def init(
        cls,
        path: str | os.PathLike[str],
        protocol: str | os.PathLike[str],
        *,
        dataset_root: str | os.PathLike[str] | None = None,
        ground_truth: str | os.PathLike[str] | None = None,
        **settings: Any,
    ) -> Leaderboard:
        """Add ``protocol`` (a name or a ``.toml``) to the store at ``path`` (created when
        missing), fixing its text, ground truth and ``settings`` (keys of
        :data:`~vprmetrics.leaderboard.scoring.DEFAULT_SETTINGS`)."""
        unknown = sorted(set(settings) - set(DEFAULT_SETTINGS))
        if unknown:
            raise InputError(f"unknown setting(s) {unknown}; use {sorted(DEFAULT_SETTINGS)}")
        fixed = {**DEFAULT_SETTINGS, **settings}
        if int(fixed["n_permutations"]) < 99:
            raise InputError("n_permutations must be at least 99 (9999 recommended)")
        p = load_protocol(protocol)
        dataset = open_dataset(p, dataset_root, ground_truth)
        checked = EvaluationSettings(
            **{k: fixed[k] for k in ("metric", "ties", "seed", "n_resamples", "confidence")}
        ).checked(dataset.n_database)
        assert p.path is not None  # load_protocol always reads a file
        Store(path, create=True).close()
        board = cls(path)
        board.store.add_protocol(
            {
                "name": p.name,
                "protocol_toml": p.path.read_text(encoding="utf-8"),
                "protocol_sha256": protocol_hash(p),
                "ground_truth": ground_truth_blob(dataset),
                "ground_truth_sha256": ground_truth_hash(dataset.ground_truth()),
                "settings_json": json.dumps({**fixed, "metric": checked.metric}),
                "created_at": _now(),
                "vprmetrics_version": __version__,
            }
        )
        return board

    # ---------------------------------------------------------------- submitting

    def dataset(self, record: ProtocolRecord) -> Dataset:
        """The protocol's dataset as fixed at ``init`` (its ground-truth hash checked)."""
        if record.id not in self._datasets:
            p = protocol_from_text(record.name, record.protocol_toml, record.protocol_sha256)
            ds = dataset_from_blob(p, self.store.ground_truth_blob(record.id))
            if ground_truth_hash(ds.ground_truth()) != record.ground_truth_sha256:
                raise InputError(
                    f"the stored ground truth of {record.name!r} does not match its hash; "
                    "the store was edited by hand: restore it from a backup"
                )
            self._datasets[record.id] = ds
        return self._datasets[record.id]

    def submit(
        self,
        files: Sequence[str | os.PathLike[str]],
        name: str,
        *,
        team: str = "",
        notes: str = "",
        protocol: str | None = None,
        backend: str = "numpy",
    ) -> Entry:
        """Validate and score ``files`` (one ``.npz``, or queries and database ``.npy``)
        and store the result in one transaction. An invalid submission is stored as
        ``rejected`` with its one-line reason; a file already submitted, or a name already
        taken, raises :class:`InputError` and stores nothing."""
        record = self.store.protocol(protocol)
        name = _text(name, "name", required=True)
        team, notes = _text(team, "team"), _text(notes, "notes")
        paths = [Path(f).expanduser() for f in files]
        for path in paths:
            if not path.is_file():
                raise InputError(f"submission file {str(path)!r} does not exist; check the path")
        sha = submission_hash(paths)
        self.store.check_new(record.id, name, sha)
        values: dict[str, Any] = {
            "protocol_id": record.id,
            "name": name,
            "team": team,
            "notes": notes,
            "submission_sha256": sha,
            "submission_files": json.dumps([p.name for p in paths]),
            "protocol_sha256": record.protocol_sha256,
            "ground_truth_sha256": record.ground_truth_sha256,
            "vprmetrics_version": __version__,
        }
        p = protocol_from_text(record.name, record.protocol_toml, record.protocol_sha256)
        dataset = self.dataset(record)  # a broken store raises here, never as a rejection
        try:
            report, facts = score_submission(p, dataset, paths, record.settings, backend=backend)
        except _REJECTIONS as err:
            values.update(status="rejected", reason=str(err).splitlines()[0])
        else:
            eff = report["efficiency"]
            values.update(
                status="scored",
                report_json=json.dumps(report, allow_nan=False),
                facts=facts_to_blob(facts),
                descriptor_dim=eff["descriptor_dim"],
                dtype=eff["dtype"],
                bytes_per_descriptor=eff["bytes_per_descriptor"],
                matching_ms_per_query=eff["matching_ms_per_query"],
            )
        values["submitted_at"] = _now()
        entry_id = self.store.add_entry(values)
        return next(e for e in self.store.entries(record.id) if e.id == entry_id)

    # ---------------------------------------------------------------- statistics

    def facts(self, entry: Entry) -> RankingFacts:
        if entry.id not in self._facts:
            self._facts[entry.id] = self.store.facts(entry.id)
        return self._facts[entry.id]

    def per_query(self, entry: Entry, metric: Column) -> np.ndarray:
        """``entry``'s per-query values of ``metric`` (from its stored facts)."""
        key = (entry.id, metric.key)
        if key not in self._values:
            record = next(r for r in self.store.protocols() if r.id == entry.protocol_id)
            positives = (
                self.dataset(record).ground_truth() if metric.section == "map_at_k" else None
            )
            assert entry.report is not None
            self._values[key] = metric.per_query(self.facts(entry), entry.report, positives)
        return self._values[key]

    def family(self, record: ProtocolRecord, scored: list[Entry], metric: Column) -> Family:
        """Every paired comparison of ``scored`` on ``metric``, Holm-adjusted (computed
        once per set of entries)."""
        key = (record.id, metric.key, tuple(e.id for e in scored))
        if key not in self._families:
            values = [self.per_query(e, metric) for e in scored]
            self._families[key] = compare_family(record, scored, values, metric)
        return self._families[key]

    def standings(self, protocol: str | None = None, sort: str | None = None) -> Standings:
        """The ranked table of ``protocol`` (see :class:`Standings`)."""
        record = self.store.protocol(protocol)
        return Standings.build(
            record,
            self.store.entries(record.id, "scored"),
            self.store.entries(record.id, "rejected"),
            self.family,
            sort,
        )

    def compare(
        self, a: str, b: str, *, protocol: str | None = None, metric: str | None = None
    ) -> list[dict[str, Any]]:
        """``a`` against ``b`` on every table metric (or ``metric``): difference, its
        interval, the p-value and the Holm-adjusted p-value over all pairs of the table."""
        record = self.store.protocol(protocol)
        scored = self.store.entries(record.id, "scored")
        index = {}
        for name in (a, b):
            entry = self.store.entry(record.id, name)
            if entry.status != "scored":
                raise InputError(f"{name!r} was rejected ({entry.reason}); it has no numbers")
            index[name] = next(i for i, e in enumerate(scored) if e.id == entry.id)
        if a == b:
            raise InputError("compare two different submissions")
        report = scored[0].report or {}
        out = []
        for col in [column(report, metric)] if metric else columns(report, table=True):
            family = self.family(record, scored, col)
            c, adjusted = family.between(index[a], index[b])
            out.append(
                {
                    "metric": col.key,
                    "a": a,
                    "b": b,
                    "value_a": col.value(scored[index[a]].report or {}),
                    "value_b": col.value(scored[index[b]].report or {}),
                    "difference": c.difference,
                    "interval": [c.low, c.high],
                    "p_value": c.p_value,
                    "p_holm": adjusted,
                    "family_size": len(family.tests),
                    "significant": adjusted <= family.alpha,
                    "n_queries": c.n_queries,
                }
            )
        return out

    def build_site(self, out: str | os.PathLike[str], sort: str | None = None) -> Path:
        """Write the static site (index, one table per protocol, one page per entry),
        ranked on ``sort`` (default: each protocol's first Recall@N)."""
        from vprmetrics.leaderboard.site import build_site

        return build_site(self, Path(out), sort)
