"""Benchmarks: each figure is printed next to a raw baseline measured in the same run."""
