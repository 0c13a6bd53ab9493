"""Convolutional factor: K detector maps over a C-channel image, one shared kernel per (map, channel).

Lee, Grosse, Ranganath & Ng (2009); seed section 6. With the image ``v`` of shape
(C, H, W), detectors ``d`` of shape (K, H - kh + 1, W - kw + 1) and kernels
``W`` of shape (K, C, kh, kw) (stride 1, no padding):

    E = - sum_k sum_{i,j} d[k,i,j] sum_{ch,a,b} W[k,ch,a,b] v[ch, i+a, j+b]

so the detectors' linear slot is a *valid correlation* of the image with each kernel,
and the image's linear slot is a *full convolution* of the detector maps with the
kernels (each map's shared bias is a separate ``map_bias`` factor):

    linear_d[k,i,j] += (W_k corr v)[i,j]
    linear_v[ch,y,x] += sum_k sum_{a,b} W[k,ch,a,b] d[k, y-a, x-b]   (terms inside the map)

Both run as one GEMM on the backend (NumPy or CuPy) in buffers made at compile time:
towards the detectors the image's windows are copied into a buffer first (im2col); towards
the image the maps are multiplied by the kernels and each kernel offset is added into its
shifted slice of the image (col2im). ``benchmarks/conv_fields.py`` compares this with FFT. The
unit-level expansion is the same energy written as shared-weight pairwise terms, which
is what exact inference and pgmpy check the group-level fields against.

Image groups of shape (H, W) are read as one channel. Probabilistic max pooling over
the detector maps is a separate factor (:mod:`pgboltz.factors.maxpool`); a pooling
group can itself be the image of the next convolutional layer (a convolutional DBN).
"""

from __future__ import annotations

import numpy as np

from ..errors import GraphError
from .base import Coupling, Factor, FieldTerm, UnitTerms


def _as_chw(shape):
    return (1, *shape) if len(shape) == 2 else tuple(shape)


def _windows(xp, x, kh, kw):
    """(rows, C, H, W) -> read-only view (rows, H-kh+1, W-kw+1, C, kh, kw) of every kh x kw window."""
    rows, C, H, W = x.shape
    s0, s1, s2, s3 = x.strides
    return xp.lib.stride_tricks.as_strided(x, (rows, H - kh + 1, W - kw + 1, C, kh, kw), (s0, s2, s3, s1, s2, s3))


class _ConvTerm(FieldTerm):
    """The contribution of a conv factor to one of its groups, ``(rows, n_out maps, H_out * W_out)``.

    Towards the detectors (``up``): the valid correlation of the image with the kernels -- the
    image's windows copied into a buffer (im2col), then one GEMM with the kernels as a
    (C kh kw, K) matrix. Towards the image: the full convolution of the maps with the kernels
    -- one GEMM of the maps (positions x K) with the kernels as a (K, C kh kw) matrix, then each
    of the kh kw kernel offsets added into its shifted slice of the image (col2im). Done the
    other way (im2col of the zero-padded maps), the buffer would be C/K x kh kw times larger
    than the result: 400 MB per call for 100 chains of 16 maps of 9x9 kernels on 28x28 images.
    """

    def __init__(self, source, up, shapes, kernel, matrix, index, backend, chains):
        self.backend, self.xp, self.source, self.up = backend, backend.xp, source, up
        self.image_shape, self.maps_shape = shapes  # (C, H, W), (K, Ho, Wo)
        self.kernel, self.m = kernel, matrix
        C, H, W = self.image_shape
        K, Ho, Wo = self.maps_shape
        kh, kw = kernel
        if up:
            self.cols = backend.empty((chains, Ho * Wo, C * kh * kw))
            self.prod = backend.empty((chains, Ho * Wo, K))
            self.n_out = K
        else:
            self.maps_t = backend.empty((chains, Ho * Wo, K))
            self.prod = backend.empty((chains, Ho * Wo, C * kh * kw))
            self.n_out = C
        self.index = None if index is None else backend.asarray(index, dtype=np.intp)
        if self.index is not None:
            self.full = backend.empty((chains, self.n_out * (H * W if not up else Ho * Wo)))

    def _up(self, states, rows, out, add):
        xp = self.xp
        C, H, W = self.image_shape
        K, Ho, Wo = self.maps_shape
        kh, kw = self.kernel
        x = states[self.source][rows].reshape((-1, C, H, W))
        n = x.shape[0]
        cols = self.cols[rows]
        cols.reshape((n, Ho, Wo, C, kh, kw))[...] = _windows(xp, x, kh, kw)
        prod = self.prod[rows]
        xp.matmul(cols, self.m, out=prod)  # (n, P, K)
        target = out.reshape((n, K, Ho * Wo))
        if add:
            target += prod.transpose(0, 2, 1)
        else:
            target[...] = prod.transpose(0, 2, 1)

    def _down(self, states, rows, out, add):
        xp = self.xp
        C, H, W = self.image_shape
        K, Ho, Wo = self.maps_shape
        kh, kw = self.kernel
        d = states[self.source][rows].reshape((-1, K, Ho * Wo))
        n = d.shape[0]
        maps_t = self.maps_t[rows]
        maps_t[...] = d.transpose(0, 2, 1)
        prod = self.prod[rows]
        xp.matmul(maps_t, self.m, out=prod)  # (n, P, C kh kw): each position's kernel-weighted patch
        patches = prod.reshape((n, Ho, Wo, C, kh, kw))
        image = out.reshape((n, C, H, W))
        if not add:
            image[...] = 0
        for a in range(kh):
            for b in range(kw):
                image[:, :, a:a + Ho, b:b + Wo] += patches[:, :, :, :, a, b].transpose(0, 3, 1, 2)

    def __call__(self, states, out, add, rows=slice(None)):
        field = self._up if self.up else self._down
        if self.index is None:
            field(states, rows, out[rows], add)
            return
        full = self.full[rows]
        field(states, rows, full, False)
        if add:
            out[rows] += full[:, self.index]
        else:
            self.backend.take_columns(full, self.index, out[rows])


class Conv2D(Factor):
    """Kernels ``W`` (K, C, kh, kw) between ``image`` (C, H, W) and ``detectors`` (K, H-kh+1, W-kw+1)."""

    kind = "conv"
    multilinear = True
    spec_keys = ("groups",)

    def __init__(self, image: str, detectors: str, W, name=None):
        W = np.asarray(W, dtype=np.float64)
        if W.ndim != 4:
            raise GraphError(f"conv factor {name or ''} ({image}, {detectors}): W must have shape "
                             f"(maps, channels, kernel rows, kernel cols), got shape {W.shape}")
        super().__init__((image, detectors), {"W": W}, name)

    @property
    def kernel(self):
        return self.params["W"].shape[2:]

    def check_params(self):
        v, d = self.groups
        if v == d:
            raise GraphError(f"{self.label}: the image and the detector maps must be different groups")
        if len(self.shapes[v]) not in (2, 3):
            raise GraphError(f"{self.label}: image {v!r} needs shape (channels, height, width) or (height, width), "
                             f"got {list(self.shapes[v])}")
        C, H, Wd = _as_chw(self.shapes[v])
        K, Cw, kh, kw = self.params["W"].shape
        if Cw != C:
            raise GraphError(f"{self.label}: W has {Cw} input channels but image {v!r} has {C}")
        if kh > H or kw > Wd:
            raise GraphError(f"{self.label}: kernel {kh}x{kw} is larger than the image {H}x{Wd}")
        want = (K, H - kh + 1, Wd - kw + 1)
        if tuple(self.shapes[d]) != want:
            raise GraphError(f"{self.label}: detectors {d!r} need shape {list(want)} (maps, valid correlation of "
                             f"{H}x{Wd} with {kh}x{kw}), got {list(self.shapes[d])}")

    # -- index maps ----------------------------------------------------------------
    def _pairs(self):
        """Flat unit indices (image unit, detector unit) and the kernel entry (flat into W) of every pair."""
        v, d = self.groups
        C, H, Wd = _as_chw(self.shapes[v])
        K, _, kh, kw = self.params["W"].shape
        Ho, Wo = H - kh + 1, Wd - kw + 1
        k, ch, a, b, i, j = np.meshgrid(np.arange(K), np.arange(C), np.arange(kh), np.arange(kw), np.arange(Ho),
                                        np.arange(Wo), indexing="ij")
        vi = (ch * H + i + a) * Wd + (j + b)
        di = (k * Ho + i) * Wo + j
        wi = ((k * C + ch) * kh + a) * kw + b
        return vi.ravel(), di.ravel(), wi.ravel()

    def couplings(self):
        vi, di, _ = self._pairs()
        return [Coupling(self.groups[0], self.groups[1], vi, di)]

    # -- energy and statistics ------------------------------------------------------
    def _responses(self, xp, states, params):
        """(chains, K, P): the valid correlation of the image with every kernel (no bias)."""
        v, d = self.groups
        C, H, Wd = _as_chw(self.shapes[v])
        K, _, kh, kw = params["W"].shape
        x = states[v].reshape((-1, C, H, Wd))
        win = _windows(xp, xp.ascontiguousarray(x), kh, kw)  # (n, Ho, Wo, C, kh, kw)
        n = x.shape[0]
        cols = win.reshape((n, -1, C * kh * kw))
        return (cols @ params["W"].reshape(K, -1).T).transpose(0, 2, 1), cols

    def energy(self, xp, states, params):
        v, d = self.groups
        resp, _ = self._responses(xp, states, params)
        det = states[d].reshape(resp.shape)
        return -(det * resp).sum(axis=(1, 2))

    def statistics(self, xp, states, weights, params):
        v, d = self.groups
        K = params["W"].shape[0]
        _, cols = self._responses(xp, states, params)  # (n, P, C kh kw)
        det = states[d].reshape((cols.shape[0], K, -1)) * weights[:, None, None]  # (n, K, P)
        return {"W": xp.einsum("nkp,npq->kq", det, cols).reshape(params["W"].shape)}

    # -- fields -------------------------------------------------------------------------
    def field_term(self, target, index, params, backend, chains):
        v, d = self.groups
        xp = backend.xp
        W = params["W"]
        K, C, kh, kw = W.shape
        shapes = (_as_chw(self.shapes[v]), tuple(self.shapes[d]))
        if target == d:  # valid correlation of the image with each kernel
            matrix = xp.ascontiguousarray(W.reshape(K, C * kh * kw).T)
            return _ConvTerm(v, True, shapes, (kh, kw), matrix, index, backend, chains)
        if target == v:  # full convolution of the maps with the kernels
            return _ConvTerm(d, False, shapes, (kh, kw), xp.ascontiguousarray(W.reshape(K, C * kh * kw)), index,
                             backend, chains)
        raise GraphError(f"{self.label} does not touch group {target!r}")

    # -- unit level, pictures, specs --------------------------------------------------------
    def unit_terms(self):
        v, d = self.groups
        vi, di, wi = self._pairs()
        return UnitTerms().add((v, d), (vi, di), self.params["W"].ravel()[wi])

    def filters(self, group):
        """Each kernel drawn at the top-left corner of an image-sized canvas: (n_image, K)."""
        v, d = self.groups
        if group != v:
            return None
        C, H, Wd = _as_chw(self.shapes[v])
        K, _, kh, kw = self.params["W"].shape
        canvas = np.zeros((K, C, H, Wd))
        canvas[:, :, :kh, :kw] = self.params["W"]
        return canvas.reshape(K, -1).T

    def describe(self):
        K, C, kh, kw = self.params["W"].shape
        return f"{K} maps, {kh}x{kw} kernels over {C} channel{'s' if C > 1 else ''}"

    @classmethod
    def from_spec(cls, spec):
        v, d = spec.groups(2)
        C, H, Wd = _as_chw(spec.shape(v))
        dshape = spec.shape(d)
        if len(dshape) != 3:
            raise spec.error("groups", f"detectors {d!r} need shape [maps, height, width], got {list(dshape)}")
        K, Ho, Wo = dshape
        kh, kw = H - Ho + 1, Wd - Wo + 1
        if kh < 1 or kw < 1:
            raise spec.error("groups", f"detector maps {Ho}x{Wo} are larger than the image {H}x{Wd}")
        return cls(v, d, spec.param("W", (K, C, kh, kw)), name=spec.name)
