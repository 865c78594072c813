"""Reading ``.npy`` and ``.npz`` files a stranger made, without pickle and without trusting headers.

numpy's own ``np.load`` guesses the format from the first bytes (anything that is not
``.npy`` or zip is handed to pickle, hence misleading "holds Python objects" errors) and
allocates whatever a header declares. These readers parse the ``.npy`` header first (also
inside a zip member, where only the first bytes are inflated), refuse object dtypes, check
the declared size against the file and against the limits above, and only then read.
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from vprmetrics.errors import InputError, InputTypeError
from vprmetrics.input_limits import MAX_ARRAY_ELEMENTS, MAX_IN_MEMORY_BYTES, MAX_NPZ_MEMBERS

__all__ = ["NpyHeader", "SafeNpz", "check_memory", "load_npy", "read_npy_header", "regular_file"]

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK"


@dataclass(frozen=True)
class NpyHeader:
    """What a ``.npy`` header declares: shape, dtype, order, and where the data starts."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    data_offset: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _kind(magic: bytes) -> str:
    if magic.startswith(_NPY_MAGIC):
        return ".npy"
    if magic.startswith(_ZIP_MAGIC):
        return ".npz"
    return ""


def _describe_start(magic: bytes) -> str:
    if not magic:
        return "is empty (0 bytes)"
    if len(magic) < 8:
        return f"is only {len(magic)} bytes long"
    return f"starts with {magic[:8]!r}"


def read_npy_header(fh: IO[bytes], where: str) -> NpyHeader:
    """Parse the header of the ``.npy`` stream ``fh`` (positioned at its start) and check it:
    no object dtype, a sane shape, at most :data:`MAX_ARRAY_ELEMENTS` elements.

    >>> import io
    >>> buf = io.BytesIO(); np.save(buf, np.zeros((3, 4), "float32")); _ = buf.seek(0)
    >>> read_npy_header(buf, "x").shape
    (3, 4)
    """
    magic = fh.read(8)
    if _kind(magic) != ".npy" or len(magic) < 8:
        if _kind(magic) == ".npz":
            raise InputError(
                f"{where} is an .npz (zip) archive, not a .npy file; give the .npy arrays "
                "or pass the .npz with --submission"
            )
        raise InputError(
            f"{where} is not a .npy file (it {_describe_start(magic)}); save the array with np.save"
        )
    version = (magic[6], magic[7])
    try:
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unknown format version {version}")
    except Exception as err:  # numpy parses the header with tokenize and literal_eval
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(
            f"{where} has a malformed .npy header ({message[:120]}); save the array "
            "again with np.save"
        ) from None
    if dtype.hasobject:
        raise InputTypeError(
            f"{where} holds Python objects, which are never unpickled; save a plain array "
            "(floats as float32, strings with dtype=str)"
        )
    if any(n < 0 for n in shape):
        raise InputError(
            f"{where} has a malformed .npy header (negative shape {shape}); save the array "
            "again with np.save"
        )
    header = NpyHeader(tuple(int(n) for n in shape), dtype, bool(fortran), fh.tell())
    elements = math.prod(header.shape)
    if elements > MAX_ARRAY_ELEMENTS:
        raise InputError(
            f"{where} declares shape {header.shape} ({elements:,} elements), more than the "
            f"limit of {MAX_ARRAY_ELEMENTS:,} elements per array; split the input"
        )
    return header


def check_memory(nbytes: int, where: str) -> None:
    """Refuse to read more than :data:`MAX_IN_MEMORY_BYTES` into memory at once."""
    if nbytes > MAX_IN_MEMORY_BYTES:
        raise InputError(
            f"{where} would need {nbytes / 2**30:.1f} GiB in memory, more than the limit of "
            f"{MAX_IN_MEMORY_BYTES / 2**30:.0f} GiB; give memory-mapped .npy files instead"
        )


def regular_file(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` as a :class:`Path` when it names a regular file; else a one-line error that
    says whether it is missing, a folder or a device."""
    if "\0" in os.fspath(path):
        raise InputError(f"{what} {os.fspath(path)!r} has a NUL byte in its name; check the path")
    path = Path(path).expanduser()
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(f"{what} {str(path)!r} does not exist; check the path") from None
    except OSError as err:
        raise InputError(f"{what} {str(path)!r} cannot be read ({err.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{what} {str(path)!r} is a folder; give the path of a file in it")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(
            f"{what} {str(path)!r} is not a regular file (a device, pipe or socket); "
            "give a saved file"
        )
    return path


def load_npy(path: str | os.PathLike[str], name: str, mmap: bool = True) -> np.ndarray:
    """Load a ``.npy`` file without pickle: memory-mapped (``mmap``), or read into memory
    after checking its declared size against the file and :data:`MAX_IN_MEMORY_BYTES`."""
    path = regular_file(path, f"{name} file")
    where = f"{name} file {str(path)!r}"
    try:
        with path.open("rb") as fh:
            header = read_npy_header(fh, where)
            size = os.fstat(fh.fileno()).st_size
    except OSError as err:
        raise InputError(f"{where} cannot be read ({err.strerror})") from None
    if size - header.data_offset < header.nbytes:
        raise InputError(
            f"{where} is truncated: its header declares shape {header.shape} "
            f"({header.nbytes:,} bytes) but only {size - header.data_offset:,} bytes follow; "
            "save it again"
        )
    if not mmap or header.nbytes == 0:
        check_memory(header.nbytes, where)
    try:
        if mmap and header.nbytes:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise InputError(f"{where} cannot be read as .npy ({err}); save it again") from None


class SafeNpz:
    """A ``.npz`` archive opened without pickle: every member's ``.npy`` header is parsed
    and checked when the archive is opened (inflating only the first bytes of each); an
    array is read only on ``npz[key]``, after the in-memory limit is checked.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.npz"
    >>> np.savez(p, x=np.arange(3))
    >>> with SafeNpz(p, "archive") as npz:
    ...     npz.files, npz.header("x").shape, npz["x"].tolist()
    (['x'], (3,), [0, 1, 2])
    """

    def __init__(self, path: str | os.PathLike[str], what: str) -> None:
        self.path = regular_file(path, what)
        self.where = f"{what} {str(self.path)!r}"
        with self.path.open("rb") as fh:
            magic = fh.read(8)
        if _kind(magic) != ".npz":
            if _kind(magic) == ".npy":
                raise InputError(
                    f"{self.where} is a single .npy array, not an .npz archive; save all the "
                    "arrays together with np.savez"
                )
            raise InputError(
                f"{self.where} is not an .npz archive (it {_describe_start(magic)}); save it "
                "with np.savez"
            )
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
            raise self._corrupt(err) from None
        try:
            self._headers = self._read_headers()
        except BaseException:
            self._zip.close()
            raise

    def _corrupt(self, err: BaseException) -> InputError:
        detail = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        return InputError(
            f"{self.where} is a corrupt or truncated .npz ({detail}); save it again with np.savez"
        )

    def _read_headers(self) -> dict[str, tuple[zipfile.ZipInfo, NpyHeader]]:
        infos = [i for i in self._zip.infolist() if not i.is_dir()]
        if len(infos) > MAX_NPZ_MEMBERS:
            raise InputError(
                f"{self.where} has {len(infos)} members, more than {MAX_NPZ_MEMBERS}; keep "
                "only the arrays it needs"
            )
        out: dict[str, tuple[zipfile.ZipInfo, NpyHeader]] = {}
        for info in infos:
            member = f"{self.where} member {info.filename!r}"
            if not info.filename.endswith(".npy"):
                raise InputError(f"{member} is not a .npy array; save the archive with np.savez")
            if info.flag_bits & 0x1:
                raise InputError(f"{member} is encrypted; save the archive with np.savez")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise InputError(
                    f"{member} uses zip compression method {info.compress_type}; save with "
                    "np.savez or np.savez_compressed (stored or deflated)"
                )
            try:
                with self._zip.open(info) as fh:
                    header = read_npy_header(fh, member)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as err:
                raise self._corrupt(err) from None
            if header.data_offset + header.nbytes != info.file_size:
                raise InputError(
                    f"{member} declares shape {header.shape} ({header.nbytes:,} bytes) but "
                    f"the archive stores {info.file_size - header.data_offset:,} bytes; the "
                    "archive is corrupt: save it again"
                )
            out[info.filename[:-4]] = (info, header)
        return out

    @property
    def files(self) -> list[str]:
        return list(self._headers)

    def __contains__(self, key: object) -> bool:
        return key in self._headers

    def header(self, key: str) -> NpyHeader:
        return self._headers[key][1]

    def __getitem__(self, key: str) -> np.ndarray:
        info, header = self._headers[key]
        where = f"{self.where} member {info.filename!r}"
        check_memory(header.nbytes, where)
        try:
            with self._zip.open(info) as fh:
                array = np.lib.format.read_array(fh, allow_pickle=False)
                if fh.read(1):  # also reaches the end, where zipfile checks the CRC
                    raise ValueError("data after the array")
                return array
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as err:
            raise self._corrupt(err) from None

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> SafeNpz:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
