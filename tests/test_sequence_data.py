"""Sequence data: piano rolls of chorales (exact on hand-built scores), the chorale cache, the synthetic
motion generator, MIDI round trips, deterministic disjoint splits, clear messages when a package is missing.

No test parses the whole corpus: the chorale pipeline runs on a few real pieces or on a fake parser.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

from pgboltz import DataError
from pgboltz import sequence_data as sd
from pgboltz.io import load_meta, save_npz_atomic


def _ids(parts: dict) -> list:
    """Every id of a split dict, in split order."""
    return [i for s in sd.SPLITS for i in parts[s]]


def test_split_ids_is_deterministic_disjoint_and_80_10_10():
    ids = [f"piece{k:03d}" for k in range(50)]
    parts = sd.split_ids(ids)
    assert [len(parts[s]) for s in sd.SPLITS] == [40, 5, 5]
    assert sorted(_ids(parts)) == ids  # disjoint and complete
    assert sd.split_ids(ids[::-1]) == parts  # the input order does not matter, only the ids
    assert sd.split_ids(ids, seed=1) != parts
    assert all(parts[s] == sorted(parts[s]) for s in sd.SPLITS)
    with pytest.raises(DataError, match="not unique"):
        sd.split_ids(["a", "a", "b"])


def test_tonic_shift_takes_every_tonic_to_c_the_short_way():
    for pc in range(12):
        shift = sd._tonic_shift(pc)
        assert -6 <= shift <= 5 and (pc + shift) % 12 == 0


def _tiny_score():
    """C4 for 3 beats; E4 tied over the bar (1 + 1.5 beats); a G3-B3 chord off the beat for half a
    beat (it sounds at no whole beat); D5 for 2 beats; a 2-beat rest; A4 a quarter starting half a beat in."""
    m21 = pytest.importorskip("music21")
    m1 = m21.stream.Measure(number=1)
    m1.timeSignature = m21.meter.TimeSignature("4/4")
    tied = [m21.note.Note("E4", quarterLength=1), m21.note.Note("E4", quarterLength=1.5)]
    tied[0].tie, tied[1].tie = m21.tie.Tie("start"), m21.tie.Tie("stop")
    m1.append([m21.note.Note("C4", quarterLength=3), tied[0]])
    m2 = m21.stream.Measure(number=2)
    m2.append([tied[1], m21.chord.Chord(["G3", "B3"], quarterLength=0.5), m21.note.Note("D5", quarterLength=2)])
    m3 = m21.stream.Measure(number=3)
    m3.append([m21.note.Rest(quarterLength=2.5), m21.note.Note("A4", quarterLength=1),
               m21.note.Rest(quarterLength=0.5)])
    part = m21.stream.Part([m1, m2, m3])
    bass = m21.stream.Part([m21.chord.Chord(["C3", "G3"], quarterLength=4)])  # a second part, a held chord
    return m21.stream.Score([part, bass])


def test_piano_roll_of_a_hand_built_score_is_exact():
    expected = np.zeros((12, 88))
    for frames, midi in (((0, 1, 2), 60), ((3, 4, 5), 64), ((6, 7), 74), ((11,), 69), ((0, 1, 2, 3), 48),
                         ((0, 1, 2, 3), 55)):
        expected[list(frames), midi - 21] = 1.0
    roll = sd.piano_roll(_tiny_score(), transpose=False)
    # A4 at offset 10.5 lasting 1 quarter sounds at beat 11 only; the final rest adds no frame
    assert roll.dtype == np.float64 and np.array_equal(roll, expected)


def test_piano_roll_rejects_notes_outside_the_piano():
    m21 = pytest.importorskip("music21")
    s = m21.stream.Stream([m21.note.Note("C4"), m21.note.Note("G#0")])  # MIDI 20: below A0
    with pytest.raises(DataError, match="outside the piano"):
        sd.piano_roll(s, transpose=False)


@pytest.mark.parametrize("name", ["bach/bwv66.6", "bach/bwv10.7"])
def test_piano_roll_of_real_chorales_is_in_c(name):
    m21 = pytest.importorskip("music21")
    score = m21.corpus.parse(name)
    roll = sd.piano_roll(score)
    assert roll.ndim == 2 and roll.shape[1] == 88 and len(roll) >= 8
    assert set(np.unique(roll)) == {0.0, 1.0}
    assert 3 <= roll.sum(axis=1).max() <= 8  # four voices, some doubled or resting
    # the roll is the score moved by the tonic's shift, and music21 hears that as C major / C minor
    key = score.analyze("key")
    shift = sd._tonic_shift(key.tonic.pitchClass)
    moved = score.transpose(shift)
    assert moved.analyze("key").tonic.pitchClass == 0 and moved.analyze("key").mode == key.mode
    assert np.array_equal(roll, sd.piano_roll(moved, transpose=False))
    assert np.array_equal(roll, sd.piano_roll(m21.corpus.getWork(name)))  # a path parses the same
    counts = np.bincount((np.nonzero(roll)[1] + 21) % 12, minlength=12)
    assert counts.argmax() in (0, 3, 4, 7)  # C, Eb, E or G


def test_corpus_files_keep_one_score_per_piece():
    pytest.importorskip("music21")
    kept, skipped = sd._corpus_files()
    stems = [p.stem for p in kept]
    assert len(stems) == len(set(stems)) and stems == sorted(stems) and len(kept) > 300
    assert all(p.suffix in sd.SCORE_FORMATS for p in kept)
    assert "bwv846" not in stems and all(Path(s).stem in stems + ["bwv846"] for s in skipped)


def _fake_corpus(monkeypatch, n=20, extra=()):
    """Replace the corpus by ``n`` fake pieces whose parse is instant; returns the call counter."""
    files = [Path(f"/fake/p{k:02d}.mxl") for k in range(n)] + [Path(f"/fake/{name}.mxl") for name in extra]
    calls = []

    def parse(path):
        calls.append(path.stem)
        if path.stem == "broken":
            raise KeyError("music21 could not read it")
        if path.stem == "too-high":
            raise DataError("notes outside the piano")
        k = 0 if path.stem in ("short", "copy") else int(path.stem[1:])
        roll = np.zeros((4 if path.stem == "short" else 10 + k, 88))
        roll[np.arange(len(roll)), (np.arange(len(roll)) * 7 + k) % 88] = 1.0
        return roll, 0, "C major"

    monkeypatch.setattr(sd, "_corpus_files", lambda: (files, ["p00.krn"]))
    monkeypatch.setattr(sd, "_parse_file", parse)
    return calls


def test_chorales_cache_is_reused_and_a_corrupted_one_rebuilt(tmp_path, monkeypatch):
    pytest.importorskip("music21")
    calls = _fake_corpus(monkeypatch)
    path = sd.cache_file(tmp_path)
    path.write_bytes(b"PK\x03\x04 not really a zip file")  # a cache a killed run might leave
    d = sd.chorales(cache_dir=tmp_path)
    assert len(calls) == 20 and [len(d.split(s)) for s in sd.SPLITS] == [16, 2, 2]
    assert d.pieces == sd.split_ids([f"p{k:02d}" for k in range(20)])
    for s in sd.SPLITS:  # each array is its piece's roll
        assert all(len(x) == 10 + int(i[1:]) for x, i in zip(d.split(s), d.pieces[s]))
    assert d.n == 88 and not d.real and d.frames("test").shape == (sum(map(len, d.test)), 88)
    assert not list(tmp_path.glob("*.tmp"))
    again = sd.chorales(cache_dir=tmp_path)
    assert len(calls) == 20 and all(np.array_equal(a, b) for a, b in zip(again.train, d.train))
    sd.chorales(cache_dir=tmp_path, refresh=True)
    assert len(calls) == 40


def test_chorales_cache_of_another_music21_is_rebuilt(tmp_path, monkeypatch):
    pytest.importorskip("music21")
    calls = _fake_corpus(monkeypatch)
    sd.chorales(cache_dir=tmp_path)
    path = sd.cache_file(tmp_path)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
    save_npz_atomic(path, arrays, {"music21": "0.0.1", "format": sd.CACHE_FORMAT})
    sd.chorales(cache_dir=tmp_path)
    assert len(calls) == 40


def test_chorales_drops_and_counts_bad_pieces(tmp_path, monkeypatch):
    pytest.importorskip("music21")
    _fake_corpus(monkeypatch, n=10, extra=("broken", "too-high", "short", "copy"))
    d = sd.chorales(cache_dir=tmp_path)
    ids = _ids(d.pieces)
    assert sorted(ids) == [f"p{k:02d}" for k in range(10)]  # "copy" has p00's roll
    assert "4 dropped" in d.description and "1 copies of an earlier piece" in d.description
    meta = load_meta(sd.cache_file(tmp_path))
    assert meta["dropped"]["copies of an earlier piece"] == ["copy=p00"]
    assert meta["dropped"]["failed to parse"] == ["broken"] and meta["skipped"] == ["p00.krn"]


def test_copy_of_finds_near_identical_rolls_only():
    r = np.random.default_rng(3)
    a = (r.random((40, 88)) < 0.05).astype(float)
    b = a.copy()
    b[0, np.flatnonzero(a[0])[:1]] = 0.0  # one note of ~170 edited away
    assert sd._copy_of(b, [np.zeros((40, 88)), a]) == 1
    assert sd._copy_of(b[:-1], [a]) is None  # another length
    c = a.copy()
    c[:20] = 0.0
    assert sd._copy_of(c, [a]) is None


def test_chorales_end_to_end_on_a_few_real_pieces(tmp_path, monkeypatch):
    pytest.importorskip("music21")
    kept, _ = sd._corpus_files()
    monkeypatch.setattr(sd, "_corpus_files", lambda: (kept[:10], []))
    d = sd.chorales(cache_dir=tmp_path, progress=True)
    assert [len(d.split(s)) for s in sd.SPLITS] == [8, 1, 1]
    assert sorted(_ids(d.pieces)) == [p.stem for p in kept[:10]]
    assert all(x.shape[1] == 88 and len(x) >= 8 and set(np.unique(x)) <= {0.0, 1.0} for x in d.train)
    assert np.array_equal(d.valid[0], sd.piano_roll(kept[[p.stem for p in kept].index(d.pieces["valid"][0])]))


def test_cache_location(monkeypatch, tmp_path):
    m21 = pytest.importorskip("music21")
    monkeypatch.setenv("PGBOLTZ_CACHE", str(tmp_path / "env"))
    assert sd.cache_file() == tmp_path / "env" / f"chorales-music21-{m21.__version__}.npz"
    assert sd.cache_file(tmp_path / "given").parent == tmp_path / "given"
    monkeypatch.delenv("PGBOLTZ_CACHE")
    assert sd.cache_file().parent == Path.home() / ".cache" / "pgboltz"


def test_full_corpus_from_an_existing_cache():
    pytest.importorskip("music21")
    loaded = sd._load_cache(sd.cache_file())
    if loaded is None:
        pytest.skip("no chorale cache here (pgboltz.sequence_data.chorales() builds it in about a minute)")
    d = sd.chorales()
    ids = _ids(d.pieces)
    assert len(ids) == len(set(ids)) > 350 and d.n == 88
    assert abs(len(d.train) - 0.8 * len(ids)) <= 2
    assert all(set(np.unique(x)) <= {0.0, 1.0} and len(x) >= 8 for x in d.train + d.valid + d.test)


def test_missing_packages_are_named(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "music21", None)
    with pytest.raises(DataError, match=r"music21's corpus: pip install music21 \(or pip install 'pgboltz\[sequences\]'\)"):
        sd.chorales(cache_dir=tmp_path)
    with pytest.raises(DataError, match="pip install music21"):
        sd.piano_roll("whatever.mxl")
    monkeypatch.setitem(sys.modules, "mido", None)
    with pytest.raises(DataError, match="pip install mido"):
        sd.write_midi(tmp_path / "x.mid", np.zeros((2, 88)))
    with pytest.raises(DataError, match="pip install mido"):
        sd.read_midi_roll(tmp_path / "x.mid")


@pytest.mark.parametrize("quarter_seconds", [0.5, 0.3])
def test_midi_round_trip(tmp_path, quarter_seconds):
    mido = pytest.importorskip("mido")
    r = np.random.default_rng(7)
    roll = np.zeros((40, 88))
    roll[2:-3] = r.random((35, 88)) < 0.04  # silent frames at both ends must survive
    roll[:, 39] = 0.0
    roll[5:15, 39] = 1.0  # middle C held for ten frames: one note
    roll[20, [0, 87]] = 1.0  # the lowest and highest keys
    path = sd.write_midi(tmp_path / "song.mid", roll, quarter_seconds=quarter_seconds)
    assert path == tmp_path / "song.mid" and not list(tmp_path.glob(".*.tmp"))
    assert np.array_equal(sd.read_midi_roll(path, quarter_seconds=quarter_seconds), roll)
    ons = [m for m in mido.MidiFile(str(path)).tracks[0] if m.type == "note_on" and m.velocity > 0]
    onsets = int((np.diff(np.pad(roll, ((1, 0), (0, 0))), axis=0) > 0).sum())
    assert len(ons) == onsets and sum(m.note == 60 for m in ons) == 1
    # overwriting keeps working, and a roll of other values is refused
    sd.write_midi(path, roll[:10], quarter_seconds=quarter_seconds)
    assert np.array_equal(sd.read_midi_roll(path, quarter_seconds=quarter_seconds), roll[:10])
    with pytest.raises(DataError, match="binary"):
        sd.write_midi(tmp_path / "p.mid", roll * 0.5)


def test_read_midi_roll_rejects_notes_outside_the_keys(tmp_path):
    pytest.importorskip("mido")
    roll = np.zeros((3, 88))
    roll[1, 80] = 1.0
    path = sd.write_midi(tmp_path / "high.mid", roll)
    with pytest.raises(DataError, match="outside the roll's keys"):
        sd.read_midi_roll(path, lowest=21, n=60)


def test_motion_shape_determinism_and_standardisation():
    d = sd.motion(n_sequences=20, length=300, n_joints=6, seed=4)
    assert [len(d.split(s)) for s in sd.SPLITS] == [16, 2, 2] and d.real and d.n == 6
    assert all(x.shape == (300, 6) and x.dtype == np.float64 for x in d.train + d.valid + d.test)
    again = sd.motion(n_sequences=20, length=300, n_joints=6, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(d.train + d.test, again.train + again.test))
    assert d.pieces == again.pieces and not np.array_equal(sd.motion(20, 300, 6, seed=5).train[0], d.train[0])
    train = d.frames("train")
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(train.std(axis=0), 1.0, atol=1e-10)
    assert d.mean.shape == (6,) and np.all(d.std > 0)
    assert np.abs(d.frames("test").mean(axis=0)).max() < 1.0  # same scaling, other sequences
    assert sorted(_ids(d.pieces)) == [f"seq{k:04d}" for k in range(20)]


def test_motion_gaits_switch_and_shape_the_signal():
    d = sd.motion(n_sequences=30, length=400, seed=0, noise=0.0)
    labels = d.labels["train"]
    assert all(lab.shape == (400,) for lab in labels)
    switches = [int(np.count_nonzero(np.diff(lab))) for lab in labels]
    assert sum(switches) >= len(labels) and max(switches) >= 2
    assert set(np.concatenate(labels).tolist()) == {0, 1, 2}
    # stays are at least two blends long (2 * 20 frames)
    for lab in labels:
        cuts = np.flatnonzero(np.diff(lab)) + 1
        assert np.all(np.diff(np.r_[0, cuts]) >= 40)
    # away from the blends the signal moves at the gait's speed: run (period 24) > walk (40) > sway (90)
    speed = {g: [] for g in range(3)}
    for x, lab in zip(d.train, labels):
        settled = np.r_[np.zeros(20, bool), lab[20:] == lab[:-20]]  # 20 frames after the last switch
        step = np.abs(np.diff(x, axis=0)).mean(axis=1)
        for g in range(3):
            speed[g].extend(step[(settled & (lab == g))[1:]])
    walk, run, sway = (np.mean(speed[g]) for g in range(3))
    assert run > 1.3 * walk and walk > 1.5 * sway
    # the blends keep the motion continuous: no frame-to-frame jump larger than the fastest gait's
    jumps = np.concatenate([np.abs(np.diff(x, axis=0)).max(axis=1) for x in d.train])
    assert jumps.max() < 2.0


def test_motion_checks_its_arguments():
    with pytest.raises(DataError, match="n_sequences >= 1"):
        sd.motion(n_sequences=0)
    with pytest.raises(DataError, match="noise >= 0"):
        sd.motion(noise=-1.0)
