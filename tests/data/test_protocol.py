"""Protocol files: every shipped file validates; broken files name the file and field."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pytest

from vprmetrics.data.protocol import (
    PROTOCOLS_ENV,
    list_protocols,
    load_protocol,
    protocol_dirs,
    protocol_hash,
)
from vprmetrics.errors import ProtocolError

REPO_PROTOCOLS = Path(__file__).resolve().parents[2] / "protocols"
TEMPLATE = (REPO_PROTOCOLS / "pitts30k-test.toml").read_text()

EXPECTED = {
    "pitts30k-val",
    "pitts30k-test",
    "pitts250k-test",
    "msls-val",
    "msls-val-official",
    "tokyo247",
    "tokyo247-netvlad",
    "san-francisco-rsf",
    "sf-xs-val",
    "sf-xs-test",
    "tokyo-xs-test",
    "st-lucia",
    "eynsham",
    "nordland",
    "nordland-vprbench",
    "nordland-7frames",
    "cvusa",
    "cvusa-aerial2ground",
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def variant(tmp_path: Path, old: str, new: str, name: str = "pitts30k-test") -> Path:
    assert old in TEMPLATE
    return write(tmp_path, name, TEMPLATE.replace(old, new))


def test_every_shipped_protocol_loads_and_is_named_after_its_file():
    protocols = list_protocols()
    names = {p.name for p in protocols}
    assert EXPECTED <= names
    for p in protocols:
        assert p.path is not None and p.path.stem == p.name
        assert p.sha256 == hashlib.sha256(p.path.read_bytes()).hexdigest()
        assert p.recall_at_n == tuple(sorted(p.recall_at_n))
        if p.one_to_one:
            assert p.radius_m is None and p.query_direction is not None
        else:
            assert p.radius_m is not None and p.radius_m > 0


def test_published_facts():
    p = load_protocol("pitts30k-test")
    assert (p.database.count, p.queries.count, p.radius_m) == (10000, 6816, 25.0)
    assert p.database.count_verified and p.no_positive == "miss"
    assert load_protocol("pitts30k-val").queries.count == 7608
    m = load_protocol("msls-val-official")
    assert (m.database.count, m.queries.count, m.queries.scored_count) == (18871, 747, 740)
    assert m.no_positive == "exclude" and m.loader["cities"] == ("cph", "sf")
    assert load_protocol("msls-val").no_positive == "miss"
    assert load_protocol("tokyo247-netvlad").loader["database_grouping"] == "panorama"
    assert "database_grouping" not in load_protocol("tokyo247").loader
    c = load_protocol("cvusa")
    assert c.one_to_one and c.queries.count == 8884 and c.query_direction == "ground-to-aerial"
    assert c.recall_at_percent_convention == "ceil"
    assert load_protocol("cvusa-aerial2ground").query_direction == "aerial-to-ground"


def test_unknown_counts_are_absent_not_invented():
    assert load_protocol("msls-val").queries.count is None
    assert load_protocol("st-lucia").database.count is None
    assert load_protocol("san-francisco-rsf").database.count is None
    sfxs = load_protocol("sf-xs-test")
    assert sfxs.database.count == 27191 and not sfxs.database.count_verified


@pytest.mark.parametrize(
    ("name", "frames"), [("nordland", 10), ("nordland-7frames", 7), ("nordland-vprbench", 1)]
)
def test_nordland_radius_encodes_the_frame_tolerance(name, frames):
    step = 25 / 10.5  # mock northing per frame
    radius = load_protocol(name).radius_m
    # names carry centimetres: allow 1 cm of rounding on each side
    assert frames * step + 0.01 <= radius < (frames + 1) * step - 0.01


def test_nordland_vprbench_swaps_roles_and_subsamples_queries():
    vg, bench = load_protocol("nordland"), load_protocol("nordland-vprbench")
    assert bench.database.path == vg.queries.path and bench.queries.path == vg.database.path
    assert bench.loader["query_stride"] == 10
    assert bench.queries.count == math.ceil(27592 / 10)


def test_unknown_name_suggests_nearest():
    with pytest.raises(ProtocolError, match=r"did you mean 'pitts30k-test'") as err:
        load_protocol("pitts30k-tset")
    assert "\n" not in str(err.value)
    with pytest.raises(ProtocolError, match="tokyo247"):
        load_protocol("tokyo")


def test_load_by_path_and_hash(tmp_path):
    path = write(tmp_path, "pitts30k-test", TEMPLATE)
    p = load_protocol(path)
    assert p.path == path
    assert protocol_hash(p) == protocol_hash(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ProtocolError, match="does not exist"):
        load_protocol(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("radius_m = 25.0", "radius_m = -1.0", "ground_truth.radius_m"),
        ("radius_m = 25.0", "", "ground_truth.radius_m"),
        ('layout = "vg"', 'layout = "vgg"', "layout"),
        ('no_positive = "miss"', 'no_positive = "skip"', "ground_truth.no_positive"),
        ("count = 10000", 'count = "10000"', "database.count"),
        ("recall_at_n = [1, 5, 10, 20]", "recall_at_n = [0, 5]", "metrics.recall_at_n"),
        ('path = "images/test/database"', 'path = "/abs/db"', "database.path"),
        ('path = "images/test/database"', 'pth = "images/test/database"', "database.pth"),
        ("schema = 1", "schema = 2", "schema"),
        (
            'recall_at_percent_convention = "ceil"',
            'recall_at_percent_convention = "floor"',
            "metrics.recall_at_percent_convention",
        ),
        ('task = "vpr"', 'task = "cross-view"', "metrics.query_direction"),
        ("[loader]", "[loader]\nquery_stride = 0", "loader.query_stride"),
        ("[loader]", "[loader]\ncities = ['x']", "loader.cities"),
    ],
)
def test_schema_errors_name_file_and_field(tmp_path, old, new, field):
    path = variant(tmp_path, old, new)
    with pytest.raises(ProtocolError) as err:
        load_protocol(path)
    msg = str(err.value)
    assert f"'{field}'" in msg and str(path) in msg and "\n" not in msg


def test_unknown_field_suggests_the_right_one(tmp_path):
    path = variant(tmp_path, "radius_m = 25.0", "radius = 25.0")
    with pytest.raises(ProtocolError, match=r"did you mean 'ground_truth.radius_m'"):
        load_protocol(path)


def test_name_must_match_file_and_toml_must_parse(tmp_path):
    with pytest.raises(ProtocolError, match="'name'"):
        load_protocol(write(tmp_path, "other", TEMPLATE))
    with pytest.raises(ProtocolError, match="not valid TOML"):
        load_protocol(write(tmp_path, "broken", "name = \n"))


def test_one_to_one_rejects_radius(tmp_path):
    text = (REPO_PROTOCOLS / "cvusa.toml").read_text()
    path = write(
        tmp_path,
        "cvusa",
        text.replace('kind = "one-to-one"', 'kind = "one-to-one"\nradius_m = 5.0'),
    )
    with pytest.raises(ProtocolError, match=r"ground_truth\.radius_m"):
        load_protocol(path)


def test_env_var_adds_and_overrides_protocols(tmp_path, monkeypatch):
    write(tmp_path, "my-proto", TEMPLATE.replace('name = "pitts30k-test"', 'name = "my-proto"'))
    write(tmp_path, "pitts30k-test", TEMPLATE.replace("count = 6816", "count = 5"))
    monkeypatch.setenv(PROTOCOLS_ENV, str(tmp_path))
    assert protocol_dirs()[0] == tmp_path
    assert "my-proto" in {p.name for p in list_protocols()}
    assert load_protocol("pitts30k-test").queries.count == 5
    monkeypatch.delenv(PROTOCOLS_ENV)
    assert load_protocol("pitts30k-test").queries.count == 6816
