"""Sequence models against simple peers: the RNN-RBM on the Bach chorales, the conditional RBM on motion.

    python benchmarks/sequence_models.py              # the figures in RESULTS.md (about 19 min on 2 cores)
    python benchmarks/sequence_models.py --quick      # a few epochs on a few sequences, to check that it runs
    python benchmarks/sequence_models.py --data motion --motion-seeds 5

**Chorales** (88-key rolls, one frame per quarter note; ``pgboltz.sequence_data.chorales``): test
log-likelihood per frame, log p(v_t | v_<t), and Bay et al.'s frame accuracy TP / (TP + FP + FN) of
E[v_t | v_<t] thresholded at 0.5, for

* independent Bernoulli keys: p_i = (count_i + 1) / (N + 2) over the training frames (exact);
* an RBM over frames: an RNN-RBM whose RNN parameters are 0 and stay 0 (``rnn_lr_scale = 0``), so
  u_t = tanh(0) = 0, W_uv and W_uh get no gradient, and the frame model is one RBM;
* the RNN-RBM of Boulanger-Lewandowski et al. (2012): the RNN state emits the biases
  b + W_uv^T u_{t-1} and c + W_uh^T u_{t-1};
* the same with the weights modulated too, W(u) = W + U diag(Z^T u) V^T (``n_factors`` > 0).

At ``--hidden`` <= 12 the log-likelihood is exact (2^12 hidden states per frame). At the paper's
size (``--big-hidden 150 --big-recurrent 100``) log Z is a forward AIS estimate on the test frames:
for the RNN-RBMs one per frame (``--ais-runs`` runs x ``--ais-betas`` betas each), for the RBM over
frames one for all frames (u = 0 everywhere; ``--pool-runs`` runs x ``--pool-betas`` betas). Forward
AIS underestimates log Z in expectation, so those log-likelihoods are optimistic. The script checks
the same AIS settings against exact values on the small models and repeats each big estimate with
other betas (RESULTS.md).

Every model starts its visible biases at the training base rates (log-odds of p_i above) and
trains by CD-k on all frames (minibatches of whole pieces, about 512 frames, momentum 0.9, linear
learning-rate decay to 0). The RNN's learning rate is ``--rnn-lr-scale`` times the frame RBM's:
at 1.0 the recurrent weights grew within 10-20 epochs until 95% of the state units sat at +-1 and
the validation log-likelihood fell back. The three-way factor starts at ``--factor-scale``: from
the frame's 0.01, U, V and Z stay near their start (the gradient of each is a product of the
other two). Learning rates and epochs were chosen on the validation pieces (RESULTS.md).

**Motion** (``pgboltz.sequence_data.motion``: 12 standardised joint angles, gait switches): one-step
test prediction mean squared error of a Gaussian conditional RBM (E[x_t | x_{t-1..t-m}], Gibbs chains
started at the last frame, Rao-Blackwellised over 100 sweeps after 20), the linear autoregressive
model of the same order (least squares) and the last frame copied, over ``--motion-seeds`` training
seeds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pgboltz.estimators import base_rate_biases, conditional_ais, default_betas, free_energy
from pgboltz.learning import OptimConfig, RNNRBMTrainer, SequenceConfig, TrainConfig, Trainer
from pgboltz.models import RNNRBM, crbm, frame_accuracy, lag_windows, linear_ar
from pgboltz.models.conditional import predict_next
from pgboltz.sequence_data import chorales, motion

N_KEYS = 88
PAPER = ("Boulanger-Lewandowski et al. (2012), JSB chorales (382 pieces, another split): RNN-RBM -6.27 nats/frame, "
         "33% ACC")


# ------------------------------------------------------------------------------------------ chorales

def base_rates(frames: np.ndarray) -> np.ndarray:
    """Per-key probability (count + 1) / (N + 2) over training frames ``(N, 88)``."""
    return (frames.sum(axis=0) + 1.0) / (len(frames) + 2.0)


def bernoulli_log_likelihood(p: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Exact log p(v) per frame under independent keys."""
    return frames @ np.log(p) + (1.0 - frames) @ np.log1p(-p)


def build(n_hidden, n_recurrent, n_factors, recurrent, p, factor_scale, seed):
    """An RNN-RBM with the visible biases at the base rates' log-odds; ``recurrent=False`` gives the
    RBM over frames (RNN parameters all zero)."""
    m = RNNRBM.build(N_KEYS, n_hidden, n_recurrent, n_factors=n_factors, seed=seed)
    m.graph.factor("b").params["b"][...] = np.log(p / (1.0 - p))
    if n_factors:
        rng = np.random.default_rng([seed, 2])
        for x in m.graph.factor("M").params.values():
            x[...] = rng.normal(0.0, factor_scale, x.shape)
    if not recurrent:
        for x in m.rnn.params().values():
            x[...] = 0.0
    return m


def train(model, seqs, lr, epochs, k, rnn_lr_scale, seed):
    """CD-k training in place; returns the mean seconds per epoch."""
    cfg = SequenceConfig(k=k, epochs=epochs, frames_per_batch=512, rnn_lr_scale=rnn_lr_scale, seed=seed,
                         optim=OptimConfig(lr=lr, momentum=0.9, final_momentum=0.9, weight_decay=0.0,
                                           schedule="linear"))
    history = RNNRBMTrainer(model, seqs, cfg).fit()
    return float(np.mean([h["seconds"] for h in history]))


def ais_log_likelihood(model, seqs, base, runs, betas, seed=0):
    """Per-frame log p(v_t | v_<t) = -F(v_t; u) - log Z(u), each frame's log Z(u) by forward AIS; also the
    per-frame upper half-widths of the +-3 sigma intervals of log Z, how many are open below, seconds."""
    fr = model.frames(seqs)
    res = conditional_ais(model.graph, {"u": fr["u"]}, base, runs_per_row=runs, betas=default_betas(betas), seed=seed)
    ll = -free_energy(model.graph, fr) - res.log_z
    return ll, res.upper - res.log_z, int(np.sum(~np.isfinite(res.lower))), res.seconds


def pooled_log_z(model, base, runs, betas, seed=0):
    """The RBM over frames has u = 0 in every frame, so one log Z serves all frames: all ``runs`` AIS runs
    go into one estimate. Returns (log Z, lower, upper, seconds)."""
    res = conditional_ais(model.graph, {"u": np.zeros((1, model.n_recurrent))}, base, runs_per_row=runs,
                          betas=default_betas(betas), seed=seed, max_chains=runs)
    return res.log_z[0], res.lower[0], res.upper[0], res.seconds


def rbm_log_likelihood(model, seqs, log_z):
    return -free_energy(model.graph, model.frames(seqs)) - log_z


def evaluate(model, args, d, recurrent: bool, exact: bool, base) -> dict:
    """Validation and test log-likelihood per frame: exact; or, at the big size, forward AIS on the test
    frames only -- one pooled log Z for the RBM over frames, one per frame for the RNN-RBMs -- with the
    estimate repeated with a quarter of the betas (pooled) or with 4x the betas on the first 5 test
    pieces (per frame)."""
    if exact:
        test = model.log_likelihood(d.test)
        return {"valid": model.log_likelihood(d.valid).mean(), "test": test.mean(), "test_frames": test, "how": "exact"}
    if not recurrent:
        lz, lo, hi, sec = pooled_log_z(model, base, args.pool_runs, args.pool_betas)
        q = max(2, args.pool_betas // 4)
        lz4, lo4, hi4, _ = pooled_log_z(model, base, args.pool_runs, q, seed=1)
        test = rbm_log_likelihood(model, d.test, lz).mean()
        how = (f"AIS, one log Z for all frames, {args.pool_runs}×{args.pool_betas} ({sec:.0f} s): log Z {lz:.3f} "
               f"[{lo:.3f}, {hi:.3f}] (±3σ); with {q} betas {lz4:.3f} [{lo4:.3f}, {hi4:.3f}], "
               f"test {rbm_log_likelihood(model, d.test, lz4).mean():.3f}")
        return {"valid": None, "test": test, "how": how}
    test, half, n_open, sec = ais_log_likelihood(model, d.test, base, args.ais_runs, args.ais_betas)
    sub = d.test[:5]
    more, _, _, _ = ais_log_likelihood(model, sub, base, args.ais_runs, 4 * args.ais_betas, seed=1)
    how = (f"AIS per frame, {args.ais_runs}×{args.ais_betas} ({sec:.0f} s): +3σ of log Z per frame median "
           f"{np.median(half):.2f}, {n_open}/{len(test)} open below; first 5 pieces {test[:len(more)].mean():.3f}, "
           f"{more.mean():.3f} with {4 * args.ais_betas} betas")
    return {"valid": None, "test": test.mean(), "how": how}


def chorale_rows(args, d):
    train_frames, test_frames = np.concatenate(d.train), np.concatenate(d.test)
    p = base_rates(train_frames)
    rows = [{"model": "independent Bernoulli keys", "size": "88", "training": "base rates", "s_epoch": None,
             "valid": bernoulli_log_likelihood(p, np.concatenate(d.valid)).mean(),
             "test": bernoulli_log_likelihood(p, test_frames).mean(),
             "acc": frame_accuracy(np.broadcast_to(p, test_frames.shape), test_frames), "how": "exact"}]
    variants = [("RBM over frames (no recurrence)", False, False), ("RNN-RBM, emitted biases (paper)", True, False),
                ("RNN-RBM, biases + factored weights", True, True)]
    sizes = [(args.hidden, args.recurrent, args.factors, True)]
    if args.big_hidden:
        sizes.append((args.big_hidden, args.big_recurrent, args.big_factors, False))
    small = {}
    for nh, nu, F, exact in sizes:
        for name, recurrent, factored in variants:
            if factored and not F:
                continue
            lr, epochs, scale = (args.lr, args.epochs, args.rnn_lr_scale) if recurrent else \
                (args.rbm_lr, args.rbm_epochs, 0.0)
            if factored and not exact:
                lr = args.big_factored_lr
            m = build(nh, nu, F if factored else 0, recurrent, p, args.factor_scale, args.seed)
            t0 = time.perf_counter()
            s_epoch = train(m, d.train, lr, epochs, args.k, scale, args.seed)
            t_train = time.perf_counter() - t0
            size = f"88×{nh}" + (f", RNN {nu}" if recurrent else "") + (f", F={F}" if factored else "")
            row = {"model": name, "size": size, "s_epoch": s_epoch,
                   "training": f"CD-{args.k}, {epochs} ep, lr {lr:g}" + (f", RNN ×{scale:g}" if recurrent else "")}
            row.update(evaluate(m, args, d, recurrent, exact, base_rate_biases(m.graph, {"v": train_frames})))
            row["acc"] = frame_accuracy(m.predict(d.test, seed=args.seed), test_frames)
            if exact and not factored:
                small[recurrent] = (m, row["test_frames"])
            row.pop("test_frames", None)
            rows.append(row)
            valid = "—" if row["valid"] is None else f"{row['valid']:.3f}"
            print(f"  [{time.strftime('%H:%M:%S')}] {name} {size}: trained in {t_train:.0f} s, valid "
                  f"{valid}, test {row['test']:.3f}, ACC {100 * row['acc']:.1f}%", flush=True)
    checks = []
    if small and args.big_hidden:  # the big rows' AIS against exact answers on the small models
        base = base_rate_biases(small[True][0].graph, {"v": train_frames})
        if False in small:
            m, exact_ll = small[False]
            lz, lo, hi, sec = pooled_log_z(m, base, args.pool_runs, args.pool_betas)
            est = rbm_log_likelihood(m, d.test, lz)
            checks.append(f"AIS against exact, {args.hidden}-hidden RBM over frames, test: exact "
                          f"{exact_ll.mean():.3f}, one pooled log Z by AIS {args.pool_runs}×{args.pool_betas}: "
                          f"{est.mean():.3f} "
                          f"(log Z interval width {hi - lo:.3f}, {sec:.0f} s)")
        m, exact_ll = small[True]
        est, _, n_open, sec = ais_log_likelihood(m, d.test, base, args.ais_runs, args.ais_betas)
        checks.append(f"AIS against exact, {args.hidden}-hidden RNN-RBM, test: exact {exact_ll.mean():.3f}, "
                      f"AIS per frame {args.ais_runs}×{args.ais_betas}: {est.mean():.3f} (mean |error| per frame "
                      f"{np.mean(np.abs(est - exact_ll)):.3f}, {n_open} intervals open below, {sec:.0f} s)")
    lls = [r[k] for r in rows for k in ("valid", "test") if r[k] is not None]
    checks.append("every log-likelihood negative: " + ("yes" if max(lls) < 0 else "NO"))
    for r in rows:
        if r["model"].startswith("RBM over frames"):
            checks.append(f"RBM {r['size']} above independent keys on test: "
                          + ("yes" if r["test"] > rows[0]["test"] else "NO"))
    return rows, checks


def print_chorales(rows, checks, d):
    n = {s: sum(len(x) for x in d.split(s)) for s in ("train", "valid", "test")}
    print(f"\nChorales: {len(d.train)}/{len(d.valid)}/{len(d.test)} pieces, "
          f"{n['train']}/{n['valid']}/{n['test']} frames (train/valid/test)")
    print("| model | size | training | s / epoch | valid log-lik. | test log-lik. (nats/frame) | test ACC | how |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        se = "—" if r["s_epoch"] is None else f"{r['s_epoch']:.2f}"
        valid = "—" if r["valid"] is None else f"{r['valid']:.3f}"
        print(f"| {r['model']} | {r['size']} | {r['training']} | {se} | {valid} | **{r['test']:.3f}** | "
              f"{100 * r['acc']:.1f}% | {r['how']} |")
    for c in checks:
        print(f"* {c}")
    print(f"* orientation only: {PAPER}")


# -------------------------------------------------------------------------------------------- motion

def mse(pred, truth) -> float:
    return float(np.mean((pred - truth) ** 2))


def motion_rows(args, d):
    rows = []
    for order in args.motion_orders:
        tr, te = lag_windows(d.train, order), lag_windows(d.test, order)
        ar = linear_ar(tr, order)
        out, secs = [], []
        for seed in range(args.motion_seeds):
            g = crbm(d.n, args.motion_hidden, order, units="gaussian", min_sigma=0.01, seed=seed)
            cfg = TrainConfig(method="cd", k=1, epochs=args.motion_epochs, batch_size=100, seed=seed,
                              optim=OptimConfig(lr=args.motion_lr, momentum=0.5, final_momentum=0.9, weight_decay=0.0,
                                                schedule="linear"))
            t0 = time.perf_counter()
            Trainer(g, tr, cfg).fit()
            secs.append(time.perf_counter() - t0)
            out.append(mse(predict_next(g, te, sweeps=100, burn_in=20, seed=seed), te["v"]))
            sigma = np.exp(g.factor("sigma").params["log_sigma"])
        rows.append({"order": order, "n": len(te["v"]), "copy": mse(te["lag1"], te["v"]), "ar": mse(ar(te), te["v"]),
                     "crbm": out, "s_epoch": np.mean(secs) / args.motion_epochs, "sigma": float(np.median(sigma))})
        print(f"  [{time.strftime('%H:%M:%S')}] motion order {order}: cRBM {np.mean(out):.5f}, AR {rows[-1]['ar']:.5f}",
              flush=True)
    return rows


def print_motion(rows, args, d):
    print(f"\nMotion: {len(d.train)}/{len(d.valid)}/{len(d.test)} sequences of {len(d.train[0])} frames, "
          f"{d.n} joints; one-step test MSE (standardised units)")
    print("| order | test windows | copy last frame | linear AR (least squares) | "
          f"cRBM {args.motion_hidden} hiddens, mean of {args.motion_seeds} seeds [range] | cRBM / AR | "
          "cRBM s / epoch |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        c = np.array(r["crbm"])
        print(f"| {r['order']} | {r['n']} | {r['copy']:.5f} | {r['ar']:.5f} | **{c.mean():.5f}** [{c.min():.5f}, "
              f"{c.max():.5f}] | {c.mean() / r['ar']:.3f} | {r['s_epoch']:.3f} |")
    print(f"* cRBM: CD-1, batch 100, {args.motion_epochs} epochs, lr {args.motion_lr:g} decayed linearly, momentum "
          f"0.5 then 0.9, σ learned (≥ 0.01; median at the end of the last seed {rows[-1]['sigma']:.3f})")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", choices=("both", "chorales", "motion"), default="both")
    p.add_argument("--quick", action="store_true", help="a few epochs on a few sequences")
    p.add_argument("--seed", type=int, default=0)
    g = p.add_argument_group("chorales")
    g.add_argument("--hidden", type=int, default=12, help="hidden units of the exact rows (<= 12 keeps it quick)")
    g.add_argument("--recurrent", type=int, default=32)
    g.add_argument("--factors", type=int, default=16, help="factors of the weight modulation (0: no such row)")
    g.add_argument("--big-hidden", type=int, default=150, help="hidden units of the AIS rows (0: none)")
    g.add_argument("--big-recurrent", type=int, default=100)
    g.add_argument("--big-factors", type=int, default=32)
    g.add_argument("--factor-scale", type=float, default=0.1, help="initial sd of U, V, Z")
    g.add_argument("--k", type=int, default=10, help="Gibbs sweeps of CD-k")
    g.add_argument("--lr", type=float, default=0.2, help="RNN-RBM rows (decayed linearly to 0)")
    g.add_argument("--epochs", type=int, default=150, help="RNN-RBM rows")
    g.add_argument("--big-factored-lr", type=float, default=0.1, help="the big factored row (0.2 overfitted)")
    g.add_argument("--rbm-lr", type=float, default=0.3, help="RBM-over-frames rows")
    g.add_argument("--rbm-epochs", type=int, default=200, help="RBM-over-frames rows")
    g.add_argument("--rnn-lr-scale", type=float, default=0.1, help="the RNN's learning rate / the frame RBM's")
    g.add_argument("--ais-runs", type=int, default=10, help="AIS runs per frame (RNN-RBMs)")
    g.add_argument("--ais-betas", type=int, default=2000, help="betas of the per-frame AIS")
    g.add_argument("--pool-runs", type=int, default=2000, help="AIS runs for the one log Z of the RBM over frames")
    g.add_argument("--pool-betas", type=int, default=10000)
    g = p.add_argument_group("motion")
    g.add_argument("--motion-orders", type=int, nargs="+", default=[2, 3])
    g.add_argument("--motion-hidden", type=int, default=64)
    g.add_argument("--motion-lr", type=float, default=0.1)
    g.add_argument("--motion-epochs", type=int, default=200)
    g.add_argument("--motion-seeds", type=int, default=3)
    args = p.parse_args(argv)
    if args.quick:
        args.epochs = args.rbm_epochs = args.motion_epochs = 2
        args.hidden, args.recurrent, args.big_hidden, args.big_recurrent = 4, 8, 8, 8
        args.ais_betas, args.ais_runs, args.motion_seeds, args.motion_hidden = 20, 2, 1, 8
        args.pool_runs, args.pool_betas = 20, 50
    t0 = time.perf_counter()
    out = {}
    if args.data in ("both", "chorales"):
        d = chorales()
        if args.quick:
            d.train, d.valid, d.test = d.train[:20], d.valid[:6], d.test[:6]
        rows, checks = chorale_rows(args, d)
        print_chorales(rows, checks, d)
        out["chorales"] = rows
    if args.data in ("both", "motion"):
        d = motion()
        rows = motion_rows(args, d)
        print_motion(rows, args, d)
        out["motion"] = rows
    print(f"\nwhole run {time.perf_counter() - t0:.0f} s")
    return out


if __name__ == "__main__":
    main()
