"""Loaders: tiny fake datasets on disk for every layout, ground truth and GT.npz files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vprmetrics.data.loaders import (
    Dataset,
    ground_truth_hash,
    load_dataset,
    load_ground_truth_npz,
    open_dataset,
    save_ground_truth_npz,
)
from vprmetrics.data.loaders.vg import parse_vg_name
from vprmetrics.data.protocol import load_protocol
from vprmetrics.errors import InputError, InputTypeError, ProtocolError
from vprmetrics.geo.positives import Positives

REPO_PROTOCOLS = Path(__file__).resolve().parents[2] / "protocols"


def image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4), (10, 20, 30)).save(path)


def vg_name(e: float, n: float, pano: str = "", heading: str = "", zone: str = "17") -> str:
    return f"@{e:010.2f}@{n:010.2f}@{zone}@T@040.44123@-079.99585@{pano}@00@{heading}@@@@@note@.jpg"


def protocol_file(tmp_path: Path, source: str, name: str, **replace: str) -> Path:
    text = (REPO_PROTOCOLS / f"{source}.toml").read_text()
    text = text.replace(f'name = "{source}"', f'name = "{name}"')
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.fixture
def vg_root(tmp_path):
    root = tmp_path / "ds"
    base = (500000.0, 4500000.0)
    db = [(0, 0, "p1"), (0, 25, "p1"), (0, 25.01, "p2"), (300, 0, "p3")]
    for e, n, pano in db:
        image(root / "images/test/database" / vg_name(base[0] + e, base[1] + n, pano))
    for e, n in [(0, 0), (300, 10), (1000, 1000)]:
        image(root / "images/test/queries" / vg_name(base[0] + e, base[1] + n))
    return root


@pytest.fixture
def tiny_vg_protocol(tmp_path):
    return load_protocol(
        protocol_file(
            tmp_path,
            "pitts30k-test",
            "tiny-vg",
            **{"count = 10000": "count = 4", "count = 6816": "count = 3"},
        )
    )


# ------------------------------------------------------------------------- VG names


def test_parse_all_sixteen_fields():
    n = parse_vg_name(
        "images/x/@0584744.97@4476709.92@17@T@040.44123@-079.99585@000829@03@270@010@@@20150601_120000@pitch1_yaw1@.jpg"
    )
    assert (n.easting, n.northing) == (float("584744.97"), float("4476709.92"))
    assert (n.utm_zone, n.utm_letter, n.latitude, n.longitude) == (17, "T", 40.44123, -79.99585)
    assert (n.panorama_id, n.tile, n.heading, n.pitch) == ("000829", "03", 270.0, 10.0)
    assert (n.roll, n.height, n.timestamp, n.note, n.extension) == (
        "",
        "",
        "20150601_120000",
        "pitch1_yaw1",
        ".jpg",
    )


def test_parse_mock_and_negative_latitude():
    n = parse_vg_name("@0@0238.10@@@@@000001@@@@@@@@.jpg")
    assert (n.easting, n.northing, n.utm_zone, n.latitude, n.panorama_id) == (
        0.0,
        238.1,
        None,
        None,
        "000001",
    )
    assert (
        parse_vg_name("@0500000.00@6960000.00@56@J@-27.49876@153.01234@@@@@@@@@.jpg").latitude
        == -27.49876
    )


@pytest.mark.parametrize(
    "name",
    [
        "img_0001.jpg",
        "@0584744.97@4476709.92@17@T@040.44123@-079.99585@000829@00@@@@@pitch1_yaw1@.jpg",  # 15
        "@abc@4476709.92@17@T@040.44123@-079.99585@000829@00@@@@@@pitch1_yaw1@.jpg",
        "@@4476709.92@17@T@040.44123@-079.99585@000829@00@@@@@@pitch1_yaw1@.jpg",
        "x@0584744.97@4476709.92@17@T@040.44123@-079.99585@000829@00@@@@@@pitch1_yaw1@.jpg",
        "@nan@4476709.92@17@T@040.44123@-079.99585@000829@00@@@@@@pitch1_yaw1@.jpg",
        "@0584744.97@4476709.92@17@T@140.44123@-079.99585@000829@00@@@@@@pitch1_yaw1@.jpg",
    ],
)
def test_malformed_names_are_rejected_naming_the_file(name):
    with pytest.raises(InputError) as err:
        parse_vg_name(name)
    assert repr(name) in str(err.value) and "\n" not in str(err.value)


# ---------------------------------------------------------------------- VG datasets


def test_vg_dataset_sorted_order_coords_and_boundary(vg_root, tiny_vg_protocol):
    ds = load_dataset(tiny_vg_protocol, vg_root)
    assert ds.database_ids.dtype.kind == "U" and ds.n_database == 4 and ds.n_queries == 3
    assert list(ds.database_ids) == sorted(ds.database_ids)
    assert all(i.startswith("images/test/database/@") for i in ds.database_ids)
    assert ds.database_coords.dtype == np.float64 and ds.warnings == ()
    gt = ds.ground_truth()
    # query 0 at (0, 0): items at 0 m and exactly 25 m are positive, 25.01 m is not
    q0 = {str(ds.database_ids[j]).split("/")[-1] for j in gt.of(0)}
    assert q0 == {vg_name(500000, 4500000, "p1"), vg_name(500000, 4500025, "p1")}
    assert gt.counts.tolist() == [2, 1, 0]
    assert ds.ground_truth() is gt  # cached


def test_vg_images_paths_file_order_wins(vg_root, tiny_vg_protocol):
    folder = vg_root / "images/test/database"
    names = sorted(p.name for p in folder.iterdir())[::-1]
    (vg_root / "images/test/database_images_paths.txt").write_text("\n".join(names) + "\n")
    ds = load_dataset(tiny_vg_protocol, vg_root)
    assert [i.split("/")[-1] for i in ds.database_ids] == names


def test_vg_bad_file_name_names_the_file(vg_root, tiny_vg_protocol):
    image(vg_root / "images/test/queries/holiday.jpg")
    with pytest.raises(InputError, match=r"holiday\.jpg"):
        load_dataset(tiny_vg_protocol, vg_root)


def test_counts_verified_unverified_unknown(vg_root, tmp_path):
    with pytest.raises(ProtocolError, match="expects 10000 database images but 4"):
        load_dataset(load_protocol("pitts30k-test"), vg_root)
    ds = load_dataset(load_protocol("pitts30k-test"), vg_root, strict_counts=False)
    assert len(ds.warnings) == 2
    ds = load_dataset(load_protocol("st-lucia"), vg_root)
    assert all("does not know" in w for w in ds.warnings) and len(ds.warnings) == 2


def test_missing_root_and_folder(tmp_path, tiny_vg_protocol):
    with pytest.raises(InputError, match="is not a folder"):
        load_dataset(tiny_vg_protocol, tmp_path / "nope")
    with pytest.raises(
        InputError, match=r"images/test/database does not exist; check --dataset-root"
    ):
        load_dataset(tiny_vg_protocol, tmp_path)
    (tmp_path / "images/test/database").mkdir(parents=True)
    with pytest.raises(InputError, match="no images"):
        load_dataset(tiny_vg_protocol, tmp_path)


def test_query_stride_and_panorama_grouping(vg_root, tmp_path):
    p = load_protocol(
        protocol_file(
            tmp_path,
            "tokyo247-netvlad",
            "tiny-tokyo",
            **{
                "count = 75984": "count = 4",
                "count = 315": "count = 2",
                "[loader]": "[loader]\nquery_stride = 2",
            },
        )
    )
    ds = load_dataset(p, vg_root)
    assert ds.n_queries == 2  # rows 0 and 2 of 3
    assert ds.database_groups.tolist() == [0, 0, 1, 2]  # p1, p1, p2, p3 in sorted order
    grouped = ds.grouped_ground_truth()
    assert grouped.n_database == 3 and grouped.of(0).tolist() == [0]


def test_latlon_and_headings_from_vg_names(tmp_path):
    root = tmp_path / "ds"
    image(root / "images/test/database" / vg_name(500000, 4500000, heading="010"))
    image(root / "images/test/queries" / vg_name(500000, 4500000, heading="350"))
    p = load_protocol(
        protocol_file(
            tmp_path,
            "pitts30k-test",
            "tiny-heading",
            **{
                "count = 10000": "count = 1",
                "count = 6816": "count = 1",
                'coordinates = "utm" ': 'coordinates = "latlon" ',
                "# max_heading_deg = 40.0": "max_heading_deg = 25.0",
            },
        )
    )
    ds = load_dataset(p, root)
    assert ds.query_coords.tolist() == [[40.44123, -79.99585]]
    assert ds.query_headings.tolist() == [350.0]
    assert ds.ground_truth().counts.tolist() == [1]  # 350 and 10 are 20 degrees apart


# ------------------------------------------------------------------------------ MSLS


def _msls_side(folder: Path, rows: list[tuple[str, float, float, bool, bool]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    post = [",key,easting,northing,night,view_direction"]
    raw = [",key,lon,lat,ca,captured_at,pano"]
    sub = [",all,s2w"]
    for i, (key, e, n, pano, keep) in enumerate(rows):
        post.append(f"{i},{key},{e},{n},False,Forward")
        raw.append(f"{i},{key},12.5,55.6,{90 + i},1500000000,{pano}")
        sub.append(f"{i},{keep},False")
        image(folder / "images" / f"{key}.jpg")
    (folder / "postprocessed.csv").write_text("\n".join(post) + "\n")
    (folder / "raw.csv").write_text("\n".join(raw) + "\n")
    (folder / "subtask_index.csv").write_text("\n".join(sub) + "\n")


@pytest.fixture
def msls_root(tmp_path):
    root = tmp_path / "msls"
    e, n = 347000.0, 6170000.0
    _msls_side(
        root / "train_val/cph/database",
        [("d1", e, n, False, True), ("d2", e, n + 5, True, True), ("d3", e + 100, n, False, True)],
    )
    _msls_side(
        root / "train_val/cph/query",
        [
            ("q1", e, n + 1, False, True),
            ("q2", e, n, False, False),
            ("q3", e + 5000, n, False, True),
        ],
    )
    # sf reuses the same numbers: positives must not cross cities
    _msls_side(root / "train_val/sf/database", [("s1", e + 100, n, False, True)])
    _msls_side(root / "train_val/sf/query", [("t1", e, n, False, True)])
    return root


def test_msls_filters_order_regions_and_exclude(msls_root, tmp_path):
    p = load_protocol(
        protocol_file(
            tmp_path,
            "msls-val-official",
            "tiny-msls",
            **{
                "count = 18871": "count = 3",
                "count = 747": "count = 3",
                "scored_count = 740": "scored_count = 1",
            },
        )
    )
    ds = load_dataset(p, msls_root)
    assert ds.database_ids.tolist() == [
        "train_val/cph/database/images/d1.jpg",
        "train_val/cph/database/images/d3.jpg",
        "train_val/sf/database/images/s1.jpg",
    ]
    assert ds.query_ids.tolist() == [
        "train_val/cph/query/images/q1.jpg",
        "train_val/cph/query/images/q3.jpg",
        "train_val/sf/query/images/t1.jpg",
    ]
    assert ds.query_headings.tolist() == [90.0, 92.0, 90.0]
    gt = ds.ground_truth()
    assert [gt.of(q).tolist() for q in range(3)] == [[0], [], []]  # t1 is 100 m from s1
    assert ds.query_regions.tolist() == [0, 0, 1]


def test_msls_missing_column_and_misaligned_files(msls_root, tmp_path):
    p = load_protocol(protocol_file(tmp_path, "msls-val-official", "tiny-msls2"))
    post = msls_root / "train_val/cph/database/postprocessed.csv"
    post.write_text(post.read_text().replace("northing", "north"))
    with pytest.raises(
        InputError, match=r"no column 'northing'.*postprocessed|postprocessed.*no column 'northing'"
    ):
        load_dataset(p, msls_root)
    post.write_text(post.read_text().replace("north", "northing").replace(",d2,", ",dx,"))
    with pytest.raises(InputError, match="the same images in the same order"):
        load_dataset(p, msls_root)


# ----------------------------------------------------------------------------- CVUSA


@pytest.fixture
def cvusa_root(tmp_path):
    root = tmp_path / "cvusa"
    lines = []
    for i in range(3):
        a, g = f"bingmap/19/{i:07d}.jpg", f"streetview/panos/{i:07d}.jpg"
        image(root / a)
        image(root / g)
        lines.append(f"{a},{g},annotations/{i:07d}.png")
    (root / "splits").mkdir()
    (root / "splits/val-19zl.csv").write_text("\n".join(lines) + "\n")
    return root


def _cvusa(tmp_path, source="cvusa"):
    return load_protocol(
        protocol_file(tmp_path, source, f"tiny-{source}", **{"count = 8884": "count = 3"})
    )


def test_cvusa_one_to_one_both_directions(cvusa_root, tmp_path):
    ds = load_dataset(_cvusa(tmp_path), cvusa_root)
    assert (
        ds.query_ids[1] == "streetview/panos/0000001.jpg"
        and ds.database_ids[1] == "bingmap/19/0000001.jpg"
    )
    assert ds.query_coords is None
    gt = ds.ground_truth()
    assert gt.ids.tolist() == [0, 1, 2] and gt.lims.tolist() == [0, 1, 2, 3]
    ds2 = load_dataset(_cvusa(tmp_path, "cvusa-aerial2ground"), cvusa_root)
    assert ds2.query_ids[0].startswith("bingmap/")


def test_cvusa_bad_rows_and_missing_images(cvusa_root, tmp_path):
    split = cvusa_root / "splits/val-19zl.csv"
    split.write_text(split.read_text() + "only_one_column.jpg\n")
    with pytest.raises(InputError, match="line 4 has 1 columns"):
        load_dataset(_cvusa(tmp_path), cvusa_root)
    split.write_text("bingmap/19/9.jpg,streetview/panos/9.jpg\n")
    with pytest.raises(InputError, match=r"missing.*first: streetview/panos/9\.jpg"):
        load_dataset(_cvusa(tmp_path), cvusa_root)


# ------------------------------------------------------------------------ generic CSV


def _csv_protocol(tmp_path, coords="utm"):
    text = (REPO_PROTOCOLS / "pitts30k-test.toml").read_text()
    text = (
        text.replace('name = "pitts30k-test"', 'name = "tiny-csv"')
        .replace('layout = "vg"', 'layout = "csv"')
        .replace('path = "images/test/database"', 'path = "db.csv"')
        .replace('path = "images/test/queries"', 'path = "q.csv"')
        .replace("count = 10000", "count = 2")
        .replace("count = 6816", "count = 1")
        .replace('coordinates = "utm" ', f'coordinates = "{coords}" ')
    )
    path = tmp_path / "tiny-csv.toml"
    path.write_text(text)
    return load_protocol(path)


def test_generic_csv_with_headings_and_latlon(tmp_path):
    root = tmp_path / "ds"
    for name in ("a.jpg", "b.jpg", "q.jpg"):
        image(root / "img" / name)
    (root / "db.csv").write_text(
        "path,easting,northing,heading\nimg/a.jpg,500000.25,4500000.5,10\nimg/b.jpg,500030,4500000,20\n"
    )
    (root / "q.csv").write_text("path,easting,northing,heading\nimg/q.jpg,500000,4500000,0\n")
    ds = load_dataset(_csv_protocol(tmp_path), root)
    assert ds.database_coords.tolist() == [[500000.25, 4500000.5], [500030.0, 4500000.0]]
    assert ds.database_headings.tolist() == [10.0, 20.0]
    assert ds.ground_truth().of(0).tolist() == [0]
    (root / "db.csv").write_text("path,lat,lon\nimg/a.jpg,40.0,-80.0\nimg/b.jpg,40.001,-80.0\n")
    (root / "q.csv").write_text("path,lat,lon\nimg/q.jpg,40.0001,-80.0\n")
    ds = load_dataset(_csv_protocol(tmp_path, "latlon"), root)
    assert ds.ground_truth().of(0).tolist() == [0]  # 11 m versus 100 m


def test_generic_csv_missing_column_and_bad_number(tmp_path):
    root = tmp_path / "ds"
    image(root / "a.jpg")
    (root / "db.csv").write_text("path,easting\na.jpg,1\n")
    (root / "q.csv").write_text("path,easting,northing\na.jpg,1,2\n")
    with pytest.raises(InputError, match="no column 'northing'") as err:
        load_dataset(_csv_protocol(tmp_path), root)
    assert "db.csv" in str(err.value) and "\n" not in str(err.value)
    (root / "db.csv").write_text("path,easting,northing\na.jpg,1,x\n")
    with pytest.raises(InputError, match="line 2 northing is 'x'"):
        load_dataset(_csv_protocol(tmp_path), root)


# ------------------------------------------------------------------------- GT.npz


def _small_dataset():
    p = load_protocol("pitts30k-test")
    return Dataset(
        p,
        None,
        np.array(["d0", "d1", "d2"]),
        np.array(["q0", "q1"]),
        np.array([[0.0, 0.0], [0.0, 30.0], [5.0, 0.0]]),
        np.array([[0.0, 25.0], [9e3, 0.0]]),
    )


def test_ground_truth_npz_round_trip_and_positives_only(tmp_path):
    ds = _small_dataset()
    path = tmp_path / "gt.npz"
    save_ground_truth_npz(path, ds)
    again = load_ground_truth_npz(path, ds.protocol, strict_counts=False)
    assert again.database_ids.tolist() == ["d0", "d1", "d2"]
    assert ground_truth_hash(again.ground_truth()) == ground_truth_hash(ds.ground_truth())
    np.savez(
        path,
        database_ids=np.array(["d0", "d1"]),
        query_ids=np.array(["q"]),
        positives_lims=np.array([0, 1]),
        positives_ids=np.array([1]),
    )
    only = load_ground_truth_npz(path, ds.protocol, strict_counts=False)
    assert only.ground_truth().ids.tolist() == [1]
    with pytest.raises(ProtocolError, match="expects 10000 database"):
        open_dataset(ds.protocol, ground_truth=path)


def test_ground_truth_npz_rejects_bad_files(tmp_path):
    p = load_protocol("pitts30k-test")
    path = tmp_path / "gt.npz"
    np.savez(path, database_ids=np.array(["a"], dtype=object), query_ids=np.array(["q"]))
    with pytest.raises(InputTypeError, match="never unpickled"):
        load_ground_truth_npz(path, p, strict_counts=False)
    np.savez(path, database_ids=np.array(["a"]), query_ids=np.array(["q"]))
    with pytest.raises(InputError, match="neither database_coords"):
        load_ground_truth_npz(path, p, strict_counts=False)
    np.savez(
        path, protocol=np.array("tokyo247"), database_ids=np.array(["a"]), query_ids=np.array(["q"])
    )
    with pytest.raises(ProtocolError, match="made for protocol 'tokyo247'"):
        load_ground_truth_npz(path, p)
    with pytest.raises(InputError, match="does not exist"):
        load_ground_truth_npz(tmp_path / "none.npz", p)
    with pytest.raises(InputError, match="exactly one"):
        open_dataset(p)


def test_ground_truth_hash_changes_with_content():
    a = Positives.from_lists([[0], [1]], 2)
    assert ground_truth_hash(a) == ground_truth_hash(Positives.from_lists([[0], [1]], 2))
    assert ground_truth_hash(a) != ground_truth_hash(Positives.from_lists([[1], [0]], 2))
    assert ground_truth_hash(a) != ground_truth_hash(Positives.from_lists([[0], [1]], 3))
