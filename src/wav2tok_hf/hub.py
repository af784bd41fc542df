"""Publishing wav2tok models on the Hugging Face Hub and loading them back (see docs/HUB.md).

* [`push_model`] uploads a model, its processor, the code that lets ``AutoModel.from_pretrained(repo_id,
  trust_remote_code=True)`` work without this package, a model card rendered from ``model_card.md`` and the
  benchmark results, all in **one commit**: a push that fails leaves the repository as it was.
* [`load_from_hub`] loads ``(model, processor)`` by repo id with clear errors for missing repositories, other model
  types and an unreachable Hub.
* [`render_model_card`] / [`read_benchmark`] build the card; ``wav2tok push`` (see [`add_push_command`]) is the CLI.

The Hub address comes from ``HF_ENDPOINT`` (read by ``huggingface_hub`` when it is imported), the token from
``token=``, ``HF_TOKEN`` or ``hf auth login``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .saving import write_file_atomic

MODEL_TYPE = "wav2tok"
DEFAULT_COMMIT_MESSAGE = "Upload wav2tok model"
DEFAULT_LICENSE = "apache-2.0"
TRAINING_CONFIG_FILE = "training_config.json"
BENCHMARK_FILE = "benchmark.json"
# Remote files a push replaces: weights, code and results of an earlier push must not survive next to the new ones.
REPLACED_PATTERNS = ["*.safetensors", "*.safetensors.index.json", "*.bin", "*.bin.index.json", "*.py", BENCHMARK_FILE,
                     TRAINING_CONFIG_FILE]
BenchmarkSource = str | os.PathLike | Mapping[str, Any]  # a benchmark JSON file or its loaded object
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Benchmark row keys with a known meaning, in table order, and their column headers.
KNOWN_COLUMNS = {
    "V": "V (MRR)",
    "TS": "TS (MRR)",
    "PS": "PS (MRR)",
    "search_s": "search s/query",
    "infer_s": "inference s/query",
}
TEXT_COLUMNS = ("distance",)  # text-valued row keys shown (right after the model name); other text is ignored
# Top-level numbers of a benchmark JSON shown next to the corpus name.
CONTEXT_KEYS = {"num_queries": "{:.0f} queries", "num_database": "{:.0f} database items",
                "chance_mrr": "chance MRR {:.3f}"}
AUDIO_KIND = {True: "synthetic audio", False: "real recordings", None: "real or synthetic audio: not stated"}
COLUMN_LEGEND = {
    "V": "unmodified queries",
    "TS": "time-stretched queries",
    "PS": "pitch-shifted queries",
    "search_s": "search time per query in seconds",
    "infer_s": "tokenisation time per query in seconds",
}


class CardTemplateError(ValueError):
    """The model card template uses fields that were not given a value (``missing`` lists them)."""

    def __init__(self, missing: Sequence[str], template: str):
        self.missing = list(missing)
        names = ", ".join(f"{{{{{name}}}}}" for name in self.missing)
        super().__init__(
            f"model card template {template} uses field(s) {names} with no value; pass them with "
            f"card_fields={{{', '.join(repr(n) + ': ...' for n in self.missing)}}} (CLI: "
            f"{' '.join('--card-field ' + n + '=...' for n in self.missing)}) or remove them from the template"
        )


class HubConnectionError(ConnectionError):
    """The Hub could not be reached (wrong ``HF_ENDPOINT``, no network, or ``HF_HUB_OFFLINE`` set)."""


class RepositoryNotFound(FileNotFoundError):
    """The repository (or revision) does not exist on the Hub, or is private and no valid token was given."""


# ---------------------------------------------------------------------------------------------------- benchmark
@dataclass
class BenchmarkResult:
    """One benchmark run, normalised from the JSON the benchmark scripts write.

    ``synthetic`` is ``None`` when the JSON does not say whether the corpus audio was real or synthetic.
    ``columns`` lists the row keys shown in the table: ``distance``, then the known metrics (V, TS, PS, search_s,
    infer_s), then other numeric keys. ``context`` holds ``num_queries`` / ``num_database`` / ``chance_mrr``.
    """

    corpus: str
    synthetic: bool | None
    rows: list[dict[str, Any]]
    columns: list[str] = field(default_factory=list)
    context: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"corpus": self.corpus, "synthetic": self.synthetic, **self.context, "rows": self.rows}


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "yes", "1", "synthetic", "synthesised", "synthesized", "simulated"):
            return True
        if text in ("false", "no", "0", "real", "recorded"):
            return False
    return None


def _as_number(value: Any) -> float | None:
    """A finite float from a number, a numeric string or a ``{"mrr": x}`` dict; ``None`` otherwise."""
    if isinstance(value, Mapping):
        value = value.get("mrr", value.get("MRR"))
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def read_benchmark(source: str | os.PathLike | Mapping[str, Any] | Sequence[Any]) -> BenchmarkResult:
    """Read one benchmark JSON (a path or the loaded object) tolerantly.

    Expected: ``{"corpus": str, "synthetic": bool, "rows": [{"model": str, "V": mrr, "TS": mrr, "PS": mrr,
    "search_s": s, "infer_s": s, ...}]}``. Also accepted: ``results`` instead of ``rows``, a bare list of rows,
    ``dataset``/``name`` for the corpus, ``"real"``/``"synthetic"`` strings, ``name``/``method`` for the model,
    ``{"mrr": x}`` metric values and extra numeric keys (they become extra columns). Missing or non-numeric
    metrics show as "–". Raises `ValueError` (naming the file) when it is not JSON or holds no rows.

    Example:

    >>> result = read_benchmark({"corpus": "essen-qbsh", "synthetic": True,
    ...                          "rows": [{"model": "wav2tok", "V": 0.91, "TS": 0.85, "PS": "n/a"}]})
    >>> result.corpus, result.synthetic, result.columns
    ('essen-qbsh', True, ['V', 'TS', 'PS'])
    """
    where = "benchmark JSON" if isinstance(source, (Mapping, list, tuple)) else f"benchmark JSON {os.fspath(source)!r}"
    data: Any = source
    if isinstance(source, (str, os.PathLike)):
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"cannot read {where}: {error}") from error
    if isinstance(data, (list, tuple)):
        data = {"rows": list(data)}
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must be an object with 'rows' (or a list of rows), got {type(data).__name__}")
    raw_rows = data.get("rows", data.get("results"))
    if not isinstance(raw_rows, (list, tuple)) or not any(isinstance(r, Mapping) for r in raw_rows):
        raise ValueError(f"{where} has no rows: expected 'rows': [{{'model': ..., 'V': ..., ...}}, ...]")
    rows, extra = [], []
    for index, raw in enumerate(r for r in raw_rows if isinstance(r, Mapping)):
        model = raw.get("model", raw.get("name", raw.get("method", f"model {index + 1}")))
        row: dict[str, Any] = {"model": str(model)}
        for key, value in raw.items():
            if key in ("model", "name", "method"):
                continue
            number = _as_number(value)
            if key in TEXT_COLUMNS:
                row[key] = None if value is None else str(value)
            elif key in KNOWN_COLUMNS or number is not None:
                row[key] = number
                if key not in KNOWN_COLUMNS and key not in extra:
                    extra.append(key)
        rows.append(row)
    columns = [key for key in (*TEXT_COLUMNS, *KNOWN_COLUMNS) if any(key in row for row in rows)] + extra
    corpus = data.get("corpus", data.get("dataset", data.get("name")))
    context = {key: number for key in CONTEXT_KEYS if (number := _as_number(data.get(key))) is not None}
    return BenchmarkResult(str(corpus) if corpus else "unnamed corpus", _as_bool(data.get("synthetic")), rows, columns,
                           context)


def _format_cell(key: str, value: float | str | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return value.replace("|", "\\|")
    if key.endswith("_s"):
        return f"{value:.3g}"
    return f"{value:.3f}"


def benchmark_markdown(results: Sequence[BenchmarkResult]) -> str:
    """Markdown for the card: per corpus, whether its audio is real or synthetic and a table of the rows."""
    if not results:
        return "No benchmark results were supplied with this upload."
    parts = []
    for result in results:
        about = [AUDIO_KIND[result.synthetic]] + [CONTEXT_KEYS[k].format(v) for k, v in result.context.items()]
        lines = [f"**{result.corpus}** ({', '.join(about)})", ""]
        headers = ["model"] + [KNOWN_COLUMNS.get(key, key) for key in result.columns]
        lines.append("| " + " | ".join(headers) + " |")
        aligns = [" --- " if key in TEXT_COLUMNS else " ---: " for key in result.columns]
        lines.append("|" + "|".join([" --- "] + aligns) + "|")
        for row in result.rows:
            cells = [_format_cell("model", row["model"])] + [_format_cell(k, row.get(k)) for k in result.columns]
            lines.append("| " + " | ".join(cells) + " |")
        legend = [f"{key}: {COLUMN_LEGEND[key]}" for key in result.columns if key in COLUMN_LEGEND]
        if legend:
            lines += ["", "; ".join(legend) + "."]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------------- model card
def default_template() -> Path:
    """The model card template shipped with the package (``model_card.md`` at the repository root)."""
    return Path(str(resources.files("wav2tok_hf") / "templates" / "model_card.md"))


def render_model_card(fields: Mapping[str, Any], template: str | os.PathLike | None = None) -> str:
    """Fill the ``{{name}}`` placeholders of a model card template.

    Raises [`CardTemplateError`] naming every placeholder without a value, and `ValueError` when the rendered YAML
    metadata block is invalid.

    Example:

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "card.md"
    >>> _ = path.write_text("# {{model_id}}\\n{{training_data}}\\n")
    >>> render_model_card({"model_id": "me/wav2tok", "training_data": "hums"}, path)
    '# me/wav2tok\\nhums\\n'
    >>> render_model_card({"model_id": "me/wav2tok"}, path)
    Traceback (most recent call last):
    ...
    wav2tok_hf.hub.CardTemplateError: model card template ... uses field(s) {{training_data}} with no value; ...
    """
    import yaml
    from huggingface_hub import ModelCard

    path = Path(template) if template is not None else default_template()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise FileNotFoundError(f"cannot read the model card template {str(path)!r}: {error}") from error
    missing = sorted({name for name in PLACEHOLDER.findall(text) if fields.get(name) is None})
    if missing:
        raise CardTemplateError(missing, str(path))
    card = PLACEHOLDER.sub(lambda match: str(fields[match.group(1)]), text)
    try:
        ModelCard(card, ignore_metadata_errors=False)
    except (ValueError, yaml.YAMLError) as error:
        raise ValueError(f"the model card rendered from {str(path)!r} has invalid YAML metadata: {error}") from error
    return card


def _model_details(config: Any, num_parameters: int) -> str:
    rows = [
        ("Architecture", f"wav2tok, {config.encoder_type} encoder, {config.num_layers} layers, hidden size "
                         f"{config.hidden_size}"),
        ("Input features", f"{config.feature_type} ({config.feature_size} per frame)" + (
            f", {config.frequency_conv_layers} convolutions of {config.frequency_conv_channels} channels over "
            f"(frequency, time) pooled over frequency" if config.frequency_conv_channels else "")),
        ("Sampling rate", f"{config.sampling_rate} Hz"),
        ("Frame rate", f"{config.frame_rate:g} frames/s (hop {config.hop_length}, window {config.n_fft})"),
        ("Codebook", f"{config.codebook_size} tokens, {config.embedding_dim}-dimensional unit-norm codewords"),
        ("Parameters", f"{num_parameters:,}"),
    ]
    run = getattr(config, "max_token_run", 0)
    if run:
        rows.insert(-1, ("Token string", f"runs of a token longer than {run} frames give one token per {run} frames "
                                         f"({1000 * run / config.frame_rate:.0f} ms): note durations are kept"))
    return "\n".join(["| | |", "| --- | --- |"] + [f"| {name} | {value} |" for name, value in rows])


def model_card_fields(model: Any, repo_id: str, benchmarks: Sequence[BenchmarkResult] = (),
                      card_fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The values the template can use: computed from the model, the repo id and the benchmark, then
    ``card_fields`` (which override them and add descriptive fields such as ``training_data``)."""
    from . import __version__

    config = model.config
    fields: dict[str, Any] = {
        "model_id": repo_id,
        "model_name": repo_id.split("/")[-1],
        "license": DEFAULT_LICENSE,
        "library_version": __version__,
        "model_details": _model_details(config, sum(p.numel() for p in model.parameters())),
        "codebook_size": config.codebook_size,
        "sampling_rate": config.sampling_rate,
        "benchmark_table": benchmark_markdown(benchmarks),
    }
    fields.update(card_fields or {})
    return fields


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
    from .modeling_wav2tok import Wav2TokModel
    from .processing_wav2tok import Wav2TokProcessor

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
    benchmarks = _read_benchmarks(benchmark_json)
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

    from .modeling_wav2tok import Wav2TokModel
    from .processing_wav2tok import Wav2TokProcessor

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


def _read_benchmarks(benchmark_json: Any) -> list[BenchmarkResult]:
    if benchmark_json is None:
        return []
    if isinstance(benchmark_json, (str, os.PathLike, Mapping)):
        return [read_benchmark(benchmark_json)]
    return [read_benchmark(item) for item in benchmark_json]


def write_model_card(model_dir: str | os.PathLike, repo_id: str | None = None, benchmark_json: Any = None,
                     card_fields: Mapping[str, Any] | None = None, template: str | os.PathLike | None = None) -> Path:
    """Render the model card a push would upload and write it (atomically) to ``model_dir/README.md``.

    ``repo_id`` defaults to the directory name. Returns the path written.
    """
    model, _, _ = _load_local(model_dir, None)
    repo_id = repo_id or Path(model_dir).resolve().name
    card = render_model_card(model_card_fields(model, repo_id, _read_benchmarks(benchmark_json), card_fields), template)
    path = Path(model_dir) / "README.md"
    write_file_atomic(path, lambda f: f.write(card.encode("utf-8")))
    return path


# ---------------------------------------------------------------------------------------------------- CLI
def _card_field(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not PLACEHOLDER.fullmatch("{{" + name + "}}"):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with NAME a template field name, got {text!r}")
    return name, value


def _card_fields(args: argparse.Namespace) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if args.card_fields_json:
        loaded = json.loads(Path(args.card_fields_json).read_text(encoding="utf-8"))
        if not isinstance(loaded, Mapping):
            raise SystemExit(f"{args.card_fields_json}: expected a JSON object of template fields")
        fields.update(loaded)
    fields.update(dict(args.card_field))
    return fields


def _run_push(args: argparse.Namespace) -> None:
    commit = push_model(args.model_dir, args.repo_id, benchmark_json=args.benchmark_json or None,
                        private=args.private, token=args.token, commit_message=args.commit_message,
                        card_fields=_card_fields(args), template=args.template)
    print(commit.commit_url)


def _run_card(args: argparse.Namespace) -> None:
    print(write_model_card(args.model_dir, args.repo_id, args.benchmark_json or None, _card_fields(args), args.template))


def _card_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--benchmark-json", action="append", default=[], metavar="FILE",
                        help="benchmark result JSON for the card's table (repeat for several corpora)")
    parser.add_argument("--card-field", action="append", default=[], type=_card_field, metavar="NAME=VALUE",
                        help="value of a model card template field, e.g. training_data=... (repeatable)")
    parser.add_argument("--card-fields-json", metavar="FILE", help="JSON object of template field values")
    parser.add_argument("--template", metavar="FILE", help="model card template (default: the packaged model_card.md)")


def add_card_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``card``: ``wav2tok card MODEL_DIR [--repo-id ID] [--benchmark-json F ...] [--card-field K=V ...]`` writes
    the model card a push would upload to ``MODEL_DIR/README.md``."""
    parser = subparsers.add_parser("card", help="render the model card into MODEL_DIR/README.md (no upload)")
    parser.add_argument("model_dir", help="directory written by save_pretrained or the trainer")
    parser.add_argument("--repo-id", default=None, help="id shown in the card (default: the directory name)")
    _card_arguments(parser)
    parser.set_defaults(func=_run_card)
    return parser


def add_push_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``push`` to a CLI: ``wav2tok push MODEL_DIR REPO_ID [--benchmark-json F ...] [--card-field K=V ...]``.

    The parser's ``func`` runs [`push_model`] with the parsed namespace and prints the commit URL.

    Example:

    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="wav2tok")
    >>> _ = add_push_command(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["push", "runs/model", "me/wav2tok-qbsh", "--card-field", "training_audio=real"])
    >>> args.repo_id, args.card_field
    ('me/wav2tok-qbsh', [('training_audio', 'real')])
    """
    parser = subparsers.add_parser(
        "push", help="publish a trained model on the Hugging Face Hub (one commit, with a model card)",
        description="Upload a saved wav2tok model, its processor, code, model card and benchmark results in one "
        "commit. The Hub is HF_ENDPOINT (default https://huggingface.co); the token comes from --token, HF_TOKEN "
        "or `hf auth login`. See docs/HUB.md.",
    )
    parser.add_argument("model_dir", help="directory written by save_pretrained or the trainer")
    parser.add_argument("repo_id", help="Hub repository, e.g. me/wav2tok-qbsh")
    _card_arguments(parser)
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or the saved login)")
    parser.add_argument("--commit-message", default=DEFAULT_COMMIT_MESSAGE, help="commit summary")
    parser.set_defaults(func=_run_push)
    return parser


def main(argv: Iterable[str] | None = None) -> None:
    """``python -m wav2tok_hf.hub push MODEL_DIR REPO_ID ...``: the push command on its own."""
    parser = argparse.ArgumentParser(prog="python -m wav2tok_hf.hub")
    add_push_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(None if argv is None else list(argv))
    args.func(args)


if __name__ == "__main__":
    main()
