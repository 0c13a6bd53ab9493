"""Convolutional RBMs with probabilistic max pooling, and convolutional DBNs (issue: seed section 6).

* the group-level conv factor (im2col + GEMM) equals its unit-level expansion (shared-weight
  pairwise terms) on random inputs, for several kernel sizes, channels and pool sizes;
* the tiny instance of the paper's structure (1x6x6 image, 2 kernels of 3x3, 2x2 pooling) against
  pgmpy: conditionals of every unit and every pooling block, log Z, Gibbs moments;
* every Gibbs sample keeps the n + 1-state constraint of each pooling block;
* the factor's statistics are the derivatives of its energy.
"""

import numpy as np
import pytest

from pgboltz import GibbsSampler
from pgboltz.conditionals import natural_parameters
from pgboltz.models import cdbn, conv_rbm


def unit_level_fields(graph, states):
    """linear slot of every group from the unit-level monomials alone: -dE/dx_i."""
    out = {g: np.zeros_like(np.asarray(x, dtype=np.float64)) for g, x in states.items()}
    for f in graph.factors:
        for groups, index, coef in f.unit_terms().monomials:
            if len(groups) == 1:
                np.add.at(out[groups[0]], (slice(None), index[0]), coef)
            else:
                (a, b), (i, j) = groups, index
                np.add.at(out[b], (slice(None), j), coef * states[a][:, i])
                np.add.at(out[a], (slice(None), i), coef * states[b][:, j])
    return out


@pytest.mark.parametrize("channels,kernel,pool", [(1, 1, 1), (1, 3, 2), (2, 2, 3), (1, 5, 2), (3, 3, 1)])
def test_conv_fields_equal_the_unit_level_expansion(rng, channels, kernel, pool):
    side = kernel - 1 + 3 * pool  # detector maps of 3 pool blocks per side
    g = conv_rbm((channels, side, side), 3, kernel, pool, scale=0.7, seed=int(rng.integers(1000)),
                 detector_bias=0.3)
    states = {n: grp.units.init_states(rng, (5, grp.size)).astype(np.float64) for n, grp in g.groups.items()}
    g.factor("b").params["b"] = rng.normal(size=g.group("v").size)
    expected = unit_level_fields(g, states)
    for group in ("v", "d1", "p1"):
        np.testing.assert_allclose(natural_parameters(g, states, group), expected[group], atol=1e-12)


def test_conv_fields_on_the_cupy_code_path_and_in_float32(rng):
    from pgboltz.backends.cupy_backend import CupyBackend

    from .fake_cupy import make

    g = cdbn((2, 10, 10), [(3, 3, 2), (2, 3, 2)], scale=0.5, seed=2)
    states = {n: grp.units.init_states(rng, (7, grp.size)).astype(np.float64) for n, grp in g.groups.items()}
    for group in g.groups:
        a = natural_parameters(g, states, group)
        b = natural_parameters(g, states, group, backend=CupyBackend(dtype="float64", module=make()))
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_tiny_conv_rbm_agrees_with_pgmpy_and_gibbs_keeps_the_pooling_constraint():
    from pgboltz.verify import verify

    g = conv_rbm((6, 6), 2, 3, 2, scale=0.6, seed=1, detector_bias=-0.5)
    report = verify(g, chains=4000, sweeps=300, burn_in=100, seed=2)
    names = " ".join(c.name for c in report.checks)
    assert all(w in names for w in ("conditionals vs pgmpy", "log Z enumeration vs pgmpy", "Gibbs means",
                                    "Gibbs pair moments")), names
    assert report.passed, report.table()
    s = GibbsSampler(g, chains=2000, seed=4)
    for _ in range(20):
        s.sweep(5)
        st = s.get_states()
        blocks = st["d1"].reshape(-1, 2, 2, 2, 2, 2).sum(axis=(3, 5))  # (chains, K, 2, 2) detectors per block
        assert blocks.max() <= 1 and np.array_equal(blocks.reshape(len(blocks), -1), st["p1"].reshape(len(blocks), -1))


def test_conv_statistics_are_minus_the_energy_gradient(rng):
    g = conv_rbm((2, 7, 7), 2, 3, 1, scale=0.5, seed=3, detector_bias=0.2)
    f = g.factor("W1")
    states = {n: grp.units.init_states(rng, (6, grp.size)).astype(np.float64) for n, grp in g.groups.items()}
    w = rng.random(6)
    w /= w.sum()
    stats = f.statistics(np, states, w, f.params)
    for name in ("W",):
        num = np.zeros_like(f.params[name])
        for idx in np.ndindex(num.shape):
            p_plus = {k: v.copy() for k, v in f.params.items()}
            p_minus = {k: v.copy() for k, v in f.params.items()}
            p_plus[name][idx] += 1e-6
            p_minus[name][idx] -= 1e-6
            num[idx] = -(w @ (f.energy(np, states, p_plus) - f.energy(np, states, p_minus))) / 2e-6
        np.testing.assert_allclose(stats[name], num, atol=1e-6)


def test_cli_trains_a_conv_rbm_and_pretrains_a_cdbn_layer_by_layer(tmp_path, capsys):
    from pgboltz.cli import main

    assert main(["train", "crbm-digits", "--data", "digits", "--epochs", "2", "--batch-size", "50",
                 "--sparsity-target", "0.1", "--out", str(tmp_path / "crbm.npz"), "--no-progress",
                 "--png", str(tmp_path / "crbm")]) == 0
    assert (tmp_path / "crbm-filters.png").exists()
    spec = tmp_path / "cdbn.toml"
    spec.write_text("\n".join([
        'name = "cdbn-digits"', "seed = 0",
        '[[groups]]\nname = "v"\nshape = [1, 8, 8]\nrole = "visible"',
        '[[groups]]\nname = "d1"\nshape = [2, 4, 4]', '[[groups]]\nname = "p1"\nshape = [2, 2, 2]',
        '[[groups]]\nname = "d2"\nshape = [3, 2, 2]', '[[groups]]\nname = "p2"\nshape = [3, 1, 1]',
        '[[factors]]\nkind = "conv"\ngroups = ["v", "d1"]\ninit = { dist = "normal", std = 0.05 }',
        '[[factors]]\nkind = "map_bias"\ngroup = "d1"\nvalue = 0.0',
        '[[factors]]\nkind = "maxpool"\ngroups = ["d1", "p1"]\nsize = 2',
        '[[factors]]\nkind = "conv"\ngroups = ["p1", "d2"]\ninit = { dist = "normal", std = 0.05 }',
        '[[factors]]\nkind = "map_bias"\ngroup = "d2"\nvalue = 0.0',
        '[[factors]]\nkind = "maxpool"\ngroups = ["d2", "p2"]\nsize = 2',
        '[[factors]]\nkind = "bias"\ngroup = "v"\nvalue = 0.0']))
    capsys.readouterr()
    assert main(["train", str(spec), "--data", "digits", "--pretrain", "3", "--epochs", "1", "--batch-size", "50",
                 "--out", str(tmp_path / "cdbn.npz"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "layer 1 (v -> d1 -> p1)" in out and "layer 2 (p1 -> d2 -> p2)" in out


def test_conditional_prob_of_pooled_units_is_the_block_marginal(rng):
    """P(d = 1 | units outside the block) for max-pooled detectors, not the unconstrained sigmoid."""
    from pgboltz.conditionals import conditional_prob, natural_parameters

    g = conv_rbm((6, 6), 2, 3, 2, scale=0.8, seed=1, detector_bias=0.5)
    states = {n: grp.units.init_states(rng, (3, grp.size)).astype(np.float64) for n, grp in g.groups.items()}
    p = conditional_prob(g, states, "d1").reshape(3, 2, 2, 2, 2, 2)  # (chains, K, block row, C1, block col, C2)
    q = conditional_prob(g, states, "p1").reshape(3, 2, 2, 2)
    e = np.exp(natural_parameters(g, states, "d1")).reshape(3, 2, 2, 2, 2, 2)  # pooling biases are 0
    total = 1 + e.sum(axis=(3, 5), keepdims=True)
    np.testing.assert_allclose(p, e / total, atol=1e-12)
    np.testing.assert_allclose(q, 1 - 1 / total[:, :, :, 0, :, 0], atol=1e-12)


def test_gaussian_conv_rbm_pooling_marginals_follow_exact_inference():
    """Gaussian visibles (real-valued images): v is integrated out exactly given the pooling blocks;
    Gibbs frequencies of the pooling units match those exact marginals."""
    from pgboltz.exact import exact

    from .conftest import z_scores

    g = conv_rbm((5, 5), 2, 2, 2, units="gaussian", sigma=0.7, scale=0.5, seed=4, detector_bias=-0.5)
    ex = exact(g, second_moments=False)
    s = GibbsSampler(g, chains=4000, seed=5, dtype="float64")
    m = s.run(200, burn_in=100, batches=100, groups=["d1", "p1"]).moments
    mean = np.concatenate([ex.mean_of(g, grp).ravel() for grp in m.groups])
    # 40 marginals: family-wise limit at 1e-3 is 4.2
    from pgboltz.verify import family_z_limit

    assert z_scores(m.flat_mean(), mean, m.flat_mean_se(), m.n_samples * m.n_chains).max() < family_z_limit(40)


def test_pictures_of_multichannel_groups_put_channels_side_by_side():
    from pgboltz.io import as_images, image_shape

    x = np.zeros((1, 2, 4, 4))
    x[0, 1] = 1.0  # the second channel on
    img = as_images(x.reshape(1, -1), (2, 4, 4))[0]
    assert image_shape((2, 4, 4)) == (4, 8) and img.shape == (4, 8)
    assert np.all(img[:, :4] == 0) and np.all(img[:, 4:] == 1)  # left half channel 0, right half channel 1
    assert image_shape((1, 8, 8)) == (8, 8)
