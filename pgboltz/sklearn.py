"""scikit-learn estimators: the RBM, the Gaussian-Bernoulli RBM and the DBN as transformers.

    from pgboltz.sklearn import BernoulliRBM          # a drop-in for sklearn.neural_network.BernoulliRBM
    Pipeline([("rbm", BernoulliRBM(n_components=100, learning_rate=0.06)), ("clf", LogisticRegression())])

Nothing is trained or derived here: each estimator keeps its parameters as scikit-learn
attributes, builds the pgboltz graph from them (:func:`pgboltz.models.rbm`,
:func:`pgboltz.models.gb_rbm`, :func:`pgboltz.models.dbn_from_rbms`), trains it with
:class:`pgboltz.learning.Trainer` (:func:`pgboltz.learning.train_dbn_greedy` for a DBN's
``fit``) and reads the results back. The conditionals, free energies, Gibbs steps and log Z
are the library's, derived from the graph's factors (seed eqs. 16-18 for the RBM):

    transform(X)     = E[h | v = X] = sigma(c + X W)                   (n_samples, n_components)
    score_samples(X) = -F(X) = b^T x + sum_j log(1 + exp(c_j + x^T W[:, j]))
                     = log p(x) + log Z          (the unnormalised log-probability, exact and deterministic)

**Data for binary visible units.** As in scikit-learn's ``BernoulliRBM``, values in [0, 1] are
read as probabilities P(v_i = 1) (grey levels scaled to [0, 1]). pgboltz trains binary units on
binary data, so every training epoch draws one binary vector per example, v_i ~ Bernoulli(x_i)
(binary data are used as they are); ``transform``, ``score_samples`` and ``gibbs`` evaluate the
conditionals at X itself, which for fractional X is the mean-field value scikit-learn's
``BernoulliRBM`` computes. Values outside [0, 1] are clipped to it, with a warning: scale the data
first (``MinMaxScaler``). Gaussian visible units take any finite real data (standardise it: the
model starts from sigma = 1).

**Differences from sklearn.neural_network.BernoulliRBM** (same parameter and attribute names):

* ``score_samples`` is -F(x), exact and deterministic, not scikit-learn's stochastic
  pseudo-likelihood; :meth:`BernoulliRBM.pseudo_likelihood` gives the exact pseudo-log-likelihood
  sum_i log P(x_i | x_-i), of which scikit-learn's ``score_samples`` is a one-coordinate random
  estimate (its expectation over the flipped coordinate), and :meth:`BernoulliRBM.log_likelihood`
  the normalised log p(x) with log Z exact or from AIS.
* An epoch visits the examples in a shuffled order and drops the last incomplete minibatch
  (pgboltz's trainer); ``partial_fit(X)`` runs one such epoch over X -- scikit-learn's runs one
  gradient step with X as a single minibatch -- and continues the optimiser's momentum and the
  persistent chains of earlier calls, so ``partial_fit`` n times equals ``fit`` with ``n_iter=n``.
* Extra parameters: ``method`` ("pcd", scikit-learn's algorithm, or "cd"), ``k`` Gibbs sweeps per
  update, ``momentum`` and ``weight_decay`` (both 0 by default, as scikit-learn has neither),
  ``backend`` ("numpy" or "cupy"). Persistent chains start from random states, not h = 0.

scikit-learn is an optional dependency: importing :mod:`pgboltz` never imports it.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import replace

import numpy as np

try:
    import scipy.sparse as sp
    from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.validation import check_is_fitted
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError('pgboltz.sklearn needs scikit-learn: pip install "pgboltz[data]" (or pip install scikit-learn)'
                      ) from exc
try:
    from sklearn.utils.validation import validate_data
except ImportError:  # pragma: no cover - scikit-learn < 1.6

    def validate_data(estimator, X, **kwargs):
        return estimator._validate_data(X, **kwargs)

from .errors import TooLargeError
from .learning import OptimConfig, TrainConfig, Trainer, train_dbn_greedy
from .model import float64_model
from .models import dbn_from_rbms, gb_rbm, rbm
from .sampling import GibbsSampler

__all__ = ["BernoulliRBM", "GaussianBernoulliRBM", "BernoulliDBN"]

#: scikit-learn's BernoulliRBM draws its weights N(0, 0.01^2); so do pgboltz's constructors
SCALE = 0.01
METHODS = ("pcd", "cd")
#: the "epoch" key of the binary draw of X that fits log_likelihood's AIS base model (never a training epoch)
AIS_DRAW = 2**31 - 1


# -- data --------------------------------------------------------------------------
def _as_array(estimator, X, reset):
    """scikit-learn's validation (2-D, finite, numeric, n_features_in_), then dense float64."""
    X = validate_data(estimator, X, accept_sparse="csr", dtype=(np.float64, np.float32), reset=reset)
    X = X.toarray() if sp.issparse(X) else X
    return np.asarray(X, dtype=np.float64)


def _probabilities(X, who):
    """X read as P(v = 1): values outside [0, 1] are clipped, with a warning."""
    if X.size and (X.min() < 0.0 or X.max() > 1.0):
        warnings.warn(f"{who}: binary visible units read X as probabilities in [0, 1], but X ranges over "
                      f"[{X.min():g}, {X.max():g}]; it is clipped to [0, 1] -- scale it first (e.g. MinMaxScaler)",
                      UserWarning, stacklevel=3)
        X = np.clip(X, 0.0, 1.0)
    return X


def _draw(X, seed, epoch):
    """One binary draw v ~ Bernoulli(X) per entry (binary X comes back unchanged), seeded by (seed, epoch)."""
    u = np.random.default_rng([seed, epoch, 5]).random(X.shape)
    return (u < X).astype(np.float64)


def _hidden_means(graph, X):
    """E[h | v = X] from the factors (pgboltz.model.CompiledModel.sum_out); X may be fractional."""
    m = float64_model(graph)
    _, means, _ = m.sum_out(["h"], {"v": m.backend.asarray(X)}, need_means=True, need_log_p=False, need_squares=False)
    return m.backend.to_numpy(means["h"])


def _neg_free_energy(graph, X):
    """-F(X) = log sum_h exp(-E(X, h)), the hidden layer summed out analytically (per row, float64)."""
    m = float64_model(graph)
    log_p, _, _ = m.sum_out(["h"], {"v": m.backend.asarray(X)})
    return m.backend.to_numpy(log_p)


def _check_int(name, value, low):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


# -- training state between epochs ------------------------------------------------
class _Continuation:
    """What one RBM's training carries from epoch to epoch: the optimiser's velocities and the
    persistent chains (both through :class:`Trainer`'s public state), and the epoch count, which
    seeds each epoch's random streams and batch order and times the momentum switch."""

    def __init__(self, config: TrainConfig):
        self.config, self.optim, self.chains, self.epoch = config, None, None, 0

    def run_epoch(self, graph, data: dict) -> dict:
        """One epoch of ``self.config``'s algorithm on ``data`` (``{"v": (n, n_visible)}``), ``graph`` in place."""
        n = len(data["v"])
        c = replace(self.config, batch_size=min(self.config.batch_size, n), epochs=self.epoch + 1)
        t = Trainer(graph, data, c)
        if self.optim is not None:
            t.opt.load_state(self.optim)
        if self.chains is not None and c.method == "pcd" and len(self.chains["v"]) == t.neg.chains:
            t.neg.set_states(self.chains)  # (a batch_size changed by set_params restarts the chains)
        t.epoch = self.epoch
        metrics = t.run_epoch()
        self.optim, self.chains, self.epoch = t.opt.state(), t.neg.get_states(), self.epoch + 1
        return metrics


class _Trained(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Shared parameter checks and the training configuration of every estimator here."""

    def _check_params(self):
        _check_int("batch_size", self.batch_size, 1)
        _check_int("n_iter", self.n_iter, 0)
        _check_int("k", self.k, 1)
        if not (isinstance(self.learning_rate, numbers.Real) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}")
        if not (isinstance(self.momentum, numbers.Real) and 0.0 <= self.momentum < 1.0):
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if not (isinstance(self.weight_decay, numbers.Real) and self.weight_decay >= 0.0):
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")

    def _config(self, seed: int) -> TrainConfig:
        m = float(self.momentum)
        return TrainConfig(method=self.method, k=int(self.k), epochs=max(1, int(self.n_iter)),
                           batch_size=int(self.batch_size), chains=int(self.batch_size), seed=seed,
                           backend=self.backend,
                           optim=OptimConfig(lr=float(self.learning_rate), momentum=m, final_momentum=m,
                                             weight_decay=float(self.weight_decay)))

    def _start(self):
        """random_state_ and the seed every later draw derives from (scikit-learn's convention:
        an int gives the same fit every time, a RandomState instance advances)."""
        self.random_state_ = check_random_state(self.random_state)
        self._seed = int(self.random_state_.randint(np.iinfo(np.int32).max))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # accepted, and made dense: pgboltz's factors are dense
        return tags


# -- RBMs ------------------------------------------------------------------------------
class _RBM(_Trained):
    """fit / partial_fit / transform / score_samples / gibbs for an RBM with visible group v, hidden h."""

    def _new_graph(self, n_features, seed):
        raise NotImplementedError

    def _data(self, X):
        """X as the visible units read it (validated array in, array out)."""
        return X

    def _training_data(self, X, epoch):
        return X

    def to_graph(self):
        """The fitted model as a pgboltz factor graph (a copy of the parameters: edit the attributes, not it)."""
        check_is_fitted(self)
        return self._graph_from_attributes()

    def _store(self, graph):
        self.components_ = np.array(graph.factor("W").params["W"].T, dtype=np.float64)
        self.intercept_hidden_ = np.array(graph.factor("c").params["b"], dtype=np.float64)
        self.intercept_visible_ = np.array(graph.factor("b").params["b"], dtype=np.float64)
        self._n_features_out = self.components_.shape[0]

    def _initialise(self, n_features):
        self._check_params()
        _check_int("n_components", self.n_components, 1)
        self._start()
        self._store(self._new_graph(n_features, self._seed))
        self._training = _Continuation(self._config(self._seed))

    def _epoch(self, X):
        epoch = self._training.epoch
        self._training.config = self._config(self._seed)  # parameters changed by set_params apply from here on
        graph = self._graph_from_attributes()
        m = self._training.run_epoch(graph, {"v": self._training_data(X, epoch)})
        self._store(graph)
        if self.verbose:
            recon = m["reconstruction_error"]
            print(f"[{type(self).__name__}] Iteration {epoch + 1}, reconstruction error = "
                  f"{'n/a' if recon is None else f'{recon:.4f}'}, time = {m['seconds']:.2f}s")

    def fit(self, X, y=None):
        """Train from scratch for ``n_iter`` epochs on X of shape (n_samples, n_features)."""
        X = self._data(_as_array(self, X, reset=True))
        self._initialise(X.shape[1])
        for _ in range(int(self.n_iter)):
            self._epoch(X)
        return self

    def partial_fit(self, X, y=None):
        """One more epoch on X, continuing the optimiser and persistent chains (see the module notes)."""
        first = not hasattr(self, "components_")
        X = self._data(_as_array(self, X, reset=first))
        if first:
            self._initialise(X.shape[1])
        elif not hasattr(self, "_training"):  # attributes set by hand: a fresh optimiser and chains
            self._check_params()
            self._start()
            self._training = _Continuation(self._config(self._seed))
        self._epoch(X)
        return self

    def transform(self, X):
        """P(h_j = 1 | v = X) = sigma(c_j + X W[:, j]) (seed eq. 16): shape (n_samples, n_components)."""
        check_is_fitted(self)
        X = self._data(_as_array(self, X, reset=False))
        return _hidden_means(self._graph_from_attributes(), X)

    def score_samples(self, X):
        """-F(X) per row: log p(x) + log Z, the hidden units summed out exactly (see the module notes)."""
        check_is_fitted(self)
        X = self._data(_as_array(self, X, reset=False))
        return _neg_free_energy(self._graph_from_attributes(), X)

    def log_likelihood(self, X, ais_runs: int = 100, n_betas: int = 10000):
        """log p(x) = -F(x) - log Z per row. log Z is exact when one layer has at most 22 units after the
        other is summed out (:func:`pgboltz.exact.log_z`); otherwise forward AIS from a base-rate model fitted
        to X (:func:`pgboltz.estimators.ais`, ``ais_runs`` runs of ``n_betas`` temperatures), a stochastic
        lower bound of log Z: the values are then optimistic estimates (seeded by random_state)."""
        from .estimators import ais, base_rate_biases, default_betas
        from .exact import log_z as exact_log_z

        neg_f = self.score_samples(X)
        graph = self._graph_from_attributes()
        try:
            lz = exact_log_z(graph)
        except TooLargeError:
            v = self._training_data(self._data(_as_array(self, X, reset=False)), AIS_DRAW)
            base = base_rate_biases(graph, {"v": v})
            lz = ais(graph, base, runs=int(ais_runs), betas=default_betas(int(n_betas)), seed=self._seed,
                     backend=self.backend).log_z
        return neg_f - lz

    def gibbs(self, v):
        """One Gibbs step from v: h ~ P(h | v), then v' ~ P(v | h) (pgboltz's sampler, seeded from
        ``random_state_``, which advances). Returns v' of shape (n_samples, n_features)."""
        check_is_fitted(self)
        v = self._data(_as_array(self, v, reset=False))
        s = GibbsSampler(self._graph_from_attributes(), chains=len(v), backend=self.backend, dtype="float64",
                         seed=int(self.random_state_.randint(np.iinfo(np.int32).max)), blocks=[["h"], ["v"]])
        s.model.set_states({"v": v}, expectations=True)
        s.sweep(1)
        return self._visible_out(s.get_states()["v"])

    def _visible_out(self, v):
        return v


class BernoulliRBM(_RBM):
    """A binary RBM, E(v, h) = -b^T v - c^T h - v^T W h, with scikit-learn's BernoulliRBM interface.

    Parameters
    ----------
    n_components : int, default=256
        Number of hidden units.
    learning_rate : float, default=0.1
    batch_size : int, default=10
        Examples per minibatch (at most the number of examples); also the number of persistent chains.
    n_iter : int, default=10
        Epochs of ``fit``.
    verbose : int, default=0
        Print the reconstruction error and time of every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights (N(0, 0.01^2)), the binary draws of the data, the trainer and ``gibbs``.
    method : {"pcd", "cd"}, default="pcd"
        Persistent contrastive divergence (scikit-learn's) or CD-k.
    k : int, default=1
        Gibbs sweeps per update.
    momentum, weight_decay : float, default=0.0
        pgboltz's optimiser (:class:`pgboltz.learning.OptimConfig`); weight decay acts on W only.
    backend : {"numpy", "cupy"}, default="numpy"

    Attributes
    ----------
    components_ : ndarray (n_components, n_features)       W^T
    intercept_hidden_ : ndarray (n_components,)             c
    intercept_visible_ : ndarray (n_features,)              b
    n_features_in_ : int
    random_state_ : RandomState
    """

    def __init__(self, n_components=256, *, learning_rate=0.1, batch_size=10, n_iter=10, verbose=0,
                 random_state=None, method="pcd", k=1, momentum=0.0, weight_decay=0.0, backend="numpy"):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.method = method
        self.k = k
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.backend = backend

    def _new_graph(self, n_features, seed):
        return rbm(n_features, int(self.n_components), seed=seed, scale=SCALE)

    def _graph_from_attributes(self):
        return rbm(self.components_.shape[1], self.components_.shape[0], W=self.components_.T.copy(),
                   b=self.intercept_visible_.copy(), c=self.intercept_hidden_.copy())

    def _data(self, X):
        return _probabilities(X, type(self).__name__)

    def _training_data(self, X, epoch):
        return _draw(X, self._seed, epoch)

    def _visible_out(self, v):
        return v > 0.5  # boolean, as scikit-learn's gibbs

    def pseudo_likelihood(self, X):
        """sum_i log P(x_i | x_-i) = sum_i log sigma(F(x with x_i flipped) - F(x)) per row, exactly.

        scikit-learn's ``BernoulliRBM.score_samples`` returns n_features * log sigma(F(x~) - F(x)) for one
        coordinate drawn at random: an unbiased one-coordinate estimate of this sum (for binary X)."""
        check_is_fitted(self)
        X = self._data(_as_array(self, X, reset=False))
        graph = self._graph_from_attributes()
        f = -_neg_free_energy(graph, X)
        total = np.zeros(len(X))
        for i in range(X.shape[1]):
            flipped = X.copy()
            flipped[:, i] = 1.0 - flipped[:, i]
            total += -np.logaddexp(0.0, -(-_neg_free_energy(graph, flipped) - f))  # log sigma(F(x~) - F(x))
        return total


class GaussianBernoulliRBM(_RBM):
    """A Gaussian-Bernoulli RBM (seed eqs. 29-30) for real-valued data:

        E(v, h) = sum_i v_i^2 / (2 sigma_i^2) - b^T v - v^T W h - c^T h
        p(v | h) = N(sigma^2 (b + W h), diag(sigma^2)),   P(h_j = 1 | v) = sigma(c_j + v^T W[:, j])

    sigma is learned (as log sigma, kept >= ``min_sigma`` if given) from ``sigma`` (one value or one per
    feature). Standardise the data first (``StandardScaler``); Gaussian units want smaller learning rates
    than binary ones. Parameters otherwise as :class:`BernoulliRBM`; ``score_samples`` is -F(x), the
    log-density up to log Z; ``gibbs`` returns real-valued v'.

    Attributes: ``components_``, ``intercept_hidden_``, ``intercept_visible_`` (b, the linear term, not
    the mean), ``sigma_`` (n_features,), ``n_features_in_``, ``random_state_``.
    """

    def __init__(self, n_components=256, *, learning_rate=0.01, batch_size=10, n_iter=10, verbose=0,
                 random_state=None, sigma=1.0, min_sigma=None, method="pcd", k=1, momentum=0.0, weight_decay=0.0,
                 backend="numpy"):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.sigma = sigma
        self.min_sigma = min_sigma
        self.method = method
        self.k = k
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.backend = backend

    def _new_graph(self, n_features, seed):
        sigma = np.broadcast_to(np.asarray(self.sigma, dtype=np.float64), (n_features,))
        if not np.all(np.isfinite(sigma) & (sigma > 0)):
            raise ValueError(f"sigma must be positive (one value or one per feature), got {self.sigma!r}")
        return gb_rbm(n_features, int(self.n_components), sigma=sigma, min_sigma=self.min_sigma, seed=seed,
                      scale=SCALE)

    def _store(self, graph):
        super()._store(graph)
        self.sigma_ = np.exp(np.array(graph.factor("sigma").params["log_sigma"], dtype=np.float64))

    def _graph_from_attributes(self):
        return gb_rbm(self.components_.shape[1], self.components_.shape[0], W=self.components_.T.copy(),
                      b=self.intercept_visible_.copy(), c=self.intercept_hidden_.copy(), sigma=self.sigma_.copy(),
                      min_sigma=self.min_sigma)


# -- DBN -------------------------------------------------------------------------------
class BernoulliDBN(_Trained):
    """A deep belief network of binary units (seed eqs. 19-22) as a transformer.

    ``fit`` trains it greedily, one RBM per layer, with :func:`pgboltz.learning.train_dbn_greedy`
    (``n_iter`` epochs per layer; the data of layer k+1 is one draw of P(h_k | v); each layer's
    visible biases start at its input's base rates). The data are one binary draw of X (see the
    module notes). ``partial_fit(X)`` is the online form of the same scheme: one epoch of every
    layer on X, bottom-up, each layer on a draw of the one below, continuing each layer's optimiser
    and chains (after ``fit`` they restart).

    ``transform`` is the up-pass of the RBM stack's recognition weights, E[h_L | ... E[h_1 | v = X]]
    (mean-field, as features are usually taken): shape (n_samples, hidden_layer_sizes[-1]).
    A DBN's log p~(v) has no closed form, so there is no ``score_samples``; pgboltz's bounds
    (:func:`pgboltz.estimators.dbn_bound` on :meth:`to_graph`) estimate it.

    Parameters as :class:`BernoulliRBM`, with ``hidden_layer_sizes`` (default (256, 256)) in place of
    ``n_components``. Attributes: ``coefs_`` (list of (n_in, n_out) weights, bottom first),
    ``intercepts_hidden_``, ``intercepts_visible_`` (lists), ``n_features_in_``, ``random_state_``.
    """

    def __init__(self, hidden_layer_sizes=(256, 256), *, learning_rate=0.1, batch_size=10, n_iter=10, verbose=0,
                 random_state=None, method="pcd", k=1, momentum=0.0, weight_decay=0.0, backend="numpy"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.method = method
        self.k = k
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.backend = backend

    def _sizes(self, n_features):
        sizes = [self.hidden_layer_sizes] if isinstance(self.hidden_layer_sizes, numbers.Integral) \
            else list(self.hidden_layer_sizes)
        if not sizes:
            raise ValueError("hidden_layer_sizes must name at least one layer")
        for s in sizes:
            _check_int("each of hidden_layer_sizes", s, 1)
        return [n_features] + [int(s) for s in sizes]

    def _rbms(self):
        return [rbm(W.shape[0], W.shape[1], W=W.copy(), b=b.copy(), c=c.copy(), name=f"layer{k + 1}")
                for k, (W, b, c) in enumerate(zip(self.coefs_, self.intercepts_visible_, self.intercepts_hidden_))]

    def _store(self, rbms):
        self.coefs_ = [np.array(r.factor("W").params["W"], dtype=np.float64) for r in rbms]
        self.intercepts_visible_ = [np.array(r.factor("b").params["b"], dtype=np.float64) for r in rbms]
        self.intercepts_hidden_ = [np.array(r.factor("c").params["b"], dtype=np.float64) for r in rbms]
        self._n_features_out = self.coefs_[-1].shape[1]

    def to_graph(self):
        """The fitted DBN as a pgboltz factor graph (:func:`pgboltz.models.dbn_from_rbms` of the layers)."""
        check_is_fitted(self)
        return dbn_from_rbms(self._rbms())

    def fit(self, X, y=None):
        """Greedy layer-wise training on X of shape (n_samples, n_features), ``n_iter`` epochs per layer."""
        X = _probabilities(_as_array(self, X, reset=True), type(self).__name__)
        self._check_params()
        sizes = self._sizes(X.shape[1])
        self._start()
        config = replace(self._config(self._seed), batch_size=min(int(self.batch_size), len(X)))
        if int(self.n_iter) == 0:
            rbms = [rbm(sizes[k], sizes[k + 1], seed=self._seed + k, scale=SCALE) for k in range(len(sizes) - 1)]
        else:
            _, rbms, histories = train_dbn_greedy(_draw(X, self._seed, 0), sizes, config, scale=SCALE)
            if self.verbose:
                for k, h in enumerate(histories):
                    print(f"[{type(self).__name__}] layer {k + 1}: reconstruction error "
                          f"{h[-1]['reconstruction_error']:.4f} after {len(h)} epochs, "
                          f"{sum(m['seconds'] for m in h):.2f}s")
        self._store(rbms)
        self._training = None
        return self

    def partial_fit(self, X, y=None):
        """One epoch of every layer on X, bottom-up (see the class notes)."""
        first = not hasattr(self, "coefs_")
        X = _probabilities(_as_array(self, X, reset=first), type(self).__name__)
        if first:
            self._check_params()
            sizes = self._sizes(X.shape[1])
            self._start()
            rbms = [rbm(sizes[k], sizes[k + 1], seed=self._seed + k, scale=SCALE, name=f"layer{k + 1}")
                    for k in range(len(sizes) - 1)]
        else:
            rbms = self._rbms()
        if getattr(self, "_training", None) is None:
            self._training = [_Continuation(self._config(self._seed + k)) for k in range(len(rbms))]
        rng = np.random.default_rng([self._seed, self._training[0].epoch, 6])
        x = _draw(X, self._seed, self._training[0].epoch)
        for k, (r, state) in enumerate(zip(rbms, self._training)):
            state.config = self._config(self._seed + k)  # parameters changed by set_params apply from here on
            if first:  # as train_dbn_greedy: visible biases start at the base rates of the layer's input
                r.factor("b").params["b"][...] = r.group("v").units.base_rate(x)["linear"]
            m = state.run_epoch(r, {"v": x})
            if self.verbose:
                print(f"[{type(self).__name__}] layer {k + 1}, epoch {state.epoch}: reconstruction error "
                      f"{m['reconstruction_error']:.4f}, {m['seconds']:.2f}s")
            p = _hidden_means(r, x)
            x = (rng.random(p.shape) < p).astype(np.float64)  # one draw of P(h_k | input) feeds layer k+1
        self._store(rbms)
        return self

    def transform(self, X):
        """The up-pass E[h_L | ... E[h_1 | v = X]]: shape (n_samples, hidden_layer_sizes[-1])."""
        check_is_fitted(self)
        x = _probabilities(_as_array(self, X, reset=False), type(self).__name__)
        for r in self._rbms():
            x = _hidden_means(r, x)
        return x
