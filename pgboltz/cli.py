"""pgboltz command line.

  pgboltz info   GRAPH            groups, factors, derived blocks, parameter count
  pgboltz verify [GRAPH ...]      derived conditionals and Gibbs moments against pgmpy exact inference
  pgboltz sample [GRAPH] ...      batched blocked Gibbs sampling; writes an .npz (and a PNG)
  pgboltz train GRAPH --data D    CD-k / PCD / parallel tempering on offline data; checkpoint + PNGs
                                  (DBNs greedily layer by layer; DBMs optionally pre-trained first)
  pgboltz evaluate CHECKPOINT     exact or AIS log-likelihood with its interval
  pgboltz generate CHECKPOINT     sequences from a conditional RBM or an RNN-RBM (npz, piano-roll PNG, MIDI)

GRAPH is a spec file (see graphs/README.md) or the name of a shipped example.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
import time

import numpy as np

from . import __version__
from .errors import PgboltzError, TooLargeError
from .data import DATASETS
from .sequence_data import SEQUENCE_DATASETS
from .specs import DEFAULT_GRAPH, example_names, load

#: `pgboltz verify` without arguments checks the examples up to this size (a few seconds each)
DEFAULT_VERIFY_UNITS = 64

EPILOG = """\
examples:
  pgboltz verify                          check every small example graph against pgmpy
  pgboltz info graphs/kings-4x4.toml      show groups, factors and the derived block schedule
  pgboltz sample --chains 1000 --sweeps 200 --out samples.npz --png samples.png
                                          sample the 784x500 RBM (the default graph)
  pgboltz sample graphs/ising-6x6.toml --backend cupy --chains 100000 --sweeps 1000
  pgboltz train rbm-digits --data digits --method pcd --epochs 100 --out digits.npz
  pgboltz evaluate digits.npz --data digits
  pgboltz train dbn-digits --data digits --epochs 20 --out dbn.npz
                                          greedy layer-wise DBN training (one RBM per layer)
  pgboltz train dbm-digits --data digits --pretrain 20 --positive mean-field --epochs 20 --out dbm.npz
                                          DBM: doubled-RBM pre-training, then joint training

examples shipped with pgboltz: {examples}
"""


def _number(kind, low=None, high=None, low_open=False, high_open=False, what=""):
    """An argparse type: a ``kind`` number in [low, high] (open ends where asked), refused with one line otherwise."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}")
        bad = not math.isfinite(value) or (low is not None and (value <= low if low_open else value < low)) or \
            (high is not None and (value >= high if high_open else value > high))
        if bad:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value
    return parse


POSITIVE = _number(int, 1, what="a positive integer")
COUNT = _number(int, 0, what="an integer >= 0")
SEED = _number(int, 0, 2**63 - 1, what="an integer from 0 to 2^63 - 1")
POSITIVE_REAL = _number(float, 0.0, low_open=True, what="a finite number > 0")
NON_NEGATIVE_REAL = _number(float, 0.0, what="a finite number >= 0")
FRACTION = _number(float, 0.0, 1.0, high_open=True, what="a number in [0, 1)")
PROBABILITY = _number(float, 0.0, 1.0, low_open=True, high_open=True, what="a number in (0, 1)")
AT_LEAST_TWO = _number(int, 2, what="an integer >= 2 (an interval needs two runs)")


def _train_options(trn):
    """The options of `pgboltz train` (also read alone, to see which were given on the command line)."""
    trn.add_argument("graph", metavar="GRAPH", help="spec file or example name (e.g. rbm-digits, rbm-784x500)")
    trn.add_argument("--data", required=True, choices=DATASETS + SEQUENCE_DATASETS,
                     help="image data sets, or sequences (motion, chorales) for a conditional RBM or an RNN-RBM")
    trn.add_argument("--method", choices=("cd", "pcd", "pt"), help="cd, pcd or pt (default pcd)")
    trn.add_argument("-k", type=POSITIVE, help="Gibbs sweeps per update (default 1)")
    trn.add_argument("--epochs", type=POSITIVE, default=20)
    trn.add_argument("--batch-size", type=POSITIVE, help="examples per update (default 100)")
    trn.add_argument("--lr", type=POSITIVE_REAL, help="learning rate (default 0.05)")
    trn.add_argument("--schedule", choices=("constant", "linear", "exponential"),
                     help="learning-rate schedule (default constant)")
    trn.add_argument("--momentum", type=FRACTION, help="momentum in [0, 1) (default 0.5)")
    trn.add_argument("--weight-decay", type=NON_NEGATIVE_REAL, help="weight decay of couplings (default 1e-4)")
    trn.add_argument("--sparsity-target", type=PROBABILITY, help="target mean activation of hidden units")
    trn.add_argument("--chains", type=POSITIVE, help="persistent chains per temperature (default: batch size)")
    trn.add_argument("--temperatures", type=POSITIVE, help="PT: number of temperatures (default 8)")
    trn.add_argument("--positive", choices=("auto", "mean-field"),
                     help="positive phase when hidden groups are coupled given the data (a DBM): clamped Gibbs "
                          "sweeps (auto) or mean-field fixed points as in Salakhutdinov & Hinton (default auto)")
    trn.add_argument("--negative", choices=("gibbs", "hmc"),
                     help="negative phase: blocked Gibbs, or hybrid Monte Carlo on the free energy of a real-valued "
                          "visible group with the hiddens summed out (the mcRBM's, Ranzato & Hinton) (default gibbs)")
    trn.add_argument("--hmc-step", type=POSITIVE_REAL, help="HMC leapfrog step size (default 0.05)")
    trn.add_argument("--hmc-leapfrog", type=POSITIVE, help="HMC leapfrog steps per transition (default 20)")
    trn.add_argument("--pretrain", type=COUNT, default=0, metavar="E",
                     help="DBMs: first pre-train each layer E epochs as a doubled RBM (Salakhutdinov & Hinton 2009); "
                          "convolutional DBNs: as a convolutional RBM on the pooling units below (Lee et al. 2009)")
    trn.add_argument("--pretrain-lr", type=POSITIVE_REAL, metavar="LR",
                     help="learning rate of the pre-training RBMs (default: --lr)")
    trn.add_argument("--backend", choices=("numpy", "cupy"), help="numpy or cupy (default numpy)")
    trn.add_argument("--dtype", choices=("float32", "float64"), help="float32 or float64 (default float32)")
    trn.add_argument("--seed", type=SEED, help="random seed (default 0)")
    trn.add_argument("--out", metavar="FILE", default="checkpoint.npz", help="checkpoint (default checkpoint.npz)")
    trn.add_argument("--save-every", type=COUNT, default=10, metavar="E",
                     help="also checkpoint every E epochs (a DBN's greedy run saves once, at the end)")
    trn.add_argument("--eval-every", type=COUNT, default=10, metavar="E",
                     help="print the exact train/test log-likelihood every E epochs when the model is small "
                          "enough to enumerate (0: never)")
    trn.add_argument("--resume", action="store_true",
                     help="continue --out up to --epochs; the graph and settings come from the checkpoint")
    trn.add_argument("--overwrite", action="store_true", help="replace an existing --out instead of refusing")
    trn.add_argument("--png", metavar="PREFIX", help="write PREFIX-samples.png and PREFIX-filters.png")
    trn.add_argument("--no-progress", action="store_true")
    trn.add_argument("--allow-outside-paths", action="store_true",
                     help="let the spec read data files outside its own folder")


def _parser():
    p = argparse.ArgumentParser(
        prog="pgboltz",
        description="Boltzmann machines as explicit factor graphs: conditionals derived from the energy, "
                    "batched blocked Gibbs sampling on NumPy or CuPy, exact checks with pgmpy.",
        epilog=EPILOG.format(examples=", ".join(example_names())),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"pgboltz {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    info = sub.add_parser("info", help="show groups, factors, blocks and parameter count of a graph",
                          description="Show a graph's groups, factors, derived block schedule and parameter count.")
    info.add_argument("graph", metavar="GRAPH", help="spec file or example name")
    info.add_argument("--write-spec", metavar="FILE",
                      help="also write the graph as a spec FILE.toml with its parameters in FILE.npz (and large "
                           "edge lists as text files beside it), to ship a topology in graphs/")
    info.add_argument("--allow-outside-paths", action="store_true",
                     help="let the spec read data files outside its own folder")

    ver = sub.add_parser(
        "verify", help="check derived conditionals and Gibbs moments against pgmpy exact inference",
        description="For each graph: derived conditionals vs pgmpy (to 1e-9), log-probability ratios vs energy differences, "
                    "log Z by enumeration vs pgmpy, and Gibbs first/second moments vs exact values within "
                    "--z-max standard errors. Exits with status 1 if any check fails.")
    ver.add_argument("graphs", metavar="GRAPH", nargs="*",
                     help="spec files or example names (default: every example of at most 64 units)")
    ver.add_argument("--chains", type=POSITIVE, default=4000, help="independent chains (default 4000)")
    ver.add_argument("--sweeps", type=POSITIVE, default=400, help="recorded sweeps per chain (default 400)")
    ver.add_argument("--burn-in", type=COUNT, default=100, help="sweeps discarded first (default 100)")
    ver.add_argument("--seed", type=SEED, default=0, help="random seed (default 0)")
    ver.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    ver.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    ver.add_argument("--allow-outside-paths", action="store_true",
                     help="let the spec read data files outside its own folder")
    ver.add_argument("--z-max", type=POSITIVE_REAL, default=4.0, help="tolerance in standard errors (default 4)")

    smp = sub.add_parser(
        "sample", help="run batched blocked Gibbs sampling and save the samples",
        description="Run blocked Gibbs sampling over many chains and save states to an .npz archive "
                    "(one array per group -- int8 for binary units, float32 for Gaussian ones -- shaped (recorded, chains, "
                    "*group shape), plus JSON metadata).")
    smp.add_argument("graph", metavar="GRAPH", nargs="?", default=DEFAULT_GRAPH,
                     help=f"spec file or example name (default: {DEFAULT_GRAPH})")
    smp.add_argument("--chains", type=POSITIVE, default=1000, help="independent chains (default 1000)")
    smp.add_argument("--sweeps", type=COUNT, default=100, help="sweeps after burn-in (default 100)")
    smp.add_argument("--burn-in", type=COUNT, default=0, help="sweeps discarded first (default 0)")
    smp.add_argument("--thin", type=COUNT, default=0,
                     help="record every THIN-th sweep; 0 records only the final state (default 0)")
    smp.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    smp.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    smp.add_argument("--precision", choices=("float32", "tf32"), default="float32",
                     help="GPU matrix products: float32, or TF32 tensor cores (faster, 10-bit mantissas in the "
                          "products' inputs); --backend cupy only (default float32)")
    smp.add_argument("--beta", type=NON_NEGATIVE_REAL, default=1.0, help="inverse temperature (default 1)")
    smp.add_argument("--seed", type=SEED, default=0, help="random seed (default 0)")
    smp.add_argument("--out", metavar="FILE", default="samples.npz", help="output archive (default samples.npz)")
    smp.add_argument("--png", metavar="FILE", help="also write a picture of up to 64 final visible states")
    smp.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    smp.add_argument("--allow-outside-paths", action="store_true",
                     help="let the spec read data files outside its own folder")

    trn = sub.add_parser(
        "train", help="train a graph on offline data (CD-k, PCD or parallel tempering)",
        description="Stochastic maximum-likelihood training: positive statistics with the data clamped, negative "
                    "statistics from CD-k, persistent chains (PCD) or parallel tempering (PT). Prints per-epoch "
                    "metrics, writes a checkpoint (atomically, every --save-every epochs and at the end) and PNG "
                    "grids of samples and filters. --resume continues a checkpoint bit for bit. A DBN (a chain of "
                    "directed layers under a top RBM) is trained greedily, one RBM per layer with these options "
                    "(seed eq. 22); a DBM can be pre-trained layer by layer first (--pretrain) and trained jointly "
                    "with a mean-field positive phase (--positive mean-field).")
    _train_options(trn)

    ev = sub.add_parser(
        "evaluate", help="average log-likelihood of a checkpoint: exact, or AIS with an interval",
        description="Average log p(v) over the test split: exact by enumeration when the model is small enough "
                    "(e.g. 64x20 or 784x20 RBMs), otherwise forward AIS from a base-rate model (optimistic) and "
                    "reverse AIS from long Gibbs runs (conservative), each with a +-3 sigma interval. For DBNs and "
                    "DBMs whose hidden layers cannot be enumerated given v, log p~(v) is a variational lower bound "
                    "(mean-field for a DBM, the up-pass for a DBN) with an importance-sampled estimate beside it.")
    ev.add_argument("checkpoint", metavar="CHECKPOINT")
    ev.add_argument("--data", required=True, choices=DATASETS + SEQUENCE_DATASETS)
    ev.add_argument("--split", choices=("test", "train", "valid"), default="test",
                    help="split to evaluate (valid: sequence data sets only) (default test)")
    ev.add_argument("--ais-runs", type=AT_LEAST_TWO,
                    help="AIS runs (default 100; sequence models: runs per frame, default 10)")
    ev.add_argument("--betas", type=AT_LEAST_TWO,
                    help="intermediate distributions (default 14500; deep Boltzmann machines: 22000, 6000 to the "
                         "model without its hidden layers' couplings, then 16000 switching them on; sequence "
                         "models: 2000 per frame)")
    ev.add_argument("--no-reverse", action="store_true", help="skip reverse AIS")
    ev.add_argument("--bound-samples", type=COUNT, default=100,
                    help="deep models too large to enumerate given v: importance samples per example beside "
                         "the variational bound (default 100; 0: the mean-field bound alone)")
    ev.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    ev.add_argument("--seed", type=SEED, default=0)
    ev.add_argument("--no-progress", action="store_true")

    gen = sub.add_parser(
        "generate", help="generate sequences from a trained conditional RBM or RNN-RBM",
        description="Run a sequence model forward frame by frame, feeding back its own output: a conditional RBM "
                    "from a history of real frames (the first test sequence of --data), an RNN-RBM from an empty "
                    "RNN state (or primed with --prime frames of the first test sequence). Each frame takes "
                    "--gibbs-steps blocked Gibbs sweeps. Writes the frames to an .npz (chains, frames, units), and "
                    "optionally a picture (a piano roll for notes) and a MIDI file of the first sequence.")
    gen.add_argument("checkpoint", metavar="CHECKPOINT")
    gen.add_argument("--data", choices=SEQUENCE_DATASETS, help="the data set the model was trained on (needed for "
                                                               "a conditional RBM's history)")
    gen.add_argument("--frames", type=POSITIVE, default=100, help="frames to generate (default 100)")
    gen.add_argument("--chains", type=POSITIVE, default=4, help="sequences generated side by side (default 4)")
    gen.add_argument("--gibbs-steps", type=POSITIVE, default=25, help="Gibbs sweeps per frame (default 25)")
    gen.add_argument("--prime", type=COUNT, default=0,
                     help="frames of the first test sequence to start from (conditional RBM: at least its order)")
    gen.add_argument("--seed", type=SEED, default=0, help="random seed (default 0)")
    gen.add_argument("--out", metavar="FILE", default="generated.npz", help="output archive (default generated.npz)")
    gen.add_argument("--png", metavar="FILE", help="also write a picture of the generated frames")
    gen.add_argument("--midi", metavar="FILE", help="also write the first sequence as a MIDI file (88-key rolls)")
    gen.add_argument("--no-progress", action="store_true")

    from .plots import KINDS, UNIT_LEVEL_MAX

    plo = sub.add_parser(
        "plot", help="draw a figure of a checkpoint or graph (needs matplotlib)",
        description="Draw one figure into --out (PNG, or PDF/SVG by suffix), written atomically. KIND is: "
                    "history (per-epoch metrics of a CHECKPOINT), samples (visible states after Gibbs sweeps), "
                    "filters (receptive fields onto the visible group), ais (forward and reverse AIS of the "
                    "average log-likelihood with +-3 sigma, and the exact value when it can be enumerated; needs "
                    "--data), conditionals (derived conditionals against pgmpy's exact ones) or graph (groups and "
                    f"factors, and for at most {UNIT_LEVEL_MAX} units the units coloured by Gibbs block). SOURCE is a "
                    "checkpoint (.npz) or a spec file or example name. Needs matplotlib: "
                    "pip install \"pgboltz[notebooks]\".")
    plo.add_argument("kind", metavar="KIND", choices=KINDS, help=", ".join(KINDS))
    plo.add_argument("source", metavar="SOURCE", help="checkpoint (.npz), spec file or example name")
    plo.add_argument("--out", metavar="FILE", required=True, help="image file (.png, .pdf or .svg)")
    plo.add_argument("--data", choices=DATASETS, help="ais: the data set the checkpoint was trained on")
    plo.add_argument("--split", choices=("test", "train"), default="test", help="ais: split to evaluate (default test)")
    plo.add_argument("--ais-runs", type=AT_LEAST_TWO, default=50, help="ais: runs per direction (default 50)")
    plo.add_argument("--betas", type=AT_LEAST_TWO, default=2000, help="ais: intermediate distributions (default 2000)")
    plo.add_argument("--n", type=POSITIVE, help="samples: chains drawn (default 64); filters: most shown (default 100)")
    plo.add_argument("--sweeps", type=COUNT, default=1000, help="samples: Gibbs sweeps (default 1000)")
    plo.add_argument("--states", type=POSITIVE, default=4,
                     help="conditionals: random states of the rest to condition on (default 4)")
    plo.add_argument("--seed", type=SEED, default=0, help="random seed (default 0)")
    plo.add_argument("--dpi", type=POSITIVE, default=100, help="resolution (default 100)")
    plo.add_argument("--no-progress", action="store_true")
    plo.add_argument("--allow-outside-paths", action="store_true",
                     help="let the spec read data files outside its own folder")
    return p


def cmd_info(args):
    from .sampling import GibbsSampler

    graph = load(args.graph, args.allow_outside_paths)
    print(graph.summary())
    sampler = GibbsSampler(graph, chains=1)
    print(sampler.describe())
    if args.write_spec:
        from .interop import write_spec

        for f in write_spec(graph, args.write_spec):
            print(f"wrote {f}")
    return 0


def cmd_verify(args):
    from .verify import verify

    names = args.graphs or example_names()
    failed = 0
    for name in names:
        graph = load(name, args.allow_outside_paths)
        if graph.inputs:
            why = (f"it is conditioned on input groups ({', '.join(graph.inputs)}), so it has no one distribution "
                   "to check; its conditionals given clamped inputs are checked against pgmpy by the test suite "
                   "and notebooks/conditional_rbm.ipynb")
            if args.graphs:
                from .errors import DataError

                raise DataError(f"verify {graph.name}: {why}")
            print(f"verify {graph.name}: skipped; {why}\n")
            continue
        continuous = [g for g, grp in graph.groups.items() if grp.units.support is None]
        if continuous:
            why = (f"its group(s) {', '.join(continuous)} are real-valued, and verify enumerates finite supports; "
                   "the real-valued families' conditionals, Gaussian integrals and samplers are checked by the test "
                   "suite (tests/test_real_valued.py) and notebooks/real_valued_models.ipynb, and `pgboltz evaluate` computes "
                   "their exact log-likelihood when the binary side is small enough to enumerate")
            if args.graphs:
                from .errors import DataError

                raise DataError(f"verify {graph.name}: {why}")
            print(f"verify {graph.name}: skipped; {why}\n")
            continue
        if not args.graphs and graph.n_units() > DEFAULT_VERIFY_UNITS:
            from .exact.cost import treewidth_lower_bound
            from .exact.pgmpy_bridge import MAX_ENTRIES

            if treewidth_lower_bound(graph, graph.groups) + 1 > math.log2(MAX_ENTRIES):
                why = "too large for exact inference; its training and AIS are checked instead"
            else:
                why = f"run `pgboltz verify {name}` to check it (slower)"
            print(f"verify {graph.name}: skipped by default ({graph.n_units()} units); {why}\n")
            continue
        t0 = time.perf_counter()
        try:
            report = verify(graph, chains=args.chains, sweeps=args.sweeps, burn_in=args.burn_in, seed=args.seed,
                            backend=args.backend, dtype=args.dtype, z_max=args.z_max)
        except TooLargeError as exc:
            if args.graphs:
                raise
            print(f"verify {graph.name}: skipped, too large for exact inference ({exc})\n")
            continue
        print(report.table() + f"\n  ({time.perf_counter() - t0:.1f} s)\n")
        failed += not report.passed
    if failed:
        print(f"{failed} graph(s) failed verification", file=sys.stderr)
    return 1 if failed else 0


def cmd_sample(args):
    from .io import check_output, check_writable, save_npz_atomic
    from .model import check_memory
    from .pictures import samples_png
    from .sampling import GibbsSampler

    graph = load(args.graph, args.allow_outside_paths)
    if graph.inputs:
        from .errors import DataError

        raise DataError(f"{graph.name!r} is conditioned on input groups ({', '.join(graph.inputs)}) whose values "
                        "pgboltz sample cannot know: use pgboltz generate for a trained sequence model, or clamp "
                        "them from Python (GibbsSampler(graph, clamp={...}))")
    check_writable(args.out)
    if args.png:
        check_output(args.png)
    recorded = args.sweeps // args.thin if args.thin > 0 else 1
    per_state = sum(g.size * np.dtype(g.units.storage_dtype).itemsize for g in graph.groups.values())
    check_memory(2 * recorded * args.chains * per_state, f"recording {recorded} states of {args.chains} chains")
    options = {}
    if args.precision != "float32":
        if args.backend != "cupy" or args.dtype != "float32":
            raise SystemExit("pgboltz sample: error: --precision tf32 needs --backend cupy and --dtype float32")
        options["precision"] = args.precision
    sampler = GibbsSampler(graph, chains=args.chains, backend=args.backend, seed=args.seed, dtype=args.dtype,
                           beta=args.beta, **options)
    if not args.no_progress:
        print(sampler.model.memory_report(), flush=True)
    collect = "samples" if args.thin > 0 else "none"
    res = sampler.run(args.sweeps, burn_in=args.burn_in, thin=max(1, args.thin), collect=collect,
                      progress=not args.no_progress)
    if res.samples is None:
        arrays = {g: x[None].astype(graph.group(g).units.storage_dtype) for g, x in res.final.items()}
    else:
        arrays = res.samples
    meta = dict(graph=graph.name, chains=args.chains, sweeps=args.sweeps, burn_in=args.burn_in, thin=args.thin,
                backend=args.backend, dtype=args.dtype, beta=args.beta, seed=args.seed,
                seconds=res.seconds, unit_updates_per_second=res.unit_updates_per_second, version=__version__)
    path = save_npz_atomic(args.out, arrays, meta)
    print(f"{graph.name}: {args.chains} chains x {args.burn_in + args.sweeps} sweeps on {args.backend} "
          f"({args.dtype}) in {res.seconds:.2f} s = {res.unit_updates_per_second:.3g} unit updates/s")
    for g, x in res.final.items():
        print(f"  mean of {g}: {x.mean():.4f}")
    print(f"wrote {path} ({', '.join(f'{g}{list(a.shape)}' for g, a in arrays.items())})")
    if args.png:
        g = (graph.visible or list(graph.groups))[0]
        print(f"wrote {samples_png(args.png, graph, res.final)} (final states of {g})")
    return 0


#: train options that a resumed run takes from its checkpoint (option -> TrainConfig path)
FROM_CHECKPOINT = {"method": ("method",), "k": ("k",), "batch_size": ("batch_size",), "chains": ("chains",),
                   "temperatures": ("temperatures",), "seed": ("seed",), "backend": ("backend",),
                   "dtype": ("dtype",), "lr": ("optim", "lr"), "momentum": ("optim", "momentum"),
                   "weight_decay": ("optim", "weight_decay"), "schedule": ("optim", "schedule"),
                   "sparsity_target": ("optim", "sparsity_target"), "positive": ("positive",),
                   "negative": ("negative",), "hmc_step": ("hmc_step",), "hmc_leapfrog": ("hmc_leapfrog",)}


def _resume_settings(args, graph, meta, given):
    """Refuse options that contradict the checkpoint being resumed; say where the settings come from."""
    from .errors import DataError

    out = args.out
    if args.graph != graph.name:
        try:
            other = load(args.graph, args.allow_outside_paths).name
        except PgboltzError:
            other = None
        if other != graph.name:
            raise DataError(f"{out} holds graph {graph.name!r}, not {args.graph!r}; resume with GRAPH = {graph.name}")
    clashes = []
    for opt, path in FROM_CHECKPOINT.items():
        if opt in given:
            saved = meta["config"]
            for key in path:
                saved = saved.get(key) if isinstance(saved, dict) else None
            if opt == "chains" and saved is None:  # unset means one chain per example of a batch
                saved = meta["config"].get("batch_size")
            if opt == "positive":
                saved = saved.replace("_", "-") if isinstance(saved, str) else saved
            if getattr(args, opt) != saved:
                flag = "-k" if opt == "k" else f"--{opt.replace('_', '-')}"
                clashes.append(f"{flag} {getattr(args, opt)} (checkpoint: {saved})")
    if clashes:
        raise DataError(f"{out}: a resumed run keeps its checkpoint's settings; these contradict it: "
                        f"{'; '.join(clashes)}. Drop them, or start a new run with --overwrite")
    if args.epochs <= meta["epoch"]:
        raise DataError(f"{out} has already trained {meta['epoch']} epochs; ask for more with --epochs")


#: defaults of the settings a checkpoint keeps (left unset on the command line so a resume can tell)
TRAIN_DEFAULTS = {"method": "pcd", "k": 1, "batch_size": 100, "chains": None, "temperatures": 8, "seed": 0,
                  "backend": "numpy", "dtype": "float32", "lr": 0.05, "momentum": 0.5, "weight_decay": 1e-4,
                  "schedule": "constant", "sparsity_target": None, "positive": "auto",
                  "negative": "gibbs", "hmc_step": 0.05, "hmc_leapfrog": 20}


def cmd_train(args):
    from .checkpoint import resolve
    from .data import load as load_data
    from .errors import DataError
    from .io import check_output, check_writable
    from .learning import OptimConfig, TrainConfig, Trainer
    from .pictures import filters_png, samples_png

    given = {k for k in TRAIN_DEFAULTS if getattr(args, k) is not None}
    if args.resume and args.overwrite:
        raise DataError("--resume continues a checkpoint and --overwrite replaces it: choose one")
    args.out = str(resolve(args.out) if args.resume else check_writable(args.out))
    if args.png:
        for suffix in ("-samples.png", "-filters.png"):
            check_output(args.png + suffix)
    if args.resume and Path(args.out).exists() and not os.access(args.out, os.W_OK):
        raise DataError(f"{args.out}: not writable, so the resumed run could not save; fix its permissions")
    if args.data in SEQUENCE_DATASETS:
        from .cli_sequences import SequenceWindows, load_sequences

        data = SequenceWindows(load_sequences(args.data, not args.no_progress))
    else:
        data = load_data(args.data)
    if args.resume:
        from .checkpoint import load_model

        loaded = load_model(args.out)
        graph, _, meta = loaded
        if meta.get("recipe") == "rnn-rbm":
            from .cli_sequences import train_rnn_rbm

            return train_rnn_rbm(args, data, given)
        if args.pretrain or args.pretrain_lr is not None:
            raise DataError("--pretrain starts a new run; a resumed run continues joint training without it")
        if meta.get("recipe") == "greedy-dbn":
            raise DataError(f"{args.out} is a DBN trained greedily, layer by layer, which does not resume; "
                            "start a new run with --overwrite")
        _resume_settings(args, graph, meta, given)
        trainer = Trainer.from_checkpoint(args.out, loaded, data.for_graph(graph), data.for_graph(graph, "test"),
                                          epochs=args.epochs)
        c = trainer.config
        print(f"resumed {args.out} at epoch {trainer.epoch}; settings from the checkpoint: {c.method}, k={c.k}, "
              f"batch {c.batch_size}, lr {c.optim.lr} ({c.optim.schedule}), {c.backend} {c.dtype}, seed {c.seed}")
    else:
        if Path(args.out).exists() and not args.overwrite:
            raise DataError(f"{args.out} exists; pass --overwrite to replace it, or --resume to continue it")
        for k, v in TRAIN_DEFAULTS.items():
            if k not in given:
                setattr(args, k, v)
        graph = load(args.graph, args.allow_outside_paths)
        if args.data in SEQUENCE_DATASETS:
            from .cli_sequences import is_rnn_rbm, train_rnn_rbm

            if is_rnn_rbm(graph):
                return train_rnn_rbm(args, data, given, graph)
        try:
            config = TrainConfig(method=args.method, k=args.k, epochs=args.epochs, batch_size=args.batch_size,
                                 chains=args.chains, temperatures=args.temperatures, seed=args.seed,
                                 backend=args.backend, dtype=args.dtype,
                                 optim=OptimConfig(lr=args.lr, momentum=args.momentum, final_momentum=args.momentum,
                                                   weight_decay=args.weight_decay, schedule=args.schedule,
                                                   sparsity_target=args.sparsity_target),
                                 positive=args.positive.replace("-", "_"), negative=args.negative,
                                 hmc_step=args.hmc_step, hmc_leapfrog=args.hmc_leapfrog)
        except ValueError as exc:  # combinations argparse cannot see (e.g. --negative hmc with --method pt)
            raise DataError(str(exc)) from None
        from .models.deep import dbm_layers, dbn_layers

        if args.pretrain_lr is not None and not args.pretrain:
            raise DataError("--pretrain-lr sets the learning rate of --pretrain; give --pretrain E too, or drop it")
        if dbn_layers(graph) is not None:
            if args.pretrain or args.positive != "auto":
                raise DataError(f"{graph.name!r} is a DBN, trained greedily one RBM per layer; --pretrain and "
                                "--positive are for DBMs -- drop them")
            return _train_dbn(args, graph, data, config)
        if args.pretrain:
            from .models import cdbn_layers

            if cdbn_layers(graph) is not None:
                _pretrain_cdbn(args, graph, data, config)
            else:
                layers = dbm_layers(graph)
                if layers is None or len(layers) < 3:
                    raise DataError(f"--pretrain needs a DBM with at least two hidden layers (a chain of dense "
                                    f"factors plus biases) or a convolutional DBN; {graph.name!r} is neither -- "
                                    "drop --pretrain")
                _pretrain_dbm(args, graph, data, config)
        trainer = Trainer(graph, data.for_graph(graph), config, data.for_graph(graph, "test"))
    sequences = args.data in SEQUENCE_DATASETS
    how = data.threshold if data.real or sequences else f"binarised at {data.threshold}"
    print(f"training {graph.name} on {data.name} ({len(data.train)} train / {len(data.test)} test"
          f"{' sequences' if sequences else ''}, "
          f"{how}) with {trainer.config.method}, k={trainer.config.k}")

    def report(t, m):
        extra = f", swap acceptance {m['swap_acceptance']:.2f}" if "swap_acceptance" in m else ""
        recon = m["reconstruction_error"]
        line = f"epoch {m['epoch']:>4}: reconstruction error {recon:.4f}" if recon is not None else f"epoch {m['epoch']:>4}"
        if args.eval_every and m["epoch"] % args.eval_every == 0:
            ll = t.exact_log_likelihoods()
            if ll is not None:
                extra += ", exact log-likelihood " + ", ".join(f"{k} {v:.3f}" for k, v in ll.items())
                m["exact_log_likelihood"] = {k: float(v) for k, v in ll.items()}  # kept in the checkpoint's history
        print(line + f" ({m['seconds']:.2f} s){extra}", flush=True)
        if args.save_every and m["epoch"] % args.save_every == 0:
            t.save(args.out)

    trainer.fit(args.epochs, progress=not args.no_progress, callback=report)
    trainer.save(args.out)
    print(f"wrote {args.out}")
    if args.png:
        sampler = trainer.neg
        cold = trainer.tempering.cold_mask() if trainer.tempering is not None else slice(None)
        states = {g: x[cold] for g, x in sampler.get_states().items()}
        print(f"wrote {samples_png(args.png + '-samples.png', graph, states)} (persistent/negative chains)")
        f = filters_png(args.png + "-filters.png", graph)
        if f is not None:
            print(f"wrote {f}")
    return 0


def _pretrain_cdbn(args, graph, data, config):
    from dataclasses import replace

    from .learning import train_cdbn_greedy
    from .models import cdbn_layers

    layers = cdbn_layers(graph)
    print(f"pre-training {graph.name} layer by layer as convolutional RBMs ({len(layers)} layers), "
          f"{args.pretrain} epochs each")
    optim = replace(config.optim, lr=args.pretrain_lr or config.optim.lr)
    image = layers[0][0]
    _, _, histories = train_cdbn_greedy(data.for_graph(graph)[image], graph,
                                        replace(config, epochs=args.pretrain, optim=optim),
                                        progress=not args.no_progress)
    for k, h in enumerate(histories):
        print(f"  layer {k + 1} ({' -> '.join(layers[k])}): reconstruction error "
              f"{h[0]['reconstruction_error']:.4f} -> {h[-1]['reconstruction_error']:.4f}")


def _pretrain_dbm(args, graph, data, config):
    from dataclasses import replace

    from .learning import train_dbm_greedy
    from .models.deep import dbm_layers, load_layers

    names = dbm_layers(graph)
    sizes = [graph.group(n).size for n in names]
    print(f"pre-training {graph.name} layer by layer as doubled RBMs ({'-'.join(map(str, sizes))}), "
          f"{args.pretrain} epochs each")
    optim = replace(config.optim, lr=args.pretrain_lr or config.optim.lr)
    composed, _, histories = train_dbm_greedy(data.for_graph(graph)[names[0]], sizes,
                                              replace(config, epochs=args.pretrain, optim=optim),
                                              progress=not args.no_progress)
    for k, h in enumerate(histories):
        print(f"  layer {k + 1}: reconstruction error {h[0]['reconstruction_error']:.4f} -> "
              f"{h[-1]['reconstruction_error']:.4f}")
    load_layers(graph, composed, names)
    if args.eval_every:
        from .estimators import exact_log_likelihood
        from .exact import log_z

        try:
            lz = log_z(graph, max_units=20)
        except TooLargeError:
            return
        print(f"  pre-trained DBM: exact log-likelihood train {exact_log_likelihood(graph, data.for_graph(graph), lz):.3f}, "
              f"test {exact_log_likelihood(graph, data.for_graph(graph, 'test'), lz):.3f}")


def _train_dbn(args, graph, data, config):
    """Greedy layer-wise DBN training (seed eq. 22): one RBM per layer, each with the train options."""
    from dataclasses import asdict

    from .checkpoint import save_checkpoint
    from .graph.serialize import graph_to_dict
    from .learning import train_dbn_greedy
    from .models.deep import dbn_layers, load_layers
    from .pictures import filters_png, samples_png

    names = dbn_layers(graph)
    sizes = [graph.group(n).size for n in names]
    train = data.for_graph(graph)
    print(f"training DBN {graph.name} ({'-'.join(map(str, sizes))}) greedily on {data.name}: "
          f"{len(sizes) - 1} RBMs, {args.epochs} epochs each, {config.method}, k={config.k}")
    trained, rbms, histories = train_dbn_greedy(train[names[0]], sizes, config, init=graph,
                                                progress=not args.no_progress)
    for k, h in enumerate(histories):
        print(f"  layer {k + 1} ({sizes[k]}x{sizes[k + 1]}): reconstruction error "
              f"{h[0]['reconstruction_error']:.4f} -> {h[-1]['reconstruction_error']:.4f}")
    load_layers(graph, trained, names)
    history = [{"epoch": e + 1, "layers": [h[e] for h in histories]} for e in range(args.epochs)]
    structure, arrays = graph_to_dict(graph)
    save_checkpoint(args.out, arrays, {"graph": structure, "config": asdict(config), "epoch": args.epochs,
                                       "history": history, "n_train": len(train[names[0]]),
                                       "recipe": "greedy-dbn"})
    print(f"wrote {args.out}")
    if args.png:
        from .sampling import GibbsSampler

        s = GibbsSampler(graph, chains=100, seed=config.seed, dtype=config.dtype)
        s.sweep(1000)  # Gibbs on the top RBM, then one ancestral pass down (seed eq. 21)
        print(f"wrote {samples_png(args.png + '-samples.png', graph, s.get_states())} (top-RBM Gibbs + ancestral pass)")
        f = filters_png(args.png + "-filters.png", graph)
        if f is not None:
            print(f"wrote {f}")
    return 0


def cmd_evaluate(args):
    from .checkpoint import load_model
    from .data import load as load_data
    from .estimators import evaluate

    if args.data in SEQUENCE_DATASETS:
        from .cli_sequences import evaluate_sequences

        return evaluate_sequences(args)
    args.ais_runs = args.ais_runs or 100
    if args.split == "valid":
        from .errors import DataError

        raise DataError(f"{args.data} has train and test splits only; --split valid is for sequence data sets")
    graph, _, meta = load_model(args.checkpoint)
    data = load_data(args.data)
    data.for_graph(graph)  # refuse a mismatched data set before any work
    t0 = time.perf_counter()
    result = evaluate(graph, data.for_graph(graph, args.split), data.for_graph(graph), ais_runs=args.ais_runs,
                      n_betas=args.betas, seed=args.seed, backend=args.backend, reverse=not args.no_reverse,
                      progress=not args.no_progress, bound_samples=args.bound_samples)
    print(f"{graph.name} after {meta.get('epoch')} epochs of {meta['config']['method']}, {args.data} {args.split} split:")
    print(f"  {result}")
    print(f"  ({time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_plot(args):
    from .errors import DataError
    from .io import check_output
    from . import plots

    check_output(args.out)
    plots.image_format(args.out)  # matplotlib missing, or an unknown image format: say so before any work
    if args.kind == "ais" and args.data is None:
        raise DataError("pgboltz plot ais needs --data, the data set the checkpoint was trained on")
    graph, meta = plots.load_source(args.source, args.allow_outside_paths)
    what = ""
    if args.kind == "history":
        if meta is None:
            raise DataError(f"{args.source}: a graph spec has no training history; give a checkpoint (.npz) "
                            "written by pgboltz train")
        fig = plots.history_figure(meta["history"], f"{graph.name}: {meta['epoch']} epochs of "
                                                    f"{meta['config'].get('method', 'training')}")
    elif args.kind == "samples":
        if graph.inputs:
            raise DataError(f"{graph.name!r} is conditioned on input groups ({', '.join(graph.inputs)}) whose values "
                            "pgboltz plot cannot know: use pgboltz generate for a trained sequence model (it writes "
                            "a picture of the generated frames with --png)")
        n = args.n or 64
        fig = plots.samples_figure(graph, plots.draw_samples(graph, n, args.sweeps, args.seed),
                                   f"{graph.name}: {n} chains after {args.sweeps} Gibbs sweeps")
        what = f" ({n} chains x {args.sweeps} sweeps)"
    elif args.kind == "filters":
        W = plots.filters(graph, args.n or 100)
        fig = plots.filters_figure(graph, W)
        what = f" ({len(W)} filters)"
    elif args.kind == "ais":
        from .data import load as load_data

        data = load_data(args.data)
        train = data.for_graph(graph)  # refuses a mismatched data set before any work
        est = plots.ais_estimates(graph, data.for_graph(graph, args.split), train, args.ais_runs, args.betas,
                                  args.seed, progress=not args.no_progress)
        for name, r in (("forward AIS", est.forward), ("reverse AIS", est.reverse)):
            print(f"  {name} {r[0]:.3f} [{r[1]:.3f}, {r[2]:.3f}]")
        if est.exact is not None:
            print(f"  exact {est.exact:.3f}")
        print(f"  base-rate model {est.base_rate:.3f}")
        fig = plots.ais_figure(est, f"{graph.name}, {args.data} {args.split} split")
    elif args.kind == "conditionals":
        theirs, ours, joint = plots.conditional_pairs(graph, args.states, args.seed)
        what = f" ({len(ours)} probabilities, max |derived - pgmpy| = {np.abs(theirs - ours).max():.1e})"
        fig = plots.conditionals_figure(theirs, ours, joint, f"{graph.name}: derived vs pgmpy")
    else:
        fig = plots.graph_figure(graph)
    print(f"wrote {plots.save_figure(fig, args.out, args.dpi)}{what}")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # bad options (argparse printed one line), --help, --version
        return exc.code
    if args.command is None:
        _parser().print_help()
        return 2
    try:
        from .cli_sequences import cmd_generate

        commands = {"info": cmd_info, "verify": cmd_verify, "sample": cmd_sample, "train": cmd_train,
                    "evaluate": cmd_evaluate, "plot": cmd_plot, "generate": cmd_generate}
        return commands[args.command](args)
    except PgboltzError as exc:
        print(f"pgboltz: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print("pgboltz: error: out of memory; use fewer chains, fewer recorded sweeps or a smaller graph",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pgboltz: interrupted; files already written are complete (written atomically)", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        sys.stderr.close()
        return 0
    except OSError as exc:  # a file system refusal after the up-front checks (disk full, vanished folder, ...)
        print(f"pgboltz: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
