"""2-D Ising model: spins on a lattice with nearest-neighbour couplings and a field.

    E(s) = - J sum_<ij> s_i s_j - h sum_i s_i,   s_i in {-1, +1}
"""

from __future__ import annotations

import numpy as np

from ..factors import Bias, Lattice2D
from ..graph import FactorGraph


def ising(height: int, width: int, J=1.0, field=0.0, periodic: bool = True, name: str = "ising") -> FactorGraph:
    """Uniform ferromagnet (``J`` scalar) or any couplings (``J`` = (J_right, J_down) arrays)."""
    g = FactorGraph(name, f"{height}x{width} Ising lattice, {'periodic' if periodic else 'open'} boundary")
    g.add_group("s", (height, width), "spin", role="visible")
    if np.ndim(J) == 0:
        Jr = np.full((height, width), float(J))
        Jd = np.full((height, width), float(J))
        if not periodic:
            Jr[:, -1] = 0
            Jd[-1, :] = 0
    else:
        Jr, Jd = J
    g.add_factor(Lattice2D("s", Jr, Jd, periodic=periodic, name="J"))
    g.add_factor(Bias("s", np.broadcast_to(np.asarray(field, float), (height, width)), name="h"))
    return g
