"""Factor kinds: each one states its energy and contributes to natural-parameter slots.

| kind       | energy                                              | slots it writes                | module        |
|------------|-----------------------------------------------------|--------------------------------|---------------|
| bias       | -b^T x                                              | linear                         | bias.py       |
| dense      | -x_a^T W x_b  (or -1/2 x^T W x within a group)      | linear                         | dense.py      |
| replicated | -sum_c x_a[c]^T W x_b  (copies of x_a share W)      | linear                         | replicated.py |
| sparse     | -sum_e w_e x_a[i_e] x_b[j_e]                        | linear                         | sparse.py     |
| conv       | -sum_k d_k . (W_k corr v)  (shared kernels)         | linear                         | conv.py       |
| map_bias   | -sum_k c_k sum_ij x[k,i,j]  (one bias per map)      | linear                         | mapbias.py    |
| lattice    | -sum J x[r,c] x[neighbour] on a 2-D grid            | linear                         | lattice.py    |
| quadratic  | sum_i x_i^2 / (2 sigma_i^2)                         | precision (Gaussian units)     | quadratic.py  |
| threeway   | -sum_f (x_a U)_f (x_b V)_f (x_c Z)_f                | linear                         | threeway.py   |
| covariance | 1/2 sum_k h_k sum_f P_fk (x . C_f)^2                | precision_matrix (x), linear (h)| covariance.py |
| maxpool    | 0 if at most one detector per block is on, else inf | joint categorical block        | maxpool.py    |
| directed   | -log P(child | parent), logistic table (DBN)        | linear of the child            | directed.py   |
| shift      | -sum_i x_a[i] x_b[i] (per-chain biases from inputs)  | linear                         | shift.py      |

Every kind registers itself in ``FACTOR_KINDS`` by defining ``kind``.
"""

from .base import FACTOR_KINDS, Coupling, DeviceParams, Factor, FieldTerm, GemmTerm, UnitTerms
from .bias import Bias
from .conv import Conv2D
from .covariance import Covariance
from .dense import Dense
from .directed import Directed
from .lattice import Lattice2D
from .mapbias import MapBias
from .maxpool import MaxPool
from .quadratic import Quadratic
from .replicated import Replicated
from .shift import Shift
from .sparse import Sparse
from .threeway import ThreeWay

__all__ = ["Factor", "FieldTerm", "GemmTerm", "Coupling", "UnitTerms", "DeviceParams", "FACTOR_KINDS", "Bias", "Conv2D",
           "Dense", "Sparse",
           "Lattice2D", "MapBias", "Quadratic", "Replicated", "Shift", "ThreeWay", "Covariance", "MaxPool", "Directed"]
