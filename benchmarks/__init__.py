"""Benchmark suites (pytest-benchmark).

Run with ``pytest benchmarks -o python_files='bench_*.py'``; see ``conftest.py``.
"""
