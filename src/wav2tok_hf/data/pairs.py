"""Training pairs (X, X′) for wav2tok over any corpus with an audio column, and their batch collation.

- Labelled corpora: X′ is another recording with the same label (song, melody, word); optionally both views are
  augmented.
- Unlabelled corpora: X is a random crop (~3 s) of a recording and X′ an augmented copy of that crop (integer pitch
  shift in [-6, +5] semitones, time-stretch rate in [0.9, 1.5] by default).

Every item is a pure function of ``(seed, epoch, index)``, so it is the same in any ``DataLoader`` worker and after a
resume; call :meth:`PairDataset.set_epoch` at the start of each epoch to draw new partners/crops/augmentations.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..audio_utils import load_audio, trim_silence
from .augment import Augmenter

MODES = ("auto", "labelled", "unlabelled")


class PairDataset(Dataset):
    """A torch ``Dataset`` of ``{"input_values", "input_values_prime", "label"}`` pairs (float32 numpy waves).

    Args:
        dataset: a 🤗 ``datasets.Dataset`` with an audio column and, for labelled pairs, a label column
            (``source_id``, when present, names clips in error messages).
        sampling_rate: rate the audio is decoded/resampled to.
        mode: ``"labelled"``, ``"unlabelled"`` or ``"auto"`` (labelled when some label has two recordings).
            Labelled pairs use only rows whose label has at least two recordings.
        crop_s: crop length of unlabelled pairs (``None`` = whole clips). Clips shorter than the crop raise.
        augmenter: augmentation of X′ (unlabelled) or of both views (labelled, with ``augment_views``); defaults to
            :class:`~wav2tok_hf.data.augment.Augmenter` (pitch shift [-6, +5] semitones, rate [0.9, 1.5]).
        augment_views: also augment X (unlabelled) / both views (labelled).
        augment_probability: with ``augment_views``, each of those views is augmented with this probability
            (default 1.0), so the model also keeps seeing clean recordings.
        trim_probability: each view of a labelled pair is first cut to its non-silent span (``librosa.effects.trim``
            at ``trim_top_db`` below the peak) with this probability (default 0), so a model trained on padded clips
            (one-second Speech Commands words) also sees words cut tight, as other corpora store them.
        trim_top_db: threshold of that trim in dB below the clip's peak (default 30).
        seed: base seed of all random choices.

    Example:
        >>> import numpy as np, datasets
        >>> rows = {"audio": [{"array": np.random.rand(16000), "sampling_rate": 8000}] * 2, "label": ["a", "a"]}
        >>> pairs = PairDataset(datasets.Dataset.from_dict(rows), sampling_rate=8000, mode="unlabelled", crop_s=1.0)
        >>> item = pairs[0]
        >>> item["input_values"].shape, item["label"]
        ((8000,), 'a')
    """

    def __init__(
        self,
        dataset: Any,
        sampling_rate: int = 8000,
        mode: str = "auto",
        crop_s: float | None = 3.0,
        augmenter: Augmenter | None = None,
        augment_views: bool = False,
        augment_probability: float = 1.0,
        trim_probability: float = 0.0,
        trim_top_db: float = 30.0,
        seed: int = 0,
        audio_column: str = "audio",
        label_column: str = "label",
    ):
        if mode not in MODES:
            raise ValueError(f"mode={mode!r}; accepted: {MODES}")
        if len(dataset) == 0:
            raise ValueError("the corpus is empty: no rows to build pairs from")
        if crop_s is not None and crop_s <= 0:
            raise ValueError(f"crop_s={crop_s} must be a positive number of seconds or None")
        columns = dataset.column_names
        if audio_column not in columns:
            raise ValueError(f"the corpus has no {audio_column!r} column (columns: {columns})")
        self.labels = [str(label) for label in dataset[label_column]] if label_column in columns else None
        groups: dict[str, list[int]] = defaultdict(list)
        for index, label in enumerate(self.labels or []):
            groups[label].append(index)
        self.groups = {label: members for label, members in groups.items() if len(members) >= 2}
        if mode == "auto":
            mode = "labelled" if self.groups else "unlabelled"
        if mode == "labelled" and not self.groups:
            raise ValueError(
                f"labelled pairs need a {label_column!r} column with at least one label recorded twice; "
                "use mode='unlabelled' for augmented-copy pairs"
            )
        self.mode = mode
        self.anchors = [i for members in self.groups.values() for i in members] if mode == "labelled" else None
        if self.anchors is not None:
            self.anchors.sort()
        self.dataset = dataset.select_columns([audio_column])
        self.source_ids = list(dataset["source_id"]) if "source_id" in columns else None
        self.sampling_rate = sampling_rate
        self.crop_s = crop_s
        self.augmenter = augmenter if augmenter is not None else Augmenter()
        self.augment_views = augment_views
        if not 0.0 <= augment_probability <= 1.0:
            raise ValueError(f"augment_probability={augment_probability} must lie in [0, 1]")
        self.augment_probability = augment_probability
        if not 0.0 <= trim_probability <= 1.0:
            raise ValueError(f"trim_probability={trim_probability} must lie in [0, 1]")
        if not trim_top_db > 0:
            raise ValueError(f"trim_top_db={trim_top_db} must be a positive number of dB")
        self.trim_probability, self.trim_top_db = trim_probability, trim_top_db
        self.seed = seed
        self.audio_column = audio_column
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose partners, crops and augmentations ``__getitem__`` returns."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.anchors) if self.anchors is not None else len(self.dataset)

    def _name(self, row: int) -> str:
        return self.source_ids[row] if self.source_ids is not None else f"row {row}"

    def _load(self, row: int) -> np.ndarray:
        wave, _ = load_audio(self.dataset[row][self.audio_column], target_sampling_rate=self.sampling_rate, name=self._name(row))
        return wave

    def _crop(self, wave: np.ndarray, row: int, rng: np.random.Generator) -> np.ndarray:
        if self.crop_s is None:
            return wave
        length = int(round(self.crop_s * self.sampling_rate))
        if len(wave) < length:
            raise ValueError(
                f"{self._name(row)} is {len(wave) / self.sampling_rate:.2f} s long, shorter than crop_s={self.crop_s}; "
                "pass a smaller crop_s, crop_s=None, or filter out short clips"
            )
        start = int(rng.integers(0, len(wave) - length + 1))
        return wave[start : start + length]

    def _view(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A view augmented when ``augment_views`` is on (with ``augment_probability``), else unchanged."""
        if self.augment_views and rng.random() < self.augment_probability:
            return self.augmenter(wave, self.sampling_rate, rng)
        return wave

    def _trim(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The non-silent span of ``wave`` with ``trim_probability`` (at least 50 ms kept), else ``wave``."""
        if rng.random() >= self.trim_probability:
            return wave
        return trim_silence(wave, self.sampling_rate, self.trim_top_db, frame_length=512, min_kept_s=0.05)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} pairs")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        if self.anchors is not None:
            row = self.anchors[index]
            label = self.labels[row]
            others = [i for i in self.groups[label] if i != row]
            first, second = self._load(row), self._load(others[int(rng.integers(len(others)))])
            if self.trim_probability:
                first, second = self._trim(first, rng), self._trim(second, rng)
            first, second = self._view(first, rng), self._view(second, rng)
        else:
            row = index
            label = self.labels[row] if self.labels is not None else ""
            first = self._crop(self._load(row), row, rng)
            second = self.augmenter(first, self.sampling_rate, rng)
            first = self._view(first, rng)
        return {"input_values": first, "input_values_prime": second, "label": label}


class MixedPairDataset(Dataset):
    """Pairs drawn from several pair datasets (corpora, or labelled and unlabelled pairs of one corpus), so one
    training run samples across them.

    Each epoch holds ``sizes[j]`` items of source ``j`` (default: its length): a seeded permutation of its items,
    repeated when ``sizes[j]`` exceeds them, so a small corpus can be up-weighted and a large one down-weighted.
    Like :class:`PairDataset`, every item is a pure function of ``(seed, epoch, index)``; :meth:`set_epoch` is passed
    on to the sources.

    Example:
        >>> import numpy as np, datasets
        >>> rows = {"audio": [{"array": np.random.rand(8000), "sampling_rate": 8000}] * 2, "label": ["a", "a"]}
        >>> words = PairDataset(datasets.Dataset.from_dict(rows), sampling_rate=8000, mode="labelled", crop_s=None)
        >>> crops = PairDataset(datasets.Dataset.from_dict(rows), sampling_rate=8000, mode="unlabelled", crop_s=0.5)
        >>> mixed = MixedPairDataset([words, crops], sizes=[2, 6])
        >>> len(mixed), mixed[7]["input_values"].shape
        (8, (4000,))
    """

    def __init__(self, sources: list[Dataset], sizes: list[int] | None = None, seed: int = 0):
        if not sources:
            raise ValueError("MixedPairDataset needs at least one source of pairs")
        sizes = [len(source) for source in sources] if sizes is None else list(sizes)
        if len(sizes) != len(sources):
            raise ValueError(f"{len(sizes)} sizes for {len(sources)} sources; give one size per source")
        for j, (source, size) in enumerate(zip(sources, sizes)):
            if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size <= 0:
                raise ValueError(f"sizes[{j}]={size!r}; expected a positive number of pairs per epoch")
            if len(source) == 0:
                raise ValueError(f"source {j} has no pairs")
        self.sources, self.sizes, self.seed = list(sources), [int(s) for s in sizes], seed
        self.offsets = np.cumsum([0] + self.sizes)
        self.epoch = 0
        self._orders: dict[tuple[int, int], np.ndarray] = {}

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (passed on to every source that has ``set_epoch``)."""
        self.epoch = int(epoch)
        for source in self.sources:
            if hasattr(source, "set_epoch"):
                source.set_epoch(epoch)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def _order(self, j: int) -> np.ndarray:
        key = (self.epoch, j)
        if key not in self._orders:
            rng = np.random.default_rng([self.seed, self.epoch, j])
            n = len(self.sources[j])
            repeats = -(-self.sizes[j] // n)
            self._orders = {k: v for k, v in self._orders.items() if k[0] == self.epoch}
            self._orders[key] = np.concatenate([rng.permutation(n) for _ in range(repeats)])[: self.sizes[j]]
        return self._orders[key]

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} pairs")
        j = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return self.sources[j][int(self._order(j)[index - self.offsets[j]])]


def _pad(waves: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(wave) for wave in waves], dtype=torch.long)
    batch = torch.zeros(len(waves), int(lengths.max()), dtype=torch.float32)
    for row, wave in enumerate(waves):
        batch[row, : len(wave)] = torch.from_numpy(np.asarray(wave, dtype=np.float32))
    return batch, lengths


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Zero-pad a list of pair items into a batch.

    Returns:
        ``{"input_values": (B, T) float32, "input_lengths": (B,) long, "input_values_prime": (B, T′),
        "input_lengths_prime": (B,), "labels": list[str]}``.

    Example:
        >>> import numpy as np
        >>> batch = collate([{"input_values": np.ones(3), "input_values_prime": np.ones(5), "label": "a"},
        ...                  {"input_values": np.ones(2), "input_values_prime": np.ones(4), "label": "b"}])
        >>> tuple(batch["input_values"].shape), batch["input_lengths_prime"].tolist()
        ((2, 3), [5, 4])
    """
    if not items:
        raise ValueError("cannot collate an empty batch")
    first, first_lengths = _pad([item["input_values"] for item in items])
    second, second_lengths = _pad([item["input_values_prime"] for item in items])
    return {
        "input_values": first,
        "input_lengths": first_lengths,
        "input_values_prime": second,
        "input_lengths_prime": second_lengths,
        "labels": [item["label"] for item in items],
    }
