"""bfloat16 products: nnfast's against its float32 ones and PyTorch's bf16 autocast.

    python bench/bench_bf16_gemm.py [--threads 2] [--rounds 7]

The products of a W3 and a W4 training step (and 2048^3), float32 operands in every case:
nnfast._core.gemm(C, A, B, trans_a, trans_b) and its bf16=True form (the operands rounded to
bfloat16 as they are packed, float32 sums: vdpbf16ps where the CPU has AVX512_BF16), PyTorch's
float32 matmul and the same matmul under torch.autocast("cpu", dtype=torch.bfloat16). Each
configuration is called enough times for ~2 GFLOP a round; nnfast's rounds run first, then
PyTorch's, because PyTorch's OpenMP threads spin for a while after each call and would take
the core nnfast's second thread runs on. Reported: GFLOP/s from the medians, and the ratios of
the float product's and PyTorch bf16's median time to nnfast bf16's (> 1: nnfast bf16 is
faster). Run it on a quiet machine (load < 0.3).
"""
import argparse
import time

import numpy as np

import nnfast
from nnfast import _core

SHAPES = [("W3 L0 X@W", 64, 256, 784, 0, 0), ("W3 L0 A^T@delta", 784, 256, 64, 1, 0),
          ("W3 L1 delta@W^T", 64, 256, 128, 0, 1),
          ("W4 L0 X@W", 256, 2048, 1024, 0, 0), ("W4 L0 A^T@delta", 1024, 2048, 256, 1, 0),
          ("W4 L1 X@W", 256, 2048, 2048, 0, 0), ("W4 L1 A^T@delta", 2048, 2048, 256, 1, 0),
          ("W4 L1 delta@W^T", 256, 2048, 2048, 0, 1), ("square 2048^3", 2048, 2048, 2048, 0, 0)]


def candidates(torch, m, n, k, trans_a, trans_b, rng):
    A = rng.standard_normal((k, m) if trans_a else (m, k), dtype=np.float32)
    B = rng.standard_normal((n, k) if trans_b else (k, n), dtype=np.float32)
    C = np.empty((m, n), np.float32)
    At, Bt = torch.from_numpy(A), torch.from_numpy(B)
    opA, opB = (At.t() if trans_a else At), (Bt.t() if trans_b else Bt)

    def autocast():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return opA @ opB

    return {"nnfast float32": lambda: _core.gemm(C, A, B, trans_a, trans_b),
            "nnfast bf16": lambda: _core.gemm(C, A, B, trans_a, trans_b, bf16=True),
            "PyTorch float32": lambda: opA @ opB,
            "PyTorch bf16 autocast": autocast}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    import torch

    nnfast.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    info = _core.build_info()
    print(f"nnfast {nnfast.__version__} (gemm {info['gemm_kernel_float32']}), torch "
          f"{torch.__version__}; {args.threads} thread(s), {args.rounds} rounds, GFLOP/s of "
          f"the medians")
    for name, m, n, k, trans_a, trans_b in SHAPES:
        fns = candidates(torch, m, n, k, trans_a, trans_b, rng)
        calls = max(1, int(2e9 / (2 * m * n * k)))
        times = {key: [] for key in fns}
        for f in fns.values():
            f(), f()
        for group in (list(fns)[:2], list(fns)[2:]):
            for _ in range(args.rounds):
                for key in group:
                    start = time.perf_counter()
                    for _ in range(calls):
                        fns[key]()
                    times[key].append((time.perf_counter() - start) / calls)
        median = {key: float(np.median(t)) for key, t in times.items()}
        rates = "  ".join(f"{key} {2 * m * n * k / t / 1e9:6.1f}" for key, t in median.items())
        bf16 = median["nnfast bf16"]
        print(f"  {name:16s} {m}x{n}x{k}  {rates}  bf16: "
              f"{median['nnfast float32'] / bf16:.2f}x nnfast float32, "
              f"{median['PyTorch bf16 autocast'] / bf16:.2f}x PyTorch bf16")


if __name__ == "__main__":
    main()
