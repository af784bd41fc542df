"""speechocean762 (real read English by non-native speakers, children and adults): word segments and utterances.

Accepted sources:

- a local folder laid out like ``../shared/data/speechocean762_train``: ``manifest.tsv`` (columns ``utt, speaker,
  path, text``; optional ``split, gender, age``), ``WAVE/SPEAKERnnnn/<utt>.flac`` (or ``.wav``) and
  ``word_alignments.tsv`` (columns ``utt, word, start, end`` in seconds; PocketSphinx forced alignments);
- a Hub dataset id (``mispeech/speechocean762``: columns ``audio, text, speaker``; splits ``train`` / ``test``),
  passed to ``datasets.load_dataset``. The Hub copy carries transcripts but **no word times**: it yields utterances
  only (no word segments, no word times), unless ``alignments=`` names a TSV of word times in the
  ``word_alignments.tsv`` format (matched by utterance id, the audio file's stem, e.g. ``000030012``).

The recipe splits speakers (seeded) into train / validation / test, cuts every aligned word (padded by ``pad_s``)
into its own clip, and keeps the utterances with their word times for spoken term detection
(:func:`speechocean762_std_splits`). Word boundaries are machine alignments (approximate; tens of ms, occasional
gross errors on children's and non-native speech).
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from datasets import Dataset, DatasetDict, List, Value

from ..audio_utils import load_audio
from ._io import (SPLITS, audio_at, build_dataset_dict, corpus_features, dataset_card, encode_flac, finish, is_hub_id,
                  load_hub_dataset, resolve_source_dir, split_groups)

EXPECTED = (
    "manifest.tsv (utt, speaker, path, text), WAVE/SPEAKERnnnn/<utt>.flac and word_alignments.tsv (utt, word, start, "
    "end); or a Hub dataset id such as 'mispeech/speechocean762'"
)
LICENSE = (
    "CC BY 4.0 (OpenSLR SLR101; the authors release it free for commercial and non-commercial use). Cite Zhang et al., "
    "'speechocean762: An Open-Source Non-native English Speech Corpus For Pronunciation Assessment', Interspeech 2021."
)
DIGITS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")
UTTERANCE_SPLITS = tuple(f"{split}_utterances" for split in SPLITS)
WORD_FEATURES = corpus_features(
    16000,
    speaker=Value("string"),
    utterance_id=Value("string"),
    word_index=Value("int32"),
    start_s=Value("float32"),
    end_s=Value("float32"),
    take=Value("int32"),
    category=Value("string"),
)
UTTERANCE_FEATURES = corpus_features(
    16000,
    speaker=Value("string"),
    gender=Value("string"),
    age=Value("int32"),
    corpus_split=Value("string"),
    word_labels=List(Value("string")),
    word_starts_s=List(Value("float32")),
    word_ends_s=List(Value("float32")),
)


@dataclass(frozen=True)
class OceanUtterance:
    """One recording: ``audio`` is a file path or a Datasets ``{"bytes", "path"}`` dict; ``text`` the prompt."""

    utt: str
    speaker: str
    audio: str | dict
    text: str
    gender: str = ""
    age: int = -1
    corpus_split: str = ""

    def decode(self, sampling_rate: int) -> np.ndarray:
        """Decode to mono float32 at ``sampling_rate``, naming the utterance in any error."""
        try:
            wave, _ = load_audio(self.audio, target_sampling_rate=sampling_rate, name=self.utt)
        except (ValueError, TypeError, RuntimeError, sf.LibsndfileError) as error:
            raise ValueError(f"unreadable utterance {self.utt!r}: {error}") from None
        return wave


WordTimes = dict[str, list[tuple[str, float, float]]]
"""utterance id -> ``[(word, start_s, end_s)]`` in spoken order."""


def _read_tsv(path: Path, required: set[str], what: str) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    missing = required - set(rows[0] if rows else {})
    if not rows or missing:
        raise ValueError(f"{str(path)!r} ({what}) lacks columns {sorted(missing or required)} or rows; "
                         f"accepted columns include {sorted(required)}")
    return rows


def read_word_alignments(path: str | os.PathLike) -> WordTimes:
    """Read a ``word_alignments.tsv`` (``utt, word, start, end`` [, ``word_index``]) into :data:`WordTimes`.

    Rows are ordered by ``word_index`` when present, else by start time. A row whose end is not after its start is
    an error naming the row.
    """
    rows = _read_tsv(Path(path), {"utt", "word", "start", "end"}, "word alignments")
    times: WordTimes = defaultdict(list)
    order: dict[str, list[float]] = defaultdict(list)
    for number, row in enumerate(rows, start=2):
        try:
            start, end = float(row["start"]), float(row["end"])
        except ValueError:
            raise ValueError(f"{os.fspath(path)!r} line {number}: start/end {row['start']!r}, {row['end']!r} are not "
                             "numbers of seconds") from None
        if not 0 <= start < end:
            raise ValueError(f"{os.fspath(path)!r} line {number}: word {row['word']!r} has start {start} and end "
                             f"{end}; expected 0 <= start < end (seconds)")
        times[row["utt"]].append((row["word"].upper(), start, end))
        order[row["utt"]].append(float(row["word_index"]) if row.get("word_index") not in (None, "") else start)
    return {utt: [w for _, w in sorted(zip(order[utt], words), key=lambda p: p[0])] for utt, words in times.items()}


def _utterances_from_folder(root: Path) -> list[OceanUtterance]:
    rows = _read_tsv(root / "manifest.tsv", {"utt", "speaker", "path", "text"}, "manifest")
    return [
        OceanUtterance(
            utt=row["utt"], speaker=row["speaker"], audio=str(root / row["path"]), text=row["text"].upper(),
            gender=row.get("gender") or "", age=int(row["age"]) if (row.get("age") or "").lstrip("-").isdigit() else -1,
            corpus_split=row.get("split") or "",
        )
        for row in rows
    ]


def _utterances_from_hub(source: str, hub_split: str) -> list[OceanUtterance]:
    hub = load_hub_dataset(source, None, hub_split, {"audio", "text", "speaker"}, "the mispeech/speechocean762 schema")
    utterances = []
    for index, row in enumerate(hub):
        path = (row["audio"] or {}).get("path") or ""
        utt = Path(path).stem or f"{hub_split}-{index:05d}"
        age = row.get("age")
        utterances.append(OceanUtterance(utt=utt, speaker=str(row["speaker"]), audio=row["audio"],
                                         text=str(row["text"]).upper(), gender=str(row.get("gender") or ""),
                                         age=int(age) if age is not None else -1, corpus_split=hub_split))
    return utterances


def load_speechocean762(
    source: str | os.PathLike, alignments: str | os.PathLike | None = None, hub_split: str = "train"
) -> tuple[list[OceanUtterance], WordTimes]:
    """List the utterances of a speechocean762 copy and its word times, without decoding audio.

    A local folder's ``word_alignments.tsv`` is read unless ``alignments`` names another file; a Hub id has no word
    times unless ``alignments`` is given (its utterances are still listed).

    Example:
        >>> from wav2tok_hf.data import load_speechocean762
        >>> utterances, times = load_speechocean762("../shared/data/speechocean762_train")
        >>> len(utterances), len(times), times["000010011"][0]
        (2000, 1956, ('WE', 0.55, 0.92))
    """
    if alignments is not None and not Path(alignments).is_file():
        raise FileNotFoundError(f"alignments={os.fspath(alignments)!r} is not a file; expected a TSV with columns "
                                "utt, word, start, end (seconds)")
    if is_hub_id(source):
        utterances = _utterances_from_hub(os.fspath(source), hub_split)
    else:
        root = resolve_source_dir(source, "speechocean762", EXPECTED)
        if not (root / "manifest.tsv").is_file():
            raise FileNotFoundError(f"{str(root)!r} has no manifest.tsv; expected {EXPECTED}")
        utterances = _utterances_from_folder(root)
        if alignments is None and (root / "word_alignments.tsv").is_file():
            alignments = root / "word_alignments.tsv"
    if not utterances:
        raise ValueError(f"no utterances found in {os.fspath(source)!r}; expected {EXPECTED}")
    known = {u.utt for u in utterances}
    times = {utt: words for utt, words in read_word_alignments(alignments).items() if utt in known} \
        if alignments else {}
    return utterances, times


def _word_rows(utterance, wave, words, sampling_rate, pad_s, min_word_s, takes):
    rows = []
    length = len(wave) / sampling_rate
    for index, (word, start, end) in enumerate(words):
        end = min(end, length)
        if end - start < min_word_s:
            continue
        first = max(0, int(round((start - pad_s) * sampling_rate)))
        last = min(len(wave), int(round((end + pad_s) * sampling_rate)))
        source_id = f"{utterance.utt}-w{index:02d}"
        take = takes[(utterance.speaker, word)]
        takes[(utterance.speaker, word)] += 1
        rows.append({"audio": encode_flac(wave[first:last], sampling_rate, source_id), "label": word, "kind": "clip",
                     "source_id": source_id, "speaker": utterance.speaker, "utterance_id": utterance.utt,
                     "word_index": index, "start_s": start, "end_s": end, "take": take,
                     "category": "digit" if word in DIGITS else "word"})
    return rows


def _utterance_audio(utterance: OceanUtterance, wave: np.ndarray, sampling_rate: int) -> dict:
    """The original FLAC bytes when they are already at the target rate, else a FLAC re-encoding."""
    if isinstance(utterance.audio, str) and utterance.audio.lower().endswith(".flac"):
        if sf.info(utterance.audio).samplerate == sampling_rate:
            return {"bytes": Path(utterance.audio).read_bytes(), "path": Path(utterance.audio).name}
    return encode_flac(wave, sampling_rate, utterance.utt)


def _utterance_row(utterance: OceanUtterance, wave: np.ndarray, words, sampling_rate: int) -> dict:
    """The whole recording as a row of ``UTTERANCE_FEATURES``, with the times of its aligned ``words``."""
    return {
        "audio": _utterance_audio(utterance, wave, sampling_rate), "label": utterance.text, "kind": "reference",
        "source_id": utterance.utt, "speaker": utterance.speaker, "gender": utterance.gender, "age": utterance.age,
        "corpus_split": utterance.corpus_split, "word_labels": [w for w, _, _ in words],
        "word_starts_s": [s for _, s, _ in words], "word_ends_s": [e for _, _, e in words],
    }


def _keep_speakers(utterances: list[OceanUtterance], max_speakers: int | None, seed: int) -> list[OceanUtterance]:
    """The utterances of a seed-chosen subset of ``max_speakers`` speakers (all of them for ``None``)."""
    speakers = sorted({u.speaker for u in utterances})
    if max_speakers is None or len(speakers) <= max_speakers:
        return utterances
    keep = {speakers[i] for i in np.random.default_rng(seed).permutation(len(speakers))[:max_speakers]}
    return [u for u in utterances if u.speaker in keep]


def _split_of_speakers(utterances: list[OceanUtterance], split_fractions, seed: int) -> dict[str, str]:
    """speaker -> ``train`` / ``validation`` / ``test``, seeded (:func:`split_groups`)."""
    groups = split_groups([u.speaker for u in utterances], split_fractions, seed, "speakers")
    return {speaker: split for split, members in groups.items() for speaker in members}


def _ocean_dataset(rows: dict[str, list[dict]], sampling_rate: int) -> DatasetDict:
    """Word-clip splits (``SPLITS``) then utterance splits (``UTTERANCE_SPLITS``) as a ``DatasetDict``."""
    word_features, utt_features = audio_at(WORD_FEATURES, sampling_rate), audio_at(UTTERANCE_FEATURES, sampling_rate)
    features = {split: word_features for split in SPLITS} | {name: utt_features for name in UTTERANCE_SPLITS}
    columns = {split: {name: [row[name] for row in rows[split]] for name in features[split]} for split in features}
    return build_dataset_dict(columns, features)


def _ocean_card(dataset: DatasetDict, parameters: dict, aligned: int, total: int) -> str:
    """The ``README.md`` dataset card: real speech, machine word alignments (``aligned`` of ``total`` utterances)."""
    pad_s = parameters["pad_s"]
    return dataset_card(
        "speechocean762: speaker-disjoint word segments and utterances",
        "REAL recorded speech (read English sentences, words and digit strings by non-native speakers, children and "
        "adults).",
        "speechocean762 (Zhang et al. 2021), OpenSLR SLR101 / Hub `mispeech/speechocean762`.",
        LICENSE,
        parameters,
        dataset,
        notes=f"Word splits (`train`, `validation`, `test`): one clip per aligned word, cut with {pad_s} s of context "
        "on each side; `label` is the word (upper case), `category` `digit` (ZERO..NINE) or `word`, `start_s` / "
        "`end_s` its aligned time in the utterance, `take` the speaker's occurrence index of that word. Utterance "
        "splits (`*_utterances`): the whole recordings with the aligned words' times (empty where there is no "
        f"alignment; {aligned} of {total} utterances are aligned). Word times are MACHINE forced "
        "alignments (PocketSphinx), approximate: tens of ms, occasional gross errors. Splits are disjoint by speaker.",
    )


def prepare_speechocean762(
    source: str | os.PathLike,
    output_dir: str | os.PathLike | None = None,
    *,
    alignments: str | os.PathLike | None = None,
    split_fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    pad_s: float = 0.05,
    min_word_s: float = 0.1,
    max_speakers: int | None = None,
    sampling_rate: int = 16000,
    seed: int = 0,
    hub_split: str = "train",
    overwrite: bool = False,
) -> DatasetDict:
    """Build speaker-disjoint word segments and utterances of real speechocean762 speech.

    Splits ``train`` / ``validation`` / ``test`` hold word clips (``kind="clip"``, ``label`` = the word, upper case;
    ``category`` ``"digit"`` for ZERO..NINE, else ``"word"``), cut from the word alignments with ``pad_s`` seconds
    of context on each side; words shorter than ``min_word_s`` (before padding) are dropped. Splits
    ``train_utterances`` / ``validation_utterances`` / ``test_utterances`` hold the whole recordings
    (``kind="reference"``, ``label`` = the prompt) with ``word_labels`` / ``word_starts_s`` / ``word_ends_s`` of
    the aligned words (empty lists where no alignment exists, e.g. a Hub source without ``alignments``). The same
    speakers are in ``<split>`` and ``<split>_utterances``.

    Args:
        source: a local speechocean762 folder or a Hub dataset id (see the module docstring).
        output_dir: folder to ``save_to_disk`` into (with a ``README.md`` card); ``None`` returns the dataset only.
        alignments: a word-time TSV (``utt, word, start, end``); default: the folder's ``word_alignments.tsv``.
        split_fractions: fractions of speakers in train / validation / test.
        pad_s: seconds of audio kept before and after each aligned word.
        min_word_s: drop aligned words shorter than this.
        max_speakers: keep a seed-chosen subset of this many speakers (>= 3).
        sampling_rate: audio rate (16 kHz, the corpus rate).
        seed: selects the speaker subset and the speaker splits.
        hub_split: the split to load for a Hub id (``train``, ``test`` or ``train+test``).
        overwrite: replace an existing ``output_dir``.

    Example:
        >>> from wav2tok_hf.data import prepare_speechocean762
        >>> ds = prepare_speechocean762("../shared/data/speechocean762_train", max_speakers=3)
        >>> sorted(ds), ds["test"][0]["kind"]
        (['test', 'test_utterances', 'train', 'train_utterances', 'validation', 'validation_utterances'], 'clip')
    """
    if pad_s < 0 or min_word_s < 0:
        raise ValueError(f"pad_s={pad_s} and min_word_s={min_word_s} must be >= 0 seconds")
    if max_speakers is not None and max_speakers < 3:
        raise ValueError(f"max_speakers={max_speakers}; need at least 3 speakers for train/validation/test")
    utterances, times = load_speechocean762(source, alignments, hub_split)
    utterances = _keep_speakers(utterances, max_speakers, seed)
    split_of = _split_of_speakers(utterances, split_fractions, seed)

    rows: dict[str, list[dict]] = {name: [] for name in SPLITS + UTTERANCE_SPLITS}
    takes: dict[tuple[str, str], int] = defaultdict(int)
    for utterance in utterances:
        split = split_of[utterance.speaker]
        wave = utterance.decode(sampling_rate)
        words = times.get(utterance.utt, [])
        rows[split] += _word_rows(utterance, wave, words, sampling_rate, pad_s, min_word_s, takes)
        rows[f"{split}_utterances"].append(_utterance_row(utterance, wave, words, sampling_rate))

    dataset = _ocean_dataset(rows, sampling_rate)
    parameters = dict(source=os.fspath(source) if is_hub_id(source) else Path(source).name,
                      alignments=Path(alignments).name if alignments else None, split_fractions=tuple(split_fractions),
                      pad_s=pad_s, min_word_s=min_word_s, max_speakers=max_speakers, sampling_rate=sampling_rate,
                      seed=seed, hub_split=hub_split if is_hub_id(source) else None)
    aligned = sum(1 for u in utterances if times.get(u.utt))
    card = _ocean_card(dataset, parameters, aligned, len(utterances))
    return finish(dataset, output_dir, card, overwrite)


def speechocean762_std_splits(
    dataset: DatasetDict,
    split: str = "test",
    query_speaker_fraction: float = 0.3,
    queries_per_word: int = 2,
    min_query_s: float = 0.3,
    seed: int = 0,
) -> tuple[Dataset, Dataset]:
    """Spoken-term-detection utterances and keyword queries from one speaker split of :func:`prepare_speechocean762`.

    A seeded ``query_speaker_fraction`` of the split's speakers only provide queries (their word clips of at least
    ``min_query_s`` seconds, before padding); the others' aligned utterances are searched. Queries are drawn for
    words that occur in those utterances, at most ``queries_per_word`` per word, each by a different speaker where
    possible. Returns ``(utterances, queries)`` in the layout of ``prepare_std``'s ``<split>`` and
    ``<split>_queries`` (``word_labels`` / ``word_starts_s`` / ``word_ends_s``; ``label`` = the word).

    Example:
        >>> from wav2tok_hf.data import prepare_speechocean762, speechocean762_std_splits
        >>> ds = prepare_speechocean762("../shared/data/speechocean762_train", max_speakers=6)
        >>> utterances, queries = speechocean762_std_splits(ds, "train")
        >>> set(queries["label"]) <= {w for ws in utterances["word_labels"] for w in ws}
        True
    """
    if not 0 < query_speaker_fraction < 1:
        raise ValueError(f"query_speaker_fraction={query_speaker_fraction} must be strictly between 0 and 1")
    if queries_per_word < 1:
        raise ValueError(f"queries_per_word={queries_per_word}; expected >= 1")
    words, utterances = dataset[split], dataset[f"{split}_utterances"]
    speakers = sorted(set(utterances["speaker"]))
    n_query = int(round(query_speaker_fraction * len(speakers)))
    if not 1 <= n_query < len(speakers):
        raise ValueError(f"split {split!r} has {len(speakers)} speakers: too few to keep query speakers out of the "
                         "searched utterances; use more speakers or another query_speaker_fraction")
    rng = np.random.default_rng(seed)
    query_speakers = {speakers[i] for i in rng.permutation(len(speakers))[:n_query]}
    utt_rows = [i for i, (speaker, labels) in enumerate(zip(utterances["speaker"], utterances["word_labels"]))
                if speaker not in query_speakers and labels]
    if not utt_rows:
        raise ValueError(f"split {split!r} has no aligned utterances by non-query speakers (a Hub source without "
                         "alignments has no word times: pass alignments=)")
    searched = {w for i in utt_rows for w in utterances[i]["word_labels"]}
    meta = words.select_columns(["label", "speaker", "start_s", "end_s"])
    candidates: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(meta):
        long_enough = row["end_s"] - row["start_s"] >= min_query_s
        if row["speaker"] in query_speakers and row["label"] in searched and long_enough:
            candidates[row["label"]].append(i)
    query_rows = []
    for word in sorted(candidates):
        order = [candidates[word][k] for k in rng.permutation(len(candidates[word]))]
        chosen, used = [], set()
        for i in order:  # distinct speakers first, then any
            if meta[i]["speaker"] not in used:
                chosen.append(i)
                used.add(meta[i]["speaker"])
        chosen += [i for i in order if i not in chosen]
        query_rows += sorted(chosen[:queries_per_word])
    if not query_rows:
        raise ValueError(f"split {split!r}: no query speaker says a searched word for >= {min_query_s} s")
    return utterances.select(utt_rows), words.select(sorted(query_rows))
