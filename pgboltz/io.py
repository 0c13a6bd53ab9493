"""Files pgboltz writes: sample archives (.npz, atomic) and PNG image grids."""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np


def npz_path(path) -> Path:
    """The file an archive named ``path`` is written to: ``.npz`` is appended when missing."""
    path = Path(path)
    return path if path.name.endswith(".npz") else path.with_name(path.name + ".npz")


def check_writable(path) -> Path:
    """The archive path for ``path``, after checking (before any work) that it can be written there."""
    from .errors import DataError

    return check_output(npz_path(path), original=path)


def check_output(target, original=None) -> Path:
    """Check, before any work, that a file can be written at ``target``: its folder can be made and
    written in (probed with a real file, since permission bits say nothing to root), and the target,
    if it exists, is a regular file."""
    from .errors import DataError

    target, original = Path(target), Path(original or target)
    if original.is_dir() or str(original).endswith(os.sep) or target.is_dir():
        raise DataError(f"{original}: is a folder; give a file name for the output, e.g. {original / 'out'}")
    for p in (original, target):
        if p.exists() and not p.is_file():
            raise DataError(f"{p}: not a regular file; give a file name for the output")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".pgboltz-probe.", dir=target.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise DataError(f"{target}: cannot write there ({exc.strerror or exc}); choose another output") from None
    return target


def _host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"


def _remove_stale_temporaries(path: Path) -> None:
    """Temporary files of *this* target left by writers that were killed: written on this host (by
    name) by a process that no longer exists. Files of other targets, hosts or live writers stay."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.{re.escape(_host_tag())}\.(\d+)\.[^.]+\.tmp$")
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        m = pattern.match(tmp.name)
        if m is None:
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except OSError:  # the process exists but is not ours, or anything else: leave the file
            pass


def _umask() -> int:
    """The process's umask, read without changing it where the system allows (thread-safe)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0)  # pragma: no cover - systems without /proc
    os.umask(mask)
    return mask


def _replace_atomically(path: Path, write) -> Path:
    """Call ``write(fh)`` on a temporary file in ``path``'s folder (named after the writing process, so
    files left by a killed writer are removed by the next write), then rename it over ``path``: a crash
    never leaves a half-written file behind. The file keeps an existing file's permissions, and
    otherwise follows the umask."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_host_tag()}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_npz_atomic(path, arrays: dict, meta: dict | None = None) -> Path:
    """Write ``arrays`` (and ``meta`` as a JSON string under ``"meta"``) to ``path``, atomically
    (see :func:`_replace_atomically`)."""
    payload = dict(arrays)
    if meta is not None:
        payload["meta"] = np.array(json.dumps(meta, sort_keys=True))
    return _replace_atomically(npz_path(path), lambda fh: np.savez_compressed(fh, **payload))


def write_bytes_atomic(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, like :func:`save_npz_atomic`."""
    return _replace_atomically(Path(path), lambda fh: fh.write(data))


def load_meta(path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return json.loads(str(z["meta"])) if "meta" in z else {}


def write_png(path, image: np.ndarray) -> Path:
    """Write a 2-D grayscale image with values in [0, 1] as an 8-bit PNG (standard library only)."""
    img = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    if img.ndim != 2:
        raise ValueError(f"write_png expects a 2-D image, got shape {img.shape}")
    data = (img * 255 + 0.5).astype(np.uint8)
    h, w = data.shape
    raw = b"".join(b"\x00" + data[r].tobytes() for r in range(h))  # filter type 0 per row

    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return path


def tile(images: np.ndarray, cols: int | None = None, pad: int = 1, scale: int = 1) -> np.ndarray:
    """Arrange ``(n, h, w)`` images in a grid with ``pad`` pixels of separation, magnified ``scale`` times."""
    images = np.asarray(images, dtype=np.float64)
    n, h, w = images.shape
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), 0.5)
    for k in range(n):
        r, c = divmod(k, cols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = images[k]
    if scale > 1:
        grid = np.kron(grid, np.ones((scale, scale)))
    return grid


def image_shape(shape) -> tuple:
    """(h, w) to draw a group of this shape: itself if 2-D, its channels side by side if 3-D
    (channels, height, width), else the most square factorisation."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        return shape
    if len(shape) == 3:
        return (shape[1], shape[0] * shape[2])
    n = int(np.prod(shape))
    h = int(np.floor(np.sqrt(n)))
    while n % h:
        h -= 1
    return (h, n // h)


def image_layout(x: np.ndarray, shape) -> np.ndarray:
    """``(n, *shape)`` or ``(n, size)`` values as ``(n, h, w)`` images (:func:`image_shape`), unscaled:
    a 3-D group's channels are placed side by side, not interleaved row by row."""
    shape = tuple(int(s) for s in shape)
    x = np.asarray(x, dtype=np.float64).reshape((len(x),) + shape)
    if len(shape) == 3:
        x = x.transpose(0, 2, 1, 3)  # (n, height, channels, width)
    return x.reshape((len(x),) + image_shape(shape))


def as_images(x: np.ndarray, shape) -> np.ndarray:
    """Reshape ``(n, *shape)`` states to ``(n, h, w)`` for pictures, scaled to [0, 1]."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    lo, hi = x.min(initial=0.0), x.max(initial=1.0)
    return image_layout((x - lo) / (hi - lo if hi > lo else 1.0), shape)
