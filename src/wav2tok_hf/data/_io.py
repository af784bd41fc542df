"""Shared plumbing of the corpus recipes: audio encoding, speaker/class splits, dataset cards and atomic saving."""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
from datasets import Audio, Dataset, DatasetDict, Features, Value, load_from_disk

SPLITS = ("train", "validation", "test")
HUB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def corpus_features(sampling_rate: int, **columns) -> Features:
    """The columns every corpus recipe writes (``audio`` at ``sampling_rate``, ``label``, ``kind``, ``source_id``),
    followed by the recipe's own ``columns`` in the order given.

    Example:
        >>> list(corpus_features(8000, song_id=Value("string")))
        ['audio', 'label', 'kind', 'source_id', 'song_id']
    """
    return Features({"audio": Audio(sampling_rate=sampling_rate), "label": Value("string"), "kind": Value("string"),
                     "source_id": Value("string"), **columns})


def audio_at(features: Features, sampling_rate: int) -> Features:
    """A copy of a recipe's ``features`` with the ``audio`` column at ``sampling_rate``.

    Example:
        >>> audio_at(corpus_features(8000), 16000)["audio"].sampling_rate
        16000
    """
    features = features.copy()
    features["audio"] = Audio(sampling_rate=sampling_rate)
    return features


def encode_flac(wave: np.ndarray, sampling_rate: int, name: str) -> dict:
    """Encode a float waveform as 16-bit FLAC bytes in the ``{"bytes", "path"}`` form of a Datasets ``Audio`` column.

    The wave is scaled down (never up) so that it does not clip.
    """
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    if peak > 0.999:
        wave = wave * (0.999 / peak)
    buffer = io.BytesIO()
    sf.write(buffer, np.asarray(wave, dtype=np.float32), int(sampling_rate), format="FLAC", subtype="PCM_16")
    return {"bytes": buffer.getvalue(), "path": f"{name}.flac"}


def split_groups(groups: Sequence[str], fractions: Sequence[float], seed: int, what: str) -> dict[str, list[str]]:
    """Deterministically partition group ids (songs, melodies, speakers) into train/validation/test.

    Every split gets at least one group, so at least three groups are needed.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"split fractions {tuple(fractions)} must be three non-negative numbers summing to 1")
    unique = sorted(set(groups))
    if len(unique) < 3:
        raise ValueError(
            f"need at least 3 distinct {what} to build speaker/class-disjoint train/validation/test splits, got "
            f"{len(unique)}; pass a larger corpus or a larger size argument"
        )
    order = [unique[i] for i in np.random.default_rng(seed).permutation(len(unique))]
    n_val = max(1, int(round(fractions[1] * len(unique))))
    n_test = max(1, int(round(fractions[2] * len(unique))))
    n_train = len(unique) - n_val - n_test
    if n_train < 1:
        n_train, n_val, n_test = 1, 1, len(unique) - 2
    return {
        "train": order[:n_train],
        "validation": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
    }


def resolve_source_dir(source_dir: str | os.PathLike, what: str, expected: str) -> Path:
    """Check that a corpus folder exists and is a directory; the error says what the recipe expects inside."""
    path = Path(source_dir).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{what} folder {str(path)!r} does not exist; expected a folder holding {expected}")
    if not path.is_dir():
        raise NotADirectoryError(f"{what} source {str(path)!r} is a file; expected a folder holding {expected}")
    return path


def is_hub_id(source: str | os.PathLike) -> bool:
    """``True`` for strings shaped like a Hub dataset id (``owner/name``) that are not an existing local path."""
    text = os.fspath(source)
    return not os.path.exists(text) and bool(HUB_ID_PATTERN.match(text))


def load_hub_dataset(source: str, config: str | None, split: str, required: set[str], hint: str) -> Dataset:
    """The ``split`` of Hub dataset ``source`` with its ``audio`` column left undecoded (``{"bytes", "path"}``): a
    repository that cannot be loaded is a ``FileNotFoundError``, one without the ``required`` columns a ``ValueError``
    ending in ``hint`` (the schema a recipe expects)."""
    import datasets

    try:
        hub = datasets.load_dataset(source, config, split=split)
    except Exception as error:  # network, missing repo, missing config or split: all surface as one clear message
        raise FileNotFoundError(f"{source!r} is not a local folder and could not be loaded from the Hub: {error}") from None
    if not required <= set(hub.column_names):
        raise ValueError(f"Hub dataset {source!r} has columns {hub.column_names}; need {sorted(required)} ({hint})")
    return hub.cast_column("audio", Audio(decode=False))


def build_dataset_dict(rows: dict[str, dict[str, list]], features: dict[str, Features]) -> DatasetDict:
    """Turn ``{split: {column: values}}`` into an in-memory ``DatasetDict`` (nothing is written to the HF cache)."""
    return DatasetDict(
        {split: Dataset.from_dict(columns, features=features[split]) for split, columns in rows.items()}
    )


def dataset_card(
    title: str,
    audio_origin: str,
    source: str,
    license_text: str,
    parameters: dict,
    dataset: DatasetDict,
    notes: str = "",
) -> str:
    """A short markdown dataset card: what the audio is (real or synthesised), where it comes from, splits, columns."""
    lines = [
        f"# {title}",
        "",
        f"**Audio: {audio_origin}**",
        "",
        f"- Source: {source}",
        f"- License: {license_text}",
        "- Built by `wav2tok_hf.data` with: " + ", ".join(f"`{k}={v!r}`" for k, v in parameters.items()),
        "",
        "| split | rows |",
        "|---|---|",
        *[f"| {name} | {split.num_rows} |" for name, split in dataset.items()],
        "",
        "Columns:",
        "",
    ]
    first = next(iter(dataset.values()))
    columns = {name: str(feature) for split in dataset.values() for name, feature in split.features.items()}
    lines += [f"- `{name}`: {feature}" for name, feature in columns.items()]
    if notes:
        lines += ["", notes.strip()]
    rate = first.features["audio"].sampling_rate
    lines += ["", f"Load with `datasets.load_from_disk(<this folder>)`; audio rate {rate} Hz."]
    return "\n".join(lines) + "\n"


def save_atomically(dataset: DatasetDict, output_dir: str | os.PathLike, card: str, overwrite: bool) -> DatasetDict:
    """``save_to_disk`` into a temporary folder beside ``output_dir``, add the card, then rename it into place.

    A failure at any point leaves neither a partial ``output_dir`` nor the temporary folder behind. Returns the
    saved dataset, memory-mapped from disk.
    """
    target = Path(output_dir).expanduser().resolve()
    if target.exists() and not overwrite:
        raise FileExistsError(f"output folder {str(target)!r} already exists; pass overwrite=True (CLI: --overwrite)")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        # one shard for an empty split: by default datasets writes none, and load_from_disk then fails on it
        dataset.save_to_disk(str(staging), num_shards={name: 1 for name, split in dataset.items() if not len(split)})
        (staging / "README.md").write_text(card, encoding="utf-8")
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, retired / target.name)
            try:
                os.replace(staging, target)
            except BaseException:
                os.replace(retired / target.name, target)
                raise
            finally:
                shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return load_from_disk(str(target))


def finish(
    dataset: DatasetDict, output_dir: str | os.PathLike | None, card: str, overwrite: bool
) -> DatasetDict:
    """Save (atomically, with its card) when an output folder is given; otherwise return the in-memory dataset."""
    if output_dir is None:
        return dataset
    return save_atomically(dataset, output_dir, card, overwrite)
