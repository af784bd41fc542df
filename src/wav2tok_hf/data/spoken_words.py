"""Labelled spoken words from any corpus (real speech): one word per clip, speaker-disjoint splits. The way to
benchmark the speech tokenizer on a corpus of your own, such as a spoken-digits corpus recorded at 8 kHz.

Accepted sources:

- a local folder of audio files (searched recursively) whose paths, relative to the folder and without the suffix,
  match ``pattern``: a regular expression with the named groups ``label`` and ``speaker`` (optionally ``take``). The
  default, :data:`DIGITS_PATTERN`, reads ``<label>_<speaker>_<take>`` file names, the layout of the Free Spoken Digit
  Dataset (``7_jackson_32.wav``) and of AudioMNIST (``7_01_32.wav``);
- a Hub dataset id with an audio column and a label and a speaker column (``label_column``, ``speaker_column``; a
  ``ClassLabel`` label is written as its name), passed to ``datasets.load_dataset``.

Clips are decoded at ``sampling_rate`` (16 kHz, the speech release's rate: an 8 kHz corpus is resampled and keeps its
telephone band). The clips, labels and speakers are listed by :func:`load_spoken_word_clips`, split by speaker as
Speech Commands is (:func:`~wav2tok_hf.data.speech_commands.split_by_speaker`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from datasets import DatasetDict, Value

from ._io import (SPLITS, audio_at, build_dataset_dict, corpus_features, dataset_card, finish, is_hub_id,
                  load_hub_dataset, resolve_source_dir)
from .speech_commands import AUDIO_SUFFIXES, SpeechClip, encoded_audio, split_by_speaker

DIGITS_PATTERN = r"(?P<label>[^/_]+)_(?P<speaker>[^/_]+)_(?P<take>\d+)"
"""``<label>_<speaker>_<take>`` file names (Free Spoken Digit Dataset, AudioMNIST), in any sub-folder."""
EXPECTED = ("audio files (.wav / .flac) whose relative paths match --pattern (named groups 'label' and 'speaker'; "
            "default '<label>_<speaker>_<take>'), or a Hub dataset id with audio, label and speaker columns")
SPOKEN_WORDS_FEATURES = corpus_features(16000, speaker=Value("string"), take=Value("int32"))


def _clips_from_folder(root: Path, pattern: str) -> list[SpeechClip]:
    try:
        matcher = re.compile(pattern)
    except re.error as error:
        raise ValueError(f"pattern {pattern!r} is not a regular expression: {error}") from None
    if not {"label", "speaker"} <= set(matcher.groupindex):
        raise ValueError(f"pattern {pattern!r} needs the named groups 'label' and 'speaker', e.g. {DIGITS_PATTERN!r}")
    clips, unmatched = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES):
        name = path.relative_to(root).with_suffix("").as_posix()
        match = matcher.fullmatch(name)
        if match is None:
            unmatched.append(name)
            continue
        take = match.groupdict().get("take")
        clips.append(SpeechClip(name, str(path), match["label"], match["speaker"], int(take) if take else 0))
    if unmatched:
        raise ValueError(f"{len(unmatched)} audio file(s) in {str(root)!r} do not match pattern {pattern!r}, e.g. "
                         f"{unmatched[0]!r}; pass a --pattern with the named groups 'label' and 'speaker'")
    return clips


def _clips_from_hub(source: str, label_column: str, speaker_column: str, hub_config: str | None,
                    hub_split: str) -> list[SpeechClip]:
    hub = load_hub_dataset(source, hub_config, hub_split, {"audio", label_column, speaker_column},
                           "pass label_column / speaker_column for other names")
    names = getattr(hub.features[label_column], "names", None)
    clips = []
    for index, row in enumerate(hub):
        label = names[row[label_column]] if names is not None else str(row[label_column])
        speaker = str(row[speaker_column])
        clips.append(SpeechClip(f"{label}/{speaker}_{index}", row["audio"], label, speaker, index))
    return clips


def load_spoken_word_clips(source: str | os.PathLike, *, pattern: str = DIGITS_PATTERN, label_column: str = "label",
                           speaker_column: str = "speaker", hub_config: str | None = None,
                           hub_split: str = "train") -> list[SpeechClip]:
    """List the clips of a labelled spoken-word corpus (local folder or Hub id) without decoding audio; a file whose
    name does not match ``pattern`` is an error (never silently dropped).

    Example:
        >>> import tempfile, numpy as np, soundfile as sf
        >>> folder = tempfile.mkdtemp()
        >>> sf.write(f"{folder}/7_jackson_32.wav", np.zeros(800, np.float32), 8000)
        >>> clip, = load_spoken_word_clips(folder)
        >>> clip.word, clip.speaker, clip.take
        ('7', 'jackson', 32)
    """
    if is_hub_id(source):
        clips = _clips_from_hub(os.fspath(source), label_column, speaker_column, hub_config, hub_split)
    else:
        clips = _clips_from_folder(resolve_source_dir(source, "spoken-words", EXPECTED), pattern)
    if not clips:
        raise ValueError(f"no clips found in {os.fspath(source)!r}; expected {EXPECTED}")
    return clips


def prepare_spoken_words(
    source: str | os.PathLike,
    output_dir: str | os.PathLike | None = None,
    *,
    pattern: str = DIGITS_PATTERN,
    label_column: str = "label",
    speaker_column: str = "speaker",
    split_fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    sampling_rate: int = 16000,
    seed: int = 0,
    hub_config: str | None = None,
    hub_split: str = "train",
    overwrite: bool = False,
) -> DatasetDict:
    """Build speaker-disjoint train/validation/test splits of a labelled spoken-word corpus (``kind="clip"``,
    ``label`` the word, ``speaker``, ``take``).

    Args:
        source: a local folder or a Hub dataset id (see the module docstring).
        output_dir: folder to ``save_to_disk`` into (with a ``README.md`` card); ``None`` returns the dataset only.
        pattern: for a folder, the regular expression its relative file paths (without suffix) must match.
        label_column / speaker_column: for a Hub id, the columns holding the word and the speaker.
        split_fractions: fractions of speakers in train / validation / test (at least one speaker each).
        sampling_rate: audio rate of the built corpus (16 kHz, the speech release's).
        seed: selects the speaker splits.
        hub_config / hub_split: passed to ``datasets.load_dataset`` for a Hub id.
        overwrite: replace an existing ``output_dir``.

    Example:
        >>> import tempfile, numpy as np, soundfile as sf
        >>> folder = tempfile.mkdtemp()
        >>> for speaker in ("ann", "bob", "cy"):
        ...     for digit in "01":
        ...         sf.write(f"{folder}/{digit}_{speaker}_0.wav", np.zeros(800, np.float32), 8000)
        >>> ds = prepare_spoken_words(folder)
        >>> [ds[s].num_rows for s in ("train", "validation", "test")], sorted(set(ds["test"]["label"]))
        ([2, 2, 2], ['0', '1'])
    """
    clips = load_spoken_word_clips(source, pattern=pattern, label_column=label_column, speaker_column=speaker_column,
                                   hub_config=hub_config, hub_split=hub_split)
    splits = split_by_speaker(clips, split_fractions, seed)
    features = audio_at(SPOKEN_WORDS_FEATURES, sampling_rate)
    rows = {split: {"audio": [encoded_audio(clip, sampling_rate) for clip in members],
                    "label": [clip.word for clip in members], "kind": ["clip"] * len(members),
                    "source_id": [clip.source_id for clip in members], "speaker": [clip.speaker for clip in members],
                    "take": [clip.take for clip in members]}
            for split, members in splits.items()}
    dataset = build_dataset_dict(rows, {split: features for split in SPLITS})
    parameters = dict(source=os.fspath(source) if is_hub_id(source) else Path(source).name, pattern=pattern,
                      split_fractions=tuple(split_fractions), sampling_rate=sampling_rate, seed=seed)
    card = dataset_card(
        "Spoken words: speaker-disjoint splits",
        "REAL recorded speech (one word per clip), as supplied by the user.",
        f"{parameters['source']} (a user-supplied corpus).",
        "The source corpus's own license applies.",
        parameters,
        dataset,
        notes="`label` is the spoken word, `speaker` the speaker, `take` the repetition index; splits are disjoint by "
        "speaker.",
    )
    return finish(dataset, output_dir, card, overwrite)
