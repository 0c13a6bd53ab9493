"""The zoo-ready contract, each new element checked against an exact or independent answer.

Gaussian units (analytic Gaussian), a joint Gaussian block with a per-chain precision matrix
(analytic multivariate Gaussian), a categorical block with an off state (pgmpy with categorical
variables), a three-way factor (scope-3 tables in pgmpy), directed factors (enumerated
distribution of a sigmoid belief net; a DBN against pgmpy), mean-field fixed points of a DBM
(an independent root finder), free energy and AIS summing out a DBM's odd layer, and input groups.

Statistical tolerances: first moments of independent draws have standard error sd/sqrt(n);
families of m compared quantities use the Bonferroni limit of :func:`family_z_limit`.
"""

import numpy as np
import pytest

from pgboltz import GibbsSampler, GraphError, TooLargeError
from pgboltz.conditionals import field
from pgboltz.exact import PgmpyOracle, exact
from pgboltz.graph.unit_level import factor_nodes, unit_factor_graph
from pgboltz.model import CompiledModel
from pgboltz.units import Gaussian
from pgboltz.verify import check_conditionals, check_energy_differences, family_z_limit, verify

from .builders import (conditional_rbm, covariance_rbm, gb_rbm, pooling_graph, sigmoid_belief_net, small_dbm,
                       small_dbn, threeway_graph)

BIG = 10**6  # "batches" for family_z_limit when draws are independent (normal limit)


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


# -- Gaussian units ------------------------------------------------------------------------------------------

def test_gaussian_unit_is_the_analytic_gaussian():
    """mean, second moment and log-partition of exp(beta (eta x - lam x^2 / 2)) by quadrature."""
    u = Gaussian()
    x = np.linspace(-30, 30, 600001)
    for eta, lam, beta in [(0.7, 2.0, 1.0), (-1.3, 0.5, 0.4), (3.0, 4.0, 2.5)]:
        w = np.exp(beta * (eta * x - 0.5 * lam * x * x))
        z = np.trapezoid(w, x)
        f = {"linear": np.array([eta]), "precision": np.array([lam])}
        assert abs(u.log_partition(np, f, beta)[0] - np.log(z)) < 1e-9
        assert abs(u.mean(np, f, beta)[0] - np.trapezoid(x * w, x) / z) < 1e-9
        assert abs(u.mean_square(np, f, beta)[0] - np.trapezoid(x * x * w, x) / z) < 1e-9


def test_gb_rbm_conditional_of_v_is_derived_from_the_factors():
    """p(v | h) = N(sigma^2 (b + W h), sigma^2) (seed eqs. 29-30), slots from bias, dense and quadratic factors."""
    g = gb_rbm()
    s, b, W = g.factors[0].params["log_sigma"], g.factors[1].params["b"], g.factors[2].params["W"]
    h = np.array([[1.0, 0.0], [1.0, 1.0]])
    f = field(g, {"v": np.zeros((2, 3)), "h": h}, "v")
    assert np.allclose(f["linear"], b + h @ W.T, atol=1e-14)
    assert np.allclose(f["precision"], np.exp(-2 * s), atol=1e-14)
    # log p(v1|h) - log p(v0|h) from the Gaussian density equals minus the energy difference
    r = np.random.default_rng(0)
    v0, v1 = r.normal(size=(2, 3)), r.normal(size=(2, 3))
    mean, var = np.exp(2 * s) * (b + h @ W.T), np.exp(2 * s)
    logn = lambda v: (-(v - mean) ** 2 / (2 * var)).sum(axis=1)  # noqa: E731
    dE = g.energy({"v": v1, "h": h}) - g.energy({"v": v0, "h": h})
    assert np.allclose(logn(v1) - logn(v0), -dE, atol=1e-10)
    # and the sampler draws it: 200k chains with h clamped, one sweep
    n = 200_000
    smp = GibbsSampler(g, chains=n, seed=1, dtype="float64", clamp={"h": h[1]})
    smp.sweep(1)
    x = smp.get_states()["v"]
    z_mean = np.abs(x.mean(axis=0) - mean[1]) / np.sqrt(var / n)
    z_var = np.abs(x.var(axis=0) - var) / (var * np.sqrt(2.0 / n))
    assert max(z_mean.max(), z_var.max()) < family_z_limit(6, batches=BIG)


def test_gb_rbm_exact_log_z_sums_the_gaussians_out():
    """Enumerate h, integrate v analytically; against the closed form written out here."""
    g = gb_rbm()
    s, b, W, c = (f.params[k] for f, k in zip(g.factors, ("log_sigma", "b", "W", "b")))
    var = np.exp(2 * s)
    terms = []
    for h in np.array(np.meshgrid([0, 1], [0, 1])).T.reshape(-1, 2):
        m = b + W @ h
        terms.append(c @ h + np.sum(0.5 * np.log(2 * np.pi * var) + 0.5 * var * m * m))
    ex = exact(g)
    assert ex.summed == ["v"] and abs(ex.log_z - np.logaddexp.reduce(terms)) < 1e-10
    # Gibbs means of both layers against the exact ones
    m = GibbsSampler(g, chains=4000, seed=2, dtype="float64").run(300, burn_in=100, batches=100).moments
    z = np.abs(m.flat_mean() - ex.mean) / m.flat_mean_se()
    assert z.max() < family_z_limit(5)


def test_gaussian_group_without_a_precision_is_refused():
    from pgboltz import Bias, FactorGraph

    g = FactorGraph("bad")
    g.add_group("v", 3, "gaussian", "visible")
    g.add_factor(Bias("v", np.zeros(3)))
    with pytest.raises(GraphError, match="gaussian units need a precision: add a quadratic factor"):
        GibbsSampler(g, chains=2)


# -- a joint Gaussian block with a per-chain precision matrix --------------------------------------------------

def _joint_precision(g, hc):
    s, C, P = g.factors[0].params["log_sigma"], g.factors[2].params["C"], g.factors[2].params["P"]
    return np.diag(np.exp(-2 * s)) + C @ np.diag(P @ hc) @ C.T


def test_covariance_factor_gives_one_gaussian_per_chain():
    """x | h ~ N(Lam^-1 b, Lam^-1), Lam = diag(sigma^-2) + C diag(P h) C^T, drawn by batched Cholesky."""
    g = covariance_rbm()
    b = g.factors[1].params["b"]
    hc = np.array([1.0, 1.0])
    lam = _joint_precision(g, hc)
    cov, mean = np.linalg.inv(lam), np.linalg.solve(lam, b)
    f = field(g, {"x": np.zeros((1, 3)), "hc": hc[None]}, "x")
    assert np.allclose(f["precision_matrix"][0] + np.diag(f["precision"][0]), lam, atol=1e-12)
    n = 200_000
    smp = GibbsSampler(g, chains=n, seed=3, dtype="float64", clamp={"hc": hc})
    smp.sweep(1)
    x = smp.get_states()["x"]
    z_mean = np.abs(x.mean(axis=0) - mean) / np.sqrt(np.diag(cov) / n)
    emp = np.cov(x.T)
    se_cov = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)  # Wishart entry variance
    z_cov = np.abs(emp - cov) / se_cov
    assert max(z_mean.max(), z_cov.max()) < family_z_limit(3 + 9, batches=BIG)
    # the log normaliser of the joint block
    u = g.group("x").units
    lz = u.log_partition_total(np, {k: v for k, v in f.items()}, 1.0)[0]
    sign, logdet = np.linalg.slogdet(lam)
    assert abs(lz - (0.5 * b @ mean + 1.5 * np.log(2 * np.pi) - 0.5 * logdet)) < 1e-10


def test_covariance_rbm_hidden_conditionals_and_exact_log_z():
    g = covariance_rbm()
    assert check_energy_differences(g, n_states=6, seed=1) < 1e-9  # the binary hc given x, from the factor
    b, c = g.factors[1].params["b"], g.factors[3].params["b"]
    terms = []
    for hc in np.array(np.meshgrid([0, 1], [0, 1])).T.reshape(-1, 2):
        lam = _joint_precision(g, hc)
        terms.append(c @ hc + 0.5 * b @ np.linalg.solve(lam, b) + 1.5 * np.log(2 * np.pi)
                     - 0.5 * np.linalg.slogdet(lam)[1])
    ex = exact(g, second_moments=False)
    assert ex.summed == ["x"] and abs(ex.log_z - np.logaddexp.reduce(terms)) < 1e-10
    m = GibbsSampler(g, chains=4000, seed=4, dtype="float64").run(300, burn_in=100, batches=100).moments
    z = np.abs(m.flat_mean() - ex.mean) / m.flat_mean_se()
    assert z.max() < family_z_limit(5)


# -- a categorical block with an off state (probabilistic max pooling) ------------------------------------------

def test_max_pooling_blocks_match_pgmpy_with_categorical_variables():
    g = pooling_graph()
    G = unit_factor_graph(g)
    cards = sorted({len(G.nodes[v]["states"]) for v in G.nodes if G.nodes[v]["bipartite"] == 0})
    assert cards == [2, 5]  # binary units and 4 + 1 state blocks
    oracle = PgmpyOracle(g)
    assert check_conditionals(g, oracle, n_states=3, seed=5) < 1e-9
    assert check_energy_differences(g, n_states=4, seed=6) < 1e-9
    assert abs(exact(g, second_moments=False).log_z - oracle.log_z()) < 1e-9
    assert [b.describe(g) for b in GibbsSampler(g, chains=2).blocks] == ["d + p", "v + h2"]


def test_max_pooling_samples_match_exact_and_keep_the_constraint():
    g = pooling_graph()
    report = verify(g, chains=3000, sweeps=300, burn_in=100, seed=7)
    assert report.passed, report.table()
    res = GibbsSampler(g, chains=2000, seed=8).run(50, collect="samples", groups=["d", "p"])
    d = res.samples["d"].reshape(50, 2000, 1, 2, 2, 2, 2).transpose(0, 1, 2, 3, 5, 4, 6).reshape(50, 2000, 4, 4)
    on = d.sum(axis=-1)
    assert on.max() <= 1 and np.array_equal(on, res.samples["p"].reshape(50, 2000, 4))


# -- a three-way factor ------------------------------------------------------------------------------------------

def test_three_way_factor_expands_to_scope_3_tables_that_pgmpy_agrees_with():
    g = threeway_graph()
    G = unit_factor_graph(g)
    assert max(len(G.nodes[f]["scope"]) for f in factor_nodes(G)) == 3
    report = verify(g, chains=3000, sweeps=300, burn_in=100, seed=9)
    assert report.passed, report.table()


# -- directed factors --------------------------------------------------------------------------------------------

def test_ancestral_samples_of_a_sigmoid_belief_net_follow_its_enumerated_distribution():
    g = sigmoid_belief_net()
    s = GibbsSampler(g, chains=2, seed=0)
    assert [b.describe(g) for b in s.blocks] == ["top", "mid", "v"]  # parents first
    # the joint is normalised: log Z is the top layer's alone
    assert abs(exact(g, second_moments=False).log_z - np.log1p(np.exp(g.factors[0].params["b"])).sum()) < 1e-12
    # exact P(v) over all 32 states, by enumeration of the joint
    from pgboltz.exact.enumerate import enumeration

    allst = enumeration(g, list(g.groups), 0, 2**12)
    logp = -g.energy(allst)
    code = allst["v"] @ (2 ** np.arange(4, -1, -1))
    p_v = np.bincount(code.astype(int), weights=np.exp(logp - logp.max()), minlength=32)
    p_v /= p_v.sum()
    # one sweep from any state is one exact ancestral sample: 100k independent draws
    n = 100_000
    smp = GibbsSampler(g, chains=n, seed=1, dtype="float64")
    smp.sweep(1)
    vc = (smp.get_states()["v"] @ (2 ** np.arange(4, -1, -1))).astype(int)
    freq = np.bincount(vc, minlength=32) / n
    z = np.abs(freq - p_v) / np.sqrt(np.maximum(p_v * (1 - p_v), 1e-12) / n)
    assert z.max() < family_z_limit(32, batches=BIG)


def test_dbn_exact_distribution_equals_pgmpy_and_samples_match():
    g = small_dbn()
    oracle = PgmpyOracle(g)
    ex = exact(g)
    assert abs(ex.log_z - oracle.log_z()) < 1e-9
    for k, name in enumerate(ex.names[:6]):  # P(v_i = 1) from our enumeration and from pgmpy
        assert abs(ex.mean[k] - oracle.mean(name)) < 1e-9
    report = verify(g, chains=3000, sweeps=300, burn_in=100, seed=3)
    assert report.passed, report.table()
    # the whole P(v) over its 64 states: pgmpy (directed tables + top RBM) = our -F(v) - log Z
    from pgboltz.estimators import free_energy
    from pgboltz.exact.enumerate import enumeration

    vs = enumeration(g, ["v"], 0, 64)["v"]
    ours = np.exp(-free_energy(g, {"v": vs}) - ex.log_z)
    theirs = oracle.joint([f"v[{i}]" for i in range(6)]).reshape(-1)  # last unit fastest, as enumeration
    assert abs(ours.sum() - 1) < 1e-12 and np.abs(ours - theirs).max() < 1e-12
    # samples: Gibbs on the top RBM, then the ancestral pass; 20000 chains after 200 sweeps, one state each
    s = GibbsSampler(g, chains=20000, seed=5, dtype="float64")
    s.sweep(200)
    code = (s.get_states()["v"] @ (2 ** np.arange(5, -1, -1))).astype(int)
    freq = np.bincount(code, minlength=64) / 20000
    z = np.abs(freq - ours) / np.sqrt(np.maximum(ours * (1 - ours), 1e-12) / 20000)
    assert z.max() < family_z_limit(64, batches=BIG), z.max()


def test_directed_children_are_checked():
    from pgboltz import Bias, ScheduleError

    g = small_dbn()
    g.add_factor(Bias("v", np.zeros(6), name="extra"))
    with pytest.raises(ScheduleError, match="directed child's conditional comes from its table alone"):
        GibbsSampler(g, chains=2)
    g = small_dbn()
    with pytest.raises(ScheduleError, match="needs explaining away"):
        GibbsSampler(g, chains=2, clamp={"v": np.zeros(6)})
    with pytest.raises(ScheduleError, match="ancestral order"):
        GibbsSampler(g, chains=2, blocks=[["v"], ["h1"], ["h2"]])


# -- mean field on a DBM -----------------------------------------------------------------------------------------

def test_dbm_schedule_is_odd_versus_even_layers():
    g = small_dbm()
    assert [b.describe(g) for b in GibbsSampler(g, chains=2).blocks] == ["h1", "v + h2"]


def test_mean_field_fixed_points_of_a_dbm_match_an_independent_solver():
    from scipy.optimize import root

    g = small_dbm(seed=3, scale=0.6)
    W1, W2 = g.factors[0].params["W"], g.factors[1].params["W"]
    b1, b2 = g.factors[3].params["b"], g.factors[4].params["b"]
    v = (np.random.default_rng(0).random((4, 6)) < 0.5).astype(float)
    model = CompiledModel(g, 4, dtype="float64", clamp={"v": v})
    model.set_states({"h1": np.full((4, 5), 0.5), "h2": np.full((4, 4), 0.5)}, expectations=True)
    info = model.mean_field(iterations=1000, tol=1e-13)
    assert info["change"] <= 1e-13
    mu1, mu2 = model.get_states()["h1"], model.get_states()["h2"]
    for k in range(4):
        def equations(z):
            m1, m2 = z[:5], z[5:]
            return np.concatenate([m1 - sigmoid(b1 + v[k] @ W1 + W2 @ m2), m2 - sigmoid(b2 + m1 @ W2)])
        sol = root(equations, np.full(9, 0.5), method="hybr", tol=1e-12)
        assert np.abs(equations(sol.x)).max() < 1e-12
        assert np.abs(sol.x - np.concatenate([mu1[k], mu2[k]])).max() < 1e-9
    damped = CompiledModel(g, 4, dtype="float64", clamp={"v": v})
    damped.set_states({"h1": np.full((4, 5), 0.5), "h2": np.full((4, 4), 0.5)}, expectations=True)
    damped.mean_field(iterations=2000, damping=0.5, tol=1e-13)
    assert np.abs(damped.get_states()["h1"] - mu1).max() < 1e-9


def test_free_energy_and_ais_sum_out_the_odd_layer_of_a_dbm():
    from pgboltz.estimators import ais, base_rate_biases, free_energy, summed_groups
    from pgboltz.exact.enumerate import enumeration

    g = small_dbm()
    r = np.random.default_rng(1)
    v = (r.random((5, 6)) < 0.5).astype(float)
    h2 = (r.random((5, 4)) < 0.5).astype(float)
    F = free_energy(g, {"v": v, "h2": h2})
    h1 = enumeration(g, ["h1"], 0, 32)["h1"]
    brute = [-np.logaddexp.reduce(-g.energy({"v": np.repeat(v[k:k + 1], 32, 0), "h1": h1,
                                              "h2": np.repeat(h2[k:k + 1], 32, 0)})) for k in range(5)]
    assert np.allclose(F, brute, atol=1e-12)
    with pytest.raises(GraphError, match="must be independent"):
        free_energy(g, {"v": v}, enumerate_rest=False)
    # given v alone, h1 and h2 are coupled: h1 is summed analytically and h2 enumerated
    exact_f = [-exact(g, clamp={"v": v[k]}, second_moments=False).log_z for k in range(5)]
    assert np.allclose(free_energy(g, {"v": v}), exact_f, atol=1e-12)
    with pytest.raises(TooLargeError, match="limit is 2\\^3. Use a variational bound"):
        free_energy(g, {"v": v}, max_units=3)
    import importlib

    fe_module = importlib.import_module("pgboltz.estimators.free_energy")  # the module, not the function

    limit = fe_module.MAX_ROWS
    try:  # the work is rows x enumerated states: 5 x 16 = 80 > 50
        fe_module.MAX_ROWS = 50
        with pytest.raises(TooLargeError, match="for 5 rows enumerates 16 states"):
            free_energy(g, {"v": v})
    finally:
        fe_module.MAX_ROWS = limit
    assert summed_groups(g) == ["h1"]
    lz = exact(g, second_moments=False).log_z
    data = (r.random((200, 6)) < 0.4).astype(float)
    res = ais(g, base_rate_biases(g, {"v": data}), runs=200, betas=np.linspace(0, 1, 3000), seed=0,
              dtype="float64")
    assert res.lower <= lz <= res.upper and abs(res.log_z - lz) < 0.1, (res, lz)


# -- input groups ------------------------------------------------------------------------------------------------

def test_input_groups_stay_clamped_in_both_training_phases_and_condition_the_chains():
    from pgboltz.learning import TrainConfig, Trainer

    g = conditional_rbm()
    r = np.random.default_rng(0)
    U = (r.random((40, 3)) < 0.5).astype(float)
    V = (r.random((40, 4)) < 0.5).astype(float)
    t = Trainer(g, {"u": U, "v": V}, TrainConfig(method="pcd", batch_size=40, dtype="float64", seed=1))
    # the negative chains draw the hidden layer last (its conditional means come from that draw's fields)
    assert "u" not in t.model.free and [b.describe(g) for b in t.model.blocks] == ["v", "h"]
    batch = {"u": U, "v": V}
    pos_states = t._positive(batch)[1]
    assert np.array_equal(pos_states["u"], U)
    t._negative(batch)
    assert np.array_equal(t.model.get_states()["u"], U)
    # each negative chain samples P(v, h | its own u): compare with exact conditional means
    rows = [0, 1, 2, 3]
    sums, n = np.zeros((40, 7)), 0
    for _ in range(600):
        t.neg.sweep(1)
        st = t.model.get_states()
        sums += np.concatenate([st["v"], st["h"]], axis=1)
        n += 1
    assert np.array_equal(t.model.get_states()["u"], U)
    for k in rows:
        ex = exact(g, clamp={"u": U[k]})
        # 600 correlated sweeps of one chain: a generous 0.15 (the sd of a binary mean over ~150
        # effective draws is at most 0.041; 0.15 is 3.6 of those)
        assert np.abs(sums[k] / n - ex.mean).max() < 0.15


def test_input_gradients_are_natural_parameters_of_the_input_group():
    """d(-E)/du per chain is the input group's linear slot: the gradient an RNN would receive."""
    g = conditional_rbm(input_units="real")
    r = np.random.default_rng(2)
    st = {"u": r.random((3, 3)), "v": (r.random((3, 4)) < 0.5) * 1.0, "h": (r.random((3, 3)) < 0.5) * 1.0}
    model = CompiledModel(g, 3, dtype="float64", clamp={"u": st["u"]}, init={k: st[k] for k in "vh"})
    slot = model.backend.to_numpy(model.field("u")["linear"])
    eps = 1e-6
    for i in range(3):
        up, down = {**st, "u": st["u"].copy()}, {**st, "u": st["u"].copy()}
        up["u"][:, i] += eps
        down["u"][:, i] -= eps
        fd = -(g.energy(up) - g.energy(down)) / (2 * eps)
        assert np.allclose(slot[:, i], fd, atol=1e-8)


@pytest.mark.parametrize("build", [small_dbn, pooling_graph, gb_rbm], ids=["dbn", "max-pooling", "gb-rbm"])
def test_ais_brackets_exact_log_z_with_directed_joint_and_gaussian_parts(build):
    """Directed layers are dropped (their tables sum to 1), max-pooling blocks start uniform over their
    n + 1 states, Gaussian visibles start from a fitted normal."""
    from pgboltz.estimators import ais, base_rate_biases

    g = build()
    lz = exact(g, second_moments=False).log_z
    r = np.random.default_rng(0)
    vis = g.group("v")
    data = r.normal(size=(200, vis.size)) if vis.units.support is None else (r.random((200, vis.size)) < 0.4) * 1.0
    res = ais(g, base_rate_biases(g, {"v": data}), runs=200, betas=np.linspace(0, 1, 2000), seed=1,
              dtype="float64")
    assert res.lower <= lz <= res.upper and abs(res.log_z - lz) < 0.1, (res, lz)


def test_joint_sets_and_directed_graphs_refuse_what_would_break_them():
    from pgboltz import DataError, ScheduleError

    g = pooling_graph()
    with pytest.raises(ScheduleError, match="clamp all of them or none"):
        GibbsSampler(g, chains=2, clamp={"p": np.zeros((1, 2, 2))}, blocks=[["d", "h2"], ["v"]])
    with pytest.raises(DataError, match="directed factors, which are conditional tables at beta = 1"):
        GibbsSampler(small_dbn(), chains=2, beta=0.5)


def test_the_covariance_pooling_matrix_stays_non_negative_in_training():
    from pgboltz.learning import OptimConfig, TrainConfig, Trainer

    g = covariance_rbm()
    data = np.random.default_rng(0).normal(size=(100, 3))
    t = Trainer(g, {"x": data}, TrainConfig(batch_size=50, epochs=1, dtype="float64", optim=OptimConfig(lr=1.0)))
    t.opt.step([{}, {}, {"C": np.zeros((3, 4)), "P": np.full((4, 2), -100.0)}, {}], 0)
    assert t.model.params[2]["P"].min() == 0.0


def test_per_chain_biases_from_an_input_group_of_real_units():
    """The RNN-RBM's emitted biases: a real input group shifts v unit by unit, chain by chain."""
    from pgboltz import Bias, Dense, FactorGraph
    from pgboltz.factors import Shift

    r = np.random.default_rng(4)
    g = FactorGraph("emitted-biases")
    g.add_group("bv", 4, "real", "input")
    g.add_group("v", 4, role="visible")
    g.add_group("h", 3)
    g.add_factor(Shift("bv", "v"))
    g.add_factor(Dense("v", "h", r.normal(0, 0.8, (4, 3))))
    g.add_factor(Bias("h", r.normal(0, 0.5, 3)))
    bias = r.normal(0, 1.5, (5, 4))
    model = CompiledModel(g, 5, dtype="float64", seed=0, clamp={"bv": bias})
    st = model.get_states()
    W = g.factors[1].params["W"]
    assert np.allclose(model.backend.to_numpy(model.field("v")["linear"]), bias + st["h"] @ W.T, atol=1e-12)
    assert np.allclose(model.backend.to_numpy(model.field("bv")["linear"]), st["v"].reshape(5, 4))
    # sampling with one chain's biases against the exact conditional distribution
    ex = exact(g, clamp={"bv": bias[2]})
    m = GibbsSampler(g, chains=3000, seed=1, dtype="float64", clamp={"bv": bias[2]}).run(
        300, burn_in=100, groups=["v", "h"], batches=100).moments
    assert (np.abs(m.flat_mean() - ex.mean) / m.flat_mean_se()).max() < family_z_limit(7)


def test_sampling_with_input_groups_left_unset_is_refused():
    """Inputs condition every chain: a sampler whose inputs were never given refuses to sweep (instead of
    conditioning on placeholder values) and says how to give them; given either way, it samples."""
    from pgboltz import DataError, GibbsSampler

    g = conditional_rbm()
    s = GibbsSampler(g, chains=5, seed=0)
    for run in (lambda: s.sweep(1), lambda: s.model.mean_field(3), lambda: s.model.draw(["h"])):
        with pytest.raises(DataError, match=r"input group\(s\) u have no values.*clamp=.*set_states"):
            run()
    s.set_states({"u": np.ones(3)})
    s.sweep(2)
    GibbsSampler(g, chains=5, seed=0, clamp={"u": np.zeros(3)}).sweep(2)
    GibbsSampler(g, chains=5, seed=0, init={"u": np.zeros(3)}).sweep(2)
