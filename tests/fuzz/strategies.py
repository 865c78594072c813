"""hypothesis strategies for malformed inputs: mutated ``.npy``/``.npz`` bytes, structured
archives with wrong dtypes and shapes, TOML texts, CSV and paths files, argument lists."""

from __future__ import annotations

import zipfile

import numpy as np
from hypothesis import strategies as st

from tests.fuzz import builders as b


def mutated(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` truncated, with bytes flipped, inserted or overwritten, or random bytes."""
    n = len(data)
    truncate = st.integers(0, n).map(lambda k: data[:k])
    flips = st.lists(st.tuples(st.integers(0, n - 1), st.integers(1, 255)), min_size=1, max_size=8)

    def flip(changes):
        out = bytearray(data)
        for at, xor in changes:
            out[at] ^= xor
        return bytes(out)

    insert = st.tuples(st.integers(0, n), st.binary(min_size=1, max_size=64)).map(
        lambda t: data[: t[0]] + t[1] + data[t[0] :]
    )
    return st.one_of(truncate, flips.map(flip), insert, st.binary(max_size=256))


DTYPES = st.sampled_from(["<f4", ">f8", "<f2", "<i8", "<u1", "|b1", "<c16", "<U3", "|S4", "|V8"])

shapes = st.one_of(
    st.tuples(st.integers(0, 14), st.integers(0, 9)),
    st.tuples(st.integers(0, 5)),
    st.just(()),
    st.tuples(st.integers(2**31, 2**62), st.integers(1, 2**20)),
    st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 4)),
)


@st.composite
def arrays(draw) -> np.ndarray:
    """Small arrays of any dtype and shape, with non-finite and extreme values."""
    shape = draw(shapes)
    if np.prod(shape, dtype=object) > 200:
        shape = (12, 8)
    dtype = np.dtype(draw(DTYPES))
    if dtype.kind in "fc":
        fill = draw(st.sampled_from([0.0, 1.0, np.nan, np.inf, -1e300, 1e-300, 3.5]))
        with np.errstate(over="ignore", invalid="ignore"):
            arr = np.full(shape, fill, dtype=dtype)
            if arr.size:
                arr.flat[0] = draw(st.floats(allow_nan=True, allow_infinity=True, width=16))
        return arr
    return np.zeros(shape, dtype=dtype)


@st.composite
def npy_files(draw, good: bytes) -> bytes:
    """Bytes of a malformed (or sometimes valid) ``.npy`` file."""
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return draw(mutated(good))
    if choice == 1:
        return b.npy_bytes(draw(arrays()))
    if choice == 2:
        header = draw(st.text(max_size=120))
        return b.npy_with_header(header, draw(st.binary(max_size=64)))
    if choice == 3:
        shape = draw(shapes)
        descr = draw(st.sampled_from(["<f4", "|O", "<f8", "x", "<U0"]))
        fortran = draw(st.sampled_from(["False", "True", "1", "None"]))
        text = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}"
        return b.npy_with_header(text, draw(st.binary(max_size=64)))
    return draw(st.sampled_from([b"", b.pickle_bytes(), b.object_npy_bytes(), b.huge_npy_header()]))


@st.composite
def npz_files(draw, good: dict[str, np.ndarray]) -> bytes:
    """Bytes of a malformed (or sometimes valid) ``.npz``: ``good``'s members, some
    replaced by malformed arrays or bytes, then maybe the zip structure damaged."""
    members = {f"{k}.npy": b.npy_bytes(v) for k, v in good.items()}
    for name in draw(st.lists(st.sampled_from(sorted(members)), max_size=3, unique=True)):
        members[name] = draw(st.one_of(st.builds(b.npy_bytes, arrays()), npy_files(members[name])))
    extra = draw(st.sampled_from([None, "notes.txt", "extra.npy", "dir/", "../x.npy"]))
    if extra is not None:
        members[extra] = draw(st.binary(max_size=32))
    for name in draw(st.lists(st.sampled_from(sorted(members)), max_size=1)):
        del members[name]
    method = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    data = b.zip_bytes(members, method)
    damage = draw(st.integers(0, 5))
    if damage == 1:
        data = draw(mutated(data))
    elif damage == 2:
        data = b.with_compression_method(data, draw(st.sampled_from([1, 12, 14, 99])))
    elif damage == 3:
        data = b.with_encrypted_flag(data)
    elif damage == 4 and method == zipfile.ZIP_STORED:
        data = b.with_flipped_data_byte(data)
    return data


toml_values = st.one_of(
    st.sampled_from(['"x"', "1", "-1", "0", "1e400", "nan", "inf", "true", "[]", "{}", '""']),
    st.sampled_from(['"../../etc"', '"/etc/passwd"', '["..", "a/b"]', '[1, "a"]', '"\\u0000"']),
    st.integers(-(2**70), 2**70).map(str),
    st.text(max_size=12).map(lambda t: '"' + t.replace("\\", "").replace('"', "") + '"'),
)


@st.composite
def toml_texts(draw, good: str) -> bytes:
    """A protocol file: ``good`` with lines dropped or values replaced, deep nesting, junk
    or invalid UTF-8."""
    lines = good.splitlines()
    choice = draw(st.integers(0, 3))
    if choice == 0:
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(lines) - 1))
            if "=" in lines[at]:
                key = lines[at].split("=")[0]
                lines[at] = f"{key}= {draw(toml_values)}"
            else:
                del lines[at]
                if not lines:
                    break
        return ("\n".join(lines) + "\n").encode()
    if choice == 1:
        depth = draw(st.integers(50, 5000))
        opener, closer = draw(st.sampled_from([("[", "]"), ("{a=", "}")]))
        return f"x = {opener * depth}{closer * depth}\n".encode()
    if choice == 2:
        return draw(mutated(good.encode()))
    return draw(st.binary(max_size=200))


@st.composite
def csv_texts(draw, good: str) -> bytes:
    """A dataset CSV: rows with escaping or odd paths, odd numbers, odd bytes."""
    path = st.one_of(
        st.sampled_from(["../x.jpg", "/etc/passwd", "a/../../b.jpg", "", "images/db0.jpg"]),
        st.text(max_size=20),
    )
    number = st.one_of(
        st.sampled_from(["1e300", "nan", "inf", "-0", "1_000", "0x10", "", "1e-400"]),
        st.floats(allow_nan=False).map(repr),
    )
    choice = draw(st.integers(0, 2))
    if choice == 0:
        lines = good.splitlines()
        at = draw(st.integers(1, len(lines) - 1))
        lines[at] = f"{draw(path)},{draw(number)},{draw(number)}"
        return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    if choice == 1:
        return draw(mutated(good.encode()))
    return draw(st.sampled_from([b"", b"\xff\xfe", b"path\n", b'"unterminated\n', b"a" * 140_000]))


@st.composite
def paths_texts(draw, good: list[str]) -> bytes:
    """A ``*_images_paths.txt``: ``good`` lines reordered, dropped, repeated or replaced by
    escaping, absolute, odd or non-UTF-8 lines."""
    odd = st.sampled_from(
        ["../x.jpg", "/etc/passwd", "a/../../b.jpg", "", " ", "\\..\\x.jpg", "x" * 5000]
    )
    lines = draw(st.lists(st.one_of(st.sampled_from(good), odd, st.text(max_size=30)), max_size=8))
    text = "\n".join(lines).encode("utf-8", "surrogatepass")
    return draw(st.one_of(st.just(text), mutated(text or b"x"), st.just(b"\xff" + text)))
