"""The PSSR study: the paper's point on constructed embeddings, the tree, the command."""

import json
import subprocess
import sys

import pytest

from reference_models.cli import main as reference_main
from reference_models.studies.pssr_scores import (
    constructed_embeddings,
    score_descriptors,
    tree_search,
)
from reference_models.synthtown.dataset import Config, write_crossview


def test_collapsed_scores_100_percent_under_cvm_net_and_chance_under_expected():
    n = 450  # cut-offs: ceil 5, cvm-net 5 (floor 4 + 1), safa 4
    s = score_descriptors(*constructed_embeddings("collapsed", n))
    assert (s["cutoffs"]["ceil"], s["cutoffs"]["cvm-net"], s["cutoffs"]["safa"]) == (5, 5, 4)
    assert s["r_at_1pct"]["cvm-net"] == 1.0  # strictly-closer count, optimistic ties
    assert s["r_at_1pct"]["ceil"] == pytest.approx(5 / n)  # expected ties: chance
    assert s["r_at_1pct"]["witw"] == 0.0
    assert s["r_at_1pct_grid"]["cvm-net"]["expected"] == pytest.approx(5 / n)
    assert s["pssr"]["mean"] == 0.0 and s["pssr"]["fraction_for_recall"]["0.5"] == 1.0


def test_pssr_separates_what_r_at_1_percent_does_not():
    collapsed = score_descriptors(*constructed_embeddings("collapsed", 400))
    matched = score_descriptors(*constructed_embeddings("matched", 400))
    few = score_descriptors(*constructed_embeddings("few-cluster", 400))
    random = score_descriptors(*constructed_embeddings("random", 400))
    assert collapsed["r_at_1pct"]["cvm-net"] == matched["r_at_1pct"]["cvm-net"] == 1.0
    assert collapsed["pssr"]["mean"] == 0.0 and matched["pssr"]["mean"] > 0.99
    assert few["r_at_1pct"]["cvm-net"] > 3 * few["r_at_1pct"]["ceil"]  # ties decide it
    assert 0.4 < random["pssr"]["mean"] < 0.6


def test_tree_with_whole_database_leaf_is_exhaustive_search():
    g, a = constructed_embeddings("matched", 300, seed=1)
    rows = tree_search(g, a, k=4, leaf_sizes=(300, 20))
    whole, small = rows
    assert whole["depth"] == 0 and whole["recall_in_leaf"] == 1.0
    assert whole["r_at_1"] == pytest.approx(whole["exhaustive_r_at_1"])
    assert small["share_searched"] < 0.5 and small["depth"] >= 1


def test_module_imports_no_torch():
    code = "import sys, reference_models.studies.pssr; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_study_command_tiny(tmp_path, capsys):
    write_crossview(
        tmp_path,
        Config(crossview_pairs=(("val", 6),), pano_size=(16, 64), aerial_size=32),
        workers=1,
    )
    root, out = tmp_path / "synthtown-crossview", tmp_path / "study"
    argv = [
        "study",
        "pssr",
        "--dataset-root",
        str(root),
        "--out",
        str(out),
        "--scale",
        "tiny",
        "--protocol",
        str(_protocol(tmp_path)),
    ]
    assert reference_main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["rows"]) == {"collapsed", "few-cluster", "random", "matched", "raw-pixels"}
    table = (out / "results.md").read_text()
    assert "cvm-net" in table and "PSSR mean" in table
    assert (out / "pssr_histograms.png").stat().st_size > 1000
    assert reference_main(argv) == 0  # rerun: every cell read back
    assert "done before" in capsys.readouterr().err


def _protocol(tmp_path):
    text = (
        'schema = 1\nname = "tinyx"\ndataset = "t"\nsplit = "val"\nlayout = "cvusa"\n'
        'task = "cross-view"\nstatus = "unverified"\ndescription = "t"\n'
        '[database]\npath = "bingmap"\n[queries]\npath = "streetview"\n'
        '[ground_truth]\nkind = "one-to-one"\nno_positive = "error"\n'
        "[metrics]\nrecall_at_n = [1]\nrecall_at_percent = [1]\n"
        'recall_at_percent_convention = "ceil"\nquery_direction = "ground-to-aerial"\n'
        '[loader]\nsplit_file = "splits/val-19zl.csv"\n[source]\ncitation = "t"\nnotes = []\n'
    )
    path = tmp_path / "tinyx.toml"
    path.write_text(text)
    return path
