"""Publishing wav2tok models on the Hugging Face Hub and loading them back (see docs/HUB.md).

* [`push_model`] uploads a model, its processor, the code that lets ``AutoModel.from_pretrained(repo_id,
  trust_remote_code=True)`` work without this package, a model card (`wav2tok_hf.model_card`) and the benchmark
  results, all in **one commit**: a push that fails leaves the repository as it was.
* [`load_from_hub`] loads ``(model, processor)`` by repo id with clear errors for missing repositories, other model
  types and an unreachable Hub.
* [`write_model_card`] writes the card a push would upload into the model folder (no upload).

``wav2tok push`` and ``wav2tok card`` (`wav2tok_hf.cli`) are the command line. The Hub address comes from
``HF_ENDPOINT`` (read by ``huggingface_hub`` when it is imported), the token from ``token=``, ``HF_TOKEN`` or
``hf auth login``.

Example:
    >>> from wav2tok_hf import Wav2TokConfig, Wav2TokModel
    >>> model = Wav2TokModel(Wav2TokConfig(codebook_size=8, hidden_size=16, embedding_dim=8))
    >>> push_model(model, "me/wav2tok-tiny", card_fields={"training_data": "hums"})
    Traceback (most recent call last):
    ...
    wav2tok_hf.model_card.CardTemplateError: model card template ... uses field(s) {{training_audio}} with no value; ...
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .model_card import (
    BenchmarkSource,
    model_card_fields,
    read_benchmarks,
    render_model_card,
)
from .modeling_wav2tok import Wav2TokModel
from .processing_wav2tok import Wav2TokProcessor
from .saving import MODEL_TYPE, TRAINING_CONFIG_FILE, write_file_atomic

DEFAULT_COMMIT_MESSAGE = "Upload wav2tok model"
BENCHMARK_FILE = "benchmark.json"
# Remote files a push replaces: weights, code and results of an earlier push must not survive next to the new ones.
REPLACED_PATTERNS = ["*.safetensors", "*.safetensors.index.json", "*.bin", "*.bin.index.json", "*.py", BENCHMARK_FILE,
                     TRAINING_CONFIG_FILE]


class HubConnectionError(ConnectionError):
    """The Hub could not be reached (wrong ``HF_ENDPOINT``, no network, or ``HF_HUB_OFFLINE`` set)."""


class RepositoryNotFound(FileNotFoundError):
    """The repository (or revision) does not exist on the Hub, or is private and no valid token was given."""


# ---------------------------------------------------------------------------------------------------- errors
def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def _is_connection_error(error: BaseException) -> bool:
    """Network failures of the HTTP client (httpx / httpx2 `TransportError`, or an `OSError` one)."""
    names = {cls.__name__ for cls in type(error).__mro__}
    return isinstance(error, (ConnectionError, TimeoutError)) or bool(names & {"TransportError", "TimeoutException"})


def _unreachable(error: BaseException) -> HubConnectionError:
    from huggingface_hub import constants

    if constants.is_offline_mode():
        return HubConnectionError(
            f"HF_HUB_OFFLINE is set, so the Hub at {_endpoint()} is not contacted and only cached files can be "
            f"loaded ({type(error).__name__}: {error}); unset HF_HUB_OFFLINE to push or to download"
        )
    return HubConnectionError(
        f"cannot reach the Hugging Face Hub at {_endpoint()} ({type(error).__name__}: {error}). Check the network, "
        "or set HF_ENDPOINT to the Hub (or mirror) URL to use before Python starts"
    )


def _check_model_type(config: Mapping[str, Any], where: str) -> None:
    model_type = config.get("model_type")
    if model_type != MODEL_TYPE:
        raise ValueError(
            f"{where} is a {model_type!r} checkpoint, not a {MODEL_TYPE!r} one (config.json model_type="
            f"{model_type!r}); only wav2tok models can be pushed or loaded with wav2tok_hf.hub"
        )


# ---------------------------------------------------------------------------------------------------- push
def _load_local(model_dir_or_model: Any, processor: Any) -> tuple[Any, Any, Path | None]:
    """(model, processor, source directory or None) from a saved directory or model object, type-checked."""
    if isinstance(model_dir_or_model, (str, os.PathLike)):
        directory = Path(model_dir_or_model)
        config_file = directory / "config.json"
        if not config_file.is_file():
            raise FileNotFoundError(f"{str(directory)!r} is not a saved model directory (no config.json)")
        _check_model_type(json.loads(config_file.read_text(encoding="utf-8")), str(directory))
        model = Wav2TokModel.from_pretrained(directory, use_safetensors=True)
        if processor is None:
            if any((directory / name).is_file() for name in ("processor_config.json", "preprocessor_config.json")):
                processor = Wav2TokProcessor.from_pretrained(directory)
        source = directory
    else:
        model, source = model_dir_or_model, None
        model_type = getattr(getattr(model, "config", None), "model_type", None)
        _check_model_type({"model_type": model_type}, type(model).__name__)
    if processor is None:
        processor = Wav2TokProcessor.from_model_config(model.config)
    return model, processor, source


def push_model(
    model_dir_or_model: str | os.PathLike | Any,
    repo_id: str,
    benchmark_json: BenchmarkSource | Sequence[BenchmarkSource] | None = None,
    private: bool = False,
    token: str | bool | None = None,
    commit_message: str = DEFAULT_COMMIT_MESSAGE,
    *,
    processor: Any = None,
    card_fields: Mapping[str, Any] | None = None,
    template: str | os.PathLike | None = None,
):
    """Publish a wav2tok model on the Hub in one commit.

    The commit holds the weights (safetensors), ``config.json``, the processor files, the model code (so
    ``AutoModel.from_pretrained(repo_id, trust_remote_code=True)`` works without ``wav2tok_hf``), ``README.md``
    rendered from the card template, ``benchmark.json`` (when given) and ``training_config.json`` (when the model
    directory has one). Weights, ``.py`` files, ``benchmark.json`` and ``training_config.json`` left by an earlier
    push are deleted in the same commit. The repo is created if needed; nothing else is written unless the commit
    succeeds.

    Args:
        model_dir_or_model: a directory written by ``save_pretrained`` / the trainer, or a `Wav2TokModel`.
        repo_id: ``"namespace/name"`` (or ``"name"`` for your own namespace).
        benchmark_json: benchmark result file(s) or loaded dict(s); see [`read_benchmark`].
        private: create the repository as private (an existing repository keeps its visibility).
        token: Hub token; default ``HF_TOKEN`` or the saved login.
        commit_message: summary of the commit.
        processor: the processor to upload; default the directory's, else one built from the model config.
        card_fields: values for the template's descriptive fields (``training_data``, ``training_audio``, ...),
            which also override computed ones (``license``, ``model_details``, ...).
        template: model card template; default the packaged ``model_card.md``.

    Returns:
        `huggingface_hub.CommitInfo` of the commit (``.commit_url``, ``.oid``, ``.repo_url.repo_id``).

    Raises:
        `ValueError` for a checkpoint of another model type; [`CardTemplateError`] for a template field without a
        value (both before anything is sent); [`HubConnectionError`] when the Hub cannot be reached.

    Example (``HF_ENDPOINT`` / ``HF_TOKEN`` pick the Hub and account):

    >>> from wav2tok_hf.hub import push_model
    >>> push_model("runs/qbsh/model", "me/wav2tok-qbsh", benchmark_json="results/essen.json",
    ...            card_fields={"training_data": "Synthesised hums of Essen folk melodies.",
    ...                         "training_audio": "synthetic audio of real melodies"})  # doctest: +SKIP
    CommitInfo(commit_url='https://huggingface.co/me/wav2tok-qbsh/commit/...', ...)
    """
    from huggingface_hub import HfApi

    model, processor, source = _load_local(model_dir_or_model, processor)
    benchmarks = read_benchmarks(benchmark_json)
    fields = model_card_fields(model, repo_id, benchmarks, card_fields)
    render_model_card(fields, template)  # fail on a bad template before anything is sent

    api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="wav2tok-push-") as staging:
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
        if source is not None and (source / TRAINING_CONFIG_FILE).is_file():
            shutil.copyfile(source / TRAINING_CONFIG_FILE, Path(staging) / TRAINING_CONFIG_FILE)
        if benchmarks:
            payload = [b.to_dict() for b in benchmarks]
            Path(staging, BENCHMARK_FILE).write_text(json.dumps(payload, indent=1), encoding="utf-8")
        try:
            repo_url = api.create_repo(repo_id, private=private, exist_ok=True)
            if "model_id" not in (card_fields or {}):
                fields["model_id"], fields["model_name"] = repo_url.repo_id, repo_url.repo_id.split("/")[-1]
            Path(staging, "README.md").write_text(render_model_card(fields, template), encoding="utf-8")
            return api.upload_folder(repo_id=repo_url.repo_id, folder_path=staging, commit_message=commit_message,
                                     delete_patterns=REPLACED_PATTERNS)
        except Exception as error:
            if _is_connection_error(error):
                raise _unreachable(error) from error
            raise


# ---------------------------------------------------------------------------------------------------- load
def load_from_hub(repo_id: str, revision: str | None = None, token: str | bool | None = None):
    """Load ``(Wav2TokModel, Wav2TokProcessor)`` from a Hub repository (or the local cache when offline).

    Raises [`RepositoryNotFound`] for a repository or revision that does not exist (or is private without a
    token), `ValueError` for a repository of another model type and [`HubConnectionError`] when the Hub cannot be
    reached and nothing is cached.

    Example:

    >>> from wav2tok_hf.hub import load_from_hub
    >>> model, processor = load_from_hub("me/wav2tok-qbsh")  # doctest: +SKIP
    >>> processor.decode(model.encode(waveform, sampling_rate=16000))  # doctest: +SKIP
    't3 t17 t5'
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        config_file = hf_hub_download(repo_id, "config.json", revision=revision, token=token)
    except RepositoryNotFoundError as error:
        raise RepositoryNotFound(
            f"there is no model repository {repo_id!r} on {_endpoint()} (or it is private: pass token= or log in); "
            "check the id and HF_ENDPOINT"
        ) from error
    except RevisionNotFoundError as error:
        raise RepositoryNotFound(f"model repository {repo_id!r} has no revision {revision!r}") from error
    except LocalEntryNotFoundError as error:  # offline, or the endpoint is unreachable, and nothing cached
        raise _unreachable(error) from error
    except EntryNotFoundError as error:
        raise ValueError(f"{repo_id!r} has no config.json: it is not a transformers model repository") from error
    except Exception as error:
        if _is_connection_error(error):
            raise _unreachable(error) from error
        raise
    _check_model_type(json.loads(Path(config_file).read_text(encoding="utf-8")), repo_id)
    model = Wav2TokModel.from_pretrained(repo_id, revision=revision, token=token, use_safetensors=True)
    return model, Wav2TokProcessor.from_pretrained(repo_id, revision=revision, token=token)


def write_model_card(model_dir: str | os.PathLike, repo_id: str | None = None, benchmark_json: Any = None,
                     card_fields: Mapping[str, Any] | None = None, template: str | os.PathLike | None = None) -> Path:
    """Render the model card a push would upload and write it (atomically) to ``model_dir/README.md``.

    ``repo_id`` defaults to the directory name. Returns the path written.

    Example:
        >>> import tempfile
        >>> from wav2tok_hf import Wav2TokConfig, Wav2TokModel
        >>> folder = tempfile.mkdtemp()
        >>> Wav2TokModel(Wav2TokConfig(codebook_size=8, hidden_size=16, embedding_dim=8)).save_pretrained(folder)
        >>> path = write_model_card(folder, "me/tiny", card_fields={"training_data": "hums", "training_audio": "real"})
        >>> path.read_text().splitlines()[:2]
        ['---', 'license: apache-2.0']
    """
    model, _, _ = _load_local(model_dir, None)
    repo_id = repo_id or Path(model_dir).resolve().name
    card = render_model_card(model_card_fields(model, repo_id, read_benchmarks(benchmark_json), card_fields), template)
    path = Path(model_dir) / "README.md"
    write_file_atomic(path, lambda f: f.write(card.encode("utf-8")))
    return path
