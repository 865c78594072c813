"""The protocol file schema: the allowed values, the :class:`Protocol` record, validation.

:func:`parse_protocol` checks every field of a parsed TOML table and names the file and
the field that is wrong; the fields are described in ``docs/protocols.md``. The lists of
coordinate systems, no-positive rules and Recall@K% conventions are the ones the metrics
use (:data:`~vprmetrics.geo.geodesy.COORDINATE_KINDS`,
:data:`~vprmetrics.geo.positives.NO_POSITIVE_RULES`,
:data:`~vprmetrics.metrics.recall.PERCENT_CONVENTIONS`), never copies.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from vprmetrics.errors import ProtocolError
from vprmetrics.geo.geodesy import COORDINATE_KINDS
from vprmetrics.geo.positives import NO_POSITIVE_RULES
from vprmetrics.metrics.recall import PERCENT_CONVENTIONS

__all__ = [
    "GT_KINDS",
    "LAYOUTS",
    "LOADER_OPTIONS",
    "QUERY_DIRECTIONS",
    "SCHEMA_VERSION",
    "STATUSES",
    "TASKS",
    "Protocol",
    "Side",
    "parse_protocol",
]

SCHEMA_VERSION = 1
LAYOUTS: tuple[str, ...] = ("vg", "msls", "cvusa", "csv")
TASKS: tuple[str, ...] = ("vpr", "cross-view")
STATUSES: tuple[str, ...] = ("verified", "partial", "unverified")
GT_KINDS: tuple[str, ...] = ("radius", "one-to-one")
QUERY_DIRECTIONS: tuple[str, ...] = ("ground-to-aerial", "aerial-to-ground")

# Layout-specific loader options: name -> (accepted python types, description).
LOADER_OPTIONS: dict[str, dict[str, tuple[tuple[type, ...], str]]] = {
    "vg": {
        "images_paths_file": ((bool,), "read <folder>_images_paths.txt when present"),
        "query_stride": ((int,), "keep every k-th query (in protocol order)"),
        "database_stride": ((int,), "keep every k-th database image"),
        "database_grouping": ((str,), "'panorama': rank panoramas, not cutouts"),
    },
    "msls": {
        "cities": ((list,), "city folders, in order"),
        "subtask": ((str,), "column of subtask_index.csv to keep (e.g. 'all')"),
        "exclude_panoramas": ((bool,), "drop rows whose raw.csv 'pano' is True"),
    },
    "cvusa": {
        "split_file": ((str,), "split CSV relative to the dataset root"),
        "aerial_column": ((int,), "column of the aerial path"),
        "ground_column": ((int,), "column of the ground path"),
    },
    "csv": {},
}

_TOP_KEYS = {
    "schema",
    "name",
    "dataset",
    "split",
    "layout",
    "task",
    "status",
    "description",
    "database",
    "queries",
    "ground_truth",
    "metrics",
    "loader",
    "source",
}
_SIDE_KEYS = {"path", "count", "count_verified", "scored_count"}
_GT_KEYS = {"kind", "coordinates", "radius_m", "max_heading_deg", "no_positive"}
_METRIC_KEYS = {
    "recall_at_n",
    "recall_at_percent",
    "recall_at_percent_convention",
    "query_direction",
}
_SOURCE_KEYS = {"citation", "notes"}


@dataclass(frozen=True)
class Side:
    """One side (database or queries) of a protocol.

    ``count`` is ``None`` when the size is unknown; ``count_verified`` says whether it was
    counted from the files (``False``: from a paper, a mismatch is only a warning).
    ``scored_count`` is the number of queries left after the no-positive rule, when known.
    """

    path: str
    count: int | None
    count_verified: bool
    scored_count: int | None = None


@dataclass(frozen=True)
class Protocol:
    """A validated protocol file. Build it with :func:`load_protocol`."""

    name: str
    dataset: str
    split: str
    layout: str
    task: str
    status: str
    description: str
    database: Side
    queries: Side
    ground_truth_kind: str
    coordinates: str
    radius_m: float | None
    max_heading_deg: float | None
    no_positive: str
    recall_at_n: tuple[int, ...]
    recall_at_percent: tuple[float, ...]
    recall_at_percent_convention: str
    query_direction: str | None
    loader: Mapping[str, Any] = field(hash=False, compare=False)
    citation: str = ""
    notes: tuple[str, ...] = ()
    path: Path | None = field(default=None, compare=False)
    sha256: str = ""

    @property
    def one_to_one(self) -> bool:
        """True for cross-view pair protocols: query ``i`` matches database item ``i``."""
        return self.ground_truth_kind == "one-to-one"

    def evaluation_defaults(self) -> dict[str, Any]:
        """The ``evaluate`` settings this protocol fixes: cut-offs, the Recall@K%
        convention, the no-positive rule and the coordinate system."""
        return {
            "recall_at": list(self.recall_at_n),
            "recall_at_percent": list(self.recall_at_percent),
            "percent_convention": self.recall_at_percent_convention,
            "no_positive": self.no_positive,
            "coords": self.coordinates if self.coordinates in ("utm", "latlon") else "utm",
        }

    def summary(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields a report records.

        >>> from vprmetrics.data.protocol import load_protocol
        >>> load_protocol("pitts30k-test").summary()["database_count"]
        10000
        """
        return {
            "name": self.name,
            "dataset": self.dataset,
            "split": self.split,
            "layout": self.layout,
            "task": self.task,
            "status": self.status,
            "database_count": self.database.count,
            "query_count": self.queries.count,
            "ground_truth": self.ground_truth_kind,
            "coordinates": self.coordinates,
            "radius_m": self.radius_m,
            "max_heading_deg": self.max_heading_deg,
            "no_positive": self.no_positive,
            "recall_at_n": list(self.recall_at_n),
            "recall_at_percent": list(self.recall_at_percent),
            "recall_at_percent_convention": self.recall_at_percent_convention,
            "query_direction": self.query_direction,
            "protocol_sha256": self.sha256,
        }


class _Checker:
    """Reads typed fields from a parsed TOML table; errors name the file and the field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, field_name: str, problem: str) -> ProtocolError:
        return ProtocolError(
            f"protocol file {self.path}: field '{field_name}' {problem}; fix the file "
            "(fields are described in docs/protocols.md)"
        )

    def table(self, data: Mapping[str, Any], key: str, allowed: set[str], prefix: str = "") -> dict:
        name = prefix + key
        value = data.get(key)
        if value is None:
            raise self.fail(name, "is missing (a [" + name + "] table is required)")
        if not isinstance(value, dict):
            raise self.fail(name, f"must be a table, got {type(value).__name__}")
        self.no_unknown(value, allowed, name + ".")
        return value

    def no_unknown(self, data: Mapping[str, Any], allowed: set[str], prefix: str = "") -> None:
        for key in data:
            if key not in allowed:
                hint = difflib.get_close_matches(key, sorted(allowed), n=1)
                extra = f" (did you mean '{prefix}{hint[0]}'?)" if hint else ""
                raise self.fail(prefix + key, f"is not a known field{extra}")

    def string(self, data, key, name, *, required=True, choices=None, default=None):
        value = data.get(key)
        if value is None:
            if required:
                raise self.fail(name, "is missing")
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.fail(name, f"must be a non-empty string, got {value!r}")
        if choices is not None and value not in choices:
            hint = difflib.get_close_matches(value, list(choices), n=1)
            extra = f", did you mean {hint[0]!r}" if hint else ""
            raise self.fail(name, f"is {value!r}, expected one of {', '.join(choices)}{extra}")
        return value

    def boolean(self, data, key, name, default):
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(name, f"must be true or false, got {value!r}")
        return value

    def count(self, data, key, name):
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(name, f"must be a positive integer (or be left out), got {value!r}")
        return value

    def number(self, data, key, name, *, required):
        value = data.get(key)
        if value is None:
            if required:
                raise self.fail(name, "is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(name, f"must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value) or value <= 0:
            raise self.fail(name, f"must be a positive finite number, got {value!r}")
        return value


def _plain_name(text: str) -> bool:
    """One path component: not empty, no separator, not ``.`` or ``..``."""
    return bool(text) and text not in (".", "..") and not any(c in text for c in "/\\\0")


def _relative_inside(text: str) -> bool:
    """A relative path (either separator) without ``..`` or a drive."""
    parts = text.replace("\\", "/").split("/")
    return (
        bool(text.strip())
        and not text.startswith(("/", "\\"))
        and ":" not in text
        and (".." not in parts and "\0" not in text)
    )


def _side(ck: _Checker, data: Mapping[str, Any], key: str) -> Side:
    tab = ck.table(data, key, _SIDE_KEYS)
    path = ck.string(tab, "path", f"{key}.path")
    if not _relative_inside(path):
        raise ck.fail(f"{key}.path", f"must be relative to the dataset root, got {path!r}")
    count = ck.count(tab, "count", f"{key}.count")
    verified = ck.boolean(tab, "count_verified", f"{key}.count_verified", False)
    if verified and count is None:
        raise ck.fail(f"{key}.count_verified", "is true but no count is given")
    scored = ck.count(tab, "scored_count", f"{key}.scored_count")
    if scored is not None and count is not None and scored > count:
        raise ck.fail(f"{key}.scored_count", f"is {scored}, more than count = {count}")
    return Side(path=path, count=count, count_verified=verified, scored_count=scored)


def _has_type(value: Any, types: tuple[type, ...]) -> bool:
    """``isinstance`` where ``bool`` (an ``int`` subclass) counts only when listed."""
    return isinstance(value, types) and (bool in types or not isinstance(value, bool))


def _loader_options(ck: _Checker, data: Mapping[str, Any], layout: str) -> dict[str, Any]:
    tab = data.get("loader", {})
    if not isinstance(tab, dict):
        raise ck.fail("loader", f"must be a table, got {type(tab).__name__}")
    spec = LOADER_OPTIONS[layout]
    ck.no_unknown(tab, set(spec), "loader.")
    out: dict[str, Any] = {}
    for key, value in tab.items():
        types, _ = spec[key]
        if not _has_type(value, types):
            raise ck.fail(f"loader.{key}", f"has the wrong type ({type(value).__name__})")
        if key.endswith("_stride") and value < 1:
            raise ck.fail(f"loader.{key}", f"must be >= 1, got {value}")
        if key.endswith("_column") and value < 0:
            raise ck.fail(f"loader.{key}", f"must be >= 0, got {value}")
        if key == "database_grouping" and value != "panorama":
            raise ck.fail("loader.database_grouping", f"is {value!r}, expected 'panorama'")
        if key == "cities":
            if not value or not all(isinstance(c, str) and _plain_name(c) for c in value):
                raise ck.fail(
                    "loader.cities", "must be a non-empty list of folder names (no '/' or '..')"
                )
            value = tuple(value)
        if key == "split_file" and not _relative_inside(value):
            raise ck.fail(
                "loader.split_file", f"must be relative to the dataset root, got {value!r}"
            )
        out[key] = value
    if layout == "msls" and "cities" not in out:
        raise ck.fail("loader.cities", "is missing (the msls layout needs the city list)")
    if layout == "cvusa" and "split_file" not in out:
        raise ck.fail("loader.split_file", "is missing (the cvusa layout needs the split CSV)")
    return out


def _int_list(ck: _Checker, data, key, name, default) -> tuple[int, ...]:
    value = data.get(key, default)
    if not isinstance(value, list) or not value:
        raise ck.fail(name, f"must be a non-empty list of positive integers, got {value!r}")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ck.fail(name, f"holds {v!r}, expected positive integers")
    return tuple(sorted(set(value)))


def _percent_list(ck: _Checker, data, key, name, default) -> tuple[float, ...]:
    value = data.get(key, default)
    if not isinstance(value, list):
        raise ck.fail(name, f"must be a list of percentages, got {value!r}")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 100:
            raise ck.fail(name, f"holds {v!r}, expected percentages in (0, 100]")
    return tuple(sorted({float(v) for v in value}))


def parse_protocol(data: Mapping[str, Any], path: Path, sha256: str = "") -> Protocol:
    """Validate a parsed protocol table (``tomllib.loads`` output) from ``path``."""
    ck = _Checker(path)
    ck.no_unknown(data, _TOP_KEYS)
    schema = data.get("schema")
    if schema != SCHEMA_VERSION:
        raise ck.fail("schema", f"is {schema!r}, expected {SCHEMA_VERSION}")
    name = ck.string(data, "name", "name")
    if name != path.stem:
        raise ck.fail("name", f"is {name!r} but the file is {path.name}: make them equal")
    layout = ck.string(data, "layout", "layout", choices=LAYOUTS)
    task = ck.string(data, "task", "task", choices=TASKS)
    gt = ck.table(data, "ground_truth", _GT_KEYS)
    kind = ck.string(gt, "kind", "ground_truth.kind", choices=GT_KINDS)
    coords = ck.string(
        gt,
        "coordinates",
        "ground_truth.coordinates",
        choices=COORDINATE_KINDS,
        required=kind == "radius",
        default="utm",
    )
    radius = ck.number(gt, "radius_m", "ground_truth.radius_m", required=kind == "radius")
    heading = ck.number(gt, "max_heading_deg", "ground_truth.max_heading_deg", required=False)
    if kind == "one-to-one" and (radius is not None or heading is not None):
        raise ck.fail("ground_truth.radius_m", "must be left out for one-to-one ground truth")
    if heading is not None and heading > 180:
        raise ck.fail("ground_truth.max_heading_deg", f"is {heading}, expected at most 180")
    no_pos = ck.string(gt, "no_positive", "ground_truth.no_positive", choices=NO_POSITIVE_RULES)
    metrics = ck.table(data, "metrics", _METRIC_KEYS)
    direction = ck.string(
        metrics,
        "query_direction",
        "metrics.query_direction",
        required=task == "cross-view",
        choices=QUERY_DIRECTIONS,
    )
    if task != "cross-view" and direction is not None:
        raise ck.fail("metrics.query_direction", "is only for task = 'cross-view'")
    source = data.get("source", {})
    if not isinstance(source, dict):
        raise ck.fail("source", "must be a table")
    ck.no_unknown(source, _SOURCE_KEYS, "source.")
    notes = source.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ck.fail("source.notes", "must be a list of strings")
    database = _side(ck, data, "database")
    queries = _side(ck, data, "queries")
    if kind == "one-to-one" and None not in (database.count, queries.count):
        if database.count < queries.count:  # type: ignore[operator]
            raise ck.fail("database.count", "is smaller than queries.count (one-to-one)")
    return Protocol(
        name=name,
        dataset=ck.string(data, "dataset", "dataset"),
        split=ck.string(data, "split", "split"),
        layout=layout,
        task=task,
        status=ck.string(data, "status", "status", choices=STATUSES),
        description=ck.string(data, "description", "description", required=False, default=""),
        database=database,
        queries=queries,
        ground_truth_kind=kind,
        coordinates=coords,
        radius_m=radius,
        max_heading_deg=heading,
        no_positive=no_pos,
        recall_at_n=_int_list(ck, metrics, "recall_at_n", "metrics.recall_at_n", [1, 5, 10, 20]),
        recall_at_percent=_percent_list(
            ck, metrics, "recall_at_percent", "metrics.recall_at_percent", [1]
        ),
        recall_at_percent_convention=ck.string(
            metrics,
            "recall_at_percent_convention",
            "metrics.recall_at_percent_convention",
            required=False,
            default="ceil",
            choices=tuple(PERCENT_CONVENTIONS),
        ),
        query_direction=direction,
        loader=MappingProxyType(_loader_options(ck, data, layout)),
        citation=ck.string(source, "citation", "source.citation", required=False, default=""),
        notes=tuple(notes),
        path=path,
        sha256=sha256,
    )
