"""Speech Commands v0.02 (real speech): one-second words, speaker-disjoint splits.

Accepted sources:

- a local folder with ``manifest.csv`` (columns ``path, word, speaker, repetition``; the project copy of the official
  v0.02 test set at ``../shared/data/speech_commands_test_v0.02`` beside the repository);
- a local folder in the official layout: ``<word>/<speaker>_nohash_<n>.wav``, ``_unknown_/<word>_<speaker>_nohash_<n>``
  and ``_silence_/*.wav`` (``_background_noise_`` is skipped);
- a Hub dataset id (e.g. ``google/speech_commands`` with ``hub_config="v0.02"``), passed to ``datasets.load_dataset``.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from datasets import DatasetDict, Value

from ..audio_utils import load_audio
from ._io import (SPLITS, audio_at, build_dataset_dict, corpus_features, dataset_card, encode_flac, finish, is_hub_id,
                  load_hub_dataset, resolve_source_dir, split_groups)

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SILENCE = "_silence_"
UNKNOWN = "_unknown_"
AUDIO_SUFFIXES = (".wav", ".flac")
EXPECTED = (
    "manifest.csv + audio, or the official layout '<word>/<speaker>_nohash_<n>.wav' (and '_unknown_/', '_silence_/'); "
    "or pass a Hub dataset id such as 'google/speech_commands'"
)
LICENSE = "CC BY 4.0. Cite Warden, 'Speech Commands: A Dataset for Limited-Vocabulary Speech Recognition', arXiv:1804.03209."
SPEECH_COMMANDS_FEATURES = corpus_features(
    16000,
    speaker=Value("string"),
    take=Value("int32"),
    category=Value("string"),
)
_NAME = re.compile(r"^(?:(?P<word>[a-z]+)_)?(?P<speaker>[0-9a-f]+)_nohash_(?P<take>\d+)")


@dataclass(frozen=True)
class SpeechClip:
    """One clip: ``audio`` is a file path or a Datasets ``{"bytes", "path"}`` dict; ``word`` is the spoken word
    (``"_silence_"`` for background noise), ``category`` the word, ``"_unknown_"`` (non-keyword) or ``"_silence_"``."""

    source_id: str
    audio: str | dict
    word: str
    speaker: str
    take: int

    @property
    def category(self) -> str:
        return self.word if self.word in KEYWORDS or self.word == SILENCE else UNKNOWN

    def decode(self, sampling_rate: int) -> np.ndarray:
        """Decode to mono float32 at ``sampling_rate``, naming the clip in any error."""
        try:
            wave, _ = load_audio(self.audio, target_sampling_rate=sampling_rate, name=self.source_id)
        except (ValueError, TypeError, RuntimeError, sf.LibsndfileError) as error:
            raise ValueError(f"unreadable clip {self.source_id!r}: {error}") from None
        return wave


def _clips_from_manifest(root: Path) -> list[SpeechClip]:
    with (root / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    missing = {"path", "word", "speaker", "repetition"} - set(rows[0] if rows else {})
    if missing:
        raise ValueError(
            f"{str(root / 'manifest.csv')!r} lacks columns {sorted(missing)}; accepted: path, word, speaker, repetition"
        )
    return [
        SpeechClip(
            source_id=str(Path(row["path"]).with_suffix("")),
            audio=str(root / row["path"]),
            word=row["word"],
            speaker=row["speaker"] or "",
            take=int(row["repetition"]) if row["repetition"] else 0,
        )
        for row in rows
    ]


def _clips_from_layout(root: Path) -> list[SpeechClip]:
    clips = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "_background_noise_"):
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES):
            source_id = f"{folder.name}/{path.stem}"
            if folder.name == SILENCE:
                clips.append(SpeechClip(source_id, str(path), SILENCE, "", 0))
                continue
            match = _NAME.match(path.stem)
            if match is None or (folder.name == UNKNOWN) != (match["word"] is not None):
                raise ValueError(f"unexpected Speech Commands file name {str(path)!r}; accepted: {EXPECTED}")
            word = match["word"] or folder.name
            clips.append(SpeechClip(source_id, str(path), word, match["speaker"], int(match["take"])))
    return clips


def _clips_from_hub(source: str, hub_config: str | None, hub_split: str) -> list[SpeechClip]:
    hub = load_hub_dataset(source, hub_config, hub_split, {"audio", "label", "speaker_id"}, "Speech Commands schema")
    names = hub.features["label"].names if hasattr(hub.features["label"], "names") else None
    clips = []
    for index, row in enumerate(hub):
        word = names[row["label"]] if names is not None else str(row["label"])
        speaker = row["speaker_id"] or ""
        take = int(row.get("utterance_id") or 0)
        source_id = f"{word}/{speaker or 'noise'}_{take}_{index}"
        clips.append(SpeechClip(source_id, row["audio"], word, "" if word == SILENCE else speaker, take))
    return clips


def load_speech_commands_clips(
    source: str | os.PathLike, hub_config: str | None = None, hub_split: str = "test"
) -> list[SpeechClip]:
    """List the clips of a Speech Commands copy (local folder or Hub id) without decoding audio.

    Example:
        >>> from wav2tok_hf.data import load_speech_commands_clips
        >>> clips = load_speech_commands_clips("../shared/data/speech_commands_test_v0.02")
        >>> len(clips), clips[0].category
        (4890, '_silence_')
    """
    if is_hub_id(source):
        clips = _clips_from_hub(os.fspath(source), hub_config, hub_split)
    else:
        root = resolve_source_dir(source, "Speech Commands", EXPECTED)
        clips = _clips_from_manifest(root) if (root / "manifest.csv").is_file() else _clips_from_layout(root)
    if not clips:
        raise ValueError(f"no clips found in {os.fspath(source)!r}; expected {EXPECTED}")
    return clips


def select_clips(clips: list[SpeechClip], include_unknown: bool, include_silence: bool, max_clips: int | None, seed: int):
    """Filter by category and keep a seed-chosen subset of at most ``max_clips`` (in the original order)."""
    kept = [
        clip
        for clip in clips
        if (clip.category != SILENCE or include_silence) and (clip.category != UNKNOWN or include_unknown)
    ]
    if max_clips is not None and len(kept) > max_clips:
        chosen = np.sort(np.random.default_rng(seed).permutation(len(kept))[:max_clips])
        kept = [kept[i] for i in chosen]
    if not kept:
        raise ValueError("no clips left after filtering; check include_unknown / include_silence / max_clips")
    return kept


def split_by_speaker(clips: list[SpeechClip], fractions, seed: int) -> dict[str, list[SpeechClip]]:
    """Speaker-disjoint train/validation/test; speakerless ``_silence_`` clips are split on their own."""
    speech = [clip for clip in clips if clip.speaker]
    speakers = split_groups([clip.speaker for clip in speech], fractions, seed, "speakers")
    split_of = {speaker: split for split, members in speakers.items() for speaker in members}
    out = {split: [clip for clip in speech if split_of[clip.speaker] == split] for split in SPLITS}
    noise = [clip for clip in clips if not clip.speaker]
    if noise:
        noise_splits = split_groups([clip.source_id for clip in noise], fractions, seed, "silence clips")
        for split, ids in noise_splits.items():
            members = set(ids)
            out[split] += [clip for clip in noise if clip.source_id in members]
    return out


def encoded_audio(clip: SpeechClip, sampling_rate: int) -> dict:
    """Keep the original file bytes when they are already at the target rate (after checking they decode)."""
    wave = clip.decode(sampling_rate)
    if isinstance(clip.audio, str) and sf.info(clip.audio).samplerate == sampling_rate:
        return {"bytes": Path(clip.audio).read_bytes(), "path": Path(clip.audio).name}
    return encode_flac(wave, sampling_rate, clip.source_id.replace("/", "_"))


def prepare_speech_commands(
    source: str | os.PathLike,
    output_dir: str | os.PathLike | None = None,
    *,
    include_unknown: bool = True,
    include_silence: bool = False,
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    max_clips: int | None = None,
    sampling_rate: int = 16000,
    seed: int = 0,
    hub_config: str | None = None,
    hub_split: str = "test",
    overwrite: bool = False,
) -> DatasetDict:
    """Build speaker-disjoint train/validation/test splits of real Speech Commands clips (``kind="clip"``).

    ``label`` is the spoken word: the real word also for the 25 non-keyword ("_unknown_") words, whose ``category``
    is ``"_unknown_"``; background-noise clips are labelled ``"_silence_"`` (only with ``include_silence``).

    Args:
        source: a local Speech Commands folder or a Hub dataset id (see the module docstring).
        output_dir: folder to ``save_to_disk`` into (with a ``README.md`` card); ``None`` returns the dataset only.
        include_unknown: keep the non-keyword words.
        include_silence: keep the ``_silence_`` noise clips.
        split_fractions: fractions of speakers in train / validation / test.
        max_clips: keep a seed-chosen subset of at most this many clips.
        sampling_rate: audio rate (16 kHz, the corpus rate).
        seed: selects the subset and the speaker splits.
        hub_config / hub_split: passed to ``datasets.load_dataset`` for a Hub id.
        overwrite: replace an existing ``output_dir``.

    Example:
        >>> from wav2tok_hf.data import prepare_speech_commands
        >>> ds = prepare_speech_commands("../shared/data/speech_commands_test_v0.02", max_clips=40)
        >>> sum(split.num_rows for split in ds.values())
        40
    """
    clips = load_speech_commands_clips(source, hub_config, hub_split)
    clips = select_clips(clips, include_unknown, include_silence, max_clips, seed)
    splits = split_by_speaker(clips, split_fractions, seed)
    features = audio_at(SPEECH_COMMANDS_FEATURES, sampling_rate)
    rows = {}
    for split, members in splits.items():
        rows[split] = {
            "audio": [encoded_audio(clip, sampling_rate) for clip in members],
            "label": [clip.word for clip in members],
            "kind": ["clip"] * len(members),
            "source_id": [clip.source_id for clip in members],
            "speaker": [clip.speaker for clip in members],
            "take": [clip.take for clip in members],
            "category": [clip.category for clip in members],
        }
    dataset = build_dataset_dict(rows, {split: features for split in SPLITS})
    parameters = dict(source=os.fspath(source) if is_hub_id(source) else Path(source).name, include_unknown=include_unknown,
                      include_silence=include_silence, split_fractions=tuple(split_fractions), max_clips=max_clips,
                      sampling_rate=sampling_rate, seed=seed)
    card = dataset_card(
        "Speech Commands v0.02: speaker-disjoint splits",
        "REAL recorded speech (one-second clips of single words).",
        "Speech Commands v0.02 (Warden 2018).",
        LICENSE,
        parameters,
        dataset,
        notes="`label` is the spoken word; `category` is the keyword, `_unknown_` for the 25 non-keyword words, or "
        "`_silence_`; `take` is the speaker's repetition index. Splits are disjoint by speaker.",
    )
    return finish(dataset, output_dir, card, overwrite)
