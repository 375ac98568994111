"""Benchmarks: entry points above the runtime core (``nlp``) and the data layer, never imported
by them.

- ``bench.models``: every sentiment backend's speed, memory and accuracy (``python -m nlp bench``,
  writes ``bench/README.md``);
- ``bench.queries``: the dashboard queries and survey ingest at scale (``python -m bench.queries``,
  figures in ``bench/queries.md``);
- ``bench.ray_bench``: the local engine against the Ray engine (``python -m bench.ray_bench``,
  writes ``bench/ray.md``).
"""
