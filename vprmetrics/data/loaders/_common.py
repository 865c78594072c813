"""Pieces shared by the dataset loaders: one side of a dataset, count checks, CSV reading."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from vprmetrics.errors import InputError, ProtocolError
from vprmetrics.input_limits import MAX_TEXT_FILE_BYTES
from vprmetrics.npyio import regular_file

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class SideData:
    """What a loader returns for one side (database or queries), in protocol order.

    ``ids`` are image paths relative to the dataset root (POSIX separators, unicode
    array); ``coords`` a float64 ``(n, 2)`` array or ``None`` (one-to-one protocols);
    ``headings`` float64 ``(n,)`` or ``None``; ``groups`` an int64 group index per item
    (panorama grouping) or ``None``; ``regions`` an int64 region index per item (MSLS
    cities: positives never cross regions) or ``None``.
    """

    ids: np.ndarray
    coords: np.ndarray | None = None
    headings: np.ndarray | None = None
    groups: np.ndarray | None = None
    regions: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def take(self, index: np.ndarray) -> SideData:
        """The rows ``index`` of this side."""
        pick = lambda a: None if a is None else a[index]  # noqa: E731
        return SideData(
            self.ids[index],
            pick(self.coords),
            pick(self.headings),
            pick(self.groups),
            pick(self.regions),
        )


def as_id_array(ids: Sequence[str]) -> np.ndarray:
    """A 1-D unicode array of ids (never an object array).

    >>> as_id_array(["a/b.jpg", "c.jpg"]).dtype.kind
    'U'
    """
    return np.asarray(list(ids), dtype=str).reshape(-1)


def parse_number(text: str, what: str) -> float:
    """Parse a decimal number strictly (no underscores, no 'nan'); ``what`` names it in errors.

    >>> parse_number("0584744.97", "easting")
    584744.97
    """
    if not _NUMBER.match(text.strip()):
        raise InputError(f"{what} is {text!r}, not a decimal number; fix that entry")
    return float(text)


def relative_id(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with POSIX separators."""
    return PurePosixPath(path.relative_to(root).as_posix()).as_posix()


def safe_relative(text: str, where: str) -> str:
    """Reject absolute paths and ``..`` in a path read from a list or CSV."""
    p = PurePosixPath(text.strip().replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or not p.parts or "\0" in text:
        raise InputError(
            f"{where}: path {text!r} must be relative, without '..' or NUL, inside the folder"
        )
    return p.as_posix()


def safe_name(text: str, where: str) -> str:
    """A single path component (a city folder, an MSLS key): no separator, no ``..``.

    >>> safe_name("london", "loader.cities")
    'london'
    """
    if not text or text in (".", "..") or any(c in text for c in "/\\\0"):
        raise InputError(
            f"{where}: {text!r} must be a plain name (no '/', '\\' or '..'); fix that entry"
        )
    return text


def inside_root(root: Path, rel: str, where: str) -> Path:
    """``root / rel``, refused unless ``rel`` is relative without ``..`` and the path
    resolves inside ``root`` (a symbolic link pointing out of the dataset is refused too).

    >>> import tempfile; r = Path(tempfile.mkdtemp())
    >>> inside_root(r, "a/b.csv", "x") == r / "a" / "b.csv"
    True
    """
    path = root / safe_relative(rel, where)
    real, top = os.path.realpath(path), os.path.realpath(root)
    if os.path.commonpath([real, top]) != top:
        raise InputError(
            f"{where}: {rel!r} resolves outside the dataset root (a symbolic link?); keep "
            "every file the dataset names inside --dataset-root"
        )
    return path


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of a small dataset file (at most ``MAX_TEXT_FILE_BYTES``), with
    one-line errors for a folder, a device, an oversized or a non-UTF-8 file."""
    path = regular_file(path, what)
    size = path.stat().st_size
    if size > MAX_TEXT_FILE_BYTES:
        raise InputError(
            f"{what} {path} is {size:,} bytes, more than the limit of {MAX_TEXT_FILE_BYTES:,}; "
            "check it is the right file"
        )
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(
            f"{what} {path} is not UTF-8 text (byte {err.start}: {err.reason}); re-save it as UTF-8"
        ) from None
    except OSError as err:
        raise InputError(f"{what} {path} cannot be read ({err.strerror})") from None


def csv_rows(path: Path, what: str) -> list[tuple[int, list[str]]]:
    """The non-blank rows of a CSV file with their line numbers (see :func:`read_text`); a
    malformed file, or a field over the csv module's limit, is a one-line error."""
    reader = csv.reader(io.StringIO(read_text(path, what), newline=""))
    try:
        return [(reader.line_num, r) for r in reader if r and any(c.strip() for c in r)]
    except csv.Error as err:
        raise InputError(f"{what} {path} is malformed ({err}); fix the file") from None


def require_dir(folder: Path, protocol_name: str, what: str) -> None:
    if not folder.is_dir():
        raise InputError(
            f"{what} folder {folder} does not exist; check --dataset-root "
            f"(protocol {protocol_name!r} expects it there, see docs/protocols.md)"
        )


def require_file(path: Path, protocol_name: str, what: str) -> None:
    if not path.is_file():
        raise InputError(
            f"{what} {path} does not exist; check --dataset-root "
            f"(protocol {protocol_name!r} expects it there, see docs/protocols.md)"
        )


def check_exist(root: Path, ids: np.ndarray, what: str) -> None:
    """Raise when some listed images are missing under ``root`` (names the first one), or
    resolve outside it."""
    top = os.path.realpath(root)
    for i in ids.tolist():
        real = os.path.realpath(root / i)
        if os.path.commonpath([real, top]) != top:
            raise InputError(
                f"{what} image {i!r} resolves outside the dataset root {root} (a symbolic "
                "link?); keep the images inside --dataset-root"
            )
    missing = [i for i in ids.tolist() if not (root / i).is_file()]
    if missing:
        raise InputError(
            f"{len(missing)} {what} images listed are missing under {root} "
            f"(first: {missing[0]}); check --dataset-root or re-download them"
        )


def read_csv(path: Path, required: Sequence[str], *, header: bool = True) -> list[dict[str, str]]:
    """Rows of a CSV with a header as dicts; a missing column is a one-line error."""
    rows = [r for _, r in csv_rows(path, "CSV file")]
    if not rows:
        raise InputError(f"CSV file {path} is empty; give a header and one row per image")
    names = [c.strip() for c in rows[0]]
    for col in required:
        if col not in names:
            raise InputError(
                f"CSV file {path} has no column {col!r} (columns: {', '.join(names)}); "
                f"add it to the header"
            )
    out = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(names):
            raise InputError(
                f"CSV file {path} line {line} has {len(row)} fields but the header has "
                f"{len(names)}; fix that line"
            )
        out.append(dict(zip(names, (c.strip() for c in row), strict=True)))
    if not out:
        raise InputError(f"CSV file {path} has a header but no rows; add one row per image")
    return out


def check_count(
    protocol_name: str, side: str, expected: int | None, verified: bool, found: int
) -> list[str]:
    """Compare a loaded count with the protocol; return warnings, raise on a verified mismatch.

    >>> check_count("p", "queries", 3, True, 3)
    []
    >>> check_count("p", "queries", None, False, 3)[0]
    "protocol 'p' does not know the queries count (found 3); the count was not checked"
    """
    if expected is None:
        return [
            f"protocol {protocol_name!r} does not know the {side} count (found {found}); "
            "the count was not checked"
        ]
    if found == expected:
        return []
    if verified:
        raise ProtocolError(
            f"protocol {protocol_name!r} expects {expected} {side} images but {found} were "
            "found; check --dataset-root points at the complete, formatted dataset"
        )
    return [
        f"protocol {protocol_name!r} expects {expected} {side} images (unverified count) "
        f"but {found} were found; results may not match published numbers"
    ]
