"""nnfast's benchmarks: the workloads W1-W4 of the design trained by nnfast, the pure-Python
reference, NumPy, scikit-learn and PyTorch from the same weights, timed interleaved and
cross-checked, plus GEMM speed against NumPy and the peak memory of a fit.

Run it with `nnfast bench`, `python -m nnfast.benchmark` or `python bench/compare.py`;
`nnfast bench --help` lists the options. `pip install "nnfast[bench]"` brings the libraries
compared; any that is missing is reported as not installed.
"""
from .cli import main

__all__ = ["main"]
