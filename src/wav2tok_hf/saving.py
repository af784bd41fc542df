"""Saving into folders without losing anything: check the target first, then write only the files a save owns.

A save writes into a fresh temporary sibling folder, then moves each written file into the target with
``os.replace`` (atomic per file), so an interrupted save leaves every file either old or new, and files of the
target that the save does not write (a user's notes, a model card) are never touched. Folders and files get the
normal permissions of the process umask (e.g. 0755 / 0644), not the 0700 of a temporary folder.

Hand-written because ``save_pretrained`` and ``shutil`` offer no "write these files into that folder, atomically,
keeping the rest" operation.

Example:
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> def write(folder):
    ...     with open(os.path.join(folder, "config.json"), "w") as f:
    ...         f.write('{"model_type": "wav2tok"}')
    >>> save_folder(write, os.path.join(root, "model"))
    ['config.json']
    >>> check_save_target(os.path.join(root, "model"))  # a wav2tok model folder: saving into it again is fine
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import BinaryIO

MODEL_TYPE = "wav2tok"
TRAINING_CONFIG_FILE = "training_config.json"
"""What the trainer saves beside a model: ``{"experiment": ..., "training_arguments": ..., "trainer_state": ...}``."""


def saved_experiment(model_dir: str | os.PathLike) -> dict | None:
    """The experiment a model folder was trained with (the ``experiment`` of its ``training_config.json``), or
    ``None`` when the folder has none or it cannot be read.

    Example:
        >>> import tempfile
        >>> saved_experiment(tempfile.mkdtemp()) is None
        True
    """
    return _saved_training_part(model_dir, "experiment")


def saved_trainer_state(model_dir: str | os.PathLike) -> dict | None:
    """The trainer state a model folder was saved at (the ``trainer_state`` of its ``training_config.json``: ``step``,
    ``best_step``, ``best_metric``, ``history``), or ``None`` when the folder has none or it cannot be read.

    Example:
        >>> import tempfile
        >>> saved_trainer_state(tempfile.mkdtemp()) is None
        True
    """
    return _saved_training_part(model_dir, "trainer_state")


def _saved_training_part(model_dir: str | os.PathLike, part: str) -> dict | None:
    try:
        with open(os.path.join(model_dir, TRAINING_CONFIG_FILE), encoding="utf-8") as f:
            value = json.load(f)[part]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (``os.umask`` is set-and-return)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def is_model_folder(path: str | os.PathLike) -> bool:
    """True when ``path`` holds a saved wav2tok model (``config.json`` with ``model_type: wav2tok``)."""
    try:
        with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
            return json.load(f).get("model_type") == MODEL_TYPE
    except (OSError, ValueError, AttributeError):
        return False


def check_save_target(path: str | os.PathLike, overwrite: bool = False, what: str = "output directory") -> None:
    """Raise ``ValueError`` unless a model can be saved to ``path`` without destroying something else.

    Accepted: a new path (its parents are created), an empty folder, or a folder holding a wav2tok model. Refused
    unless ``overwrite``: an existing file, or a non-empty folder that holds no wav2tok model. Always refused: a path
    below an existing file.
    """
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if parent and not os.path.isdir(parent):
        raise ValueError(f"{what} {path!r} lies under {parent!r}, which is a file; choose a path in a folder")
    if os.path.lexists(path) and not os.path.isdir(path):
        if not overwrite:
            raise ValueError(f"{what} {path!r} is an existing file; choose a new or empty folder or a saved wav2tok "
                             "model folder (or allow overwriting to replace the file)")
    elif os.path.isdir(path) and os.listdir(path) and not is_model_folder(path) and not overwrite:
        raise ValueError(f"{what} {path!r} is a non-empty folder that holds no wav2tok model; choose a new or empty "
                         "folder or a saved wav2tok model folder (or allow overwriting: only the model's files are "
                         "written, the others are kept)")


def write_file_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> None:
    """Write one file through ``write(f)`` (a binary file object) into a temporary sibling, flush it to disk, then
    ``os.replace`` it onto ``path``: readers see the old file or the new one, never a part; a failure removes the
    temporary file and leaves ``path`` as it was. The file gets the umask's permissions (e.g. 0644), not mkstemp's 0600.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "notes.json")
        >>> write_file_atomic(path, lambda f: f.write(b'{"ok": true}'))
        >>> open(path).read()
        '{"ok": true}'
    """
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{os.path.basename(path)}.", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_folder(write: Callable[[str], object], target: str | os.PathLike, overwrite: bool = False) -> list[str]:
    """Run ``write(tmp)`` on a fresh temporary sibling folder, then move each file it wrote into ``target``.

    Returns the relative paths written. Files already in ``target`` that ``write`` did not produce are kept. A
    failure inside ``write`` leaves ``target`` as it was.
    """
    target = os.fspath(target)
    check_save_target(target, overwrite=overwrite)
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.abspath(target))}.tmp-", dir=parent)
    umask = _umask()
    try:
        write(tmp)
        if os.path.lexists(target) and not os.path.isdir(target):
            os.remove(target)  # an existing file, replaced only when overwrite allowed it (checked above)
        written = []
        for root, dirs, files in os.walk(tmp):
            relative_root = os.path.relpath(root, tmp)
            destination_root = target if relative_root == "." else os.path.join(target, relative_root)
            os.makedirs(destination_root, exist_ok=True)  # created with the umask's permissions
            for name in sorted(files):
                source = os.path.join(root, name)
                os.chmod(source, 0o666 & ~umask)
                os.replace(source, os.path.join(destination_root, name))
                written.append(os.path.normpath(os.path.join(relative_root, name)))
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
