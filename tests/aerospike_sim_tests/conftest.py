"""pytest fixtures for the simulator's tests (in-process simulators)."""

import pytest

from simtest import BASE_PORT, INPROC_CONTROL_PORT
from tests.aerospike_sim.client import InProcessSimulator


@pytest.fixture
def make_sim():
    """make_sim(nodes=3, namespaces="test:2", **run_args) -> InProcessSimulator."""
    started = []

    def make(nodes=3, namespaces="test:2", **run_args):
        run_args.setdefault("base_port", BASE_PORT)
        run_args.setdefault("control_port", INPROC_CONTROL_PORT)
        sim = InProcessSimulator(nodes=nodes, namespaces=namespaces, **run_args)
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.close()


@pytest.fixture
def sim(make_sim):
    """A 3-node cluster, namespaces test (rf 2) and bar (rf 1)."""
    return make_sim(nodes=3, namespaces="test:2,bar:1")
