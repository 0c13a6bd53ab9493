"""Conditional RBM and RNN-RBM: conditionals given a clamped history against pgmpy, Gibbs frames
against exact conditional distributions, the RNN-RBM's back-propagated gradient against finite
differences of the enumerated sequence log-likelihood, exact conditional log Z, generation."""

import numpy as np
import pytest

from pgboltz import DataError, GibbsSampler, GraphError
from pgboltz.conditionals import conditional_prob
from pgboltz.estimators import conditional_log_likelihood, conditional_log_z
from pgboltz.exact import PgmpyOracle, exact
from pgboltz.learning import OptimConfig, RNNRBMTrainer, SequenceConfig, load_rnn_rbm
from pgboltz.models import RNNRBM, crbm, frame_accuracy, lag_windows, linear_ar
from pgboltz.models.conditional import generate, predict_next
from pgboltz.verify import family_z_limit


def _binary_crbm(seed=0):
    g = crbm(3, 3, order=2, seed=seed, scale=0.9)
    r = np.random.default_rng(seed + 10)
    for f in g.factors:  # non-zero biases too
        if f.kind == "bias":
            f.params["b"][...] = r.normal(0, 0.6, f.params["b"].shape)
    return g


def _history(seed=1):
    r = np.random.default_rng(seed)
    return {"lag1": (r.random(3) < 0.5) * 1.0, "lag2": (r.random(3) < 0.5) * 1.0}


# -- conditional RBM -------------------------------------------------------------------------------------------

def test_crbm_is_an_rbm_whose_history_groups_are_clamped_inputs():
    g = crbm(5, 4, order=3, units="gaussian")
    assert g.inputs == ["lag1", "lag2", "lag3"] and g.visible == ["v"]
    assert [f.name for f in g.factors if f.kind == "dense"] == ["W", "A1", "B1", "A2", "B2", "A3", "B3"]
    s = GibbsSampler(g, chains=2, clamp={f"lag{k}": np.zeros(5) for k in (1, 2, 3)})
    assert [b.describe(g) for b in s.blocks] == ["h", "v"]  # the history is never scheduled
    with pytest.raises(GraphError, match="units must be one of"):
        crbm(3, 2, units="spin")
    with pytest.raises(GraphError, match="order must be a positive integer"):
        crbm(3, 2, order=0)


def test_crbm_conditionals_given_a_clamped_history_equal_pgmpy():
    g = _binary_crbm()
    hist = _history()
    oracle = PgmpyOracle(g, clamp=hist)
    r = np.random.default_rng(3)
    for _ in range(4):
        st = {"v": (r.random((1, 3)) < 0.5) * 1.0, "h": (r.random((1, 3)) < 0.5) * 1.0,
              **{k: x[None] for k, x in hist.items()}}
        for grp, other in (("v", "h"), ("h", "v")):
            p = conditional_prob(g, st, grp)[0]
            rest = {g.group(other).unit_name(i): st[other][0, i] for i in range(3)}
            rest.update({g.group(grp).unit_name(j): st[grp][0, j] for j in range(3)})
            for i in range(3):
                name = g.group(grp).unit_name(i)
                q = oracle.conditional(oracle.variable_of(name)[0], {k: x for k, x in rest.items() if k != name})
                assert abs(p[i] - q[1]) < 1e-9


def test_crbm_gibbs_frames_follow_the_exact_conditional_distribution_of_the_current_frame():
    g = _binary_crbm(2)
    hist = _history(5)
    oracle = PgmpyOracle(g, clamp=hist)
    names = [oracle.variable_of(g.group("v").unit_name(i))[0] for i in range(3)]
    exact_p = oracle.joint(names).reshape(-1)  # p(v | history), v[0] slowest
    chains = 6000
    s = GibbsSampler(g, chains=chains, seed=7, dtype="float64", clamp=hist)
    s.sweep(60)  # independent chains: 6000 independent draws of the frame
    v = s.get_states()["v"].astype(int)
    freq = np.bincount(v @ np.array([4, 2, 1]), minlength=8) / chains
    z = (freq - exact_p) / np.sqrt(exact_p * (1 - exact_p) / chains)
    assert np.abs(z).max() < family_z_limit(8), (freq, exact_p)


def test_gaussian_crbm_prediction_is_the_exact_conditional_mean():
    g = crbm(3, 4, order=2, units="gaussian", seed=3, scale=0.7)
    r = np.random.default_rng(4)
    g.factors[0].params["log_sigma"][...] = np.log([0.8, 1.0, 1.3])
    hist = {"lag1": r.normal(size=3), "lag2": r.normal(size=3)}
    ex = exact(g, clamp=hist, second_moments=False).mean_of(g, "v")
    rows = 2000
    pred = predict_next(g, {k: np.tile(x, (rows, 1)) for k, x in hist.items()}, sweeps=30, burn_in=30, seed=1)
    se = pred.std(axis=0, ddof=1) / np.sqrt(rows)
    assert (np.abs(pred.mean(axis=0) - ex) / se).max() < family_z_limit(3)


def test_lag_windows_line_up_each_frame_with_its_past():
    a = np.arange(10.0).reshape(5, 2)
    b = 100 + np.arange(6.0).reshape(3, 2)
    d = lag_windows([a, b, b[:2]], order=2)  # the 2-frame sequence gives no window
    assert d["v"].tolist() == [[4, 5], [6, 7], [8, 9], [104, 105]]
    assert d["lag1"].tolist() == [[2, 3], [4, 5], [6, 7], [102, 103]]
    assert d["lag2"].tolist() == [[0, 1], [2, 3], [4, 5], [100, 101]]
    with pytest.raises(DataError, match="no sequence has more than 5 frames"):
        lag_windows([a], order=5)


def test_linear_ar_recovers_a_known_autoregression():
    r = np.random.default_rng(0)
    M1, M2 = np.array([[0.5, 0.2], [-0.1, 0.4]]), np.array([[0.2, 0.0], [0.1, -0.3]])
    x = np.zeros((3000, 2))
    for t in range(2, 3000):
        x[t] = x[t - 1] @ M1 + x[t - 2] @ M2 + 0.1 + r.normal(0, 0.1, 2)
    d = lag_windows([x], 2)
    pred = linear_ar(d, 2)(d)
    # the residual is the innovation: variance 0.01 (to sampling error)
    assert abs(((pred - d["v"]) ** 2).mean() - 0.01) < 0.001


def test_generation_feeds_back_its_own_frames_and_refuses_bad_histories():
    g = _binary_crbm()
    hist = (np.random.default_rng(0).random((4, 2, 3)) < 0.5) * 1.0
    out = generate(g, hist, frames=5, gibbs_steps=3, seed=2)
    assert out.shape == (4, 5, 3) and set(np.unique(out)) <= {0.0, 1.0}
    assert np.array_equal(out, generate(g, hist, frames=5, gibbs_steps=3, seed=2))
    with pytest.raises(DataError, match="history"):
        generate(g, hist[:, :1], frames=2)
    with pytest.raises(DataError, match="final = 'mean'"):
        generate(g, hist, frames=2, final="mean")
    gg = crbm(3, 2, order=1, units="gaussian")
    real = generate(gg, np.zeros((1, 3)), frames=3, gibbs_steps=2)
    assert real.shape == (1, 3, 3) and np.all(np.isfinite(real))


def test_crbm_trains_on_windows_and_beats_copying_the_last_frame():
    from pgboltz.learning import OptimConfig, TrainConfig, Trainer

    r = np.random.default_rng(0)
    t = np.arange(1500)
    x = np.stack([np.sin(0.15 * t + p) for p in (0.0, 1.0, 2.0)], 1) + 0.05 * r.normal(size=(1500, 3))
    x = (x - x.mean(0)) / x.std(0)
    g = crbm(3, 8, order=2, units="gaussian", seed=0)
    tr = Trainer(g, lag_windows([x[:1200]], 2), TrainConfig(method="cd", epochs=20, batch_size=100, dtype="float64",
                                                            optim=OptimConfig(lr=0.01, momentum=0.9, weight_decay=0)))
    tr.fit()
    test = lag_windows([x[1200:]], 2)
    mse = ((predict_next(g, test, sweeps=20, burn_in=10) - test["v"]) ** 2).mean()
    copy = ((test["lag1"] - test["v"]) ** 2).mean()
    assert mse < 0.6 * copy, (mse, copy)


def test_generation_conditions_each_frame_on_the_frames_it_just_generated(monkeypatch):
    """The lags clamped for frame t are frames t-1 and t-2 of the output (the history for the first ones);
    an RNN-RBM's state for frame t is the RNN stepped on its own frame t-1."""
    from pgboltz.model import CompiledModel

    loaded = []
    original = CompiledModel.set_states

    def record(self, states, expectations=False):
        loaded.append({k: np.array(v, dtype=float) for k, v in states.items()})
        return original(self, states, expectations)

    monkeypatch.setattr(CompiledModel, "set_states", record)
    g = _binary_crbm()
    hist = (np.random.default_rng(0).random((3, 2, 3)) < 0.5) * 1.0
    out = generate(g, hist, frames=4, gibbs_steps=2, seed=1)
    frames = np.concatenate([hist, out], axis=1)  # history then output, (chains, 6, 3)
    clamps = [d for d in loaded if "lag1" in d]
    assert len(clamps) == 4
    for t, d in enumerate(clamps):  # output frame t is frames[:, t + 2]
        assert np.array_equal(d["lag1"], frames[:, t + 1]) and np.array_equal(d["lag2"], frames[:, t])
    loaded.clear()
    m, _ = _rnn_rbm(2)
    gen = m.generate(frames=4, chains=3, gibbs_steps=2, seed=0)
    us = [d["u"] for d in loaded if "u" in d]
    assert len(us) == 4 and not us[0].any()  # u_0 = 0
    for t in range(1, 4):
        assert np.allclose(us[t], m.rnn.step(us[t - 1], gen[:, t - 1]), atol=1e-12)


# -- exact conditional log Z -----------------------------------------------------------------------------------

def test_conditional_log_z_and_log_likelihood_equal_enumeration_row_by_row():
    g = _binary_crbm(4)
    r = np.random.default_rng(6)
    lags = {"lag1": (r.random((5, 3)) < 0.5) * 1.0, "lag2": (r.random((5, 3)) < 0.5) * 1.0}
    lz = conditional_log_z(g, lags)
    v = (r.random((5, 3)) < 0.5) * 1.0
    ll = conditional_log_likelihood(g, {"v": v, **lags}, lz)
    for k in range(5):
        clamp = {n: x[k] for n, x in lags.items()}
        assert abs(lz[k] - exact(g, clamp=clamp, second_moments=False).log_z) < 1e-10
        p = exact(g, clamp={**clamp, "v": v[k]}, second_moments=False).log_z - lz[k]
        assert abs(ll[k] - p) < 1e-10
    with pytest.raises(DataError, match="give exactly its input groups"):
        conditional_log_z(g, {"lag1": lags["lag1"]})


# -- RNN-RBM ---------------------------------------------------------------------------------------------------

def _rnn_rbm(n_factors, seed=1):
    m = RNNRBM.build(4, 3, 3, n_factors=n_factors, seed=seed, scale=0.5)
    r = np.random.default_rng(seed)
    m.rnn.W_uu[...] = r.normal(0, 0.7, m.rnn.W_uu.shape)
    m.rnn.W_vu[...] = r.normal(0, 0.7, m.rnn.W_vu.shape)
    m.rnn.b_u[...] = r.normal(0, 0.3, 3)
    seqs = [(r.random((6, 4)) < 0.5) * 1.0, (r.random((4, 4)) < 0.5) * 1.0]
    return m, seqs


@pytest.mark.parametrize("n_factors", [0, 2], ids=["biases", "biases-and-weights"])
def test_rnn_rbm_gradient_equals_finite_differences_of_the_exact_sequence_log_likelihood(n_factors):
    """Exact phase statistics (every frame's v, h enumerated) back-propagated through time against central
    differences of sum_t log p(v_t | v_<t), itself enumerated; the same for the frame graph's parameters."""
    m, seqs = _rnn_rbm(n_factors)
    t = RNNRBMTrainer(m, seqs, SequenceConfig(dtype="float64", frames_per_batch=16))
    grads, rnn_grads, n = t.gradients(seqs, negative="exact")
    assert n == 10

    def total():
        return m.log_likelihood(seqs).sum()

    def fd(P, eps=1e-6):
        out = np.zeros_like(P)
        for idx in np.ndindex(P.shape):
            old = P[idx]
            P[idx] = old + eps
            a = total()
            P[idx] = old - eps
            b = total()
            P[idx] = old
            out[idx] = (a - b) / (2 * eps)
        return out

    for k, P in m.rnn.params().items():  # central differences: error ~ eps^2 f''' + roundoff 1e-16 / eps
        assert np.abs(rnn_grads[k] * n - fd(P)).max() < 1e-7, k
    for f, gr in zip(m.graph.factors, grads):
        for k, P in f.params.items():
            assert np.abs(np.asarray(gr[k]) * n - fd(P)).max() < 1e-7, (f.name, k)


def test_rnn_rbm_cd_statistics_average_to_the_exact_ones():
    """CD-k from the data with long chains: the negative phase samples p(v, h | u) per frame, so averaged over
    many copies of the same frames the gradient approaches the exact one."""
    m, seqs = _rnn_rbm(2, seed=3)
    copies = seqs * 150
    t = RNNRBMTrainer(m, copies, SequenceConfig(dtype="float64", frames_per_batch=1500, k=30, seed=2))
    exact_g, exact_rnn, _ = t.gradients(copies, negative="exact")
    draws = [t.gradients(copies) for _ in range(10)]
    # each draw averages 1500 frames' CD-30 samples; the 10 draws are independent, so every entry's error
    # is judged against its own standard error (t with 9 degrees of freedom, a family-wise limit)
    n_entries = sum(v.size for v in exact_rnn.values())
    for key in ("W_uu", "W_vu", "b_u"):
        d = np.array([dr[1][key] for dr in draws])
        z = (d.mean(axis=0) - exact_rnn[key]) / (d.std(axis=0, ddof=1) / np.sqrt(len(d)))
        assert np.abs(z).max() < family_z_limit(n_entries, batches=len(d)), (key, z)
    # and the gradient is not trivially small: the exact one is resolved, not lost in the noise
    assert np.linalg.norm(exact_rnn["W_vu"]) > 5 * np.linalg.norm(np.std([dr[1]["W_vu"] for dr in draws], axis=0))


def test_rnn_rbm_generates_binary_frames_and_trains_toward_a_periodic_pattern():
    pattern = np.eye(4)[[0, 1, 2, 3, 2, 1] * 4]  # a deterministic up-down scale: each frame follows from the past
    m = RNNRBM.build(4, 6, 5, seed=0, scale=0.1)
    t = RNNRBMTrainer(m, [pattern] * 8, SequenceConfig(k=5, epochs=100, frames_per_batch=96, dtype="float64", seed=1,
                                                       rnn_lr_scale=1.0,
                                                       optim=OptimConfig(lr=0.1, momentum=0.9, final_momentum=0.9,
                                                                         weight_decay=0)))
    before = m.log_likelihood([pattern]).mean()
    t.fit()
    after = m.log_likelihood([pattern]).mean()
    # a model without recurrence can do no better than the frames' marginal (1/6, 1/3, 1/3, 1/6: -1.33 nats per
    # frame); the RNN-RBM must learn the transitions to come near 0
    assert before < -2.0 and after > -0.5, (before, after)  # before: the base-rate visible bias only
    out = m.generate(frames=7, chains=3, gibbs_steps=5, seed=0)
    assert out.shape == (3, 7, 4) and set(np.unique(out)) <= {0.0, 1.0}
    acc = frame_accuracy(m.predict([pattern], sweeps=20, burn_in=10), pattern)
    assert acc > 0.7


def test_rnn_rbm_resumes_bit_for_bit(tmp_path):
    pattern = np.eye(4)[[0, 1, 2, 3] * 3]
    data = [pattern, pattern[:7]]

    def trainer():
        return RNNRBMTrainer(RNNRBM.build(4, 3, 3, n_factors=2, seed=0, scale=0.1), data,
                             SequenceConfig(k=2, epochs=4, frames_per_batch=16, seed=3))

    full = trainer()
    full.fit()
    half = trainer()
    half.fit(2)
    half.save(tmp_path / "ck.npz")
    resumed = RNNRBMTrainer.resume(tmp_path / "ck.npz", data)
    resumed.fit()
    for a, b in zip(full.graph.factors, resumed.graph.factors):
        for k in a.params:
            assert np.array_equal(a.params[k], b.params[k]), (a.name, k)
    for k, v in full.rnnrbm.rnn.params().items():
        assert np.array_equal(v, resumed.rnnrbm.rnn.params()[k]), k
    loaded = load_rnn_rbm(tmp_path / "ck.npz")
    assert loaded.factored and loaded.n_hidden == 3


def test_frame_accuracy_and_input_errors():
    truth = np.array([[1, 0, 1], [0, 0, 1]])
    pred = np.array([[0.9, 0.7, 0.2], [0.1, 0.1, 0.8]])
    assert frame_accuracy(pred, truth) == pytest.approx(2 / 4)  # TP 2, FP 1, FN 1
    m = RNNRBM.build(3, 2, 2)
    with pytest.raises(DataError, match="expected frames"):
        m.frames([np.zeros((4, 5))])
    with pytest.raises(DataError, match="0 or 1"):
        m.frames([np.full((4, 3), 0.5)])


def test_conditional_ais_brackets_the_exact_log_z_of_every_frame():
    """Each frame's runs start from one base-rate model and keep the frame's RNN state clamped."""
    from pgboltz.estimators import ais, base_rate_biases, conditional_ais

    m = RNNRBM.build(20, 10, 6, n_factors=3, seed=1, scale=0.5)
    r = np.random.default_rng(0)
    m.rnn.W_vu[...] = r.normal(0, 0.5, m.rnn.W_vu.shape)
    frames = m.frames([(r.random((15, 20)) < 0.3) * 1.0 for _ in range(3)])
    lz = conditional_log_z(m.graph, {"u": frames["u"]})
    res = conditional_ais(m.graph, {"u": frames["u"]}, base_rate_biases(m.graph, {"v": frames["v"]}),
                          runs_per_row=20, betas=np.linspace(0, 1, 500), dtype="float64", max_chains=400)
    # 45 frames, each with a +-3 sigma interval from 20 runs (not exactly calibrated: forward AIS weights are
    # skewed), so allow two misses; every estimate must still be close, and misaligned rows miss by ~17 nats
    inside = (res.lower <= lz) & (lz <= res.upper)
    assert inside.sum() >= len(lz) - 2 and np.abs(res.log_z - lz).max() < 0.3
    with pytest.raises(DataError, match="one per run"):
        ais(m.graph, {}, runs=4, inputs={"u": frames["u"][:3]})
    with pytest.raises(GraphError, match="conditional_ais"):
        ais(m.graph, {}, runs=4)
