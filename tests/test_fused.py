"""The fused-kernel code path of the CuPy backend, run without a GPU.

The NumPy-backed CuPy stand-in runs each kernel launch through the NumPy reference of
the kernel (bit for bit the kernel's per-element logic, see test_kernels.py), after
checking the launch's argument types. So these tests check the Python side of the
fused path -- which kernel runs for which units, biases folded into the kernel, per-chain
beta, launch counters -- and that its samples follow the exact distributions.
"""

import numpy as np
import pytest

from pgboltz import GibbsSampler
from pgboltz.backends import NumpyBackend, cpu_kernels
from pgboltz.backends.cupy_backend import CupyBackend
from pgboltz.exact import exact
from pgboltz.models import ising, rbm
from pgboltz.sampling import CheckerboardSampler

from .builders import GRAPH_BUILDERS, gb_rbm, pooling_graph, small_dbm
from .conftest import z_scores
from .fake_cupy import make


def fake_backend(seed=0, dtype="float32", **kw):
    return CupyBackend(seed=seed, dtype=dtype, module=make(), **kw)


GRAPHS = {"rbm": GRAPH_BUILDERS["rbm"], "spin-rbm": GRAPH_BUILDERS["spin-rbm"], "mixed": GRAPH_BUILDERS["mixed"],
          "pooling": pooling_graph, "dbm": small_dbm}


@pytest.mark.parametrize("name", list(GRAPHS))
def test_fused_path_samples_match_exact_marginals(name):
    g = GRAPHS[name]()
    be = fake_backend(seed=2)
    s = GibbsSampler(g, chains=2000, backend=be)
    kinds = {type(u).__name__ for block in s.model.updates for u in block if u.kernel is not None}
    assert kinds, "no update ran a fused kernel"
    m = s.run(150, burn_in=50, batches=50).moments
    assert be.kernels().launches.count >= 200  # one launch per update per sweep, each with its own counter
    ex = exact(g)
    # one z-score per unit (at most 36): family-wise 1e-3 gives 4.0
    assert z_scores(m.flat_mean(), ex.mean, m.flat_mean_se(), m.n_samples * m.n_chains).max() < 4


def test_fused_bias_is_left_out_of_the_field_and_restored_for_mean_field():
    g = rbm(9, 6, scale=0.5, seed=3)
    fused = GibbsSampler(g, chains=50, backend=fake_backend(), seed=1).model
    plain = GibbsSampler(g, chains=50, backend="numpy", seed=1, dtype="float32").model
    h_update = next(u for block in fused.updates for u in block if u.group == "h")
    assert h_update.terms.bias is not None  # the kernel adds c itself
    states = plain.get_states()
    fused.set_states(states)
    fused.mean_field(iterations=30)
    plain.mean_field(iterations=30)
    a, b = fused.get_states(), plain.get_states()
    assert all(np.allclose(a[k], b[k], atol=1e-5) for k in a)


#: the backends with fused kernels: the CuPy code path on its stand-in, and the NumPy backend's compiled twins
FUSED_BACKENDS = [pytest.param(fake_backend, id="cupy-stand-in"),
                  pytest.param(NumpyBackend, id="numpy", marks=pytest.mark.skipif(
                      not cpu_kernels.available(), reason="numba not installed"))]


@pytest.mark.parametrize("backend", FUSED_BACKENDS)
def test_gaussian_units_use_the_fused_kernel_and_follow_exact_hidden_marginals(backend):
    g = gb_rbm(seed=1, nv=3, nh=3)
    s = GibbsSampler(g, chains=4000, backend=backend(seed=5))
    v = next(u for block in s.model.updates for u in block if u.group == "v")
    assert v.kernel is not None and v.kernel.__name__ == "gaussian"
    m = s.run(100, burn_in=50, batches=50, groups=["h"]).moments
    ex = exact(g, second_moments=False)
    hm = ex.mean_of(g, "h").ravel()
    assert z_scores(m.mean["h"].ravel(), hm, m.mean_se["h"].ravel(), m.n_samples * m.n_chains).max() < 4


@pytest.mark.parametrize("backend", FUSED_BACKENDS)
def test_per_chain_beta_runs_fused_and_beta_zero_chains_are_uniform(backend):
    g = rbm(6, 4, scale=2.0, seed=0)
    beta = np.repeat([0.0, 1.0], 2000)
    s = GibbsSampler(g, chains=4000, backend=backend(seed=3), beta=beta)
    s.sweep(20)
    v = s.get_states()["v"]
    hot = v[:2000].mean(axis=0)  # beta = 0: every unit is a fair coin
    assert np.abs(hot - 0.5).max() < 4 * np.sqrt(0.25 / 2000)


def test_fused_and_unfused_paths_agree_in_distribution():
    g = GRAPH_BUILDERS["general-bm"]()
    means, ses = [], []
    for fused in (True, False):
        m = GibbsSampler(g, chains=2000, backend=fake_backend(seed=7, fused=fused)).run(150, burn_in=50,
                                                                                        batches=50).moments
        means.append(m.flat_mean())
        ses.append(m.flat_mean_se())
    assert z_scores(means[0], means[1], np.hypot(*ses), 2000 * 150).max() < 4


def test_checkerboard_sampler_matches_exact_and_is_bit_identical_across_backends():
    J = np.random.default_rng(5).normal(0, 0.5, size=(2, 4, 4))
    g = ising(4, 4, J=(J[0], J[1]), field=0.1)
    ex = exact(g)
    s = CheckerboardSampler(g, chains=2000, backend="numpy", seed=4)
    m, _ = s.run(150, burn_in=50, second_moments=True, batches=50)
    n = m.n_samples * m.n_chains
    assert z_scores(m.flat_mean(), ex.mean, m.flat_mean_se(), n).max() < 4
    iu = np.triu_indices(16, 1)
    # 120 pair moments: family-wise 1e-3 gives 4.6
    assert z_scores(m.second[iu], ex.second[iu], m.second_se[iu], n).max() < 4.6
    a = CheckerboardSampler(g, chains=64, backend="numpy", seed=9)
    b = CheckerboardSampler(g, chains=64, backend=fake_backend(seed=9), seed=9)
    a.sweep(5)
    b.sweep(5)
    assert np.array_equal(a.get_states()["s"], b.get_states()["s"])


def test_checkerboard_sampler_refuses_what_it_cannot_run():
    from pgboltz import GraphError

    with pytest.raises(GraphError, match="even number of rows"):
        CheckerboardSampler(ising(5, 4, J=0.3, periodic=False), chains=4, backend="numpy")
    with pytest.raises(GraphError, match="one lattice group"):
        CheckerboardSampler(rbm(4, 3), chains=4, backend="numpy")
    with pytest.raises(GraphError, match="fused=True"):
        CheckerboardSampler(ising(4, 4, J=0.3), chains=4, backend=fake_backend(fused=False))


def test_sparse_factors_run_as_csr_products_on_the_cupy_path():
    from pgboltz.factors.sparse import _CsrTerm

    g = GRAPH_BUILDERS["mixed"]()  # intra sparse couplings: the spin group is split into coloured parts
    s = GibbsSampler(g, chains=64, backend=fake_backend())
    terms = [t for block in s.model.updates for u in block for ts in u.terms.by_slot.values() for t in ts]
    assert any(isinstance(t, _CsrTerm) for t in terms)
    states = {k: v.astype(np.float64) for k, v in s.get_states().items()}
    from pgboltz.conditionals import natural_parameters

    for group in g.groups:  # CSR fields equal the NumPy (ELL) fields
        a = natural_parameters(g, states, group)
        b = natural_parameters(g, states, group, backend=fake_backend())
        assert np.allclose(a, b, atol=1e-5)


def test_dbm_pretraining_joint_training_and_evaluation_run_on_the_fused_cupy_path(cupy_stand_in):
    """The deep-model pipeline (doubled RBMs, mean-field positive phase, AIS + bound) through the
    CuPy backend's fused code: mean-field must see the bias the kernels otherwise add themselves."""
    from pgboltz import data
    from pgboltz.estimators import evaluate
    from pgboltz.estimators import exact_log_likelihood
    from pgboltz.learning import OptimConfig, TrainConfig, Trainer, train_dbm_greedy

    d = data.digits()
    x = d.train[:300].reshape(300, -1)
    cfg = TrainConfig(method="pcd", epochs=5, batch_size=20, seed=1, backend="cupy", optim=OptimConfig(lr=0.05))
    g, _, _ = train_dbm_greedy(x, [64, 10, 6], cfg)
    t = Trainer(g, {"v": x}, TrainConfig(method="pcd", positive="mean_field", epochs=3, batch_size=20, chains=50,
                                         seed=1, backend="cupy", optim=OptimConfig(lr=0.02)))
    assert t.be.name == "cupy"
    t.fit()
    test = {"v": d.test[:100].reshape(100, -1)}
    exact_ll = exact_log_likelihood(g, test)
    e = evaluate(g, test, {"v": x}, ais_runs=50, n_betas=500, backend="cupy", reverse=False, bound_samples=0)
    # small enough to enumerate: evaluate is exact through the CuPy path, and training learned something
    assert e.method == "exact" and abs(e.log_likelihood - exact_ll) < 1e-6
    assert exact_ll > e.base_rate + 0.3, (exact_ll, e.base_rate)


def test_resume_on_the_fused_path_repeats_an_uninterrupted_run_bit_for_bit(cupy_stand_in, tmp_path):
    """The trainer reseeds its backend every epoch: the fused kernels must take the new key."""
    from pgboltz import data
    from pgboltz.learning import OptimConfig, TrainConfig, Trainer
    from pgboltz.specs import load

    d = data.digits()
    cfg = TrainConfig(method="pcd", epochs=4, batch_size=200, chains=40, backend="cupy", optim=OptimConfig(lr=0.05))
    g1 = load("rbm-digits")
    Trainer(g1, d.for_graph(g1), cfg).fit()
    g2 = load("rbm-digits")
    t2 = Trainer(g2, d.for_graph(g2), cfg)
    t2.fit(2)
    t2.save(tmp_path / "ck.npz")
    t3 = Trainer.resume(tmp_path / "ck.npz", d.for_graph(g2))
    assert t3.be.name == "cupy" and t3.be.fused
    t3.fit()
    for f1, f3 in zip(g1.factors, t3.graph.factors):
        for k in f1.params:
            assert np.array_equal(f1.params[k], f3.params[k]), (f1.label, k)


def test_the_checkerboard_reference_field_is_the_derived_field(rng):
    """CheckerboardSampler's kernels compute the lattice field themselves: it must equal the field the
    graph's factors give, for random couplings on periodic and open lattices."""
    from pgboltz.backends import reference

    for periodic in (True, False):
        J = rng.normal(size=(2, 4, 6))
        if not periodic:
            J[0][:, -1] = 0
            J[1][-1, :] = 0
        g = ising(4, 6, J=(J[0], J[1]), field=rng.normal(size=(4, 6)), periodic=periodic)
        x = np.where(rng.random((5, 4, 6)) < 0.5, 1.0, -1.0)
        s = CheckerboardSampler(g, chains=5, backend="numpy")
        mine = reference.lattice_field(x, *s.host_params).reshape(5, -1)
        from pgboltz.conditionals import natural_parameters

        np.testing.assert_allclose(mine, natural_parameters(g, {"s": x.reshape(5, -1)}, "s"), atol=1e-5)
