"""MASTmelody: real singing (conservatory entrance exams) as pitch tracks, re-synthesised to audio; plus 8 real WAVs.

Source folder layout (``../shared/data/mastmelody`` beside the repository; see its ``SOURCE.md``)::

    f0data.tar.xz        two-column text pitch tracks ``<melody>_per<take>_<pass|fail>.f0s.txt`` (sung) and
                         ``<melody>_ref<take>.f0s.txt`` (piano reference); an extracted ``f0data/`` folder also works
    annotations.csv      expert grades (optional; adds the ``grade`` column)
    wavSamples/          8 real recordings of melody 51_mel1 (for :func:`prepare_mastmelody_samples`)
"""

from __future__ import annotations

import csv
import os
import re
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from datasets import DatasetDict, Value

from ..audio_utils import load_audio
from ._io import (SPLITS, audio_at, build_dataset_dict, corpus_features, dataset_card, encode_flac, finish,
                  resolve_source_dir, split_groups)
from .synth import MIR_EVAL_WAVES, VOICE_TIMBRES, render_f0_track, render_f0_track_mir_eval

MASTMELODY_FEATURES = corpus_features(
    8000,
    melody_id=Value("string"),
    performer=Value("string"),
    take=Value("string"),
    passed=Value("bool"),
    grade=Value("float32"),
    timbre=Value("string"),
)
FILE_PATTERN = re.compile(r"^(?P<melody>\d+_mel\d+)_(?P<kind>per|ref)(?P<take>\d+)(?:_(?P<result>pass|fail))?$")
NAMES = "'<melody>_per<id>_<pass|fail>' (sung performance) or '<melody>_ref<id>' (piano reference)"
EXPECTED = f"f0data.tar.xz (or an extracted f0data/ folder) of {NAMES} + '.f0s.txt' pitch tracks"
LICENSE = (
    "CC BY-NC-SA 4.0 (research / non-commercial use; derived data keeps the license). "
    "Cite Bozkurt, Baysal, Yuret, CMMR 2017."
)
SYNTHESIZERS = ("wav2tok", *(f"mir_eval-{wave}" for wave in MIR_EVAL_WAVES))
_PAD_S = 0.2


def _parse_name(stem: str) -> dict:
    match = FILE_PATTERN.match(stem)
    if match is None:
        raise ValueError(f"unexpected MASTmelody file name {stem!r}; accepted: {NAMES}")
    is_query = match["kind"] == "per"
    return {
        "label": match["melody"],
        "kind": "query" if is_query else "reference",
        "source_id": stem,
        "melody_id": match["melody"],
        "performer": match["take"] if is_query else "",
        "take": match["take"],
        "passed": (match["result"] == "pass") if is_query else None,
    }


def _read_grades(source: Path) -> dict[str, float]:
    """Majority expert grade (1-4) per recording, keyed by file stem without the pass/fail suffix."""
    path = source / "annotations.csv"
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            Path(row["file"]).stem: float(row["majority_score"])
            for row in csv.DictReader(handle)
            if row.get("majority_score")
        }


def read_f0(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a two-column ``time_s f0_hz`` pitch track (0 Hz = unvoiced), checking its shape and values."""
    try:
        table = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as error:
        raise ValueError(
            f"unreadable pitch track {str(path)!r} ({error}); accepted: two numeric columns 'time_s f0_hz'"
        ) from None
    if table.shape[1] != 2 or len(table) < 2:
        raise ValueError(f"pitch track {str(path)!r} has shape {table.shape}; accepted: >= 2 rows of two columns 'time_s f0_hz'")
    times, f0 = table[:, 0], table[:, 1]
    if not (np.isfinite(table).all() and (np.diff(times) > 0).all() and (f0 >= 0).all()):
        raise ValueError(f"pitch track {str(path)!r} has non-increasing times or negative/NaN f0 values")
    return times, f0


def _trim(times: np.ndarray, f0: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    voiced = np.flatnonzero(f0 > 0)
    if len(voiced) < 2:
        raise ValueError(f"pitch track {name!r} has no voiced frames (all f0 = 0)")
    keep = (times >= times[voiced[0]] - _PAD_S) & (times <= times[voiced[-1]] + _PAD_S)
    return times[keep] - times[keep][0], f0[keep]


def _collect_tracks(f0_dir: Path) -> list[Path]:
    tracks = sorted(f0_dir.glob("*.f0s.txt"))
    if not tracks:
        raise ValueError(f"no pitch tracks (*.f0s.txt) found in {str(f0_dir)!r}; expected {EXPECTED}")
    return tracks


def prepare_mastmelody(
    source_dir: str | os.PathLike,
    output_dir: str | os.PathLike | None = None,
    *,
    split_fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    max_melodies: int | None = None,
    max_files_per_melody: int | None = None,
    sampling_rate: int = 8000,
    seed: int = 0,
    synthesizer: str = "wav2tok",
    overwrite: bool = False,
) -> DatasetDict:
    """Build a melody-retrieval corpus from MASTmelody's real pitch tracks, re-synthesised to audio.

    Pitch and timing come from real singers (and real piano takes); the timbre is synthetic: by default sung
    performances are rendered with a hum/vowel voice (``kind="query"``), piano reference takes with a piano-like tone
    (``kind="reference"``). Splits are disjoint by melody. The archive is extracted into a temporary folder, never
    into ``source_dir``.

    Args:
        source_dir: the MASTmelody folder (``f0data.tar.xz`` or ``f0data/``, optional ``annotations.csv``).
        output_dir: folder to ``save_to_disk`` into (with a ``README.md`` card); ``None`` returns the dataset only.
        split_fractions: fractions of melodies in train / validation / test (each split gets >= 1 melody).
        max_melodies: keep only this many melodies (chosen by ``seed``; at least 3).
        max_files_per_melody: keep at most this many performances and this many references per melody.
        sampling_rate: audio rate.
        seed: selects melodies/files, the splits and the vowel of each sung rendering.
        synthesizer: one of ``SYNTHESIZERS``: ``"wav2tok"`` (ours: :func:`~wav2tok_hf.data.synth.render_f0_track`)
            or ``"mir_eval-<sine|sawtooth|square>"``, another project's synthesiser
            (:func:`~wav2tok_hf.data.synth.render_f0_track_mir_eval`) for every track, whose ``timbre`` column is then
            the synthesiser's name. The melodies, files and splits do not depend on it.
        overwrite: replace an existing ``output_dir``.

    Example:
        >>> from wav2tok_hf.data import prepare_mastmelody
        >>> ds = prepare_mastmelody("../shared/data/mastmelody", max_melodies=3, max_files_per_melody=2)
        >>> sorted(ds), ds["test"].num_rows
        (['test', 'train', 'validation'], 4)
    """
    if synthesizer not in SYNTHESIZERS:
        raise ValueError(f"synthesizer={synthesizer!r}; accepted: {SYNTHESIZERS}")
    source = resolve_source_dir(source_dir, "MASTmelody", EXPECTED)
    if max_melodies is not None and max_melodies < 3:
        raise ValueError(f"max_melodies={max_melodies}: need at least 3 melodies for train/validation/test splits")
    if max_files_per_melody is not None and max_files_per_melody < 1:
        raise ValueError(f"max_files_per_melody={max_files_per_melody} must be >= 1")
    grades = _read_grades(source)
    with _f0_folder(source) as f0_dir:
        by_melody = _group_by_melody(_collect_tracks(f0_dir))
        melodies = _choose_melodies(sorted(by_melody), max_melodies, seed)
        splits = split_groups(melodies, split_fractions, seed, "melodies")
        rows = _render_splits(splits, by_melody, grades, max_files_per_melody, sampling_rate, seed, synthesizer)
    dataset = _mastmelody_dataset(rows, sampling_rate)
    parameters = dict(split_fractions=tuple(split_fractions), max_melodies=max_melodies,
                      max_files_per_melody=max_files_per_melody, sampling_rate=sampling_rate, seed=seed)
    if synthesizer != "wav2tok":  # default builds keep the cards they always had
        parameters["synthesizer"] = synthesizer
    card = _mastmelody_card(dataset, parameters)
    return finish(dataset, output_dir, card, overwrite)


@contextmanager
def _f0_folder(source: Path) -> Iterator[Path]:
    """The folder of pitch tracks: ``source/f0data`` itself, else ``f0data.tar.xz`` extracted into a temporary folder
    (removed on exit; never into ``source``)."""
    if (source / "f0data").is_dir():
        yield source / "f0data"
        return
    if not (source / "f0data.tar.xz").is_file():
        raise FileNotFoundError(f"{str(source)!r} has neither f0data.tar.xz nor f0data/; expected {EXPECTED}")
    with tempfile.TemporaryDirectory(prefix="mastmelody-f0-") as scratch:
        try:
            with tarfile.open(source / "f0data.tar.xz") as archive:
                archive.extractall(scratch, filter="data")
        except (tarfile.TarError, EOFError, OSError) as error:
            raise ValueError(
                f"cannot extract {str(source / 'f0data.tar.xz')!r}: {error}; expected an intact xz tar archive"
            ) from None
        yield Path(scratch) / "f0data"


def _group_by_melody(tracks: list[Path]) -> dict[str, dict[str, list[Path]]]:
    """The pitch tracks of each melody by kind (``query`` / ``reference``), in the order of ``tracks``."""
    by_melody: dict[str, dict[str, list[Path]]] = {}
    for path in tracks:
        info = _parse_name(path.name[: -len(".f0s.txt")])
        by_melody.setdefault(info["melody_id"], {"query": [], "reference": []})[info["kind"]].append(path)
    return by_melody


def _choose_melodies(melodies: list[str], max_melodies: int | None, seed: int) -> list[str]:
    """All ``melodies``, or ``max_melodies`` of them drawn by ``seed`` (kept in sorted order)."""
    if max_melodies is None:
        return melodies
    order = np.random.default_rng(seed).permutation(len(melodies))
    return sorted(melodies[i] for i in order[:max_melodies])


def _choose_files(paths: list[Path], melody: str, kind: str, max_files_per_melody: int | None, seed: int) -> list[Path]:
    """A melody's tracks of one kind, or ``max_files_per_melody`` of them drawn by ``seed`` (kept in sorted order)."""
    if max_files_per_melody is None or len(paths) <= max_files_per_melody:
        return paths
    rng = np.random.default_rng([seed, zlib.crc32(f"{melody}/{kind}".encode())])
    return sorted(paths[i] for i in rng.permutation(len(paths))[:max_files_per_melody])


def _render_splits(
    splits: dict[str, list[str]],
    by_melody: dict[str, dict[str, list[Path]]],
    grades: dict[str, float],
    max_files_per_melody: int | None,
    sampling_rate: int,
    seed: int,
    synthesizer: str,
) -> dict[str, dict[str, list]]:
    """The columns of each split: the chosen performances, then references, of each of its melodies, re-synthesised."""
    rows = {split: {name: [] for name in MASTMELODY_FEATURES} for split in SPLITS}
    for split, split_melodies in splits.items():
        for melody in split_melodies:
            for kind in ("query", "reference"):
                for path in _choose_files(by_melody[melody][kind], melody, kind, max_files_per_melody, seed):
                    _append_track(rows[split], path, grades, sampling_rate, seed, synthesizer)
    return rows


def _mastmelody_dataset(rows: dict[str, dict[str, list]], sampling_rate: int) -> DatasetDict:
    """The train / validation / test columns as a ``DatasetDict`` of ``MASTMELODY_FEATURES`` at ``sampling_rate``."""
    features = audio_at(MASTMELODY_FEATURES, sampling_rate)
    return build_dataset_dict(rows, {split: features for split in SPLITS})


def _mastmelody_card(dataset: DatasetDict, parameters: dict) -> str:
    """The ``README.md`` dataset card: real pitch tracks, synthetic timbre (by ``parameters["synthesizer"]``, default
    ``"wav2tok"``), built with ``parameters``."""
    synthesizer = parameters.get("synthesizer", "wav2tok")
    timbre = ("synthetic (hum/vowel voice for performances, piano-like tone for references)" if synthesizer == "wav2tok"
              else f"mir_eval.sonify.pitch_contour's {synthesizer.removeprefix('mir_eval-')} wave for performances and "
              "references alike")
    return dataset_card(
        "MASTmelody: real singing pitch tracks, re-synthesised",
        "RE-SYNTHESISED from real pitch tracks: pitch and timing are real human singing (queries) and real piano "
        f"takes (references); the timbre is {timbre}.",
        "MASTmelody dataset (github.com/barisbozkurt/MASTmelody_dataset), f0data + annotations.csv.",
        LICENSE,
        parameters,
        dataset,
        notes="`passed`: the exam verdict of a performance (None for references); `grade`: majority expert grade "
        "1-4 from annotations.csv (None when not annotated); `take`: the numeric recording id of the file name.",
    )


def _append_track(columns: dict[str, list], path: Path, grades: dict[str, float], sampling_rate: int, seed: int,
                  synthesizer: str) -> None:
    stem = path.name[: -len(".f0s.txt")]
    info = _parse_name(stem)
    times, f0 = _trim(*read_f0(path), str(path))
    if synthesizer == "wav2tok":
        rng = np.random.default_rng([seed, zlib.crc32(stem.encode())])
        timbre = "piano" if info["kind"] == "reference" else str(rng.choice(VOICE_TIMBRES))
        wave = render_f0_track(times, f0, sampling_rate, timbre, rng)
    else:
        timbre = synthesizer
        wave = render_f0_track_mir_eval(times, f0, sampling_rate, synthesizer.removeprefix("mir_eval-"))
    info.update(audio=encode_flac(wave, sampling_rate, stem), grade=grades.get(_grade_key(info)), timbre=timbre)
    for name, value in info.items():
        columns[name].append(value)


def _grade_key(info: dict) -> str:
    return f"{info['melody_id']}_{'per' if info['kind'] == 'query' else 'ref'}{info['take']}"


def prepare_mastmelody_samples(
    source_dir: str | os.PathLike,
    output_dir: str | os.PathLike | None = None,
    *,
    sampling_rate: int = 8000,
    overwrite: bool = False,
) -> DatasetDict:
    """Load the 8 real MASTmelody recordings (``wavSamples/``: 4 sung performances and 4 piano takes of ``51_mel1``).

    A fully real smoke-test set: one ``test`` split (a single melody cannot be split), same columns as
    :func:`prepare_mastmelody` with ``timbre="real"``.

    Example:
        >>> from wav2tok_hf.data import prepare_mastmelody_samples
        >>> ds = prepare_mastmelody_samples("../shared/data/mastmelody")
        >>> ds["test"].num_rows, sorted(set(ds["test"]["kind"]))
        (8, ['query', 'reference'])
    """
    source = resolve_source_dir(source_dir, "MASTmelody", "wavSamples/ with the real recordings")
    files = sorted(p for p in (source / "wavSamples").glob("*") if p.suffix.lower() in (".wav", ".flac"))
    if not files:
        raise ValueError(f"no .wav/.flac recordings in {str(source / 'wavSamples')!r}; expected MASTmelody's wavSamples/ folder")
    grades = _read_grades(source)
    features = audio_at(MASTMELODY_FEATURES, sampling_rate)
    columns = {name: [] for name in features}
    for path in files:
        info = _parse_name(path.stem)
        wave, _ = load_audio(str(path), target_sampling_rate=sampling_rate, name=str(path))
        info.update(audio=encode_flac(wave, sampling_rate, path.stem), grade=grades.get(_grade_key(info)), timbre="real")
        for name, value in info.items():
            columns[name].append(value)
    dataset = build_dataset_dict({"test": columns}, {"test": features})
    card = dataset_card(
        "MASTmelody wavSamples: real recordings",
        "REAL recordings (4 sung performances and 4 piano reference takes of melody 51_mel1), resampled.",
        "MASTmelody dataset wavSamples/ (github.com/barisbozkurt/MASTmelody_dataset).",
        LICENSE,
        dict(sampling_rate=sampling_rate),
        dataset,
    )
    return finish(dataset, output_dir, card, overwrite)
