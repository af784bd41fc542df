"""What the app searches: a :class:`~wav2tok_hf.retrieval.Wav2TokIndex` plus, per item, a title and its audio.

A catalog folder holds the index as ``Wav2TokIndex.save`` writes it (``index/``) and ``catalog.json`` (titles and
audio paths, relative to the folder or absolute; for a catalog of recordings cut into windows, the windows' lengths
and hop). A bare index folder (made by ``Wav2TokIndex.save``, e.g. by
``wav2tok index``) loads too: titles are then the labels and there is nothing to play.

Builders: :func:`build_essen_catalog` (the embedded Essen melodies, rendered and tokenised once, then cached) and
:func:`build_folder_catalog` (every audio file under a folder, e.g. speech utterances).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..audio_utils import load_audio
from ..checks import check_positive_int
from ..retrieval.build import audio_files, build_record
from ..retrieval.index import Wav2TokIndex, vocabulary_of
from ..retrieval.std import recording_windows, window_layout
from ..saving import write_file_atomic

logger = logging.getLogger(__name__)
CATALOG_FILE = "catalog.json"
CATALOG_FORMAT = "wav2tok-app-catalog"
CATALOG_VERSION = 1
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


@dataclass
class Catalog:
    """A searchable index with a title and (optionally) an audio file per item id.

    With ``windows`` (``{"lengths_s": [...], "hop_s": ...}``) the index items are windows of recordings
    (``retrieval.std.window_id``, labelled by their recording's id) and titles and audio are per recording.
    """

    index: Wav2TokIndex
    titles: dict[str, str] = field(default_factory=dict)
    audio: dict[str, str] = field(default_factory=dict)  # id -> absolute path
    description: str = ""
    windows: dict[str, Any] | None = None

    def title(self, item_id: str) -> str:
        return self.titles.get(item_id) or item_id

    def audio_path(self, item_id: str) -> str | None:
        path = self.audio.get(item_id)
        return path if path and os.path.isfile(path) else None

    def audio_folders(self) -> list[str]:
        """Folders holding the catalog's audio (the web app may serve files from these only)."""
        return sorted({os.path.dirname(p) for p in self.audio.values()})

    def save(self, directory: str | os.PathLike) -> None:
        """Write ``index/`` and ``catalog.json`` into ``directory`` (audio paths inside it are stored relative)."""
        directory = Path(directory)
        self.index.save(directory / "index")
        root = directory.resolve()
        audio = {}
        for item_id, path in self.audio.items():
            resolved = Path(path).resolve()
            audio[item_id] = resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(resolved)
        payload = {"format": CATALOG_FORMAT, "format_version": CATALOG_VERSION, "description": self.description,
                   "titles": self.titles, "audio": audio, **({"windows": self.windows} if self.windows else {})}
        write_file_atomic(directory / CATALOG_FILE, lambda f: f.write(json.dumps(payload, ensure_ascii=False).encode("utf-8")))

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Catalog:
        """Load a catalog folder, or a bare ``Wav2TokIndex`` folder (no titles, no audio).

        Raises ``FileNotFoundError`` / ``ValueError`` naming the folder when it holds neither.
        """
        directory = Path(directory)
        if not directory.is_dir():
            raise FileNotFoundError(f"index folder {directory} does not exist")
        if not (directory / CATALOG_FILE).is_file():
            index = Wav2TokIndex.load(directory)
            record = build_record(directory)
            windows = record.get("windows") or None  # `wav2tok index build --windows`: items are windows of files
            recordings = sorted(set(index.labels)) if windows else index.ids
            return cls(index, audio=_built_from_folder(record, recordings), description=f"index {directory}",
                       windows=windows)
        try:
            payload = json.loads((directory / CATALOG_FILE).read_text(encoding="utf-8"))
            if payload.get("format") != CATALOG_FORMAT or payload.get("format_version") != CATALOG_VERSION:
                raise ValueError(f"not a {CATALOG_FORMAT} v{CATALOG_VERSION} file")
            titles = {str(k): str(v) for k, v in payload["titles"].items()}
            audio = {str(k): str((directory / v).resolve()) for k, v in payload["audio"].items()}
            windows = payload.get("windows")
            if windows is not None:
                windows = {"lengths_s": [float(x) for x in windows["lengths_s"]], "hop_s": float(windows["hop_s"])}
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"{directory / CATALOG_FILE} is damaged ({error}); delete the folder to rebuild it") from None
        return cls(Wav2TokIndex.load(directory / "index"), titles, audio, str(payload.get("description", "")), windows)

    def check_encoder(self, encoder: Any) -> None:
        """Raise ``ValueError`` when ``encoder`` does not make this index's tokens (another model's index)."""
        vocabulary = vocabulary_of(encoder, self.index.kind)
        if vocabulary != self.index.vocabulary:
            raise ValueError(f"the index was made with tokenizer {self.index.vocabulary.name!r}, the model is "
                             f"{vocabulary.name!r}: rebuild the index with this model or pass the model it was made with")


def _built_from_folder(record: dict[str, Any], ids: list[str]) -> dict[str, str]:
    """The audio files of an index that ``wav2tok index build`` made from a folder (its ``build.json`` record names
    the folder; ids are paths inside it), so that the page can play them; ``{}`` for any other index."""
    source = record.get("source")
    if not isinstance(source, str) or not os.path.isdir(source):
        return {}
    root = Path(source).resolve()
    found = {i: root / i for i in ids}
    return {i: str(p) for i, p in found.items() if p.resolve().is_relative_to(root) and p.is_file()}


def _build_atomically(directory: Path, build) -> Catalog:
    """Build into a temporary sibling folder and rename it into place: an interrupted build leaves no half cache."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        catalog = build(tmp)
        catalog.save(tmp)
        try:
            os.rename(tmp, directory)
        except OSError:  # another process finished the same build first: use theirs
            shutil.rmtree(tmp, ignore_errors=True)
        return Catalog.load(directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def essen_catalog_path(cache_dir: str | os.PathLike, model: Any, num_songs: int, seed: int = 0) -> Path:
    """Where :func:`build_essen_catalog` caches its catalog for this model (its weights' fingerprint) and songs."""
    return Path(cache_dir) / f"essen-{num_songs}-seed{seed}-{vocabulary_of(model).name}"


def build_essen_catalog(model: Any, cache_dir: str | os.PathLike, num_songs: int = 300, seed: int = 0) -> Catalog:
    """The embedded Essen folk melodies as a catalog: one plain-timbre rendition of each song's 8 s opening
    (``prepare_essen``'s database items, the songs of its train split for ``seed``), tokenised by ``model``.

    Built on first use (a minute or two for 300 songs on a laptop CPU) and cached in ``cache_dir``; later calls load
    the cache. The audio is synthetic; the melodies are real.
    """
    check_positive_int("num_songs", num_songs, "a positive number of Essen songs")
    directory = essen_catalog_path(cache_dir, model, num_songs, seed)
    if (directory / CATALOG_FILE).is_file():
        return Catalog.load(directory)

    def build(tmp: Path) -> Catalog:
        import soundfile as sf

        from ..data.essen import prepare_essen

        logger.warning("building the Essen index (%d songs) in %s; later starts load it", num_songs, directory)
        references = prepare_essen(num_songs=(num_songs, 0, 0), queries_per_song=0, seed=seed)["train"]
        (tmp / "audio").mkdir()
        waves, ids, titles, audio = [], [], {}, {}
        for position, row in enumerate(references):
            wave, rate = load_audio(row["audio"], target_sampling_rate=model.config.sampling_rate)
            path = tmp / "audio" / f"{position:05d}.flac"
            sf.write(path, wave, rate)
            waves.append(wave)
            ids.append(row["song_id"])
            titles[row["song_id"]] = row["title"] or row["song_id"]
            audio[row["song_id"]] = str(path)
        index = Wav2TokIndex.from_encoder(model)
        index.add_audio(model, waves, sampling_rate=model.config.sampling_rate, ids=ids)
        description = (f"{num_songs} Essen folk melodies (real melodies, synthetic plain-timbre audio of each "
                       f"song's opening; prepare_essen seed {seed})")
        return Catalog(index, titles, audio, description)

    return _build_atomically(directory, build)


def _manifest_titles(folder: Path) -> dict[str, str]:
    """Titles of audio files from a manifest beside them: speechocean762 ``manifest.tsv`` (``path``, ``text``) or
    Speech Commands ``manifest.csv`` (``path``, ``word``); keys are resolved paths."""
    titles = {}
    for base in (folder, folder.parent):
        for name, delimiter, column in (("manifest.tsv", "\t", "text"), ("manifest.csv", ",", "word")):
            manifest = base / name
            if manifest.is_file():
                with open(manifest, encoding="utf-8", newline="") as f:
                    for row in csv.DictReader(f, delimiter=delimiter):
                        if row.get("path") and row.get(column):
                            titles[str((base / row["path"]).resolve())] = row[column]
                return titles
    return titles


def folder_audio_files(folder: str | os.PathLike, limit: int | None = None) -> list[Path]:
    """Audio files under ``folder`` (recursive, sorted by path), the first ``limit`` of them."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"audio folder {folder} does not exist")
    files = audio_files(folder, AUDIO_SUFFIXES)
    return files[:limit] if limit else files


def build_folder_catalog(model: Any, folder: str | os.PathLike, cache_dir: str | os.PathLike,
                         limit: int | None = 300, windows: bool = True) -> Catalog:
    """Every audio file under ``folder`` (the first ``limit``, by path) as a catalog of utterances for spoken-term
    search: recording ids are paths relative to ``folder``, titles come from a ``manifest.tsv``/``manifest.csv`` when
    there is one (speechocean762 prompts, Speech Commands words). With ``windows`` (the default) each recording is
    indexed as windows tokenised on their own (``retrieval.std.window_spans``: a word's tokens depend on the words
    around it, docs/RESULTS.md 8a'); without, as one token string (subsequence search). Cached in ``cache_dir`` per
    model, folder, file list and layout; the audio stays where it is.
    """
    folder = Path(folder).resolve()
    files = folder_audio_files(folder, limit)
    layout = window_layout() if windows else None
    key = hashlib.sha1("\n".join([vocabulary_of(model).name, str(folder), json.dumps(layout), *map(str, files)])
                       .encode()).hexdigest()[:16]
    directory = Path(cache_dir) / f"folder-{folder.name}-{len(files)}-{key}"
    if (directory / CATALOG_FILE).is_file():
        return Catalog.load(directory)

    def build(tmp: Path) -> Catalog:
        logger.warning("indexing %d audio files of %s (cached in %s)", len(files), folder, directory)
        manifest = _manifest_titles(folder)
        ids = [p.relative_to(folder).as_posix() for p in files]
        rate = model.config.sampling_rate
        waves = [load_audio(str(p), target_sampling_rate=rate)[0] for p in files]
        index = Wav2TokIndex.from_encoder(model)
        if layout is None:
            index.add_audio(model, waves, sampling_rate=rate, ids=ids)
        else:
            clips, window_ids, labels = recording_windows(ids, waves, rate)
            index.add_audio(model, clips, sampling_rate=rate, ids=window_ids, labels=labels)
        titles = {i: manifest.get(str(p), i) for i, p in zip(ids, files)}
        return Catalog(index, titles, {i: str(p) for i, p in zip(ids, files)},
                       f"{len(files)} recordings under {folder}", layout)

    return _build_atomically(directory, build)


__all__ = ["Catalog", "build_essen_catalog", "build_folder_catalog", "essen_catalog_path", "folder_audio_files"]
