"""The inputs of the outside attack (issue 10) that were mishandled, one test each, through
the command line: exit 2 with one line, no traceback, outputs untouched."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.fuzz import builders as b
from tests.fuzz.contract import check, run

GOOD = np.ones((12, 8), np.float32)


def _bad(world, argv, needle):
    outputs = world.outputs() if argv[0] == "evaluate" else []
    outcome = check(run([*argv, *outputs], world.out), world.marker)
    assert outcome.rc == 2, outcome.out
    assert needle in outcome.err, outcome.err
    return outcome


def _stage(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


_rng = np.random.default_rng(0)


def _insert(data: bytes, at: int) -> bytes:
    return data[:at] + bytes(6) + data[at:]


ARRAY_FILES = {
    "truncated npz": (
        "submission",
        lambda: b.npz_bytes(queries=GOOD, database=GOOD)[:300],
        "corrupt or truncated",
    ),
    "npz crc": (
        "submission",
        lambda: b.with_flipped_data_byte(b.npz_bytes(queries=GOOD, database=GOOD)),
        "corrupt",
    ),
    "npz method": (
        "submission",
        lambda: b.with_compression_method(b.npz_bytes(queries=GOOD, database=GOOD), 99),
        "compression method",
    ),
    "npz encrypted": (
        "submission",
        lambda: b.with_encrypted_flag(b.npz_bytes(queries=GOOD, database=GOOD)),
        "encrypted",
    ),
    "npz member not npy": (
        "submission",
        lambda: b.zip_bytes({"queries.npy": b.npy_bytes(GOOD), "database.txt": b"x"}),
        "not a .npy array",
    ),
    "empty npy": ("queries", lambda: b"", "is empty"),
    "npz as npy": ("queries", lambda: b.npz_bytes(queries=GOOD), "is an .npz"),
    "malformed header": ("queries", lambda: b.npy_with_header("{'descr': '<f4'"), "malformed"),
    "huge coordinates header": ("query-utm", b.huge_npy_header, "limit"),
    "wrong magic": ("queries", lambda: b"\x93NUMPZ\x01\x00" + bytes(100), "not a .npy file"),
    "text": ("queries", lambda: b"0.1,0.2\n0.3,0.4\n", "not a .npy file"),
    "four bytes": ("queries", lambda: b"\x93NUM", "only 4 bytes"),
    "pickle": ("database", b.pickle_bytes, "not a .npy file"),
    "object npy": ("database", b.object_npy_bytes, "Python objects"),
    "coords 1e300": ("query-utm", lambda: b.npy_bytes(np.full((12, 2), 1e300)), "magnitude"),
    "complex coords": (
        "query-utm",
        lambda: b.npy_bytes(np.ones((12, 2), complex)),
        "expected float64",
    ),
    "misaligned database values": (  # 6 bytes inserted after the header: NaN and 1e38s
        "database",
        lambda: _insert(b.npy_bytes(_rng.standard_normal((40, 8)).astype(np.float32)), 128),
        "database",
    ),
    "string coords": (
        "query-utm",
        lambda: b.npy_bytes(np.full((12, 2), "1.0")),
        "expected float64",
    ),
}


@pytest.mark.parametrize("case", sorted(ARRAY_FILES))
def test_bad_array_file(world, tmp_path, case):
    flag, data, needle = ARRAY_FILES[case]
    path = _stage(tmp_path, "S.npz" if flag == "submission" else "x.npy", data())
    if flag == "submission":
        argv = world.protocol_args(submission=path)
    else:
        argv = world.raw_args(**{flag: path})
    _bad(world, argv, needle)


@pytest.mark.parametrize(
    "path, needle", [(None, "is a folder"), ("/dev/zero", "not a regular file")]
)
def test_folder_or_device_is_named_as_such(world, tmp_path, path, needle):
    _bad(world, world.raw_args(queries=path or str(tmp_path)), needle)


def _gt(world, tmp_path, **change):
    with np.load(world.data / "GT.npz") as npz:
        arrays = dict(npz)
    arrays.update(change)
    return _stage(tmp_path, "GT.npz", b.npz_bytes(**arrays))


@pytest.mark.parametrize(
    "change, needle",
    [
        ({"positives_lims": np.linspace(0, 12, 13), "positives_ids": np.arange(12)}, "integers"),
        ({"positives_lims": np.arange(13), "positives_ids": np.full(12, "3")}, "integers"),
        ({"query_coords": np.ones((12, 2), complex)}, "expected float64"),
        ({"query_coords": np.full((12, 2), 1e300)}, "magnitude"),
        ({"query_ids": np.arange(12)}, "unicode"),
    ],
)
def test_bad_ground_truth_arrays(world, tmp_path, change, needle):
    _bad(world, world.protocol_args(**{"ground-truth": _gt(world, tmp_path, **change)}), needle)


def test_deeply_nested_toml(world, tmp_path):
    path = _stage(tmp_path, "deep.toml", b"x = " + b"[" * 100_000 + b"]" * 100_000 + b"\n")
    _bad(world, ["protocols", "show", path], "too deeply")
    _bad(world, world.protocol_args("validate", protocol=path), "too deeply")


def _dataset_copy(world, tmp_path) -> Path:
    root = tmp_path / "ds"
    shutil.copytree(world.data, root)
    return root


def test_non_utf8_csv_and_long_fields(world, tmp_path):
    root = _dataset_copy(world, tmp_path)
    (root / "q.csv").write_bytes(b"path,easting,northing\n\xff\xfe.jpg,1,2\n")
    args = world.protocol_args(protocol=str(root / "fuzztown.toml"), **{"dataset-root": str(root)})
    _bad(world, args, "not UTF-8")
    (root / "q.csv").write_text("path,easting,northing\n" + "a" * 200_000 + ".jpg,1,2\n")
    _bad(world, args, "malformed")


def test_nul_in_a_csv_path(world, tmp_path):
    root = _dataset_copy(world, tmp_path)
    text = (root / "q.csv").read_text().replace("images/q0.jpg", "images/q\0.jpg")
    (root / "q.csv").write_text(text)
    args = world.protocol_args(protocol=str(root / "fuzztown.toml"), **{"dataset-root": str(root)})
    _bad(world, args, "NUL")


def _cvusa(world, tmp_path, split_file: str, split_text: bytes | None = None) -> list[str]:
    root = tmp_path / "cv"
    (root / "splits").mkdir(parents=True, exist_ok=True)
    if split_text is not None:
        (root / "splits" / "s.csv").write_bytes(split_text)
    text = (
        'schema = 1\nname = "cv"\ndataset = "cv"\nsplit = "t"\nlayout = "cvusa"\n'
        'task = "cross-view"\nstatus = "unverified"\ndescription = "x"\n'
        '[database]\npath = "."\n[queries]\npath = "."\n'
        '[ground_truth]\nkind = "one-to-one"\nno_positive = "miss"\n'
        '[metrics]\nrecall_at_n = [1]\nquery_direction = "ground-to-aerial"\n'
        f"[loader]\nsplit_file = {split_file!r}\n".replace("'", '"')
    )
    (root / "cv.toml").write_text(text)
    return world.protocol_args(
        "validate", protocol=str(root / "cv.toml"), **{"dataset-root": str(root)}
    )


@pytest.mark.parametrize("split_file", ["/etc/passwd", "../../../../etc/passwd", "splits/../../x"])
def test_cvusa_split_file_stays_inside_the_root(world, tmp_path, split_file):
    outcome = _bad(world, _cvusa(world, tmp_path, split_file), "split_file")
    assert "root:" not in outcome.err


def test_cvusa_split_file_non_utf8(world, tmp_path):
    _bad(world, _cvusa(world, tmp_path, "splits/s.csv", b"a.jpg,\xff.jpg\n"), "not UTF-8")
    _bad(world, _cvusa(world, tmp_path, "splits/s.csv", b"a" * 200_000 + b",b\n"), "malformed")


def test_symlink_out_of_the_root_is_refused(world, tmp_path):
    root = _dataset_copy(world, tmp_path)
    secret = tmp_path / "secret.csv"
    secret.write_text("path,easting,northing\nTOP-SECRET-LINE.jpg,1,2\n")
    (root / "q.csv").unlink()
    os.symlink(secret, root / "q.csv")
    args = world.protocol_args(
        "validate", protocol=str(root / "fuzztown.toml"), **{"dataset-root": str(root)}
    )
    outcome = _bad(world, args, "outside the dataset root")
    assert "TOP-SECRET" not in outcome.err


def _msls(world, tmp_path, city: str, key: str) -> list[str]:
    root = tmp_path / "msls"
    for side in ("database", "query"):
        folder = root / "test" / "c" / side
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "postprocessed.csv").write_text(f"key,easting,northing\n{key},1,2\n")
        (folder / "raw.csv").write_text(f"key,pano\n{key},False\n")
    text = (
        'schema = 1\nname = "m"\ndataset = "m"\nsplit = "t"\nlayout = "msls"\n'
        'task = "vpr"\nstatus = "unverified"\ndescription = "x"\n'
        '[database]\npath = "test"\n[queries]\npath = "test"\n'
        '[ground_truth]\nkind = "radius"\ncoordinates = "utm"\nradius_m = 25.0\n'
        'no_positive = "miss"\n[metrics]\nrecall_at_n = [1]\n'
        f'[loader]\ncities = ["{city}"]\n'
    )
    (root / "m.toml").write_text(text)
    return world.protocol_args(
        "validate", protocol=str(root / "m.toml"), **{"dataset-root": str(root)}
    )


@pytest.mark.parametrize(
    "city, key, needle", [("..", "k", "cities"), ("c", "../../x", "plain name")]
)
def test_msls_names_stay_inside_the_root(world, tmp_path, city, key, needle):
    _bad(world, _msls(world, tmp_path, city, key), needle)


@pytest.mark.parametrize(
    "option, value, needle",
    [
        ("--recall-at", "inf", "recall-at"),
        ("--recall-at", "200000", "limit"),
        ("--n-resamples", "0", "n-resamples"),
        ("--n-resamples", "-5", "n-resamples"),
        ("--n-resamples", "2000000", "n-resamples"),
        ("--seed", "-1", "seed"),
        ("--json", "", "empty"),
        ("--json", "r\0.json", "NUL"),
        ("--plots", "p\0", "NUL"),
        ("--radius", "nan", "radius"),
    ],
)
def test_bad_option_values(world, option, value, needle):
    outcome = check(
        run([*world.raw_args(), *world.outputs(), option, value], world.out), world.marker
    )
    assert outcome.rc == 2 and needle in outcome.err, outcome.err


def test_a_failed_output_changes_no_output(world, tmp_path):
    folder = tmp_path / "existing_dir"
    folder.mkdir()
    argv = [*world.raw_args(), "--json", str(world.out / "r.json"), "--markdown", str(folder)]
    outcome = check(run(argv, world.out), world.marker)
    assert outcome.rc == 2 and "is a folder" in outcome.err and ".vprtmp" not in outcome.err


def test_report_mode_is_kept(world, tmp_path):
    target = tmp_path / "r.json"
    target.write_text("{}")
    target.chmod(0o644)
    assert run([*world.raw_args(), "--json", str(target)], tmp_path).rc == 0
    assert target.stat().st_mode & 0o777 == 0o644
    fresh = tmp_path / "new.json"
    old = os.umask(0o022)
    try:
        assert run([*world.raw_args(), "--json", str(fresh)], tmp_path).rc == 0
    finally:
        os.umask(old)
    assert fresh.stat().st_mode & 0o777 == 0o644


def test_zip_bomb_is_refused_before_inflating(world, tmp_path):
    b.zip_bomb(
        tmp_path / "bomb.npz", rows=200_000, dim=8, queries=12
    )  # 6.4 MB inflated, 12 expected
    outcome = _bad(world, world.protocol_args(submission=str(tmp_path / "bomb.npz")), "rows")
    assert "200000" in outcome.err


def test_stored_npz_member_is_read_like_numpy(world, tmp_path):
    with np.load(world.data / "S.npz") as npz:
        arrays = dict(npz)
    path = _stage(tmp_path, "S.npz", b.npz_bytes(zipfile.ZIP_DEFLATED, **arrays))
    out = tmp_path / "r.json"
    assert run([*world.protocol_args(submission=path), "--json", str(out)], tmp_path).rc == 0


def _vg(world, tmp_path) -> tuple[Path, list[str]]:
    """A 4 + 3 image VG dataset and the pitts30k-test protocol resized to it."""
    root = tmp_path / "vg"
    for side, n in (("database", 4), ("queries", 3)):
        for i in range(n):
            name = f"@{500000 + 10 * i:010.2f}@{4500000:010.2f}@17@T@40.4@-79.9@@@@@@@@@.jpg"
            path = root / "images/test" / side / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"jpg")
    repo = Path(__file__).resolve().parents[2] / "protocols" / "pitts30k-test.toml"
    text = repo.read_text().replace('name = "pitts30k-test"', 'name = "vg"')
    text = text.replace("count = 10000", "count = 4").replace("count = 6816", "count = 3")
    (root / "vg.toml").write_text(text)
    args = world.protocol_args("validate", protocol=str(root / "vg.toml"))
    args[args.index("--ground-truth") : args.index("--ground-truth") + 2] = []
    return root, [*args, "--dataset-root", str(root)]


def test_vg_paths_file_outside_the_root_or_not_utf8(world, tmp_path):
    root, args = _vg(world, tmp_path)
    paths_file = root / "images/test/queries_images_paths.txt"
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-LINE\n")
    os.symlink(secret, paths_file)
    outcome = _bad(world, args, "outside the dataset root")
    assert "TOP-SECRET" not in outcome.err
    paths_file.unlink()
    paths_file.write_bytes(b"\xff\xfe\n")
    _bad(world, args, "not UTF-8")
    paths_file.write_text("../../../etc/passwd\n")
    _bad(world, args, "must be relative")


@pytest.mark.parametrize("flag", ["queries", "database", "query-utm"])
def test_nul_in_an_input_name(world, flag):
    _bad(world, world.raw_args(**{flag: "a\0b.npy"}), "NUL")
    _bad(world, world.protocol_args(**{"ground-truth": "gt\0.npz"}), "NUL")


@pytest.mark.parametrize("junk", ["a\nfake second line", "\x1e\x1e", "\r\x85"])
def test_echoed_arguments_stay_on_one_line(world, junk):
    outcome = check(run([*world.raw_args(), junk], world.out), world.marker, max_lines=1)
    assert outcome.rc == 2 and "unrecognized arguments" in outcome.err
