"""The command line's sequence models: conditional RBMs and RNN-RBMs on the sequence data sets.

A conditional RBM trains through the ordinary trainer on windows of consecutive frames
(:class:`SequenceWindows` makes a sequence data set look like the image ones); an RNN-RBM
trains with its own recipe (:mod:`pgboltz.learning.rnnrbm`). ``pgboltz generate`` runs either
forward, ``pgboltz evaluate`` reports frame-level log-likelihood and accuracy.
"""

from __future__ import annotations

import time

import numpy as np

from .errors import DataError, TooLargeError


class SequenceWindows:
    """A sequence data set seen by the training code: ``for_graph`` gives a conditional RBM's windows."""

    def __init__(self, data):
        self.data, self.name, self.real = data, data.name, data.real
        self.threshold = "real-valued frames, standardised" if data.real else "0/1 frames"
        self.train, self.test = data.train, data.test

    def for_graph(self, graph, split="train") -> dict:
        from .models.conditional import crbm_order, lag_windows

        order = crbm_order(graph)
        if order is None:
            raise DataError(f"{graph.name!r} has no history to condition on: the sequence data set {self.name!r} trains "
                            "a conditional RBM (input groups lag1 .. lagm the size of v, e.g. condrbm-motion) or an "
                            "RNN-RBM frame graph (input group u, e.g. rnnrbm-chorales)")
        if graph.group("v").size != self.data.n:
            raise DataError(f"{self.name} has frames of {self.data.n} values but {graph.name!r}'s v has "
                            f"{graph.group('v').size} units")
        return lag_windows(self.data.split(split), order)


def load_sequences(name: str, progress: bool = False):
    from . import sequence_data

    if name == "chorales":
        return sequence_data.chorales(progress=progress)
    if name == "motion":
        return sequence_data.motion()
    raise DataError(f"unknown sequence data set {name!r}; choose one of {', '.join(sequence_data.SEQUENCE_DATASETS)}")


def is_rnn_rbm(graph) -> bool:
    from .models.rnnrbm import frame_sizes

    try:
        frame_sizes(graph)
    except DataError:
        return False
    return True


def _exact_report(model, data, max_units=16):
    """Exact mean frame log-likelihood of the valid and test splits, or None when h is too large."""
    try:
        return {s: float(model.log_likelihood(data.split(s), max_units).mean()) for s in ("valid", "test")}
    except TooLargeError:
        return None


def train_rnn_rbm(args, data, given, graph=None):
    """`pgboltz train` for an RNN-RBM frame graph: new (``graph``) or resumed (``args.resume``)."""
    from .learning import OptimConfig
    from .learning.rnnrbm import RNNRBMTrainer, SequenceConfig
    from .models.rnnrbm import RNNRBM

    seq = data.data
    if seq.real:
        raise DataError(f"an RNN-RBM models binary frames; {seq.name!r} is real-valued -- use a conditional RBM "
                        "with Gaussian visibles (e.g. condrbm-motion)")
    if args.resume:
        from .checkpoint import load_checkpoint

        done = load_checkpoint(args.out)[1]["epoch"]
        if args.epochs <= done:
            raise DataError(f"{args.out} has already trained {done} epochs; ask for more with --epochs")
        if given:
            raise DataError(f"a resumed RNN-RBM keeps its checkpoint's settings; drop "
                            f"{', '.join('--' + g.replace('_', '-') for g in sorted(given))}")
        trainer = RNNRBMTrainer.resume(args.out, seq.train, seq.valid, epochs=args.epochs)
        print(f"resumed {args.out} at epoch {trainer.epoch}")
    else:
        for flag in ("method", "chains", "temperatures", "sparsity_target", "hmc_step", "hmc_leapfrog"):
            if flag in given:
                raise DataError(f"--{flag.replace('_', '-')} does not apply to an RNN-RBM (CD-k on every frame, "
                                "back-propagation through time into the RNN)")
        if args.positive not in (None, "auto") or args.negative not in (None, "gibbs") or args.pretrain:
            raise DataError("--positive, --negative and --pretrain do not apply to an RNN-RBM")
        g = lambda k, d: getattr(args, k) if k in given else d  # noqa: E731
        config = SequenceConfig(k=g("k", 10), epochs=args.epochs, frames_per_batch=g("batch_size", 512),
                                seed=g("seed", 0), backend=g("backend", "numpy"), dtype=g("dtype", "float32"),
                                optim=OptimConfig(lr=g("lr", 0.01), momentum=g("momentum", 0.9),
                                                  final_momentum=g("momentum", 0.9),
                                                  weight_decay=g("weight_decay", 0.0),
                                                  schedule=g("schedule", "constant")))
        trainer = RNNRBMTrainer(RNNRBM(graph, seed=config.seed), seq.train, config, seq.valid)
    model, c = trainer.rnnrbm, trainer.config
    print(f"training {trainer.graph.name} (RNN-RBM{', factored weights' if model.factored else ''}) on {seq.name} "
          f"({len(seq.train)} train / {len(seq.valid)} valid / {len(seq.test)} test sequences) with CD-{c.k}, "
          f"{trainer.chains} frames per update")

    def report(t, m):
        line = f"epoch {m['epoch']:>4} ({m['seconds']:.2f} s)"
        if args.eval_every and m["epoch"] % args.eval_every == 0:
            ll = _exact_report(model, seq)
            if ll is not None:
                line += ", exact frame log-likelihood " + ", ".join(f"{k} {v:.3f}" for k, v in ll.items())
                m["exact_log_likelihood"] = ll
        print(line, flush=True)
        if args.save_every and m["epoch"] % args.save_every == 0:
            t.save(args.out)

    trainer.fit(args.epochs, progress=not args.no_progress, callback=report)
    trainer.save(args.out)
    print(f"wrote {args.out}")
    if args.png:
        out = model.generate(64, chains=4, seed=c.seed)
        print(f"wrote {roll_png(args.png + '-generated.png', out, real=False)} (4 generated sequences of 64 frames)")
    return 0


def roll_png(path, sequences, real: bool):
    """A picture of ``(chains, T, n)`` frames: one band per chain, time to the right, unit 0 at the bottom
    (a piano roll for notes); real values are drawn from -3 (black) to +3 (white)."""
    from .io import write_png

    x = np.asarray(sequences, dtype=np.float64)
    if real:
        x = (np.clip(x, -3, 3) + 3) / 6
    bands = []
    for k, s in enumerate(x):
        if k:
            bands.append(np.full((2, s.shape[0]), 0.5))
        band = s.T[::-1]
        if not real:  # crop the keys never played, keep a margin
            bands_used = np.flatnonzero(x.reshape(-1, x.shape[2]).any(axis=0))
            if len(bands_used):
                lo, hi = max(0, bands_used[0] - 2), min(x.shape[2], bands_used[-1] + 3)
                band = s[:, lo:hi].T[::-1]
        bands.append(band)
    img = np.concatenate(bands, axis=0)
    scale = max(1, min(4, 600 // max(img.shape)))
    return write_png(path, np.kron(img, np.ones((scale, scale))))


def _check_midi(args, real: bool, n: int) -> None:
    if args.midi and (real or n != 88):
        raise DataError("--midi writes 88-key piano rolls (MIDI 21..108); this model's frames are not one -- "
                        "drop --midi")


def _prime_frames(seq, n: int) -> np.ndarray:
    first = seq.test[0]
    if n > len(first):
        raise DataError(f"--prime {n}: the first test sequence of {seq.name} has only {len(first)} frames")
    return first[:n]


def cmd_generate(args):
    """`pgboltz generate CHECKPOINT`: sequences from a trained conditional RBM or RNN-RBM."""
    from .checkpoint import load_checkpoint, load_model
    from .io import check_output, save_npz_atomic
    from .models.conditional import crbm_order, generate

    out = check_output(args.out)
    for extra in (args.png, args.midi):
        if extra:
            check_output(extra)
    _, meta = load_checkpoint(args.checkpoint)
    t0 = time.perf_counter()
    if meta.get("recipe") == "rnn-rbm":
        from .learning.rnnrbm import load_rnn_rbm

        model = load_rnn_rbm(args.checkpoint)
        _check_midi(args, real=False, n=model.n_visible)
        prime = None
        if args.prime:
            if not args.data:
                raise DataError("--prime takes frames from the first test sequence of --data; give --data too")
            prime = _prime_frames(load_sequences(args.data, not args.no_progress), args.prime)
        frames = model.generate(args.frames, chains=args.chains, gibbs_steps=args.gibbs_steps, seed=args.seed,
                                prime=prime)
        real, what = False, "RNN-RBM"
    else:
        graph, _, _ = load_model(args.checkpoint)
        order = crbm_order(graph)
        if order is None:
            raise DataError(f"{args.checkpoint} holds {graph.name!r}, which is neither a conditional RBM nor an "
                            "RNN-RBM: pgboltz generate runs sequence models (use pgboltz sample for the others)")
        if not args.data:
            raise DataError("a conditional RBM starts from real frames: give --data (its first test sequence "
                            "gives the history)")
        seq = load_sequences(args.data, not args.no_progress)
        if seq.n != graph.group("v").size:
            raise DataError(f"{args.data} has frames of {seq.n} values, {graph.name!r} models {graph.group('v').size}")
        _check_midi(args, seq.real, seq.n)
        start = max(order, args.prime or 0)
        history = np.repeat(_prime_frames(seq, start)[None], args.chains, axis=0)
        frames = generate(graph, history, args.frames, gibbs_steps=args.gibbs_steps, seed=args.seed)
        real, what = seq.real, f"conditional RBM of order {order}, from the first {start} test frames"
    save_npz_atomic(out, {"frames": frames.astype(np.float32)},
                    {"checkpoint": str(args.checkpoint), "frames": args.frames, "chains": args.chains,
                     "gibbs_steps": args.gibbs_steps, "seed": args.seed})
    print(f"wrote {out}: {args.chains} x {args.frames} frames ({what}; {time.perf_counter() - t0:.1f} s)")
    if args.png:
        print(f"wrote {roll_png(args.png, frames, real)}")
    if args.midi:
        from .sequence_data import write_midi

        print(f"wrote {write_midi(args.midi, frames[0])} (the first sequence)")
    return 0


def evaluate_sequences(args):
    """`pgboltz evaluate` for sequence models: mean frame log-likelihood (exact, or forward AIS when the
    hidden layer is too large to enumerate) and frame-level accuracy, on a split of sequences."""
    from .checkpoint import load_checkpoint, load_model
    from .estimators import base_rate_biases, conditional_ais, conditional_log_likelihood, default_betas
    from .models.conditional import crbm_order, predict_next
    from .models.rnnrbm import frame_accuracy

    _, meta = load_checkpoint(args.checkpoint)
    if args.no_reverse or args.bound_samples != 100:
        raise DataError("--no-reverse and --bound-samples do not apply to sequence models: their frames are "
                        "evaluated exactly, or by forward AIS per frame")
    seq = load_sequences(args.data, not args.no_progress)
    split = seq.split(args.split)
    if meta.get("recipe") == "rnn-rbm":
        from .learning.rnnrbm import load_rnn_rbm

        model = load_rnn_rbm(args.checkpoint)
        graph, data = model.graph, model.frames(split)
        predicted = model.predict(split, seed=args.seed, backend=args.backend)
    else:
        graph, _, _ = load_model(args.checkpoint)
        windows = SequenceWindows(seq).for_graph(graph, args.split)
        data = windows
        predicted = predict_next(graph, windows, seed=args.seed, backend=args.backend)
    t0 = time.perf_counter()
    try:
        ll = conditional_log_likelihood(graph, data)
        how = "exact"
    except TooLargeError:
        runs, n_betas = args.ais_runs or 10, args.betas or 2000
        print(f"  the hidden layer is too large to enumerate: forward AIS for each of {len(data['v'])} frames, "
              f"{runs} runs x {n_betas} betas ({len(data['v']) * runs * n_betas:.2g} chain updates)", flush=True)
        base = base_rate_biases(graph, {"v": seq.frames("train")})
        res = conditional_ais(graph, {g: data[g] for g in graph.inputs}, base, runs_per_row=runs,
                              betas=default_betas(n_betas), seed=args.seed, backend=args.backend,
                              progress=not args.no_progress)
        from .estimators.free_energy import free_energy

        ll = -free_energy(graph, data) - res.log_z
        how = f"forward AIS, {res.runs_per_row} runs x {res.n_betas} betas per frame (optimistic in expectation)"
    print(f"{graph.name} after {meta.get('epoch')} epochs, {args.data} {args.split} split "
          f"({len(split)} sequences, {len(data['v'])} frames):")
    print(f"  frame log-likelihood {ll.mean():.4f} nats ({how}; {time.perf_counter() - t0:.1f} s)")
    if seq.real:
        print(f"  one-step prediction mean squared error {((predicted - data['v']) ** 2).mean():.4f}")
    else:
        print(f"  frame-level accuracy {frame_accuracy(predicted, data['v']):.4f}")
    return 0
