from __future__ import annotations

import pytest

from tests.leaderboard.world import HOSTILE, make_world
from vprmetrics.leaderboard import Leaderboard

#: submission name on the shared board -> file in the world
BOARD = {
    "winner": "winner",
    "mid-a": "mid-a",
    "mid-b": "mid-b",
    "collapsed": "collapsed",
    HOSTILE: "hostile",
    "nan": "nan",
}


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="session")
def board(world, tmp_path_factory):
    """A store with every submission of the world (one of them rejected)."""
    path = tmp_path_factory.mktemp("board") / "lb.sqlite"
    b = Leaderboard.init(path, world["protocol"], ground_truth=world["gt"])
    for name, file in BOARD.items():
        b.submit([world[file]], name, team="team <b>" if file == "hostile" else "vpr", notes="")
    yield b
    b.close()


@pytest.fixture
def fresh(world, tmp_path):
    """An empty store for the world's protocol."""
    path = tmp_path / "lb.sqlite"
    Leaderboard.init(path, world["protocol"], ground_truth=world["gt"]).close()
    return path
