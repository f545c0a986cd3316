"""Benchmarks for the issues' speed targets: `make bench` (python -m bench) runs them all."""
