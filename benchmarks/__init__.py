"""Benchmarks: each figure is measured beside its baseline, in the same run, on the same input."""
