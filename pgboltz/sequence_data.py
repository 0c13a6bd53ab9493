"""Offline sequence data for temporal models (conditional RBM, RNN-RBM), with deterministic splits.

| name     | source                                                  | frame                        | split (train / valid / test) |
|----------|---------------------------------------------------------|------------------------------|------------------------------|
| chorales | the Bach chorales of music21's bundled corpus           | 88 keys (MIDI 21..108), 0/1  | 80% / 10% / 10% of pieces    |
| motion   | a synthetic multi-joint gait generator (:func:`motion`) | ``n_joints`` real values     | 80% / 10% / 10% of sequences |

A data set is a list of sequences per split, each ``(T_i, n)`` float64 (:class:`SequenceDataset`).

``chorales`` follows Boulanger-Lewandowski, Bengio & Vincent (2012): each chorale becomes a binary
piano roll with one frame per quarter note, frame ``t`` holding the notes that sound at quarter-note
offset ``t`` (a note at offset ``o`` lasting ``d`` quarters is on in frames ``ceil(o) .. ceil(o + d) - 1``),
transposed so that its tonic (music21's key analysis) is C, by the smaller of the two shifts
(-6 .. +5 semitones). One file per piece is kept (the corpus has some chorales twice: as .krn and
.mxl, or the same harmonisation under two BWV numbers, see :func:`chorales`). The rolls are parsed
once and cached in one ``.npz`` (:func:`cache_file`).

Nothing is ever downloaded; a missing package raises :class:`~pgboltz.errors.DataError` naming it.
MIDI files are written and read with ``mido`` (:func:`write_midi`, :func:`read_midi_roll`).
"""

from __future__ import annotations

import io
import math
import os
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataError
from .io import save_npz_atomic, write_bytes_atomic

SEQUENCE_DATASETS = ("chorales", "motion")
SPLITS = ("train", "valid", "test")
SPLIT_SEED = 0
LOWEST = 21  # A0, the lowest piano key
N_KEYS = 88  # up to C8 = MIDI 108
MIN_FRAMES = 8
#: score formats kept from the corpus, best first: when two files hold the same piece (same stem) the
#: earlier format wins. Roman-numeral analyses (.rntxt) are not scores and are skipped.
SCORE_FORMATS = (".mxl", ".xml", ".musicxml", ".krn")
#: files of music21's Bach folder that are not chorales: BWV 846 is the C major prelude of the WTC
NOT_CHORALES = ("bwv846",)
#: a piece is dropped as a copy when its roll has an earlier piece's length and shares this share of its notes
COPY_AGREEMENT = 0.97
#: bump when the cached arrays change meaning, so old caches are rebuilt
CACHE_FORMAT = 1
GAITS = ("walk", "run", "sway")

_MUSIC21 = ("the Bach chorales come from music21's corpus: pip install music21 "
            "(or pip install 'pgboltz[sequences]')")
_MIDO = "MIDI files are written and read with mido: pip install mido (or pip install 'pgboltz[sequences]')"


@dataclass
class SequenceDataset:
    name: str
    train: list  # of (T_i, n) float64 arrays
    valid: list
    test: list
    pieces: dict  # split -> list of str ids, in the order of the arrays
    real: bool  # real-valued frames (Gaussian visibles) rather than 0/1
    description: str
    mean: np.ndarray | None = None  # (n,) training mean a real data set was standardised with
    std: np.ndarray | None = None  # (n,) training sd, likewise
    labels: dict = field(default_factory=dict)  # split -> list of (T_i,) int arrays, where the set has labels

    def split(self, split: str) -> list:
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        return getattr(self, split)

    @property
    def n(self) -> int:
        """Frame size: the number of values per time step."""
        for split in SPLITS:
            if self.split(split):
                return int(self.split(split)[0].shape[1])
        raise DataError(f"{self.name}: every split is empty")

    def frames(self, split: str = "train") -> np.ndarray:
        """All frames of a split stacked: ``(sum_i T_i, n)``."""
        seqs = self.split(split)
        return np.concatenate(seqs) if seqs else np.zeros((0, self.n))


def split_ids(ids, seed: int = SPLIT_SEED, fractions=(0.8, 0.1, 0.1)) -> dict:
    """Split ids by piece: sorted, shuffled with ``np.random.default_rng(seed)``, then cut into
    train / valid / test (valid and test get ``round(fraction * n)`` ids each, train the rest).
    Each list is sorted. Returns ``{"train": [...], "valid": [...], "test": [...]}``."""
    ids = sorted(ids)
    if len(set(ids)) != len(ids):
        raise DataError("split_ids: the ids are not unique")
    order = np.random.default_rng(seed).permutation(len(ids))
    shuffled = [ids[k] for k in order]
    n_valid, n_test = (round(f * len(ids)) for f in fractions[1:])
    n_train = len(ids) - n_valid - n_test
    cuts = {"train": shuffled[:n_train], "valid": shuffled[n_train:n_train + n_valid],
            "test": shuffled[n_train + n_valid:]}
    return {k: sorted(v) for k, v in cuts.items()}


# ----------------------------------------------------------------------------------------- chorales

def _music21():
    try:
        import music21
    except ImportError:
        raise DataError(_MUSIC21) from None
    return music21


def _tonic_shift(pitch_class: int) -> int:
    """Semitones that take a tonic of this pitch class to C, the smaller way round: in -6 .. +5."""
    return (-int(pitch_class) + 6) % 12 - 6


def _roll(score, transpose: bool):
    """(roll, shift, key name) of a parsed score; DataError if it holds notes outside the 88 keys."""
    music21 = _music21()
    if isinstance(score, music21.stream.Opus):
        raise DataError("an opus (several scores in one file); parse one score of it")
    key, shift = "", 0
    if transpose:
        k = score.analyze("key")
        key, shift = f"{k.tonic.name} {k.mode}", _tonic_shift(k.tonic.pitchClass)
    starts, ends, keys = [], [], []
    # the flat view: offsets are absolute; a chord contributes all its pitches. A tie needs nothing
    # special: the tied pieces cover consecutive intervals, whose frames join up into the same roll
    for el in score.flatten().notes:
        if isinstance(el, music21.harmony.Harmony):  # chord symbols are annotations, not sounding notes
            continue
        o, d = el.offset, el.duration.quarterLength
        first, stop = math.ceil(o), math.ceil(o + d)
        for p in el.pitches:
            starts.append(first)
            ends.append(stop)
            keys.append(p.midi + shift)
    if not keys:
        return np.zeros((0, N_KEYS)), shift, key
    keys = np.asarray(keys)
    if keys.min() < LOWEST or keys.max() >= LOWEST + N_KEYS:
        raise DataError(f"notes outside the piano (MIDI {LOWEST}..{LOWEST + N_KEYS - 1}) after transposing by "
                        f"{shift} semitones: MIDI {keys.min()}..{keys.max()}")
    roll = np.zeros((max(ends), N_KEYS))
    for a, b, m in zip(starts, ends, keys):
        roll[a:b, m - LOWEST] = 1.0
    return roll, shift, key


def piano_roll(score_or_path, transpose: bool = True) -> np.ndarray:
    """Binary piano roll ``(T, 88)`` of a score (a music21 stream, or a file music21 can parse).

    Column ``m - 21`` is MIDI pitch ``m`` (21..108); frame ``t`` holds the notes sounding at quarter-note
    offset ``t``: a note at offset ``o`` lasting ``d`` quarters fills frames ``ceil(o) .. ceil(o + d) - 1``
    (so notes shorter than a beat that start and end between two beats do not appear). With
    ``transpose``, the score is moved by the interval from its tonic (``score.analyze('key')``) to C,
    -6 .. +5 semitones. ``T`` is the frame after the last note ends.
    """
    music21 = _music21()
    score = score_or_path
    if isinstance(score_or_path, (str, os.PathLike)):
        score = music21.converter.parse(str(score_or_path))
    return _roll(score, transpose)[0]


def cache_file(cache_dir=None) -> Path:
    """Where :func:`chorales` caches its rolls: ``cache_dir``, else ``$PGBOLTZ_CACHE``, else
    ``~/.cache/pgboltz``; the file name carries music21's version."""
    base = Path(cache_dir or os.environ.get("PGBOLTZ_CACHE") or Path.home() / ".cache" / "pgboltz")
    return base / f"chorales-music21-{_music21().__version__}.npz"


def _corpus_files() -> tuple:
    """(kept, skipped): the corpus's Bach score files to parse, one per piece (by file stem, the
    format first in :data:`SCORE_FORMATS` wins), sorted by stem; and the names of the score files
    left out (second copies, :data:`NOT_CHORALES`)."""
    music21 = _music21()
    scores = [p for p in map(Path, music21.corpus.getComposer("bach")) if p.suffix.lower() in SCORE_FORMATS]
    best = {}
    for path in sorted(scores, key=lambda p: SCORE_FORMATS.index(p.suffix.lower())):
        if path.stem not in NOT_CHORALES:
            best.setdefault(path.stem, path)
    kept = [best[k] for k in sorted(best)]
    return kept, sorted(p.name for p in set(scores) - set(kept))


def _parse_file(path):
    """(roll, shift, key) of one corpus file."""
    return _roll(_music21().converter.parse(str(path)), transpose=True)


def _copy_of(roll, earlier) -> int | None:
    """Index of an earlier roll of the same length sharing at least :data:`COPY_AGREEMENT` of the
    notes (on cells) of the larger of the two, else None: the same chorale in two files, up to
    editorial differences (the corpus holds some harmonisations both in a cantata and in the 371)."""
    for k, other in enumerate(earlier):
        if other.shape == roll.shape:
            shared = np.count_nonzero(roll.astype(bool) & other.astype(bool))
            if shared >= COPY_AGREEMENT * max(np.count_nonzero(roll), np.count_nonzero(other), 1):
                return k
    return None


def _build_cache(path: Path, progress: bool) -> None:
    from tqdm.auto import tqdm

    music21 = _music21()
    files, skipped = _corpus_files()
    rolls, ids, shifts, keys = [], [], [], []
    dropped = {"failed to parse": [], f"shorter than {MIN_FRAMES} frames": [], "notes outside the piano": [],
               "copies of an earlier piece": []}
    start = time.perf_counter()
    for f in tqdm(files, desc="parsing chorales", unit="piece", disable=not progress):
        stem = Path(f).stem
        try:
            roll, shift, key = _parse_file(f)
        except DataError as exc:
            dropped["notes outside the piano" if "outside the piano" in str(exc) else "failed to parse"].append(stem)
            continue
        except Exception:  # noqa: BLE001 - music21 raises many kinds of errors on files it cannot read
            dropped["failed to parse"].append(stem)
            continue
        if len(roll) < MIN_FRAMES:
            dropped[f"shorter than {MIN_FRAMES} frames"].append(stem)
            continue
        copy = _copy_of(roll, rolls)
        if copy is not None:
            dropped["copies of an earlier piece"].append(f"{stem}={ids[copy]}")
            continue
        rolls.append(roll.astype(np.uint8))
        ids.append(stem)
        shifts.append(shift)
        keys.append(key)
    meta = {"music21": music21.__version__, "format": CACHE_FORMAT, "files": len(files),
            "skipped": skipped, "dropped": dropped, "seconds": time.perf_counter() - start}
    lengths = np.array([len(r) for r in rolls], dtype=np.int64)
    save_npz_atomic(path, {"rolls": np.concatenate(rolls) if rolls else np.zeros((0, N_KEYS), np.uint8),
                           "lengths": lengths, "ids": np.array(ids, dtype=str),
                           "shifts": np.array(shifts, dtype=np.int64), "keys": np.array(keys, dtype=str)}, meta)


def _load_cache(path: Path):
    """The cached arrays and meta, or None when the file is missing, unreadable or stale."""
    import json

    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in ("rolls", "lengths", "ids", "shifts", "keys")}
            meta = json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # truncated or foreign: rebuild
        return None
    if meta.get("music21") != _music21().__version__ or meta.get("format") != CACHE_FORMAT:
        return None
    if not {"files", "skipped", "dropped"} <= set(meta):
        return None
    if data["lengths"].sum() != len(data["rolls"]) or len(data["ids"]) != len(data["lengths"]):
        return None
    return data, meta


def chorales(cache_dir=None, refresh: bool = False, progress: bool = False) -> SequenceDataset:
    """The Bach chorales of music21's corpus as 88-key piano rolls, one frame per quarter note.

    Score files (.mxl/.xml/.krn; .rntxt analyses skipped, one file per piece, BWV 846 left out) are
    parsed with :func:`piano_roll` (transposed to C major / C minor). Pieces that fail to parse, have
    fewer than 8 frames, reach outside MIDI 21..108 or copy an earlier piece (in id order; the same
    length and at least 97% of the notes shared, :func:`_copy_of`) are dropped; the description says
    how many. Split by piece with :func:`split_ids` (80/10/10).
    The rolls are cached at :func:`cache_file` (``refresh`` rebuilds it; a cache that cannot be read
    or was made with another music21 version is rebuilt); ``progress`` shows a bar while parsing.
    """
    path = cache_file(cache_dir)
    loaded = None if refresh else _load_cache(path)
    if loaded is None:
        _build_cache(path, progress)
        loaded = _load_cache(path)
        if loaded is None:
            raise DataError(f"{path}: the chorale cache just written cannot be read back")
    data, meta = loaded
    ids = [str(s) for s in data["ids"]]
    rolls = dict(zip(ids, np.split(data["rolls"].astype(np.float64), np.cumsum(data["lengths"])[:-1])))
    parts = split_ids(ids)
    n_dropped = sum(len(v) for v in meta["dropped"].values())
    why = ", ".join(f"{len(v)} {k}" for k, v in meta["dropped"].items() if v) or "none"
    desc = (f"{len(ids)} Bach chorales from music21 {meta['music21']}'s corpus ({len(meta['skipped'])} score files "
            f"left out as second copies or not chorales; of {meta['files']} pieces parsed, {n_dropped} dropped: "
            f"{why}); transposed to C major / C minor; "
            f"one frame per quarter note, 88 keys (MIDI {LOWEST}..{LOWEST + N_KEYS - 1}), 0/1")
    return SequenceDataset("chorales", *[[rolls[i] for i in parts[s]] for s in SPLITS], parts, False, desc)


# ------------------------------------------------------------------------------------------- motion

def _gait_table(n_joints: int) -> dict:
    """Per-gait parameters: period (frames), and per joint amplitude, phase, 2nd-harmonic weight and
    phase, posture offset. Joint ``j`` is on side ``j % 2`` (left / right) at depth ``j // 2`` along a
    limb (hip, knee, ankle, ...): distal joints swing less and lag, the two sides are in anti-phase
    for walk and run and in phase for sway. Each gait's phases are moved by whole turns to lie within
    half a turn of walk's, so that a blend between gaits turns the short way round."""
    j = np.arange(n_joints)
    side, depth = j % 2, j // 2
    table = {
        "walk": {"period": 40.0, "amp": 1.0 * 0.8 ** depth, "phase": np.pi * side + 0.5 * depth, "h2": 0.3,
                 "phase2": 0.25 * np.pi + 0.3 * depth, "offset": 0.0},
        "run": {"period": 24.0, "amp": 1.6 * 0.85 ** depth, "phase": np.pi * side + 0.8 * depth, "h2": 0.5,
                "phase2": 0.5 * np.pi + 0.4 * depth, "offset": 0.4 * (depth % 2 == 0)},
        "sway": {"period": 90.0, "amp": 0.6 * 0.9 ** depth, "phase": 0.2 * depth, "h2": 0.1,
                 "phase2": 0.0, "offset": -0.2 * (depth % 2 == 1)},
    }
    ref = table["walk"]["phase"]
    for g in GAITS:  # a whole turn of psi changes neither sin(phi + psi) nor sin(2 (phi + psi) + chi)
        table[g]["phase"] = ref + (table[g]["phase"] - ref + np.pi) % (2 * np.pi) - np.pi
    return table


def _gait_path(rng, length: int, mean_dwell: float, min_dwell: int) -> np.ndarray:
    """Hidden gait per frame: a semi-Markov chain. Each stay lasts ``min_dwell`` frames plus a geometric
    number with mean ``mean_dwell - min_dwell``; the next gait is drawn uniformly among the others."""
    g = np.empty(length, dtype=np.int64)
    t, cur = 0, int(rng.integers(len(GAITS)))
    while t < length:
        dwell = min_dwell + int(rng.geometric(1.0 / max(mean_dwell - min_dwell, 1.0))) - 1
        g[t:t + dwell] = cur
        t += dwell
        cur = (cur + 1 + int(rng.integers(len(GAITS) - 1))) % len(GAITS)
    return g


def _one_sequence(rng, table, length, n_joints, noise, mean_dwell, transition):
    gaits = _gait_path(rng, length, mean_dwell, min_dwell=2 * transition)
    # blend weight of each gait per frame: the labels' one-hot codes, smoothed over the last
    # `transition` frames with a raised-cosine ramp, so that every parameter moves continuously
    onehot = np.eye(len(GAITS))[gaits]
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(1, transition + 1) / transition))
    kernel = np.diff(np.concatenate([[0.0], ramp]))  # sums to 1: a causal moving average
    w = np.stack([np.convolve(np.concatenate([np.full(transition - 1, onehot[0, k]), onehot[:, k]]),
                              kernel, mode="valid") for k in range(len(GAITS))], axis=1)  # (length, gaits)
    tempo, scale = rng.uniform(0.9, 1.1), rng.uniform(0.85, 1.15)  # a per-sequence "subject"

    def blend(name):
        vals = np.stack([np.broadcast_to(np.asarray(table[g][name], dtype=np.float64), (n_joints,))
                         for g in GAITS])
        return w @ vals  # (length, n_joints)

    freq = tempo * (w @ np.array([1.0 / table[g]["period"] for g in GAITS]))  # cycles per frame
    phi = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.concatenate([[0.0], np.cumsum(freq[:-1])])
    theta = phi[:, None] + blend("phase")
    x = blend("offset") + scale * blend("amp") * (np.sin(theta) + blend("h2") * np.sin(2 * theta + blend("phase2")))
    # slow drift: a sinusoid per joint whose period is one to three sequence lengths
    t = np.arange(length)[:, None]
    drift = rng.uniform(0, 0.3, n_joints) * np.sin(2 * np.pi * t / (length * rng.uniform(1, 3, n_joints))
                                                   + rng.uniform(0, 2 * np.pi, n_joints))
    return x + drift + noise * rng.standard_normal((length, n_joints)), gaits


def motion(n_sequences: int = 40, length: int = 400, n_joints: int = 12, seed: int = 0, noise: float = 0.05,
           mean_dwell: float = 150.0, transition: int = 20) -> SequenceDataset:
    """Synthetic multi-joint periodic motion (a stand-in for motion capture, which no package ships).

    Each sequence is ``length`` frames of ``n_joints`` joint angles. The body moves in one of three gaits
    (:data:`GAITS`): *walk* (period 40 frames), *run* (24 frames, larger swings, a forward lean) and
    *sway* (90 frames, both sides in phase). A gait sets, per joint ``j``, an amplitude ``A_j``, a phase
    ``psi_j``, a second-harmonic weight ``h_j`` and phase ``chi_j`` and a posture offset ``b_j``
    (:func:`_gait_table`), and the angle is

        x_j(t) = b_j + s A_j [sin(phi(t) + psi_j) + h_j sin(2 (phi(t) + psi_j) + chi_j)] + drift_j(t) + noise eps

    with one shared phase ``phi(t+1) = phi(t) + 2 pi r f(t)`` (continuous through gait changes), a
    per-sequence tempo ``r ~ U(0.9, 1.1)`` and size ``s ~ U(0.85, 1.15)``, ``eps ~ N(0, 1)`` i.i.d.
    The gait follows a hidden semi-Markov chain (stays of ``mean_dwell`` frames on average, at least
    ``2 * transition``; the next gait is uniform among the others); on a switch, the frequency ``f`` and
    every ``A, psi, h, chi, b`` move from the old gait's values to the new one's along a raised-cosine
    ramp over ``transition`` frames. ``drift_j(t) = a_j sin(2 pi t / P_j + c_j)`` is a slow wander with
    ``a_j ~ U(0, 0.3)`` and period ``P_j`` of one to three sequence lengths.

    The values are standardised per joint with the training frames' mean and sd (``.mean``, ``.std``);
    ``.labels[split]`` gives the gait (index into :data:`GAITS`) per frame, switching when a transition
    starts. The sequences are split 80/10/10 (:func:`split_ids` with ``seed``); all of it is a function
    of ``seed``.
    """
    if n_sequences < 1 or length < 2 or n_joints < 1:
        raise DataError(f"motion needs n_sequences >= 1, length >= 2 and n_joints >= 1; got "
                        f"{n_sequences}, {length}, {n_joints}")
    if noise < 0 or mean_dwell < 1 or transition < 1:
        raise DataError(f"motion needs noise >= 0, mean_dwell >= 1 and transition >= 1; got "
                        f"{noise}, {mean_dwell}, {transition}")
    rng = np.random.default_rng(seed)
    table = _gait_table(n_joints)
    ids = [f"seq{k:04d}" for k in range(n_sequences)]
    seqs, labels = {}, {}
    for i in ids:
        seqs[i], labels[i] = _one_sequence(rng, table, length, n_joints, noise, mean_dwell, transition)
    parts = split_ids(ids, seed=seed)
    train = np.concatenate([seqs[i] for i in parts["train"]])
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    out = {s: [(seqs[i] - mean) / std for i in parts[s]] for s in SPLITS}
    desc = (f"{n_sequences} synthetic gait sequences of {length} frames, {n_joints} joints (seed {seed}): "
            f"gaits {', '.join(GAITS)} switching by a hidden semi-Markov chain (mean stay {mean_dwell:g} frames, "
            f"{transition}-frame blends), noise sd {noise:g}, slow drift; standardised per joint (training "
            "mean and sd)")
    return SequenceDataset("motion", out["train"], out["valid"], out["test"], parts, True, desc, mean=mean, std=std,
                           labels={s: [labels[i] for i in parts[s]] for s in SPLITS})


# --------------------------------------------------------------------------------------------- MIDI

def _mido():
    try:
        import mido
    except ImportError:
        raise DataError(_MIDO) from None
    return mido


def write_midi(path, roll, quarter_seconds: float = 0.5, lowest: int = LOWEST, velocity: int = 80,
               program: int = 0) -> Path:
    """Write a binary piano roll ``(T, n)`` as a one-track MIDI file; returns the path.

    Frame ``t`` lasts one quarter note (``quarter_seconds`` seconds: the tempo); column ``k`` is MIDI
    pitch ``lowest + k``. A key held over consecutive frames is one note, not struck again. The file is
    written to a temporary file beside ``path`` and renamed over it, so it is never left half-written.
    """
    mido = _mido()
    roll = np.asarray(roll)
    if roll.ndim != 2:
        raise DataError(f"write_midi expects a piano roll (frames, keys); got shape {roll.shape}")
    if roll.size and not np.isin(roll, (0, 1)).all():
        raise DataError("write_midi expects a binary roll (0/1 values); threshold or sample it first")
    if lowest < 0 or lowest + roll.shape[1] > 128:
        raise DataError(f"keys {lowest}..{lowest + roll.shape[1] - 1} are outside MIDI 0..127")
    if not 0 < velocity < 128 or not 0 <= program < 128 or not quarter_seconds > 0:
        raise DataError(f"write_midi needs 1 <= velocity <= 127, 0 <= program <= 127 and quarter_seconds > 0; "
                        f"got {velocity}, {program}, {quarter_seconds}")
    tpb = 480
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=round(quarter_seconds * 1e6), time=0),
                            mido.Message("program_change", program=program, time=0)])
    on = np.pad(roll.astype(bool), ((1, 1), (0, 0)))  # silent frames before and after
    last = 0  # tick of the previous event
    for t in range(1, len(on)):
        for k in np.flatnonzero(on[t - 1] & ~on[t]):
            track.append(mido.Message("note_off", note=int(lowest + k), velocity=0, time=(t - 1) * tpb - last))
            last = (t - 1) * tpb
        for k in np.flatnonzero(on[t] & ~on[t - 1]):
            track.append(mido.Message("note_on", note=int(lowest + k), velocity=velocity, time=(t - 1) * tpb - last))
            last = (t - 1) * tpb
    track.append(mido.MetaMessage("end_of_track", time=len(roll) * tpb - last))
    mid = mido.MidiFile(ticks_per_beat=tpb, tracks=[track])
    buf = io.BytesIO()
    mid.save(file=buf)
    return write_bytes_atomic(Path(path), buf.getvalue())


def read_midi_roll(path, lowest: int = LOWEST, n: int = N_KEYS, quarter_seconds: float = 0.5) -> np.ndarray:
    """A binary roll ``(T, n)`` of a MIDI file: frame ``t`` holds the notes sounding at time
    ``t * quarter_seconds`` seconds (all channels and tracks). ``T`` covers the file's length."""
    mido = _mido()
    mid = mido.MidiFile(str(path))
    eps = 1e-6

    def frame(seconds):  # first frame at or after a time, robust to rounding in the tempo map
        return math.ceil(seconds / quarter_seconds - eps)

    now, held, notes = 0.0, {}, []
    for msg in mid:  # times in seconds, tempo changes applied
        now += msg.time
        if msg.type not in ("note_on", "note_off"):
            continue
        k = (msg.channel, msg.note)
        if k in held:
            notes.append((msg.note, held.pop(k), now))
        if msg.type == "note_on" and msg.velocity > 0:
            held[k] = now
    notes += [(note, start, now) for (_, note), start in held.items()]
    roll = np.zeros((max([frame(now)] + [frame(b) for _, _, b in notes]), n))
    for note, a, b in notes:
        if not lowest <= note < lowest + n:
            raise DataError(f"{path}: note {note} is outside the roll's keys {lowest}..{lowest + n - 1}")
        roll[frame(a):frame(b), note - lowest] = 1.0
    return roll
