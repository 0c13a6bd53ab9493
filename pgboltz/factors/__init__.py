"""Factor kinds: each one states its energy and contributes natural parameters.

| kind      | energy                                   | module     |
|-----------|------------------------------------------|------------|
| bias      | -b^T x                                   | bias.py    |
| dense     | -x_a^T W x_b  (or -1/2 x^T W x within)   | dense.py   |
| sparse    | -sum_e w_e x_a[i_e] x_b[j_e]             | sparse.py  |
| lattice   | -sum J x[r,c] x[neighbour] on a 2-D grid | lattice.py |
"""

from .base import Coupling, Factor, FieldTerm, UnitTerms
from .bias import Bias
from .dense import Dense
from .lattice import Lattice2D
from .sparse import Sparse

FACTOR_KINDS = {cls.kind: cls for cls in (Bias, Dense, Sparse, Lattice2D)}

__all__ = ["Factor", "FieldTerm", "Coupling", "UnitTerms", "Bias", "Dense", "Sparse", "Lattice2D", "FACTOR_KINDS"]
