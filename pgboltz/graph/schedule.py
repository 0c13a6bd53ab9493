"""Block schedules: partitions of the free units into independent sets.

Blocked Gibbs updates all units of a block at once, which is exact only if no
factor couples two units of the same block. The schedule is derived by colouring
the *interaction graph*:

* a group without internal couplings is one node (all its units can always move
  together), so an RBM colours into {v}, {h} and a DBM into {v, h2}, {h1};
* a group with internal couplings (general BM, lattice, sparse topology)
  contributes one node per unit, so a periodic even lattice colours into the
  two checkerboard halves and a king's graph into four classes.

Two kinds of factor shape the schedule beyond pairwise couplings:

* **joint groups** (:meth:`Factor.joint_groups`): groups drawn together by one
  distribution -- a max-pooling factor's detectors and pooling units, or a Gaussian
  group with a full precision matrix -- are contracted into one node before
  colouring, so they always land whole in one block;
* **directed factors** (a DBN's logistic layers): their children are left out of
  the colouring and appended after it in ancestral order (parents first), so a sweep
  is one Gibbs sweep of the undirected part followed by one ancestral pass.

Blocks given by a user are checked by :func:`check_blocks` and refused with the
offending pair of units named.

Up to ``SMALL_COLOURING`` unit-level nodes, colouring uses networkx: an exact
2-colouring when the interaction graph is bipartite, otherwise the best of several
greedy strategies. Larger graphs are built as integer arrays and coloured by DSATUR
alone (:func:`colour_free`; exact on bipartite graphs, O((V + E) log V)): a networkx
graph of a million edges took longer to build than the colouring. Lattices too
large for either fall back to their own checkerboard colouring.
"""

from __future__ import annotations

import heapq

from dataclasses import dataclass

import networkx as nx
import numpy as np

from ..errors import ScheduleError

#: unit-level nodes above which networkx colouring is not attempted
MAX_UNIT_NODES = 200_000
#: unit-level edges implied by dense couplings above which colouring is refused
MAX_UNIT_EDGES = 5_000_000
GREEDY_STRATEGIES = ("largest_first", "smallest_last", "saturation_largest_first", "connected_sequential_bfs")
#: above this many unit-level nodes the graph is coloured on integer arrays by DSATUR alone (colour_free)
SMALL_COLOURING = 2000


@dataclass(frozen=True)
class BlockPart:
    """Units ``index`` (flat, sorted; None = the whole group) of group ``group``."""

    group: str
    index: np.ndarray | None = None

    def size(self, graph) -> int:
        return graph.group(self.group).size if self.index is None else len(self.index)

    def describe(self, graph) -> str:
        if self.index is None:
            return self.group
        return f"{self.group}[{len(self.index)} of {graph.group(self.group).size} units]"


@dataclass(frozen=True)
class Block:
    parts: tuple

    def describe(self, graph) -> str:
        return " + ".join(p.describe(graph) for p in self.parts)


def _free_groups(graph, free):
    return list(graph.free_groups()) if free is None else [g for g in graph.groups if g in set(free)]


def directed_children(graph) -> dict:
    """{child group: its directed factor}; refuses two tables for one child."""
    out = {}
    for f in graph.factors:
        for c in f.children():
            if c in out:
                raise ScheduleError(f"group {c!r} is the child of two directed factors ({out[c].label} and "
                                    f"{f.label}); a child has one conditional table -- merge the parents")
            out[c] = f
    return out


def ancestral_order(graph, children: dict) -> list:
    """Directed children sorted parents-first; refuses cycles."""
    order, state = [], {}

    def visit(g, path):
        if state.get(g) == 2:
            return
        if state.get(g) == 1:
            raise ScheduleError(f"directed factors form a cycle through {' -> '.join(path + [g])}")
        state[g] = 1
        if g in children:
            for p in children[g].groups:
                if p != g:
                    visit(p, path + [g])
            order.append(g)
        state[g] = 2

    for g in graph.groups:
        if g in children:
            visit(g, [])
    return order


def check_directed(graph, free) -> None:
    """A directed child's conditional must come from its table alone, with its parents known."""
    children = directed_children(graph)
    fs = set(free)
    for c, f in children.items():
        for other in graph.factors_touching(c):
            if other is not f and not other.directed:
                raise ScheduleError(
                    f"group {c!r} is the child of the {f.label}, but the energy {other.label} also touches it; "
                    "a directed child's conditional comes from its table alone (put its bias into the directed factor)")
        if c not in fs and any(p in fs for p in f.groups if p != c):
            raise ScheduleError(
                f"group {c!r} is clamped but its directed parent is free: the parent's conditional then needs "
                "explaining away, which blocked Gibbs does not derive -- clamp the parent too, or use the "
                "model's approximate inference (e.g. a DBN's recognition pass)")


def _free_couplings(graph, free):
    fs = set(free)
    for f in graph.factors:
        for c in f.couplings():
            if c.group_a in fs and c.group_b in fs:
                yield f, c


def _blocks_from_colours(graph, colour_of: dict, free) -> list[Block]:
    classes: dict[int, dict[str, list]] = {}
    for node, colour in colour_of.items():
        parts = classes.setdefault(colour, {})
        if node[0] == "G":
            parts[node[1]] = None
        elif node[0] == "J":
            parts.update({g: None for g in node[1]})
        else:
            parts.setdefault(node[1], []).append(node[2])
    blocks = []
    for parts in classes.values():
        bp = []
        for g in free:
            if g not in parts:
                continue
            idx = parts[g]
            if idx is not None:
                idx = np.array(sorted(idx), dtype=np.intp)
                if len(idx) == graph.group(g).size:
                    idx = None
            bp.append(BlockPart(g, idx))
        blocks.append(Block(tuple(bp)))
    # Hidden-only blocks first: a sweep started from data then moves hidden units first.
    visible = set(graph.visible)
    order = {g: k for k, g in enumerate(free)}
    blocks.sort(key=lambda b: (any(p.group in visible for p in b.parts), min(order[p.group] for p in b.parts)))
    return blocks


def check_joint_clamping(graph, free) -> None:
    """A joint set is free or clamped as a whole (a half-clamped one would lose its constraint)."""
    fs = set(free)
    for f, js in graph.joint_sets():
        inside = [g for g in js if g in fs]
        if inside and len(inside) != len(js):
            raise ScheduleError(f"the {f.label} draws {', '.join(js)} jointly: clamp all of them or none")


def _joint_nodes(graph, free) -> dict:
    """group -> ('J', groups) for free groups in a joint set (the contracted node)."""
    check_joint_clamping(graph, free)
    fs, out = set(free), {}
    for f, js in graph.joint_sets():
        inside = [g for g in js if g in fs]
        node = ("J", tuple(sorted(inside, key=list(graph.groups).index)))
        for g in inside:
            if g in out and out[g] != node:
                raise ScheduleError(f"group {g!r} is in two joint sets; merge them into one factor")
            out[g] = node
    return out


def interaction_graph(graph, free=None) -> nx.Graph:
    """Nodes ('G', group), ('J', groups) or ('U', group, unit); edges where a factor couples them."""
    return _as_networkx(*_interaction_arrays(graph, _free_groups(graph, free)))


def _as_networkx(keys, heads, tails) -> nx.Graph:
    """The networkx graph of :func:`_interaction_arrays`' nodes and edges, both in their order (networkx
    keeps the first of repeated edges, so adjacency order does not depend on Python's hash seed)."""
    G = nx.Graph()
    G.add_nodes_from(keys)
    G.add_edges_from((keys[u], keys[v]) for u, v in zip(heads.tolist(), tails.tolist()))
    return G


def _interaction_arrays(graph, free):
    """The interaction graph's nodes (keys, in the order of ``free``) and its edges as two integer arrays
    in coupling order (self-pairs dropped, duplicates kept): built with NumPy, so that graphs too big for
    a networkx graph can be coloured on them (:func:`colour_free`)."""
    joint = _joint_nodes(graph, free)
    unit_level = {g for g in free if graph.has_internal_couplings(g) and g not in joint}
    n_nodes = sum(graph.group(g).size for g in unit_level)
    if n_nodes > MAX_UNIT_NODES:
        raise ScheduleError(
            f"colouring would need {n_nodes} unit-level nodes (limit {MAX_UNIT_NODES}); pass blocks explicitly"
        )
    keys, where, first = [], {}, {}
    for g in free:
        if g in unit_level:
            first[g] = len(keys)
            keys.extend(("U", g, i) for i in range(graph.group(g).size))
        else:
            k = joint.get(g, ("G", g))
            if k not in where:
                where[k] = len(keys)
                keys.append(k)
            first[g] = where[k]

    def ids(g, units):
        return first[g] + units if g in unit_level else np.full(len(units), first[g], dtype=np.int64)

    heads, tails = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for f, c in _free_couplings(graph, free):
        a, b = c.group_a, c.group_b
        if c.dense:
            ia = np.arange(graph.group(a).size if a in unit_level else 1, dtype=np.int64)
            jb = np.arange(graph.group(b).size if b in unit_level else 1, dtype=np.int64)
            if len(ia) * len(jb) > MAX_UNIT_EDGES:
                raise ScheduleError(f"{f.label}: too many unit-level couplings to colour; pass blocks explicitly")
            ia, jb = np.repeat(ia, len(jb)), np.tile(jb, len(ia))
        else:
            ia, jb = np.asarray(c.i, dtype=np.int64), np.asarray(c.j, dtype=np.int64)
        u, v = ids(a, ia), ids(b, jb)
        keep = u != v
        heads.append(u[keep])
        tails.append(v[keep])
    return keys, np.concatenate(heads), np.concatenate(tails)


def dsatur_arrays(n: int, heads: np.ndarray, tails: np.ndarray) -> list:
    """:func:`dsatur` on nodes ``0..n-1`` and the undirected edges ``(heads[k], tails[k])`` (duplicates
    allowed), without a networkx graph: the same rule and ties, so the same colours. O((V + E) log V)."""
    pairs = np.unique(np.concatenate([heads * n + tails, tails * n + heads]))
    src, dst = pairs // n, pairs % n
    indptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))]).tolist()
    nbrs = dst.tolist()
    degree = np.diff(indptr).tolist()
    colour, seen, sat = [-1] * n, [0] * n, [0] * n  # seen[v]: bit c set if a neighbour has colour c
    heap = [(0, -degree[v], v) for v in range(n)]
    heapq.heapify(heap)
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        neg_sat, _, v = pop(heap)
        if colour[v] >= 0 or -neg_sat != sat[v]:
            continue  # stale entry: already coloured, or its saturation has grown since
        used = seen[v]
        c = (~used & (used + 1)).bit_length() - 1  # the lowest colour no neighbour has
        colour[v] = c
        bit = 1 << c
        for u in nbrs[indptr[v]:indptr[v + 1]]:
            if colour[u] < 0 and not seen[u] & bit:
                seen[u] |= bit
                sat[u] += 1
                push(heap, (-sat[u], -degree[u], u))
    return colour


def colour_free(graph, free) -> dict:
    """A proper colouring of the interaction graph of ``free``: :func:`colour` on the networkx graph up to
    ``SMALL_COLOURING`` unit-level nodes; above, DSATUR on integer arrays (networkx's graph alone took
    longer than the colouring: about 30 s for a million edges)."""
    keys, heads, tails = _interaction_arrays(graph, free)
    unit_level = [g for g in free if graph.has_internal_couplings(g)]
    if sum(graph.group(g).size for g in unit_level) <= SMALL_COLOURING:
        return colour(_as_networkx(keys, heads, tails))
    return dict(zip(keys, dsatur_arrays(len(keys), heads, tails)))


def colour(G: nx.Graph) -> dict:
    """A proper colouring of G with few colours (optimal when G is bipartite).

    Deterministic across processes: nodes are relabelled to integers (in insertion order)
    first, because networkx's strategies iterate over sets, whose order for tuple nodes
    depends on Python's hash seed."""
    if G.number_of_nodes() == 0:
        return {}
    nodes = list(G.nodes)
    H = nx.convert_node_labels_to_integers(G, ordering="default")
    if nx.is_bipartite(H):
        c = nx.bipartite.color(H)
    else:
        c = None
        for strategy in GREEDY_STRATEGIES:
            if strategy == "saturation_largest_first" and H.number_of_nodes() > SMALL_COLOURING:
                cand = dsatur(H)  # networkx's DSATUR rescans every node per step: 18 s at 5,640 nodes
            else:
                cand = nx.greedy_color(H, strategy=strategy)
            if c is None or max(cand.values()) < max(c.values()):
                c = cand
    return {nodes[k]: c[k] for k in range(len(nodes))}


def dsatur(H: nx.Graph) -> dict:
    """DSATUR (Brelaz 1979) with a heap: colour next the node whose neighbours show the most distinct
    colours (ties: the larger degree, then the smaller label), giving it the smallest colour its
    neighbours lack. O((V + E) log V); deterministic for integer labels."""
    adj = {v: sorted(H.adj[v]) for v in H.nodes}
    degree = {v: len(nb) for v, nb in adj.items()}
    seen = {v: set() for v in adj}  # colours among each node's neighbours
    colour = {}
    heap = [(0, -degree[v], v) for v in adj]
    heapq.heapify(heap)
    while heap:
        neg_sat, _, v = heapq.heappop(heap)
        if v in colour or -neg_sat != len(seen[v]):
            continue  # stale entry: already coloured, or its saturation has grown since
        used = seen[v]
        c = 0
        while c in used:
            c += 1
        colour[v] = c
        for u in adj[v]:
            if u not in colour and c not in seen[u]:
                seen[u].add(c)
                heapq.heappush(heap, (-len(seen[u]), -degree[u], u))
    return colour


def _lattice_fallback(graph, free):
    """Checkerboard blocks for lattice groups too big for networkx.

    Applies only when each unit-level group is a lattice with a proper parity
    colouring and no coupling factor links it to another free group.
    """
    fs = set(free)
    parity = {}
    for g in (g for g in free if graph.has_internal_couplings(g)):
        coupling = [f for f in graph.factors_touching(g) if f.couplings()]
        hint = getattr(coupling[0], "parity_colouring", lambda: None)() if len(coupling) == 1 else None
        if hint is None or len(set(coupling[0].groups) & fs) > 1:
            return None
        parity[g] = hint
    rest = [g for g in free if g not in parity]
    blocks = [
        Block(tuple(BlockPart(g, np.flatnonzero(p == k).astype(np.intp)) for g, p in parity.items()))
        for k in (0, 1)
    ]
    if rest:
        blocks += _blocks_from_colours(graph, colour_free(graph, rest), rest)
    return blocks


def derive_blocks(graph, free=None) -> list[Block]:
    """The derived block schedule over the ``free`` groups (default: every group that is not an input).

    The undirected part is coloured; directed children follow in ancestral order."""
    free = _free_groups(graph, free)
    check_directed(graph, free)
    children = directed_children(graph)
    directed = [g for g in ancestral_order(graph, children) if g in set(free)]
    undirected = [g for g in free if g not in children]
    try:
        colours = colour_free(graph, undirected)
    except ScheduleError:
        blocks = _lattice_fallback(graph, undirected)
        if blocks is None:
            raise
    else:
        blocks = _blocks_from_colours(graph, colours, undirected)
    blocks += [Block((BlockPart(g),)) for g in directed]
    check_blocks(graph, blocks, free)
    return blocks


def groups_last(graph, blocks, groups, free=None) -> list[Block]:
    """``blocks`` with the parts of ``groups`` moved into blocks of their own after all the others (each
    block split in two, order kept): still a Gibbs sweep, since a subset of a block is independent given
    the rest. A trainer's negative chains draw the hidden layer last, so its conditional means come from
    the fields it was drawn from (:meth:`pgboltz.model.CompiledModel.sweep`). Checked like any schedule."""
    gs = set(groups)
    first = [Block(tuple(p for p in b.parts if p.group not in gs)) for b in blocks]
    last = [Block(tuple(p for p in b.parts if p.group in gs)) for b in blocks]
    out = [b for b in first + last if b.parts]
    check_blocks(graph, out, _free_groups(graph, free))
    return out


def as_blocks(graph, spec, free=None) -> list[Block]:
    """Normalise user blocks -- e.g. ``[["h"], ["v"]]`` or ``[[("s", [0, 2])], ...]`` -- and check them."""
    free = _free_groups(graph, free)
    blocks = []
    for b in spec:
        if isinstance(b, Block):
            blocks.append(b)
            continue
        parts = []
        for p in [b] if isinstance(b, (str, BlockPart)) else b:
            if isinstance(p, BlockPart):
                parts.append(p)
            elif isinstance(p, str):
                parts.append(BlockPart(p, None))
            else:
                g, idx = p
                parts.append(BlockPart(g, np.sort(np.asarray(idx, dtype=np.intp))))
        blocks.append(Block(tuple(parts)))
    check_blocks(graph, blocks, free)
    return blocks


def check_blocks(graph, blocks, free=None) -> None:
    """Raise ScheduleError unless ``blocks`` partition the free units into independent sets."""
    free = _free_groups(graph, free)
    check_joint_clamping(graph, free)
    owner = {g: np.full(graph.group(g).size, -1) for g in free}
    for k, block in enumerate(blocks):
        for part in block.parts:
            if part.group not in owner:
                what = "is clamped" if part.group in graph.groups else "does not exist"
                raise ScheduleError(f"block {k}: group {part.group!r} {what}; blocks may only contain free groups")
            idx = slice(None) if part.index is None else part.index
            if part.index is not None and len(idx) and (idx.min() < 0 or idx.max() >= len(owner[part.group])):
                raise ScheduleError(f"block {k}: unit index out of range for group {part.group!r}")
            taken = owner[part.group][idx]
            if np.any(taken >= 0):
                unit = graph.group(part.group).unit_name(int(np.flatnonzero(owner[part.group] >= 0)[0]))
                raise ScheduleError(f"block {k}: unit {unit} is already in block {int(taken[taken >= 0][0])}")
            owner[part.group][idx] = k
    for g, o in owner.items():
        if np.any(o < 0):
            unit = graph.group(g).unit_name(int(np.flatnonzero(o < 0)[0]))
            raise ScheduleError(f"unit {unit} is in no block; blocks must cover every free unit")
    for f, js in graph.joint_sets():
        where = {int(b) for g in js if g in owner for b in np.unique(owner[g])}
        if len(where) > 1:
            raise ScheduleError(f"the {f.label} draws {', '.join(js)} jointly, but blocks {sorted(where)} split "
                                "them; put the whole joint set into one block")
    for c, f in directed_children(graph).items():
        if c not in owner:
            continue
        k = int(owner[c][0])
        if np.any(owner[c] != k) or any(len(b.parts) > 1 for b in blocks[k:k + 1]):
            raise ScheduleError(f"directed child {c!r} must be a block of its own")
        for p in f.groups:
            if p != c and p in owner and int(owner[p].max()) >= k:
                raise ScheduleError(f"directed child {c!r} (block {k}) must come after its parent {p!r} "
                                    f"(block {int(owner[p].max())}): ancestral order")
    for f, c in _free_couplings(graph, free):
        oa, ob = owner[c.group_a], owner[c.group_b]
        if c.dense:
            if c.group_a == c.group_b:
                vals, counts = np.unique(oa, return_counts=True)
                clash = vals[counts > 1]
                if clash.size:
                    units = np.flatnonzero(oa == clash[0])[:2]
                    _clash(graph, f, c.group_a, units[0], c.group_b, units[1], clash[0])
            else:
                common = np.intersect1d(oa, ob)
                if common.size:
                    _clash(graph, f, c.group_a, np.flatnonzero(oa == common[0])[0], c.group_b,
                           np.flatnonzero(ob == common[0])[0], common[0])
        else:
            bad = np.flatnonzero(oa[c.i] == ob[c.j])
            if bad.size:
                e = bad[0]
                _clash(graph, f, c.group_a, c.i[e], c.group_b, c.j[e], oa[c.i[e]])


def _clash(graph, f, ga, i, gb, j, block):
    ua, ub = graph.group(ga).unit_name(int(i)), graph.group(gb).unit_name(int(j))
    raise ScheduleError(
        f"units {ua} and {ub} are coupled by the {f.label} but both are in block {int(block)}; "
        "units updated together must be conditionally independent"
    )


def checkerboard_parity(index, shape) -> int | None:
    """p if ``index`` lists, in increasing order, exactly the sites (r, c) with (r + c) % 2 == p of an
    even-sized lattice ``shape`` (a checkerboard half, as the colouring finds it), else None."""
    H, W = shape
    if index is None or H % 2 or W % 2 or len(index) != H * W // 2:
        return None
    index = np.asarray(index)
    p = int(index[0] % 2)
    r, c = np.indices((H, W))
    want = np.flatnonzero(((r + c) % 2).ravel() == p)
    return p if np.array_equal(index, want) else None
