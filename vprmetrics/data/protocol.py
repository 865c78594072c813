"""Dataset protocols: the TOML files that fix what a published number means.

A protocol names the split, the database and query folders (or files) and their order,
the expected counts, the positive threshold and coordinate system, the rule for queries
without positives, the default cut-offs and the Recall@K% convention. One file per
protocol lives in the ``protocols/`` folder; :func:`load_protocol` finds it by name,
validates every field against the schema below and says which file and field is wrong.

Where protocols are looked up, in order:

1. every folder in the environment variable ``VPRMETRICS_PROTOCOLS`` (``os.pathsep``
   separated), so users can add their own protocols or override shipped ones;
2. ``vprmetrics/_protocols`` inside an installed wheel (see the packaging notes in
   ``docs/protocols.md``);
3. the ``protocols/`` folder at the root of the source tree (editable installs).

>>> p = load_protocol("pitts30k-test")
>>> p.layout, p.database.count, p.queries.count, p.radius_m, p.no_positive
('vg', 10000, 6816, 25.0, 'miss')
>>> load_protocol("pitts30k-tset")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
vprmetrics.errors.ProtocolError: unknown protocol 'pitts30k-tset'; did you mean 'pitts30k-test'...
"""

from __future__ import annotations

import difflib
import hashlib
import os
import tomllib
from pathlib import Path

from vprmetrics.data.protocol_schema import Protocol, Side, parse_protocol
from vprmetrics.errors import ProtocolError

__all__ = [
    "MAX_PROTOCOL_BYTES",
    "PROTOCOLS_ENV",
    "Protocol",
    "Side",
    "list_protocols",
    "load_protocol",
    "protocol_dirs",
    "protocol_hash",
]

PROTOCOLS_ENV = "VPRMETRICS_PROTOCOLS"
#: Largest protocol file read (the shipped ones are under 3 KiB).
MAX_PROTOCOL_BYTES = 1 << 20


def protocol_dirs() -> list[Path]:
    """The folders searched for protocol files, in priority order (existing ones only)."""
    dirs: list[Path] = []
    env = os.environ.get(PROTOCOLS_ENV, "")
    for part in env.split(os.pathsep):
        if part.strip():
            dirs.append(Path(part.strip()).expanduser())
    package = Path(__file__).resolve().parents[1]  # vprmetrics/
    dirs.append(package / "_protocols")  # installed wheel
    dirs.append(package.parent / "protocols")  # source tree
    seen: list[Path] = []
    for d in dirs:
        if d.is_dir() and d not in seen:
            seen.append(d)
    return seen


def _protocol_files() -> dict[str, Path]:
    files: dict[str, Path] = {}
    for d in protocol_dirs():
        for f in sorted(d.glob("*.toml")):
            files.setdefault(f.stem, f)
    return files


def list_protocols() -> list[Protocol]:
    """Every protocol found, sorted by name (a broken file raises, naming the file).

    >>> "pitts30k-test" in [p.name for p in list_protocols()]
    True
    """
    return [_load_file(path) for _, path in sorted(_protocol_files().items())]


def _suggest(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    close += [n for n in names if n.startswith(name) and n not in close][: 3 - len(close)]
    if close:
        return "did you mean " + ", ".join(repr(c) for c in close) + "?"
    return "run 'vprmetrics protocols' to list them"


def load_protocol(name_or_path: str | os.PathLike[str]) -> Protocol:
    """Load and validate a protocol by name (``"pitts30k-test"``) or by file path.

    A path is anything ending in ``.toml`` or naming an existing file. An unknown name
    raises :class:`ProtocolError` with the nearest names.
    """
    text = os.fspath(name_or_path)
    candidate = Path(text).expanduser()
    if text.endswith(".toml") or candidate.is_file():
        if candidate.exists() and not candidate.is_file():
            raise ProtocolError(f"protocol file {text!r} is not a regular file; check the path")
        if not candidate.is_file():
            raise ProtocolError(f"protocol file {text!r} does not exist; check the path")
        return _load_file(candidate)
    files = _protocol_files()
    if text not in files:
        raise ProtocolError(f"unknown protocol {text!r}; {_suggest(text, sorted(files))}")
    return _load_file(files[text])


def protocol_hash(protocol_or_path: Protocol | str | os.PathLike[str]) -> str:
    """sha256 (hex) of the protocol file's bytes: two reports with the same hash used the
    same protocol text."""
    if isinstance(protocol_or_path, Protocol):
        if protocol_or_path.sha256:
            return protocol_or_path.sha256
        if protocol_or_path.path is None:
            raise ProtocolError(f"protocol {protocol_or_path.name!r} has no file to hash")
        protocol_or_path = protocol_or_path.path
    return hashlib.sha256(Path(protocol_or_path).read_bytes()).hexdigest()


def _load_file(path: Path) -> Protocol:
    if not path.is_file():
        raise ProtocolError(f"protocol file {str(path)!r} is not a regular file; check the path")
    try:
        if path.stat().st_size > MAX_PROTOCOL_BYTES:
            raise ProtocolError(
                f"protocol file {path} is larger than {MAX_PROTOCOL_BYTES:,} bytes; a protocol "
                "is a few lines of TOML: check the path"
            )
        raw = path.read_bytes()
    except OSError as err:
        raise ProtocolError(f"protocol file {path} cannot be read ({err.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        detail = " ".join(str(err).split())[:200]
        raise ProtocolError(
            f"protocol file {path} is not valid TOML ({detail}); fix the syntax"
        ) from None
    except RecursionError:
        raise ProtocolError(
            f"protocol file {path} nests tables or arrays too deeply to parse; a protocol "
            "needs two levels: fix the file"
        ) from None
    return parse_protocol(data, path, hashlib.sha256(raw).hexdigest())
