"""pgboltz command line.

  pgboltz info   GRAPH            groups, factors, derived blocks, parameter count
  pgboltz verify [GRAPH ...]      derived conditionals and Gibbs moments against pgmpy exact inference
  pgboltz sample [GRAPH] ...      batched blocked Gibbs sampling; writes an .npz (and a PNG)

GRAPH is a spec file (see graphs/README.md) or the name of a shipped example.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from . import __version__
from .errors import PgboltzError, TooLargeError
from .specs import DEFAULT_GRAPH, example_names, load

EPILOG = """\
examples:
  pgboltz verify                          check every small example graph against pgmpy
  pgboltz info graphs/kings-4x4.toml      show groups, factors and the derived block schedule
  pgboltz sample --chains 1000 --sweeps 200 --out samples.npz --png samples.png
                                          sample the 784x500 RBM (the default graph)
  pgboltz sample graphs/ising-6x6.toml --backend cupy --chains 100000 --sweeps 1000

examples shipped with pgboltz: {examples}
"""


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

    ver = sub.add_parser(
        "verify", help="check derived conditionals and Gibbs moments against pgmpy exact inference",
        description="For each graph: derived conditionals vs pgmpy (to 1e-9), logit vs energy difference, "
                    "log Z by enumeration vs pgmpy, and Gibbs first/second moments vs exact values within "
                    "--z-max standard errors. Exits with status 1 if any check fails.")
    ver.add_argument("graphs", metavar="GRAPH", nargs="*",
                     help="spec files or example names (default: every example small enough for exact inference)")
    ver.add_argument("--chains", type=int, default=4000, help="independent chains (default 4000)")
    ver.add_argument("--sweeps", type=int, default=400, help="recorded sweeps per chain (default 400)")
    ver.add_argument("--burn-in", type=int, default=100, help="sweeps discarded first (default 100)")
    ver.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ver.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    ver.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    ver.add_argument("--z-max", type=float, default=4.0, help="tolerance in standard errors (default 4)")

    smp = sub.add_parser(
        "sample", help="run batched blocked Gibbs sampling and save the samples",
        description="Run blocked Gibbs sampling over many chains and save states to an .npz archive "
                    "(one int8 array per group, shape (recorded, chains, *group shape), plus JSON metadata).")
    smp.add_argument("graph", metavar="GRAPH", nargs="?", default=DEFAULT_GRAPH,
                     help=f"spec file or example name (default: {DEFAULT_GRAPH})")
    smp.add_argument("--chains", type=int, default=1000, help="independent chains (default 1000)")
    smp.add_argument("--sweeps", type=int, default=100, help="sweeps after burn-in (default 100)")
    smp.add_argument("--burn-in", type=int, default=0, help="sweeps discarded first (default 0)")
    smp.add_argument("--thin", type=int, default=0,
                     help="record every THIN-th sweep; 0 records only the final state (default 0)")
    smp.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    smp.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    smp.add_argument("--beta", type=float, default=1.0, help="inverse temperature (default 1)")
    smp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    smp.add_argument("--out", metavar="FILE", default="samples.npz", help="output archive (default samples.npz)")
    smp.add_argument("--png", metavar="FILE", help="also write a picture of up to 64 final visible states")
    smp.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def cmd_info(args):
    from .sampling import GibbsSampler

    graph = load(args.graph)
    print(graph.summary())
    sampler = GibbsSampler(graph, chains=1)
    print(sampler.describe())
    return 0


def cmd_verify(args):
    from .verify import verify

    names = args.graphs or example_names()
    failed = 0
    for name in names:
        graph = load(name)
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
    from .io import as_images, save_npz_atomic, tile, write_png
    from .sampling import GibbsSampler

    graph = load(args.graph)
    sampler = GibbsSampler(graph, chains=args.chains, backend=args.backend, seed=args.seed, dtype=args.dtype,
                           beta=args.beta)
    collect = "samples" if args.thin > 0 else "none"
    res = sampler.run(args.sweeps, burn_in=args.burn_in, thin=max(1, args.thin), collect=collect,
                      progress=not args.no_progress)
    if res.samples is None:
        arrays = {g: x[None].astype(np.int8) for g, x in res.final.items()}
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
        imgs = as_images(res.final[g][:64], graph.group(g).shape)
        print(f"wrote {write_png(args.png, tile(imgs, scale=2))} ({len(imgs)} final states of {g})")
    return 0


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    try:
        return {"info": cmd_info, "verify": cmd_verify, "sample": cmd_sample}[args.command](args)
    except PgboltzError as exc:
        print(f"pgboltz: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
