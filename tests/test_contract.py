"""The contract a new factor kind or unit type plugs into: registry, hooks, versions, specs, checkpoints,
parameters on the backend during training."""

import numpy as np
import pytest

from pgboltz import Dense, GibbsSampler, GraphError, SpecError
from pgboltz.factors import FACTOR_KINDS, Factor, GemmTerm
from pgboltz.graph.serialize import graph_from_dict, graph_to_dict
from pgboltz.graph.spec import spec_to_graph
from pgboltz.model import CompiledModel
from pgboltz.models import rbm

from .builders import (conditional_rbm, covariance_rbm, doubled_rbm, gb_rbm, mixed_graph, pooling_graph, sigmoid_belief_net,
                       small_dbm, small_dbn, threeway_graph)


class CopyingDense(Dense):
    """A kind whose compiled term holds a *copy* of its weights, like the sparse layout does."""

    kind = "test-copying-dense"

    def field_term(self, target, index, params, backend, chains):
        t = super().field_term(target, index, params, backend, chains)
        return GemmTerm(t.source, t.m.copy(), backend, chains, t.m.shape[1], copies_params=True)


def test_every_kind_is_registered_once():
    assert {"bias", "dense", "sparse", "lattice", "quadratic", "threeway", "covariance", "maxpool",
            "directed", "shift", "replicated"} <= set(FACTOR_KINDS)
    assert FACTOR_KINDS["test-copying-dense"] is CopyingDense
    with pytest.raises(GraphError, match="registered twice"):
        type("Again", (Factor,), {"kind": "dense"})


@pytest.mark.parametrize("change", ["set_params", "optimiser"])
def test_a_kind_that_copies_its_weights_never_samples_stale_ones(change):
    """Regression: such a term kept sampling the old weights after a parameter update."""
    from pgboltz import Bias, FactorGraph

    g = FactorGraph("copy")
    g.add_group("v", 3, role="visible")
    g.add_group("h", 2)
    g.add_factor(CopyingDense("v", "h", np.zeros((3, 2))))
    g.add_factor(Bias("h", np.zeros(2)))
    s = GibbsSampler(g, chains=4000, seed=0, dtype="float64", clamp={"v": np.ones(3)})
    new = np.full((3, 2), 2.0)
    if change == "set_params":
        s.set_factor_params(0, W=new)
    else:  # what the optimiser does: write the device array in place, then bump its version
        p = s.model.params[0]
        p["W"] += new
        p.bump()
    s.sweep(1)
    assert s.get_states()["h"].mean() > 0.99  # sigma(6) = 0.998; stale zero weights would give 0.5
    assert np.allclose(s.model.backend.to_numpy(s.model.field("h")["linear"]), 6.0)


def test_sparse_and_lattice_terms_follow_parameter_changes():
    g = mixed_graph()
    m = CompiledModel(g, 3, dtype="float64", seed=0)
    before = m.backend.to_numpy(m.field("s")["linear"]).copy()
    m.set_params(1, w=np.zeros(6))  # the sparse s-s factor
    after = m.backend.to_numpy(m.field("s")["linear"])
    assert not np.allclose(before, after)
    g.factors[1].params["w"][...] = 0.0
    from pgboltz.conditionals import natural_parameters

    assert np.allclose(after, natural_parameters(g, m.get_states(), "s"), atol=1e-12)


ALL_KINDS = [gb_rbm, covariance_rbm, pooling_graph, threeway_graph, sigmoid_belief_net, small_dbn, small_dbm,
             mixed_graph, conditional_rbm, doubled_rbm]


@pytest.mark.parametrize("build", ALL_KINDS, ids=lambda b: b.__name__)
def test_every_kind_round_trips_through_a_checkpoint(build):
    g = build()
    structure, arrays = graph_to_dict(g)
    h = graph_from_dict(structure, arrays)
    assert [f.kind for f in h.factors] == [f.kind for f in g.factors]
    states = {n: grp.units.init_states(np.random.default_rng(0), (5,) + grp.shape) for n, grp in g.groups.items()}
    from pgboltz.verify import random_states

    if all(grp.units.support is not None for grp in g.groups.values()):
        states = random_states(g, 5, np.random.default_rng(0))
    assert np.allclose(g.energy(states), h.energy(states), atol=1e-12)


def test_new_kinds_and_roles_are_written_in_specs():
    doc = {
        "name": "zoo", "seed": 1,
        "groups": [{"name": "u", "shape": [2], "units": "real", "role": "input"},
                   {"name": "x", "shape": [3], "units": "gaussian", "role": "visible"},
                   {"name": "d", "shape": [1, 2, 2]}, {"name": "p", "shape": [1, 1, 1]},
                   {"name": "hc", "shape": [2]}, {"name": "a", "shape": [2]}, {"name": "v", "shape": [2]}],
        "factors": [
            {"kind": "quadratic", "group": "x", "value": 0.0},
            {"kind": "dense", "groups": ["u", "x"], "init": {"dist": "normal", "std": 0.1}},
            {"kind": "covariance", "groups": ["x", "hc"], "factors": 4, "init": {"dist": "normal", "std": 0.3}},
            {"kind": "dense", "groups": ["x", "d"], "init": {"dist": "normal", "std": 0.1}},
            {"kind": "maxpool", "groups": ["d", "p"], "size": 2},
            {"kind": "threeway", "groups": ["p", "hc", "a"], "factors": 2, "init": {"dist": "normal", "std": 0.5}},
            {"kind": "directed", "groups": ["a", "v"], "init": {"dist": "normal", "std": 0.5}},
            {"kind": "shift", "groups": ["u", "a"]},
            {"kind": "replicated", "groups": ["d", "hc"], "copies": 2, "init": {"dist": "normal", "std": 0.1}},
        ],
    }
    g = spec_to_graph(doc)
    assert [f.kind for f in g.factors] == ["quadratic", "dense", "covariance", "dense", "maxpool", "threeway",
                                           "directed", "shift", "replicated"]
    assert g.factors[-1].params["W"].shape == (2, 2) and g.factors[-1].copies == 2
    h = graph_from_dict(*graph_to_dict(g))
    assert [f.kind for f in h.factors] == [f.kind for f in g.factors]
    assert g.factors[2].params["P"].min() >= 0  # pooling weights drawn non-negative
    s = GibbsSampler(g, chains=3, seed=0, clamp={"u": np.zeros(2)})
    s.sweep(2)
    assert s.blocks[-1].describe(g) == "v"  # the directed child comes last
    bad = dict(doc, factors=[{"kind": "maxpool", "groups": ["d", "p"], "value": 1.0}])
    with pytest.raises(SpecError, match=r"factors\[0\]: a maxpool factor has no parameters; remove value"):
        spec_to_graph(bad)
    bad = dict(doc, factors=[{"kind": "threeway", "groups": ["p", "hc"], "factors": 2, "value": 0.0}])
    with pytest.raises(SpecError, match=r"factors\[0\].groups: expected 3 group names"):
        spec_to_graph(bad)
    bad = dict(doc, groups=[{"name": "u", "shape": [2], "units": "real"}], factors=[])
    with pytest.raises(SpecError, match="real units are never sampled"):
        spec_to_graph(bad)


def test_training_steps_keep_parameters_on_the_backend(monkeypatch):
    """An update (positive phase, negative phase, optimiser) copies no parameter to the host; the
    graph's host copy is refreshed only at the end of the epoch (or for checkpoints)."""
    from pgboltz.learning import OptimConfig, TrainConfig, Trainer

    g = rbm(12, 6, scale=0.1)
    data = (np.random.default_rng(0).random((100, 12)) < 0.3).astype(float)
    for method in ("cd", "pcd"):
        t = Trainer(g, {"v": data}, TrainConfig(method=method, batch_size=50, epochs=1,
                                                optim=OptimConfig(lr=0.1, sparsity_target=0.1)))
        host = [{k: v.copy() for k, v in f.params.items()} for f in g.factors]
        device_before = [{k: v.copy() for k, v in p.items()} for p in t.model.params]

        def refuse(*a, **k):
            raise AssertionError("a training step copied an array to the host")

        with monkeypatch.context() as mp:
            mp.setattr(t.be, "to_numpy", refuse)
            mp.setattr(t.model, "pull_params", refuse)
            t._update({"v": t.train_dev["v"][:50]})
        assert all(np.array_equal(f.params[k], host[i][k]) for i, f in enumerate(g.factors) for k in f.params)
        assert not np.array_equal(t.model.params[0]["W"], device_before[0]["W"])
        t.fit()
        assert np.allclose(g.factors[0].params["W"], t.model.params[0]["W"])  # refreshed after the epoch


def test_a_diverging_run_stops_and_keeps_the_last_finite_parameters():
    from pgboltz.learning import OptimConfig, TrainConfig, Trainer, TrainingDiverged

    g = rbm(12, 6, scale=0.1)
    data = (np.random.default_rng(0).random((100, 12)) < 0.3).astype(float)
    t = Trainer(g, {"v": data}, TrainConfig(batch_size=50, epochs=3, optim=OptimConfig(lr=1e30, momentum=0.9)))
    with pytest.raises(TrainingDiverged, match="lower the learning rate"):
        t.fit()
    assert all(np.all(np.isfinite(v)) for f in g.factors for v in f.params.values())


def test_unit_types_own_their_domain():
    from pgboltz.units import unit_type

    b, s, gauss = unit_type("bernoulli"), unit_type("spin"), unit_type("gaussian")
    assert b.storage_dtype == np.int8 and gauss.storage_dtype == np.float32
    assert np.array_equal(s.from_unit_interval(np.array([0.0, 1.0])), [-1.0, 1.0])
    x = np.array([[1.0, -1.0], [1.0, 1.0], [1.0, -1.0]])
    assert np.allclose(s.prob_hi(np, s.base_rate(x, smoothing=0.5)["linear"]), [(3.5) / 4, (1.5) / 4])
    fit = gauss.base_rate(np.array([[0.0], [2.0]]))
    assert np.allclose(fit["linear"] / fit["precision"], 1.0)
    from pgboltz import DataError

    with pytest.raises(DataError, match="gaussian units cannot take binarised data"):
        gauss.from_unit_interval(np.zeros(2))
    # Gaussian samples are kept as floats, binary ones as int8
    res = GibbsSampler(gb_rbm(), chains=4, seed=0).run(2, collect="samples")
    assert res.samples["v"].dtype == np.float32 and res.samples["h"].dtype == np.int8


def test_a_backend_can_plug_a_fused_kernel_into_an_update():
    """The hook a GPU backend uses: here a NumPy 'kernel' that draws and samples in one call, equal bit for
    bit to the array fallback, and called for every binary update."""
    from pgboltz.backends import NumpyBackend

    calls = []

    class Fused(NumpyBackend):
        def fused_update(self, units, slots):
            if units.support is None or slots != ("linear",):
                return None

            def kernel(stream, field, beta, out):
                calls.append(out.shape)
                noise = np.empty_like(out)
                self.uniform_(stream, noise)
                units.sample_(np, field, beta, noise, out)

            return kernel

    g = rbm(20, 10, scale=0.5)
    ref = GibbsSampler(g, chains=64, seed=5, backend=NumpyBackend(seed=5, dtype="float64"))
    fused = GibbsSampler(g, chains=64, seed=5, backend=Fused(seed=5, dtype="float64"))
    ref.sweep(3)
    fused.sweep(3)
    assert calls and all(np.array_equal(a, b) for a, b in zip(ref.get_states().values(), fused.get_states().values()))
