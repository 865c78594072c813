"""Malformed inputs, built byte by byte: the raw material of the fuzz suite.

Each builder returns the bytes of a file a stranger could upload; the fuzz tests and the
regression tests write them and run an entry point on them.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

MARKER_ENV = "VPRMETRICS_FUZZ_MARKER"


class Payload:
    """Unpickling this creates the file named by ``$VPRMETRICS_FUZZ_MARKER``: if that file
    ever appears, something unpickled untrusted input."""

    def __reduce__(self):
        return (_touch_marker, ())


def _touch_marker():
    Path(os.environ.get(MARKER_ENV, "/tmp/vprmetrics-fuzz-marker")).write_text("unpickled")
    return 0


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=array.dtype.hasobject)
    return buf.getvalue()


def pickle_bytes() -> bytes:
    """A bare pickle (what np.load hands to pickle when allowed)."""
    return pickle.dumps(Payload())


def object_npy_bytes() -> bytes:
    """A valid .npy of dtype object whose element is the payload."""
    arr = np.empty(1, dtype=object)
    arr[0] = Payload()
    return npy_bytes(arr)


def npy_with_header(header: str, data: bytes = b"", version: tuple[int, int] = (1, 0)) -> bytes:
    """A .npy file with the given header text (padded as numpy pads it) and data."""
    text = header.encode("latin1", "replace")
    size_fmt = "<H" if version == (1, 0) else "<I"
    prefix = 8 + struct.calcsize(size_fmt)
    pad = (-(prefix + len(text) + 1)) % 64
    body = text + b" " * pad + b"\n"
    return b"\x93NUMPY" + bytes(version) + struct.pack(size_fmt, len(body)) + body + data


def huge_npy_header(rows: int = 2**40, dim: int = 4) -> bytes:
    """A header declaring ``rows x dim`` float32 with no data behind it."""
    return npy_with_header(
        f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}"
    )


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def npz_bytes(compression: int = zipfile.ZIP_STORED, **arrays: np.ndarray) -> bytes:
    return zip_bytes({f"{k}.npy": npy_bytes(v) for k, v in arrays.items()}, compression)


def _patch_headers(data: bytes, local_at: int, central_at: int, value: int, fmt: str) -> bytes:
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", local_at), (b"PK\x01\x02", central_at)):
        start = 0
        while (start := out.find(signature, start)) >= 0:
            struct.pack_into(fmt, out, start + offset, value)
            start += 4
    return bytes(out)


def with_compression_method(data: bytes, method: int) -> bytes:
    """Every member of a zip marked with compression ``method`` (e.g. 99, unknown)."""
    return _patch_headers(data, 8, 10, method, "<H")


def with_encrypted_flag(data: bytes) -> bytes:
    """Every member of a zip marked as encrypted (general-purpose flag bit 0)."""
    return _patch_headers(data, 6, 8, 1, "<H")


def with_flipped_data_byte(data: bytes) -> bytes:
    """A stored zip whose last member's last data byte is changed: a CRC mismatch."""
    out = bytearray(data)
    out[out.find(b"PK\x01\x02") - 1] ^= 0xFF
    return bytes(out)


def zip_bomb(path: Path, rows: int, dim: int = 64, queries: int = 2) -> None:
    """An .npz whose ``database`` is ``rows x dim`` float32 zeros, deflated (about 1000:1),
    beside ``queries`` rows of the same dim."""
    header = npy_with_header(
        f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}"
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("queries.npy", npy_bytes(np.zeros((queries, dim), np.float32)))
        info = zipfile.ZipInfo("database.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as fh:
            fh.write(header)
            left = rows * dim * 4
            chunk = bytes(1 << 24)
            while left > 0:
                fh.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)


def size_claiming_archive(path: Path, rows: int, dim: int = 64, queries: int = 2) -> None:
    """Like :func:`zip_bomb` but instant to build: ``database.npy`` holds a header for
    ``rows x dim`` float32 and 1 MiB of zeros, and the zip directory claims the full size
    (a reader that trusts the claims allocates ``rows * dim * 4`` bytes)."""
    header = npy_with_header(
        f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("queries.npy", npy_bytes(np.zeros((queries, dim), np.float32)))
        zf.writestr("database.npy", header + bytes(1 << 20))
    out = bytearray(buf.getvalue())
    claimed = len(header) + rows * dim * 4
    for signature, name_at, size_at in ((b"PK\x03\x04", 30, 22), (b"PK\x01\x02", 46, 24)):
        start = 0
        while (start := out.find(signature, start)) >= 0:
            if out[start + name_at : start + name_at + 12] == b"database.npy":
                struct.pack_into("<I", out, start + size_at, claimed)
            start += 4
    path.write_bytes(bytes(out))
