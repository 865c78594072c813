import pytest

from tests.fuzz.contract import make_world


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """One clean world per session; tests must leave it as they found it (the contract
    checks that failures change nothing; tests that succeed write only under out/)."""
    return make_world(tmp_path_factory.mktemp("world"))
