"""A spoken-term-detection corpus constructed from real Speech Commands words.

Utterances concatenate 3-8 real clips of different words by different speakers, with pauses and real background
noise (the ``_silence_`` clips), and carry exact word time stamps. Keyword queries are the same words said by
speakers who appear in no utterance of the split.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from datasets import DatasetDict, List, Value

from ._io import SPLITS, audio_at, build_dataset_dict, corpus_features, dataset_card, encode_flac, finish, is_hub_id
from .speech_commands import LICENSE, SILENCE, SpeechClip, load_speech_commands_clips, select_clips, split_by_speaker

UTTERANCE_FEATURES = corpus_features(
    16000,
    word_labels=List(Value("string")),
    word_starts_s=List(Value("float32")),
    word_ends_s=List(Value("float32")),
    speakers=List(Value("string")),
    word_source_ids=List(Value("string")),
    noise_source_ids=List(Value("string")),
    snr_db=Value("float32"),
)
QUERY_FEATURES = corpus_features(
    16000,
    speaker=Value("string"),
    take=Value("int32"),
)
_FRAME_S = 0.01


def speech_region(wave: np.ndarray, sampling_rate: int, threshold_db: float = 35.0, pad_s: float = 0.03) -> tuple[int, int]:
    """``[start, end)`` samples of the speech in a clip, by a 10 ms frame-energy gate, padded by ``pad_s``.

    A frame is speech when it is within ``threshold_db`` of the loudest frame and 10 dB above the clip's noise floor
    (10th percentile of frame energies), capped at 6 dB below the loudest frame for clips that are all noise.
    """
    frame = max(1, int(_FRAME_S * sampling_rate))
    n_frames = max(1, len(wave) // frame)
    energy = 10 * np.log10(np.mean(wave[: n_frames * frame].reshape(n_frames, frame) ** 2, axis=1) + 1e-12)
    peak = energy.max()
    threshold = min(max(peak - threshold_db, np.percentile(energy, 10) + 10.0), peak - 6.0)
    active = np.flatnonzero(energy > threshold)
    pad = int(pad_s * sampling_rate)
    return max(0, active[0] * frame - pad), min(len(wave), (active[-1] + 1) * frame + pad)


class _ClipCache:
    """Decode each clip once per build: words trimmed to their speech region, noise clips whole."""

    def __init__(self, sampling_rate: int):
        self.sampling_rate = sampling_rate
        self._waves: dict[str, np.ndarray] = {}

    def speech(self, clip: SpeechClip) -> np.ndarray:
        if clip.source_id not in self._waves:
            wave = clip.decode(self.sampling_rate)
            start, end = speech_region(wave, self.sampling_rate)
            self._waves[clip.source_id] = wave[start:end]
        return self._waves[clip.source_id]

    def noise(self, clip: SpeechClip) -> np.ndarray:
        if clip.source_id not in self._waves:
            self._waves[clip.source_id] = clip.decode(self.sampling_rate)
        return self._waves[clip.source_id]


def _rms(wave: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))) + 1e-9


def _pick_words(pool: dict[str, list[SpeechClip]], count: int, rng: np.random.Generator) -> list[SpeechClip]:
    """``count`` clips of distinct words by distinct speakers (fewer if the pool cannot provide them)."""
    chosen: list[SpeechClip] = []
    speakers: set[str] = set()
    words = sorted(pool)
    for word_index in rng.permutation(len(words)):
        candidates = [clip for clip in pool[words[word_index]] if clip.speaker not in speakers]
        if candidates:
            clip = candidates[rng.integers(len(candidates))]
            chosen.append(clip)
            speakers.add(clip.speaker)
        if len(chosen) == count:
            break
    return chosen


def _place_words(clips, cache, rng, sampling_rate, pause_s):
    """Lay the words end to end at ±4 dB around one level, with random pauses and 0.2-0.5 s of lead-in and tail.

    Returns ``(speech, active, starts_s, ends_s)``: the placed words and, for the SNR, their samples joined.
    """
    sr = sampling_rate
    pieces, starts, ends = [], [], []
    cursor = int(rng.uniform(0.2, 0.5) * sr)
    for position, clip in enumerate(clips):
        word = cache.speech(clip)
        word = word / _rms(word) * 0.05 * 10 ** (rng.uniform(-4.0, 4.0) / 20)
        pieces.append((cursor, word))
        starts.append(cursor / sr)
        ends.append((cursor + len(word)) / sr)
        cursor += len(word) + (int(rng.uniform(*pause_s) * sr) if position < len(clips) - 1 else 0)
    length = cursor + int(rng.uniform(0.2, 0.5) * sr)
    speech = np.zeros(length, dtype=np.float32)
    for offset, word in pieces:
        speech[offset : offset + len(word)] += word
    return speech, np.concatenate([word for _, word in pieces]), starts, ends


def _background_noise(noise_clips, cache, rng, length):
    """``length`` samples of real background noise (random ``_silence_`` clips joined), or white noise if there are
    none; returns ``(noise, noise_source_ids)``."""
    if not noise_clips:
        return rng.standard_normal(length).astype(np.float32), []
    parts, noise_ids, total = [], [], 0
    while total < length:
        clip = noise_clips[rng.integers(len(noise_clips))]
        wave = cache.noise(clip)
        parts.append(wave)
        noise_ids.append(clip.source_id)
        total += len(wave)
    return np.concatenate(parts)[:length], noise_ids


def _utterance(clips, noise_clips, cache, rng, sampling_rate, pause_s, snr_db):
    """Placed words plus background noise at a random SNR: ``(wave, starts_s, ends_s, noise_source_ids, snr_db)``."""
    speech, active, starts, ends = _place_words(clips, cache, rng, sampling_rate, pause_s)
    snr = float(rng.uniform(*snr_db))
    noise, noise_ids = _background_noise(noise_clips, cache, rng, len(speech))
    noise = noise / _rms(noise) * _rms(active) * 10 ** (-snr / 20)
    return speech + noise, starts, ends, noise_ids, snr


def _reserve_query_speakers(
    split: str, speech: list[SpeechClip], fraction: float, has_utterances: bool, rng: np.random.Generator
) -> set[str]:
    """A random ``fraction`` of the split's speakers, who only provide queries (never utterance words)."""
    speakers = sorted({clip.speaker for clip in speech})
    n_query = int(round(fraction * len(speakers)))
    if has_utterances and not 1 <= n_query < len(speakers):
        raise ValueError(
            f"split {split!r} has {len(speakers)} speakers: too few to keep query speakers out of the utterances; "
            "use more clips (max_clips) or another query_speaker_fraction"
        )
    return {speakers[i] for i in rng.permutation(len(speakers))[:n_query]}


def _word_pool(speech: list[SpeechClip], query_speakers: set[str]) -> dict[str, list[SpeechClip]]:
    """The clips of the utterance speakers, by word."""
    pool: dict[str, list[SpeechClip]] = {}
    for clip in speech:
        if clip.speaker not in query_speakers:
            pool.setdefault(clip.word, []).append(clip)
    return pool


def _utterance_row(split, index, pool, noise_clips, cache, rng, words_per_utterance, pause_s, snr_db) -> dict:
    """One utterance of ``UTTERANCE_FEATURES``: a random number of words from ``pool``, mixed with noise."""
    low, high = words_per_utterance
    words = _pick_words(pool, int(rng.integers(low, high + 1)), rng)
    if not words:
        raise ValueError(f"split {split!r} has no clips by utterance speakers; use more clips (max_clips)")
    sampling_rate = cache.sampling_rate
    wave, starts, ends, noise_ids, snr = _utterance(words, noise_clips, cache, rng, sampling_rate, pause_s, snr_db)
    source_id = f"{split}-utt{index:05d}"
    return {
        "audio": encode_flac(wave, sampling_rate, source_id), "label": " ".join(clip.word for clip in words),
        "kind": "reference", "source_id": source_id, "word_labels": [clip.word for clip in words],
        "word_starts_s": starts, "word_ends_s": ends, "speakers": [clip.speaker for clip in words],
        "word_source_ids": [clip.source_id for clip in words], "noise_source_ids": noise_ids, "snr_db": snr,
    }


def _query_rows(words, speech, query_speakers, queries_per_word, cache, rng) -> list[dict]:
    """Rows of ``QUERY_FEATURES``: up to ``queries_per_word`` random clips of each word by the query speakers."""
    rows = []
    for word in words:
        candidates = [clip for clip in speech if clip.word == word and clip.speaker in query_speakers]
        for i in np.sort(rng.permutation(len(candidates))[:queries_per_word]):
            clip = candidates[i]
            audio = encode_flac(cache.speech(clip), cache.sampling_rate, clip.source_id.replace("/", "_"))
            rows.append({"audio": audio, "label": word, "kind": "query", "source_id": clip.source_id,
                         "speaker": clip.speaker, "take": clip.take})
    return rows


def _std_dataset(rows: dict[str, list[dict]], sampling_rate: int) -> DatasetDict:
    """Utterance and query rows as a ``DatasetDict`` (splits in the order of ``rows``), audio at ``sampling_rate``."""
    utterance_features = audio_at(UTTERANCE_FEATURES, sampling_rate)
    query_features = audio_at(QUERY_FEATURES, sampling_rate)
    features = {split: utterance_features for split in SPLITS} | {f"{s}_queries": query_features for s in SPLITS}
    columns = {split: {name: [row[name] for row in split_rows] for name in features[split]}
               for split, split_rows in rows.items()}
    return build_dataset_dict(columns, features)


def _std_card(dataset: DatasetDict, parameters: dict) -> str:
    """The ``README.md`` dataset card: real words in synthetic utterances, built with ``parameters``."""
    return dataset_card(
        "Spoken term detection from Speech Commands words",
        "CONSTRUCTED FROM REAL SPEECH: every word is a real recording; the utterances are synthetic concatenations "
        "(real words + pauses + real background noise).",
        "Speech Commands v0.02 (Warden 2018): words and `_silence_` background-noise clips.",
        LICENSE,
        parameters,
        dataset,
        notes="Utterance splits (`train`, `validation`, `test`): `word_starts_s` / `word_ends_s` bound each word's "
        "speech exactly as placed. Query splits (`*_queries`): single words by speakers absent from every utterance "
        "of the split. Splits are disjoint by speaker.",
    )


def prepare_std(
    source: str | os.PathLike,
    output_dir: str | os.PathLike | None = None,
    *,
    num_utterances: tuple[int, int, int] = (200, 50, 100),
    words_per_utterance: tuple[int, int] = (3, 8),
    queries_per_word: int = 2,
    query_speaker_fraction: float = 0.3,
    pause_s: tuple[float, float] = (0.1, 0.6),
    snr_db: tuple[float, float] = (10.0, 30.0),
    include_unknown: bool = True,
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    max_clips: int | None = None,
    sampling_rate: int = 16000,
    seed: int = 0,
    hub_config: str | None = None,
    hub_split: str = "test",
    overwrite: bool = False,
) -> DatasetDict:
    """Build a spoken-term-detection corpus: word-stamped utterances plus keyword queries by unseen speakers.

    Speakers are split train/validation/test; inside each split a ``query_speaker_fraction`` of them only provide
    queries, the others only utterance words. Each utterance joins 3-8 real clips (trimmed to their speech by
    :func:`speech_region`) of distinct words by distinct speakers, with random pauses, ±4 dB level changes and real
    background noise from the ``_silence_`` clips at a random SNR (white noise if the source has none).

    Args:
        source: a local Speech Commands folder or a Hub dataset id (as for :func:`prepare_speech_commands`).
        output_dir: folder to ``save_to_disk`` into (with a ``README.md`` card); ``None`` returns the dataset only.
        num_utterances: utterances in the train / validation / test splits.
        words_per_utterance: inclusive (min, max) number of words per utterance.
        queries_per_word: query clips per word that occurs in a split's utterances (fewer if not enough exist).
        query_speaker_fraction: fraction of each split's speakers reserved for queries.
        pause_s / snr_db: ranges of the pauses between words and of the background-noise SNR.
        include_unknown: also use the 25 non-keyword words.
        split_fractions: fractions of speakers in train / validation / test.
        max_clips: draw words from a seed-chosen subset of at most this many clips (``_silence_`` included).
        sampling_rate: audio rate.
        seed: every random choice (subset, speakers, words, pauses, levels, noise).
        hub_config / hub_split: passed to ``datasets.load_dataset`` for a Hub id.
        overwrite: replace an existing ``output_dir``.

    Returns:
        A ``DatasetDict`` with utterance splits ``train``, ``validation``, ``test`` (``kind="reference"``, ``label``
        = the transcript, ``word_labels`` / ``word_starts_s`` / ``word_ends_s`` / ``speakers`` per word) and query
        splits ``train_queries``, ``validation_queries``, ``test_queries`` (``kind="query"``, ``label`` = the word,
        trimmed to its speech), ``queries_per_word`` per word that occurs in the split's utterances.

    Example:
        >>> from wav2tok_hf.data import prepare_std
        >>> ds = prepare_std("../shared/data/speech_commands_test_v0.02", num_utterances=(2, 1, 1), max_clips=400)
        >>> ds["test"][0]["word_labels"] == ds["test"][0]["label"].split()
        True
    """
    if len(num_utterances) != 3 or min(num_utterances) < 0 or sum(num_utterances) < 1:
        raise ValueError(f"num_utterances={tuple(num_utterances)} must be three non-negative counts, not all 0")
    low, high = words_per_utterance
    if not 1 <= low <= high:
        raise ValueError(f"words_per_utterance={tuple(words_per_utterance)} must be (min, max) with 1 <= min <= max")
    if not 0 < query_speaker_fraction < 1:
        raise ValueError(f"query_speaker_fraction={query_speaker_fraction} must be strictly between 0 and 1")
    clips = select_clips(load_speech_commands_clips(source, hub_config, hub_split), include_unknown, True, max_clips, seed)
    cache = _ClipCache(sampling_rate)
    rows: dict[str, list[dict]] = {}
    for split_index, (split, members) in enumerate(split_by_speaker(clips, split_fractions, seed).items()):
        rng = np.random.default_rng([seed, split_index])
        noise_clips = [clip for clip in members if clip.word == SILENCE]
        speech = [clip for clip in members if clip.word != SILENCE]
        count = num_utterances[split_index]
        query_speakers = _reserve_query_speakers(split, speech, query_speaker_fraction, count > 0, rng)
        pool = _word_pool(speech, query_speakers)
        rows[split] = [_utterance_row(split, index, pool, noise_clips, cache, rng, words_per_utterance, pause_s, snr_db)
                       for index in range(count)]
        said = sorted({word for row in rows[split] for word in row["word_labels"]})
        rows[f"{split}_queries"] = _query_rows(said, speech, query_speakers, queries_per_word, cache, rng)

    dataset = _std_dataset(rows, sampling_rate)
    parameters = dict(source=os.fspath(source) if is_hub_id(source) else Path(source).name,
                      num_utterances=tuple(num_utterances), words_per_utterance=tuple(words_per_utterance),
                      queries_per_word=queries_per_word, query_speaker_fraction=query_speaker_fraction,
                      pause_s=tuple(pause_s), snr_db=tuple(snr_db), include_unknown=include_unknown,
                      split_fractions=tuple(split_fractions), max_clips=max_clips, sampling_rate=sampling_rate, seed=seed)
    card = _std_card(dataset, parameters)
    return finish(dataset, output_dir, card, overwrite)
