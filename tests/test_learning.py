"""Learning: exact gradients, stochastic gradients, tempering, training on digits, checkpoints."""

import numpy as np
import pytest

from pgboltz import GibbsSampler
from pgboltz.checkpoint import CheckpointError
from pgboltz.exact import exact, log_z
from pgboltz.learning import OptimConfig, Tempering, TrainConfig, Trainer, exact_gradient, swap_log_ratio
from pgboltz.models import boltzmann_machine, rbm
from pgboltz.verify import family_z_limit

from .builders import GRAPH_BUILDERS, mixed_graph


def exact_log_likelihood_by_clamping(g, v, visible="v"):
    lz = exact(g, second_moments=False).log_z
    return np.mean([exact(g, clamp={visible: x}, second_moments=False).log_z for x in v]) - lz


def _set_param(f, k, idx, value):
    f.params[k][idx] = value
    if f.kind == "dense" and f.intra:
        f.params[k][idx[::-1]] = value


@pytest.mark.parametrize("name", ["rbm", "general-bm", "mixed"])
def test_exact_gradient_equals_finite_differences(name):
    g = {"rbm": rbm(5, 4, scale=0.5, seed=1), "general-bm": boltzmann_machine(4, 3, seed=2),
         "mixed": mixed_graph()}[name]
    r = np.random.default_rng(0)
    n_v = g.group("v").size
    v = (r.random((5, n_v)) < 0.5).astype(float)
    grads = exact_gradient(g, {"v": v})
    eps, worst = 1e-5, 0.0
    for f, gr in zip(g.factors, grads):
        for k, G in gr.items():
            for idx in list(np.ndindex(f.params[k].shape))[:8]:
                if f.kind == "dense" and f.intra and idx[0] == idx[1]:
                    continue
                old = f.params[k][idx]
                _set_param(f, k, idx, old + eps)
                up = exact_log_likelihood_by_clamping(g, v)
                _set_param(f, k, idx, old - eps)
                down = exact_log_likelihood_by_clamping(g, v)
                _set_param(f, k, idx, old)
                worst = max(worst, abs((up - down) / (2 * eps) - G[idx]))
    assert worst < 1e-6


@pytest.mark.parametrize("name, chains, repeats", [("rbm", 20000, 1), ("general-bm", 200, 40)])
def test_training_statistics_estimate_the_exact_gradient(name, chains, repeats):
    """The trainer's positive and negative phases, averaged, give the exact gradient.

    Statistics are means of values in [0, 1]: their standard deviation is at most 0.5, so the
    standard error is at most 0.5 / sqrt(samples); we allow 4 of them on each side.
    """
    g = rbm(5, 4, scale=0.5, seed=1) if name == "rbm" else boltzmann_machine(4, 3, seed=2)
    v = (np.random.default_rng(0).random((200, g.group("v").size)) < 0.5).astype(float)
    ex = exact_gradient(g, {"v": v})
    t = Trainer(g, {"v": v}, TrainConfig(method="pcd", batch_size=200, chains=chains, dtype="float64",
                                         positive_sweeps=30, seed=3))
    t.neg.sweep(300)
    pos = None
    for _ in range(repeats):
        p = t._positive({"v": v})[0]
        pos = p if pos is None else [{k: a[k] + b[k] for k in a} for a, b in zip(pos, p)]
    pos = [{k: x / repeats for k, x in d.items()} for d in pos]
    neg = t._negative({"v": v})
    tol = 4 * 0.5 / np.sqrt(chains) + (4 * 0.5 / np.sqrt(200 * repeats) if t.pos is not None else 0.0)
    for e, p, q in zip(ex, pos, neg):
        for k in e:
            assert np.abs(e[k] - (p[k] - q[k])).max() < tol, (k, np.abs(e[k] - (p[k] - q[k])).max(), tol)


def test_swap_acceptance_matches_the_metropolis_ratio():
    g = GRAPH_BUILDERS["ising-4x4-periodic"]()
    n = 20000
    s = GibbsSampler(g, chains=2 * n, seed=0, dtype="float64")
    betas = np.array([1.0, 0.6])
    pt = Tempering(s, betas, np.random.default_rng(1))
    e = s.energy()
    log_r = swap_log_ratio(1.0, 0.6, e[pt.chain_at[0]], e[pt.chain_at[1]])
    assert np.allclose(log_r, 0.4 * (e[:n] - e[n:]))
    expected = np.minimum(1.0, np.exp(log_r))
    before = pt.chain_at.copy()
    pt.swap()
    swapped = pt.chain_at[0] != before[0]
    # each slot is a Bernoulli(expected) draw: compare the count with its mean and standard error
    assert abs(swapped.sum() - expected.sum()) < 4 * np.sqrt((expected * (1 - expected)).sum())
    assert np.all(pt.chain_at[1][swapped] == before[0][swapped])
    beta = s.beta
    assert np.all(beta[pt.chain_at[0]] == 1.0) and np.all(beta[pt.chain_at[1]] == 0.6)


def test_parallel_tempering_samples_a_spin_glass_that_plain_gibbs_does_not():
    """N(0, 1) couplings on a 4x4 torus: single-site Gibbs stays trapped for thousands of sweeps."""
    from pgboltz.models import ising

    r5, r6 = np.random.default_rng(5), np.random.default_rng(6)
    g = ising(4, 4, J=(r5.normal(size=(4, 4)), r6.normal(size=(4, 4))), field=0.2)
    ex = exact(g)
    n, K = 2000, 8
    s = GibbsSampler(g, chains=n * K, seed=2, dtype="float64")
    pt = Tempering(s, np.geomspace(1.0, 0.1, K), np.random.default_rng(3))
    records = []
    for sweep in range(1200):
        s.sweep(1)
        pt.swap()
        if sweep >= 200 and sweep % 5 == 0:
            records.append(s.get_states()["s"].reshape(n * K, -1)[pt.chain_at[0]].mean(axis=0))
    batches = np.array(records).reshape(20, -1, 16).mean(axis=1)  # 20 batches of consecutive records
    mean, se = batches.mean(axis=0), batches.std(axis=0, ddof=1) / np.sqrt(20)
    z = np.abs(mean - ex.mean) / se
    assert z.max() < family_z_limit(16, batches=20)
    plain = GibbsSampler(g, chains=n, seed=2, dtype="float64").run(1000, burn_in=200, batches=100).moments
    assert (np.abs(plain.flat_mean() - ex.mean) / plain.flat_mean_se()).max() > 10


@pytest.fixture(scope="module")
def digits_rbm():
    from pgboltz import data
    from pgboltz.specs import load

    d = data.digits()
    g = load("rbm-digits")
    # A linearly decaying rate: at a constant 0.1 the 30th epoch lands anywhere between -22 and -23.4 nats
    # depending on rounding (float32 vs float64 parameters); decayed, seeds 0-2 all give -22.1 +- 0.03.
    t = Trainer(g, d.for_graph(g), TrainConfig(method="pcd", epochs=30, batch_size=100,
                                               optim=OptimConfig(lr=0.1, schedule="linear")), d.for_graph(g, "test"))
    t.fit()
    return g, d


def test_pcd_on_digits_beats_the_base_rate_model(digits_rbm):
    from pgboltz.estimators import evaluate

    g, d = digits_rbm
    e = evaluate(g, d.for_graph(g, "test"), d.for_graph(g))
    assert e.method == "exact"
    assert e.log_likelihood > e.base_rate + 2.0, (e.log_likelihood, e.base_rate)


def test_ais_brackets_the_exact_log_z_of_a_trained_digits_rbm(digits_rbm):
    from pgboltz.estimators import ais, base_rate_biases

    g, d = digits_rbm
    lz = log_z(g)
    base = base_rate_biases(g, d.for_graph(g))
    fwd = ais(g, base, runs=100, seed=0)  # the default schedule: 14500 betas
    assert fwd.lower <= lz <= fwd.upper and abs(fwd.log_z - lz) < 0.2, (fwd, lz)
    s = GibbsSampler(g, chains=100, seed=1, dtype="float64", init={"v": d.for_graph(g)["v"][:100]})
    s.sweep(1000)
    rev = ais(g, base, runs=100, seed=2, reverse_from=s.get_states())
    assert rev.lower <= lz <= rev.upper and abs(rev.log_z - lz) < 0.2, (rev, lz)


@pytest.mark.parametrize("method", ["cd", "pcd", "pt"])
def test_resume_repeats_an_uninterrupted_run_bit_for_bit(method, tmp_path):
    from pgboltz import data
    from pgboltz.specs import load

    d = data.digits()
    cfg = dict(method=method, k=2, epochs=4, batch_size=100, temperatures=3, chains=60 if method != "cd" else None,
               optim=OptimConfig(lr=0.05, sparsity_target=0.1))
    g1 = load("rbm-digits")
    Trainer(g1, d.for_graph(g1), TrainConfig(**cfg)).fit()
    g2 = load("rbm-digits")
    t2 = Trainer(g2, d.for_graph(g2), TrainConfig(**cfg))
    t2.fit(2)
    t2.save(tmp_path / "ck.npz")
    t3 = Trainer.resume(tmp_path / "ck.npz", d.for_graph(g2))
    assert t3.epoch == 2 and len(t3.history) == 2
    t3.fit()
    for f1, f3 in zip(g1.factors, t3.graph.factors):
        for k in f1.params:
            assert np.array_equal(f1.params[k], f3.params[k]), (method, f1.label, k)


def test_bad_checkpoints_are_refused_clearly(tmp_path):
    from pgboltz.io import save_npz_atomic

    with pytest.raises(CheckpointError, match="no such checkpoint"):
        Trainer.resume(tmp_path / "missing.npz", {"v": np.zeros((1, 1))})
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        Trainer.resume(junk, {"v": np.zeros((1, 1))})
    save_npz_atomic(tmp_path / "plain.npz", {"x": np.zeros(3)})
    with pytest.raises(CheckpointError, match="not a pgboltz checkpoint"):
        Trainer.resume(tmp_path / "plain.npz", {"v": np.zeros((1, 1))})
    save_npz_atomic(tmp_path / "other.npz", {"x": np.zeros(3)}, {"format": "something-else"})
    with pytest.raises(CheckpointError, match="expected 'pgboltz-checkpoint-1'"):
        Trainer.resume(tmp_path / "other.npz", {"v": np.zeros((1, 1))})
    g = rbm(6, 3)
    data = (np.random.default_rng(0).random((40, 6)) < 0.5).astype(float)
    t = Trainer(g, {"v": data}, TrainConfig(batch_size=10, epochs=1))
    t.fit()
    t.save(tmp_path / "ok.npz")
    with pytest.raises(CheckpointError, match="trained on 40 examples, but 20 were given"):
        Trainer.resume(tmp_path / "ok.npz", {"v": data[:20]})
    # a checkpoint whose optimiser state was cut out
    with np.load(tmp_path / "ok.npz") as z:
        arrays = {k: z[k] for k in z.files if not k.startswith("optim/")}
    import json

    meta = json.loads(str(arrays.pop("meta")))
    save_npz_atomic(tmp_path / "cut.npz", arrays, meta)
    with pytest.raises(CheckpointError, match="does not match"):
        Trainer.resume(tmp_path / "cut.npz", {"v": data})


def test_general_bm_trains_with_a_progress_bar():
    """No reconstruction error exists for a BM with lateral couplings; the progress bar copes."""
    g = boltzmann_machine(4, 3, seed=1)
    data = (np.random.default_rng(0).random((20, 4)) < 0.5).astype(float)
    history = Trainer(g, {"v": data}, TrainConfig(batch_size=10, epochs=2)).fit(progress=True)
    assert [m["epoch"] for m in history] == [1, 2] and history[-1]["reconstruction_error"] is None


def test_training_refuses_bad_data_and_settings():
    from pgboltz import DataError

    g = rbm(4, 2)
    with pytest.raises(DataError, match="values must be 0 or 1"):
        Trainer(g, {"v": np.full((10, 4), 0.5)})
    with pytest.raises(DataError, match="fewer than one batch"):
        Trainer(g, {"v": np.zeros((5, 4))}, TrainConfig(batch_size=10))
    with pytest.raises(ValueError, match="method must be one of cd, pcd, pt"):
        TrainConfig(method="sgd")
    with pytest.raises(ValueError, match="schedule must be one of"):
        OptimConfig(schedule="cosine")


# -- gaps found by planting bugs: each of these failed to catch one ---------------------------------------------

def test_weight_decay_leaves_biases_alone_and_shrinks_couplings():
    g = rbm(4, 3, scale=0.5, seed=2)
    t = Trainer(g, {"v": np.zeros((10, 4))}, TrainConfig(batch_size=10, optim=OptimConfig(lr=0.1, weight_decay=0.5,
                                                                                           momentum=0.0)))
    before = [{k: v.copy() for k, v in p.items()} for p in t.model.params]
    t.opt.step([{k: np.zeros_like(v) for k, v in p.items()} for p in t.model.params], 0)
    W0, W1 = before[0]["W"], t.model.params[0]["W"]
    assert np.allclose(W1, W0 * (1 - 0.1 * 0.5))
    for k in (1, 2):  # the two bias factors
        assert np.array_equal(t.model.params[k]["b"], before[k]["b"])


def test_the_sparsity_target_pulls_hidden_biases_towards_it():
    g = rbm(4, 3, scale=0.5, seed=2)
    t = Trainer(g, {"v": np.zeros((10, 4))}, TrainConfig(batch_size=10, optim=OptimConfig(
        lr=0.1, weight_decay=0.0, momentum=0.0, sparsity_target=0.1, sparsity_cost=1.0)))
    c0 = t.model.params[2]["b"].copy()
    zero = [{k: np.zeros_like(v) for k, v in p.items()} for p in t.model.params]
    t.opt.step(zero, 0, {"h": np.full(3, 0.9)})  # too active: biases must go down by lr * (0.1 - 0.9)
    assert np.allclose(t.model.params[2]["b"], c0 + 0.1 * (0.1 - 0.9))
    assert np.array_equal(t.model.params[1]["b"], np.zeros(4))  # visible biases: no sparsity term


def test_parallel_tempering_statistics_estimate_the_exact_gradient():
    """The negative phase must use the beta = 1 chains only (a planted bug used the hottest ones)."""
    g = rbm(5, 4, scale=0.8, seed=3)
    v = (np.random.default_rng(0).random((200, 5)) < 0.5).astype(float)
    ex = exact_gradient(g, {"v": v})
    chains = 20000
    t = Trainer(g, {"v": v}, TrainConfig(method="pt", batch_size=200, chains=chains, temperatures=3, beta_min=0.3,
                                         dtype="float64", seed=4))
    t.neg.sweep(200)
    pos = t._positive({"v": v})[0]
    neg = t._negative({"v": v})
    tol = 4 * 0.5 / np.sqrt(chains)  # statistics in [0, 1]: sd <= 0.5, from `chains` cold chains
    for e, p, q in zip(ex, pos, neg):
        for k in e:
            assert np.abs(e[k] - (p[k] - q[k])).max() < tol


def test_training_a_general_bm_keeps_lateral_diagonals_zero_and_conditionals_exact():
    from pgboltz.exact import PgmpyOracle
    from pgboltz.verify import check_conditionals

    g = boltzmann_machine(4, 3, seed=1)
    data = (np.random.default_rng(0).random((40, 4)) < 0.5).astype(float)
    Trainer(g, {"v": data}, TrainConfig(batch_size=20, epochs=5, optim=OptimConfig(lr=0.2))).fit()
    for f in g.factors:
        if f.kind == "dense" and f.intra:
            assert np.all(np.diag(f.params["W"]) == 0) and np.allclose(f.params["W"], f.params["W"].T)
    assert check_conditionals(g, PgmpyOracle(g), n_states=2, seed=0) < 1e-9


def test_pt_resume_restores_the_swap_parity_with_an_odd_number_of_swaps(tmp_path):
    """3 batches x k=1: the exchange parity is odd at the epoch boundary and must survive a checkpoint."""
    data = {"v": (np.random.default_rng(1).random((30, 6)) < 0.5).astype(float)}
    cfg = dict(method="pt", k=1, epochs=2, batch_size=10, temperatures=3, chains=12)
    g1 = rbm(6, 4, scale=0.3)
    Trainer(g1, data, TrainConfig(**cfg)).fit()
    g2 = rbm(6, 4, scale=0.3)
    t2 = Trainer(g2, data, TrainConfig(**cfg))
    t2.fit(1)
    assert t2.tempering.parity == 1
    t2.save(tmp_path / "pt.npz")
    t3 = Trainer.resume(tmp_path / "pt.npz", data)
    assert t3.tempering.parity == 1
    t3.fit()
    for f1, f3 in zip(g1.factors, t3.graph.factors):
        for k in f1.params:
            assert np.array_equal(f1.params[k], f3.params[k])


def test_ais_draws_the_first_block_from_the_fields_its_weights_already_computed(monkeypatch):
    """Reusing the summed group's fields (one product less per beta) changes no draw: the log weights
    are bitwise those of a plain sweep, for an RBM and for a DBM summing out its odd layer."""
    import sys

    from pgboltz.estimators import ais, base_rate_biases
    from pgboltz.models import dbm, rbm

    import pgboltz.model as model

    A = sys.modules["pgboltz.estimators.ais"]
    orig, sample, whole = A._Path.transition, model._PartUpdate.sample, model._PartUpdate.sample_whole
    given = []

    def counting(self, k, rows, fields=None, mean=None):  # many chains: chunk by chunk
        given.append((self.group, fields is not None))
        return sample(self, k, rows, fields, mean)

    def counting_whole(self, chunks, fields=None, mean=None):  # few chains: all at once
        given.append((self.group, fields is not None))
        return whole(self, chunks, fields, mean)

    monkeypatch.setattr(model._PartUpdate, "sample", counting)
    monkeypatch.setattr(model._PartUpdate, "sample_whole", counting_whole)
    for g in (rbm(12, 8, seed=0, scale=0.5), dbm([10, 6, 4], seed=1, scale=0.5)):
        data = (np.random.default_rng(0).random((50, 12 if g.name == "rbm" else 10)) < 0.3) * 1.0
        base = base_rate_biases(g, {"v": data})
        weights = []
        for reuse in (True, False):
            given.clear()
            monkeypatch.setattr(A._Path, "transition", lambda self, b, reuse=reuse: orig(self, b, reuse))
            weights.append(ais(g, base, runs=20, betas=np.linspace(0, 1, 40), seed=2).log_weights)
            summed = "h" if g.name == "rbm" else "h1"
            # the summed group drew from the given fields at every beta exactly when reusing
            assert {took for grp, took in given if grp == summed} == {reuse}
        assert np.array_equal(weights[0], weights[1])


@pytest.mark.parametrize("k, batch", [(1, 20000), (2, 20000), (1, 200)])
def test_cd_statistics_estimate_the_exact_cd_expectation(k, batch):
    """CD-k's negative statistics, with the first hidden states drawn from the positive phase's fields and the
    last conditional means taken from the chains' final draw, average to the exact CD-k expectation:
    h0 ~ p(h | v0), then k times v ~ p(v | h), h ~ p(h | v), statistics at (v_k, E[h | v_k])."""
    import itertools

    from pgboltz.model import float64_model

    g = rbm(4, 3, scale=1.0, seed=6)
    g.factors[1].params["b"][...] = [0.3, -0.5, 0.2, 0.0]
    g.factors[2].params["b"][...] = [-0.2, 0.4, 0.1]
    W, b, c = g.factors[0].params["W"], g.factors[1].params["b"], g.factors[2].params["b"]
    sig = lambda a: 1.0 / (1.0 + np.exp(-a))  # noqa: E731
    V = np.array(list(itertools.product([0.0, 1.0], repeat=4)))
    H = np.array(list(itertools.product([0.0, 1.0], repeat=3)))

    def bern(p, X):  # P(X rows | independent probabilities p), for each row of p
        return np.prod(np.where(X[None], p[:, None], 1 - p[:, None]), axis=2)

    T_hv = bern(sig(H @ W.T + b), V)  # T_hv[i, j] = P(v_j | h_i)
    T_vh = bern(sig(V @ W + c), H)    # T_vh[j, i] = P(h_i | v_j)
    data = V[[3, 5, 10, 15]]
    n = 20000
    rows = np.repeat(data, n // len(data), axis=0)
    p_v = np.zeros(len(V))  # distribution of v_k, averaged over the data rows
    for v0 in data:
        p_h = bern(sig(v0[None] @ W + c), H)[0]
        for step in range(k):
            pv = p_h @ T_hv
            p_h = pv @ T_vh
        p_v += pv / len(data)
    exact_neg = float64_model(g, len(V)).statistics({"v": V, "h": sig(V @ W + c)}, p_v)

    t = Trainer(g, {"v": rows}, TrainConfig(method="cd", k=k, batch_size=batch, dtype="float64", seed=2))
    assert t.fields_reused and t.model._whole == (batch < 256)
    neg = None
    for r in range(n // batch):  # CD restarts at the data: every batch gives independent chains
        part = {"v": rows[r::n // batch]}
        _, _, fields = t._positive(part)
        q = t._negative(part, fields)
        neg = q if neg is None else [{key: a[key] + d[key] for key in a} for a, d in zip(neg, q)]
    neg = [{key: x * batch / n for key, x in d.items()} for d in neg]
    # statistics in [0, 1]: sd <= 0.5 over n independent chains; the limit accounts for all of them at once
    m = sum(x.size for d in exact_neg for x in d.values())
    tol = family_z_limit(m) * 0.5 / np.sqrt(n)
    for e, q in zip(exact_neg, neg):
        for key in e:
            assert np.abs(e[key] - q[key]).max() < tol, (key, np.abs(e[key] - q[key]).max(), tol)
