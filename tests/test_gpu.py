"""CuPy backend on a CUDA device (skipped without one).

Same graphs, same checks as the NumPy tests: every factor kind sampled on the GPU
agrees with exact answers, and CuPy and NumPy statistics agree with each other.
"""

import numpy as np
import pytest

from pgboltz import GibbsSampler
from pgboltz.conditionals import natural_parameters
from pgboltz.exact import exact
from pgboltz.models import rbm

from .builders import GRAPH_BUILDERS
from .conftest import z_scores

pytestmark = pytest.mark.gpu

# bias + dense (rbm), intra dense (general-bm), lattice (ising), sparse + mixed units (mixed)
KINDS = ["rbm", "spin-rbm", "general-bm", "ising-4x4-periodic", "ising-4x5-open", "mixed"]


@pytest.mark.parametrize("name", KINDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cupy_samples_match_exact(name, dtype):
    g = GRAPH_BUILDERS[name]()
    ex = exact(g)
    s = GibbsSampler(g, chains=20000, backend="cupy", seed=3, dtype=dtype)
    m = s.run(200, burn_in=100, second_moments=True, batches=100).moments
    n = m.n_samples * m.n_chains
    assert z_scores(m.flat_mean(), ex.mean, m.flat_mean_se(), n).max() < 4
    iu = np.triu_indices(len(ex.mean), 1)
    assert z_scores(m.second[iu], ex.second[iu], m.second_se[iu], n).max() < 4


@pytest.mark.parametrize("name", KINDS)
def test_cupy_and_numpy_statistics_agree(name):
    g = GRAPH_BUILDERS[name]()
    means, ses = [], []
    for backend in ("numpy", "cupy"):
        m = GibbsSampler(g, chains=8000, backend=backend, seed=1).run(200, burn_in=100, batches=100).moments
        means.append(m.flat_mean())
        ses.append(m.flat_mean_se())
    se = np.sqrt(ses[0] ** 2 + ses[1] ** 2)
    assert z_scores(means[0], means[1], se, 8000 * 200).max() < 4


@pytest.mark.parametrize("name", KINDS)
def test_cupy_fields_equal_numpy_fields(name, rng):
    from pgboltz.backends import get_backend

    g = GRAPH_BUILDERS[name]()
    states = {n: grp.units.init_states(rng, (64,) + grp.shape) for n, grp in g.groups.items()}
    be = get_backend("cupy", dtype="float64")
    for group in g.groups:
        a = natural_parameters(g, states, group)
        b = natural_parameters(g, states, group, backend=be)
        assert np.allclose(a, b, atol=1e-12)


def test_cupy_large_rbm_runs_and_is_deterministic():
    g = rbm(784, 500, scale=0.05)
    finals = []
    for _ in range(2):
        s = GibbsSampler(g, chains=10000, backend="cupy", seed=9)
        finals.append(s.run(20, collect="none").final["h"])
    assert np.array_equal(finals[0], finals[1])
