"""Essen folk melodies (bundled with music21) as a synthetic query-by-humming corpus.

The melodies are real (the Essen Associative Code collection, ~8.5k folk songs, the distractor set of MIREX QbSH);
all audio is synthesised: one plain-timbre database rendition per song and several simulated sung/hummed queries.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import DatasetDict, List, Value

from ._io import SPLITS, audio_at, build_dataset_dict, corpus_features, dataset_card, encode_flac, finish
from .synth import SINGERS, render_reference, sample_singer, sing

logger = logging.getLogger(__name__)

ESSEN_FEATURES = corpus_features(
    8000,
    song_id=Value("string"),
    title=Value("string"),
    rendition=Value("int32"),
    key_shift=Value("int32"),
    tempo=Value("float32"),
    timbre=Value("string"),
    excerpt_start_s=Value("float32"),
    note_midi=List(Value("float32")),
    note_durations_s=List(Value("float32")),
)
MIN_NOTES = 10


@dataclass(frozen=True)
class EssenTune:
    """One tune of the bundled Essen ``.abc`` files: ``song_id`` is ``<opus file stem>-<X number>``."""

    song_id: str
    title: str
    abc: str


def _repair_umlauts(text: str) -> str:
    """Some titles carry DOS code-page-437 umlauts stored as C1 control characters (e.g. U+0084 for 'ä')."""
    return re.sub("[\x80-\x9f]", lambda m: bytes([ord(m.group())]).decode("cp437"), text)


def list_essen_tunes() -> list[EssenTune]:
    """All Essen tunes bundled with music21, in a fixed order (file name, then position). Reads text only: fast."""
    from music21 import corpus

    tunes = []
    for path in sorted(corpus.getComposer("essenFolksong"), key=lambda p: Path(p).name):
        text = Path(path).read_text(encoding="utf-8")
        for block in re.split(r"\n(?=X:)", text):
            block = block.strip()
            number = re.match(r"X:\s*(\S+)", block)
            if number is None:
                continue
            title = re.search(r"^T:\s*(.*)$", block, flags=re.MULTILINE)
            title = _repair_umlauts(title.group(1).strip()) if title else ""
            tunes.append(EssenTune(f"{Path(path).stem}-{number.group(1)}", title, block))
    if not tunes:
        raise FileNotFoundError("music21 has no bundled 'essenFolksong' corpus; reinstall music21 (pip install music21)")
    return tunes


def parse_melody(abc: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse one ABC tune into ``(midi, quarter_lengths)``; rests have ``nan`` pitch, chords keep their top note."""
    from music21 import converter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = converter.parse(abc, format="abc").stripTies()
    midi, lengths = [], []
    for element in score.flatten().notesAndRests:
        length = float(element.quarterLength)
        if length <= 0:  # grace notes
            continue
        if element.isRest:
            pitch = np.nan
        elif element.isChord:
            pitch = max(p.midi for p in element.pitches)
        else:
            pitch = element.pitch.midi
        midi.append(pitch)
        lengths.append(length)
    return np.asarray(midi, dtype=np.float64), np.asarray(lengths, dtype=np.float64)


def _excerpt(midi, durations, start_s, length_s):
    """Whole notes whose onset falls in ``[start_s, start_s + length_s)``, without leading/trailing rests."""
    onsets = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    keep = (onsets >= start_s - 1e-9) & (onsets < start_s + length_s)
    midi, durations = midi[keep], durations[keep]
    pitched = np.flatnonzero(np.isfinite(midi))
    return midi[pitched[0] : pitched[-1] + 1], durations[pitched[0] : pitched[-1] + 1]


def _song_rng(seed: int, song_id: str, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(song_id.encode()), stream])


Melody = tuple[EssenTune, np.ndarray, np.ndarray]
"""A parsed tune: ``(tune, midi, quarter_lengths)`` as returned by :func:`parse_melody`."""
Rendition = tuple[str, int, float, np.ndarray, np.ndarray]
"""What one rendition sings: ``(kind, rendition, excerpt_start_s, midi, durations_s)``."""


def _choose_melodies(tunes: list[EssenTune], total: int, seed: int) -> list[Melody]:
    """The first ``total`` tunes, in a seed-defined order, that parse and have at least ``MIN_NOTES`` notes."""
    melodies = []
    for position in np.random.default_rng(seed).permutation(len(tunes)):
        tune = tunes[position]
        try:
            midi, quarters = parse_melody(tune.abc)
        except Exception as error:  # music21 raises many unrelated types on malformed ABC
            logger.info("skipping Essen tune %s: %s", tune.song_id, error)
            continue
        if np.isfinite(midi).sum() < MIN_NOTES:
            continue
        melodies.append((tune, midi, quarters))
        if len(melodies) == total:
            break
    if len(melodies) < total:
        raise ValueError(f"only {len(melodies)} Essen tunes have >= {MIN_NOTES} notes; asked for {total}")
    return melodies


def _song_splits(num_songs: tuple[int, int, int]) -> list[str]:
    """The split of each chosen song, in order: the first ``num_songs[0]`` train, then validation, then test."""
    return [split for split, count in zip(SPLITS, num_songs) for _ in range(count)]


def _plan_renditions(
    melody: Melody, seed: int, queries_per_song: int, excerpt_s: float, full_songs: bool, random_excerpt: bool
) -> list[Rendition]:
    """The notes of a song's reference and of each of its queries, at a seed-drawn tempo; the reference first."""
    tune, midi, quarters = melody
    rng = _song_rng(seed, tune.song_id, 0)
    seconds = quarters * rng.uniform(0.25, 0.4) / np.median(quarters[np.isfinite(midi)])
    song_s = float(seconds.sum())
    opening = _excerpt(midi, seconds, 0.0, excerpt_s)
    renditions = [("reference", 0, 0.0, *((midi, seconds) if full_songs else opening))]
    for rendition in range(1, queries_per_song + 1):
        start = float(_song_rng(seed, tune.song_id, rendition).uniform(0.0, max(song_s - excerpt_s, 0.0)))
        region = _excerpt(midi, seconds, start, excerpt_s) if random_excerpt else opening
        renditions.append(("query", rendition, start if random_excerpt else 0.0, *region))
    return renditions


def _render_row(tune: EssenTune, planned: Rendition, seed: int, singer: str, sampling_rate: int) -> dict:
    """Synthesise one rendition (plain timbre for the reference, a sampled simulated singer for a query) as a row."""
    kind, rendition, start, notes, durations = planned
    if kind == "reference":
        wave, key_shift, tempo, timbre = render_reference(notes, durations, sampling_rate), 0, 1.0, "plain"
    else:
        rendition_rng = _song_rng(seed, tune.song_id, 1000 + rendition)
        style = sample_singer(rendition_rng, singer)
        wave, notes, durations = sing(notes, durations, style, rendition_rng, sampling_rate)
        key_shift, tempo, timbre = style.key_shift, style.tempo, style.timbre
    source_id = f"{tune.song_id}/{'ref' if kind == 'reference' else f'q{rendition}'}"
    return {
        "audio": encode_flac(wave, sampling_rate, source_id.replace("/", "_")), "label": tune.song_id, "kind": kind,
        "source_id": source_id, "song_id": tune.song_id, "title": tune.title, "rendition": rendition,
        "key_shift": key_shift, "tempo": tempo, "timbre": timbre, "excerpt_start_s": start,
        "note_midi": notes.tolist(), "note_durations_s": durations.tolist(),
    }


def _essen_dataset(rows: dict[str, list[dict]], sampling_rate: int) -> DatasetDict:
    """The train / validation / test rows as a ``DatasetDict`` of ``ESSEN_FEATURES`` at ``sampling_rate``."""
    features = audio_at(ESSEN_FEATURES, sampling_rate)
    columns = {split: {name: [row[name] for row in rows[split]] for name in ESSEN_FEATURES} for split in SPLITS}
    return build_dataset_dict(columns, {split: features for split in SPLITS})


def _essen_card(dataset: DatasetDict, parameters: dict) -> str:
    """The ``README.md`` dataset card: synthetic audio of real melodies, built with ``parameters``."""
    return dataset_card(
        "Essen folk melodies: synthetic query-by-humming corpus",
        "SYNTHESISED. Real melodies (Essen folk song collection), synthetic audio: a plain harmonic timbre for "
        "database items and a simulated singer (key, tempo, intonation, vibrato, glides, note errors, hum/vowel "
        "timbre, noise) for queries.",
        "Essen Associative Code folk song collection as bundled with music21 (`music21.corpus`, 'essenFolksong').",
        "The Essen collection is freely distributed for research with music21 (BSD-licensed toolkit); cite Schaffrath "
        "(1995), 'The Essen Folksong Collection'.",
        parameters,
        dataset,
        notes="`kind`: `reference` = database rendition, `query` = simulated hum. `note_midi` (NaN = rest) and "
        "`note_durations_s` give the notes actually rendered (after key shift, tempo and note errors). Splits are "
        "disjoint by song; Essen holds some variants of the same tune under different ids.",
    )


def prepare_essen(
    output_dir: str | os.PathLike | None = None,
    *,
    num_songs: tuple[int, int, int] = (300, 50, 100),
    queries_per_song: int = 4,
    excerpt_s: float = 8.0,
    full_songs: bool = False,
    random_excerpt: bool = False,
    singer: str = "default",
    sampling_rate: int = 8000,
    seed: int = 0,
    overwrite: bool = False,
) -> DatasetDict:
    """Build the synthetic query-by-humming corpus from real Essen folk melodies.

    Songs are drawn from the ~8.5k bundled Essen tunes in a seed-defined order (only the ones needed are parsed) and
    split by song, so validation/test songs are never trained on. Each song gets one database rendition
    (``kind="reference"``, plain harmonic timbre, original key) and ``queries_per_song`` simulated sung/hummed
    queries (``kind="query"``; random key shift -5..+6 semitones, tempo 0.8-1.25x, timing jitter, intonation error,
    pitch drift, vibrato, glides, wrong/skipped/extra notes, hum or vowel timbre, breath and background noise).
    Essen has no tempo marks: each song's tempo puts its median note at 0.25-0.4 s.

    Args:
        output_dir: folder to ``save_to_disk`` into (with a ``README.md`` card); ``None`` returns the dataset only.
        num_songs: songs in the train / validation / test splits.
        queries_per_song: sung queries per song.
        excerpt_s: length of the sung region (at the reference tempo) -- the opening of the song.
        full_songs: render the whole song as the database item instead of the same opening region as the queries.
        random_excerpt: queries sing a random ``excerpt_s`` region instead of the opening (needs ``full_songs``).
        singer: ``"default"`` (the demo's simulated singer) or ``"realistic"`` (deviations fitted to real singing:
            ``SingerStyle.sample_realistic``; larger intonation errors, drift, timing and vibrato, octave jumps and
            voicing gaps).
        sampling_rate: audio rate (8 kHz, like MIR-QbSH).
        seed: selects the songs and every random choice of the renditions.
        overwrite: replace an existing ``output_dir``.

    Returns:
        A ``DatasetDict`` with splits ``train``, ``validation``, ``test`` and the columns of ``ESSEN_FEATURES``.

    Example:
        >>> from wav2tok_hf.data import prepare_essen
        >>> ds = prepare_essen(num_songs=(2, 1, 1), queries_per_song=1, seed=0)
        >>> ds["train"].num_rows, sorted(set(ds["train"]["kind"]))
        (4, ['query', 'reference'])
    """
    if len(num_songs) != 3 or min(num_songs) < 0 or sum(num_songs) < 1:
        raise ValueError(
            f"num_songs={tuple(num_songs)} must be three non-negative song counts (train, validation, test), not all 0"
        )
    if queries_per_song < 0:
        raise ValueError(f"queries_per_song={queries_per_song} must be >= 0")
    if excerpt_s <= 0:
        raise ValueError(f"excerpt_s={excerpt_s} must be a positive number of seconds")
    if singer not in SINGERS:
        raise ValueError(f"singer={singer!r}; accepted: {SINGERS}")
    if random_excerpt and not full_songs:
        raise ValueError("random_excerpt=True needs full_songs=True: a random query region is only inside a full-song reference")
    tunes = list_essen_tunes()
    total = sum(num_songs)
    if total > len(tunes):
        raise ValueError(f"asked for {total} songs but only {len(tunes)} Essen tunes are bundled")

    melodies = _choose_melodies(tunes, total, seed)
    rows: dict[str, list[dict]] = {split: [] for split in SPLITS}
    for melody, split in zip(melodies, _song_splits(num_songs)):
        renditions = _plan_renditions(melody, seed, queries_per_song, excerpt_s, full_songs, random_excerpt)
        rows[split] += [_render_row(melody[0], planned, seed, singer, sampling_rate) for planned in renditions]

    dataset = _essen_dataset(rows, sampling_rate)
    parameters = dict(num_songs=tuple(num_songs), queries_per_song=queries_per_song, excerpt_s=excerpt_s,
                      full_songs=full_songs, random_excerpt=random_excerpt, sampling_rate=sampling_rate, seed=seed)
    if singer != "default":  # the demo corpus's card stays as it was
        parameters["singer"] = singer
    card = _essen_card(dataset, parameters)
    return finish(dataset, output_dir, card, overwrite)
