"""Compare nnfast with the pure-Python reference, NumPy, scikit-learn and PyTorch on the
workloads W1-W4 (see nnfast.benchmark): `python bench/compare.py --help` for the options.

The same as `nnfast bench`. It uses the installed nnfast; without one, the checkout's
python/ folder (with the compiled _core copied in, as in a development build).
"""
import os
import sys

try:
    from nnfast.benchmark import main
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                                    "python"))
    from nnfast.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
