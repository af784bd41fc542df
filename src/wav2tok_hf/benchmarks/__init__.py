"""Benchmark runners: the work behind the scripts in ``scripts/``, one module per script.

A script parses its arguments, checks them (a bad value is a usage error before any work starts), calls one function
here and writes or prints what it returns: usually ``(report, markdown)``, the JSON-ready report and the table the
script prints. The protocols these runners measure with live where their concern does (``retrieval.evaluation``,
``retrieval.std``, ``training``).

- ``scripts/benchmark_qbsh.py``: :func:`wav2tok_hf.benchmarks.qbsh.run_qbsh_benchmark`
- ``scripts/benchmark_speech.py``: :func:`wav2tok_hf.benchmarks.speech.run_speech_benchmark`
- ``scripts/benchmark_std.py``: :func:`wav2tok_hf.benchmarks.std.run_std_benchmark`
- ``scripts/bench_train.py``: :func:`wav2tok_hf.benchmarks.train_step.profile_training_step`
- ``scripts/bench_search.py``: :func:`wav2tok_hf.benchmarks.search_speed.search_speed`
- ``scripts/bench_encode.py``: :func:`wav2tok_hf.benchmarks.encode_speed.encode_speed`
- ``scripts/bench_rerank.py``: :func:`wav2tok_hf.benchmarks.rerank_speed.rerank_speed`
- ``scripts/bench_data.py``: :func:`wav2tok_hf.benchmarks.data_speed.data_speed`
- ``scripts/bench_scale.py``: :func:`wav2tok_hf.benchmarks.scale.run_scale_benchmark`
- ``scripts/bench_graph_ann.py``: :func:`wav2tok_hf.benchmarks.graph_ann.run_graph_ann`
- ``scripts/bench_std_scale.py``: :func:`wav2tok_hf.benchmarks.std_scale.run_std_scale_benchmark`
- ``scripts/validate_speech.py``: :func:`wav2tok_hf.benchmarks.speech_validation.validate_speech`
- ``scripts/tune_token_runs.py``: :func:`wav2tok_hf.benchmarks.token_runs.token_runs`
- ``scripts/tune_substitution_temperature.py``:
  :func:`wav2tok_hf.benchmarks.substitution_temperature.substitution_temperatures`

Shared pieces: :mod:`~wav2tok_hf.benchmarks.timing` (median wall times), :mod:`~wav2tok_hf.benchmarks.provenance`
(what a model folder was trained on), :mod:`~wav2tok_hf.benchmarks.corpus` (a benchmark's corpus and its build) and
:mod:`~wav2tok_hf.benchmarks.reranked` (the tokens-then-re-rank rows of the benchmarks). Importing this package imports nothing else and changes no global state; the
Hub baselines' offline switch stays in ``scripts/_common.py``, so the runners take Hub baselines already loaded.
"""
