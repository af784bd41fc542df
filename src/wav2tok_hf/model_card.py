"""Model cards of wav2tok models, rendered with `huggingface_hub.ModelCard` (see docs/HUB.md).

* [`render_model_card`] fills a card template (Jinja, ``templates/model_card.md`` by default) through
  `ModelCard.from_template`: the YAML metadata comes from a `ModelCardData`, the other fields from
  [`model_card_fields`] (computed from the model, the repo id and the benchmark results) and the caller's
  ``card_fields``. A field the template uses without a value is a [`CardTemplateError`] that names it.
* [`read_benchmark`] reads the benchmark JSON the demo and the benchmark scripts write; [`benchmark_markdown`] turns
  it into the card's tables.

Example:
    >>> card = render_model_card({"model_id": "me/wav2tok", "license": "apache-2.0", "training_data": "hums"},
    ...                          template_text="---\\n{{ card_data }}\\n---\\n# {{ model_id }}\\n{{ training_data }}\\n")
    >>> print(card, end="")
    ---
    license: apache-2.0
    library_name: transformers
    tags:
    - audio
    - audio-retrieval
    - query-by-humming
    - discrete-audio-tokens
    - wav2tok
    - custom_code
    ---
    # me/wav2tok
    hums
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_LICENSE = "apache-2.0"
CARD_TAGS = ("audio", "audio-retrieval", "query-by-humming", "discrete-audio-tokens", "wav2tok", "custom_code")
"""Hub tags of the card's metadata (``custom_code``: the model code ships with the weights)."""
BenchmarkSource = str | os.PathLike | Mapping[str, Any]  # a benchmark JSON file or its loaded object

# Benchmark row keys with a known meaning, in table order, and their column headers.
KNOWN_COLUMNS = {
    "V": "V (MRR)",
    "TS": "TS (MRR)",
    "PS": "PS (MRR)",
    "search_s": "search s/query",
    "infer_s": "inference s/query",
    # spoken term detection (scripts/benchmark_std.py): F1 at the validation threshold, MAP and search time of each
    # search (semi-global ED over an utterance's tokens, subsequence DTW over frames, windows tokenised alone)
    **{f"{key}_{metric}": f"STD {label} ({name})" for key, name in (("ed", "subsequence ED"), ("sdtw", "S-DTW"),
                                                                     ("win", "windows"))
       for metric, label in (("f1", "F1"), ("map", "MAP"), ("search_s", "s/query"))},
}
TEXT_COLUMNS = ("distance",)  # text-valued row keys shown (right after the model name); other text is ignored
# Top-level numbers of a benchmark JSON shown next to the corpus name.
CONTEXT_KEYS = {"num_queries": "{:.0f} queries", "num_database": "{:.0f} database items",
                "num_utterances": "{:.0f} utterances searched", "chance_mrr": "chance MRR {:.3f}",
                "chance_map": "chance MAP {:.3f}"}
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


def _as_number(value: Any) -> float | None:
    """A finite float from a number; ``None`` for anything else (a skipped metric, ``NaN``, text)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def read_benchmark(source: str | os.PathLike | Mapping[str, Any]) -> BenchmarkResult:
    """Read one benchmark JSON (a path or the loaded object): what ``wav2tok demo`` and the benchmark scripts write.

    Expected: ``{"corpus": str, "synthetic": bool, "rows": [{"model": str, "V": mrr, "TS": mrr, "PS": mrr,
    "search_s": s, "infer_s": s, ...}]}`` (``synthetic`` may be missing: not stated). Numeric row keys besides the
    known ones become extra columns; a metric that is not a finite number (skipped, ``NaN``) shows as "–". Raises
    `ValueError` naming the file and what is expected when it is not JSON, not an object, or its ``rows`` / ``model``
    / ``corpus`` / ``synthetic`` are missing or of another type.

    Example:

    >>> result = read_benchmark({"corpus": "essen-qbsh", "synthetic": True,
    ...                          "rows": [{"model": "wav2tok", "V": 0.91, "TS": 0.85, "PS": None}]})
    >>> result.corpus, result.synthetic, result.columns
    ('essen-qbsh', True, ['V', 'TS', 'PS'])
    """
    where = f"benchmark JSON {os.fspath(source)!r}" if isinstance(source, (str, os.PathLike)) else "benchmark JSON"
    expected = "expected {'corpus': str, 'synthetic': bool, 'rows': [{'model': str, 'V': ..., ...}, ...]}"
    data: Any = source
    if isinstance(source, (str, os.PathLike)):
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"cannot read {where}: {error}") from error
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} is a {type(data).__name__}; {expected}")
    raw_rows, corpus, synthetic = data.get("rows"), data.get("corpus"), data.get("synthetic")
    if not isinstance(raw_rows, (list, tuple)) or not raw_rows or not all(
            isinstance(r, Mapping) and isinstance(r.get("model"), str) for r in raw_rows):
        raise ValueError(f"{where} has no rows, or a row without a 'model' name; {expected}")
    if not isinstance(corpus, str) or not isinstance(synthetic, (bool, type(None))):
        raise ValueError(f"{where}: corpus={corpus!r}, synthetic={synthetic!r}; {expected}")
    rows, extra = [], []
    for raw in raw_rows:
        row: dict[str, Any] = {"model": raw["model"]}
        for key, value in raw.items():
            number = _as_number(value)
            if key in TEXT_COLUMNS:
                row[key] = None if value is None else str(value)
            elif key != "model" and (key in KNOWN_COLUMNS or number is not None):
                row[key] = number
                if key not in KNOWN_COLUMNS and key not in extra:
                    extra.append(key)
        rows.append(row)
    columns = [key for key in (*TEXT_COLUMNS, *KNOWN_COLUMNS) if any(key in row for row in rows)] + extra
    context = {key: number for key in CONTEXT_KEYS if (number := _as_number(data.get(key))) is not None}
    return BenchmarkResult(corpus, synthetic, rows, columns, context)


def read_benchmarks(sources: BenchmarkSource | Sequence[BenchmarkSource] | None) -> list[BenchmarkResult]:
    """[`read_benchmark`] of one source or of each of several (none: ``[]``), one card table each.

    Example:
        >>> [r.corpus for r in read_benchmarks([{"corpus": "a", "rows": [{"model": "m"}]},
        ...                                      {"corpus": "b", "rows": [{"model": "n"}]}])]
        ['a', 'b']
        >>> read_benchmarks(None)
        []
    """
    if sources is None:
        return []
    if isinstance(sources, (str, os.PathLike, Mapping)):
        return [read_benchmark(sources)]
    return [read_benchmark(item) for item in sources]


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
    """The model card template shipped with the package (``templates/model_card.md``; ``model_card.md`` at the
    repository root links to it)."""
    return Path(str(resources.files("wav2tok_hf") / "templates" / "model_card.md"))


def card_data(fields: Mapping[str, Any]) -> Any:
    """The card's YAML metadata as a `huggingface_hub.ModelCardData`: ``license`` (from ``fields``), the
    ``transformers`` library and [`CARD_TAGS`].

    Example:
        >>> card_data({"license": "mit"}).to_dict()["license"]
        'mit'
    """
    from huggingface_hub import ModelCardData

    data = ModelCardData(license=fields.get("license", DEFAULT_LICENSE), library_name="transformers",
                         tags=list(CARD_TAGS))
    data.to_yaml(original_order=["license"])  # license first in the YAML block, as on the released cards
    return data


def render_model_card(fields: Mapping[str, Any], template: str | os.PathLike | None = None, *,
                      template_text: str | None = None) -> str:
    """Render a model card template (Jinja: ``{{ name }}`` fields) with `huggingface_hub.ModelCard.from_template`.

    The template is ``template_text``, else the file ``template`` (default: the packaged one). ``{{ card_data }}``
    is the YAML metadata of [`card_data`]; every other field takes its value from ``fields``. Raises
    [`CardTemplateError`] naming every field without a value, and `ValueError` when the rendered YAML metadata block
    is invalid.

    Example:
        >>> render_model_card({"model_id": "me/wav2tok"}, template_text="# {{model_id}}\\n{{training_data}}\\n")
        Traceback (most recent call last):
        ...
        wav2tok_hf.model_card.CardTemplateError: model card template <text> uses field(s) {{training_data}} with no value; ...
    """
    import jinja2
    import jinja2.meta
    import yaml
    from huggingface_hub import ModelCard

    path = Path(template) if template is not None else default_template()
    where = "<text>" if template_text is not None else str(path)
    if template_text is None:
        try:
            template_text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise FileNotFoundError(f"cannot read the model card template {str(path)!r}: {error}") from error
    data = card_data(fields)
    given = {**data.to_dict(), **{k: v for k, v in fields.items() if v is not None and k != "card_data"}}
    try:
        used = jinja2.meta.find_undeclared_variables(jinja2.Environment().parse(template_text))
    except jinja2.TemplateSyntaxError as error:
        raise ValueError(f"model card template {where} is not a valid Jinja template: {error}") from error
    missing = sorted(used - set(given) - {"card_data"})
    if missing:
        raise CardTemplateError(missing, where)
    try:
        card = ModelCard.from_template(data, template_str=template_text, **given)
    except (ValueError, yaml.YAMLError) as error:
        raise ValueError(f"the model card rendered from {where!r} has invalid YAML metadata: {error}") from error
    # `from_template` renders with Jinja's default of dropping the template's final newline; keep the file's.
    return str(card) + ("\n" if template_text.endswith("\n") else "")


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
    width = getattr(config, "graph_candidates", None)
    if width:
        rows.insert(-1, ("Graph search", f"{width:,} items explored per query by an index's graph "
                                         "(`Wav2TokIndex.from_encoder(model)`, then `build_graph()`), chosen on "
                                         "validation queries"))
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
