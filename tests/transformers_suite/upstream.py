"""Fetch and import transformers' own common test mixins for the installed transformers version.

The test files come from the installed version's source distribution on PyPI (``pip download transformers==<v>
--no-binary :all: --no-deps``), are cached under ``$XDG_CACHE_HOME/wav2tok-hf/transformers-tests/<v>`` (default
``~/.cache``) and imported from there as the package ``transformers_upstream_tests``; nothing is copied into this
repository, so when transformers moves the suite moves with it.

The sdist ships the top-level ``tests/test_*.py`` files only: not ``tests/__init__.py`` (empty; created), the
``tests/fixtures`` data (the tokenizer test brings its own text), nor the helper packages some files import
(``tests/exporters``, ``tests/generation``, ``tests/utils``, ``utils/fetch_hub_objects_for_ci.py``). Those are
replaced by the minimal stand-ins below, each saying what it stands for; the tests that need more than a stand-in
(the export and generation mixins) do not apply to wav2tok and are simply absent.

Hand-written because no library ships transformers' test files; `load()` skips the calling test module with the
reason when the registry cannot be reached, except under CI (``CI=true``), which has PyPI access: there it fails.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import types
import unittest
from pathlib import Path

import pytest
import transformers

PACKAGE = "transformers_upstream_tests"
REQUIRED = (
    "__init__.py", "test_modeling_common.py", "test_feature_extraction_common.py",
    "test_sequence_feature_extraction_common.py", "test_processing_common.py", "test_configuration_common.py",
    "test_tokenization_common.py",
)
# Every public attribute of a v5 `PreTrainedConfig()` set to a non-default value: stands for
# `tests/utils/test_configuration_utils.config_common_kwargs` (not in the sdist), which ConfigTester passes to the
# config and reads back.
CONFIG_COMMON_KWARGS = {
    "return_dict": False,
    "output_hidden_states": True,
    "dtype": "float16",
    "chunk_size_feed_forward": 5,
    "architectures": ["BertModel"],
    "id2label": {0: "label"},
    "label2id": {"label": "0"},
    "problem_type": "regression",
}


_FETCH_FAILURE = ""  # why the fetch failed, once it has


def cache_dir(version: str = transformers.__version__) -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "wav2tok-hf" / "transformers-tests" / version


def fetch(version: str = transformers.__version__) -> Path:
    """The directory holding the sdist's ``tests/*.py`` for `version` (downloaded and extracted once)."""
    target = cache_dir(version) / "tests"
    if all((target / name).is_file() for name in REQUIRED):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", f"transformers=={version}", "--no-binary", ":all:", "--no-deps",
             "--disable-pip-version-check", "-q", "-d", tmp],
            check=True, capture_output=True, text=True, timeout=600,
        )
        (archive,) = Path(tmp).glob("transformers-*.tar.gz")
        extracted = Path(tmp) / "tests"
        extracted.mkdir()
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if len(parts) == 3 and parts[1] == "tests" and parts[2].endswith(".py") and member.isfile():
                    (extracted / parts[2]).write_bytes(tar.extractfile(member).read())
        # The repository's tests/__init__.py is empty and not in the sdist; `direct_transformers_import` needs it.
        (extracted / "__init__.py").touch()
        missing = [name for name in REQUIRED if not (extracted / name).is_file()]
        if missing:
            raise RuntimeError(f"the transformers {version} sdist has no tests/{missing}; the common mixins are not "
                               "published for this version")
        shutil.rmtree(target, ignore_errors=True)  # an incomplete earlier extraction
        os.replace(extracted, target)
    return target


def _stub(name: str, **attributes) -> None:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    sys.modules.setdefault(name, module)


def load(module: str) -> types.ModuleType:
    """Import ``tests/<module>.py`` of the installed transformers' sdist (skips the caller without network)."""
    global _FETCH_FAILURE
    try:
        if _FETCH_FAILURE:
            raise RuntimeError(_FETCH_FAILURE)  # tried once in this session already: do not wait again
        tests_dir = fetch()
    except (subprocess.SubprocessError, OSError, RuntimeError, ValueError) as error:
        detail = getattr(error, "stderr", "") or error
        _FETCH_FAILURE = str(detail).strip()[-300:]
        reason = f"transformers {transformers.__version__} test files unavailable: {_FETCH_FAILURE}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            raise RuntimeError(f"{reason} (CI has PyPI access: these tests must run there)") from error
        pytest.skip(reason, allow_module_level=True)
    if PACKAGE not in sys.modules:
        package = types.ModuleType(PACKAGE)
        package.__path__ = [str(tests_dir)]
        sys.modules[PACKAGE] = package
        # Stand-ins for the helper packages the sdist does not ship.
        _stub(f"{PACKAGE}.exporters")
        _stub(f"{PACKAGE}.exporters.test_export", ExportTesterMixin=type("ExportTesterMixin", (), {}))
        _stub(f"{PACKAGE}.generation")
        _stub(f"{PACKAGE}.generation.test_utils", GenerationTesterMixin=type("GenerationTesterMixin", (), {}))
        _stub(f"{PACKAGE}.utils")
        _stub(f"{PACKAGE}.utils.test_configuration_utils", config_common_kwargs=CONFIG_COMMON_KWARGS)
        # Maps the Hub URLs of CI fixtures to local copies; wav2tok's tests never reach those fixtures.
        _stub("fetch_hub_objects_for_ci", url_to_local_path=lambda url: url)
    return importlib.import_module(f"{PACKAGE}.{module}")


def skip_inapplicable(skips: dict[str, str]):
    """Class decorator: skip the named inherited tests, each with its one-line reason (names a mixin no longer has
    are ignored, so a newer transformers only adds tests)."""

    def decorate(cls):
        for name, reason in skips.items():
            if hasattr(cls, name):
                setattr(cls, name, unittest.skip(reason)(lambda self: None))
        return cls

    return decorate
