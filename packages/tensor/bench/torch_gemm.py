#!/usr/bin/python3
"""Comparison anchor: float32 torch.matmul throughput on the CPU.

    /usr/bin/python3 packages/tensor/bench/torch_gemm.py [--threads N] [--sizes 256,512,1024]
        [--min-time 0.5]

For each square size n, C = A @ B with A, B ~ N(0,1) float32 [n, n]; each size
is timed over repeated calls for at least --min-time seconds (after a warm-up),
GFLOP/s = 2 n^3 / time. Prints exactly one JSON line on stdout:
  {"impl": "pytorch", "torch": ..., "threads": n, "blas_threads": "n", "dtype": "float32",
   "gflops": {"256": median, ...}, "gflops_max": {...}, "ms_median": {...}}
--threads is applied both to torch.set_num_threads and, before torch is
imported, to OPENBLAS_NUM_THREADS (Debian's torch does its GEMMs in OpenBLAS,
whose thread pool ignores torch.set_num_threads); an explicit env var wins.
"""

import argparse
import json
import os
import statistics
import sys
import time


def _early_threads(argv):
    """--threads must reach the BLAS before torch is imported: Debian's torch
    calls GEMM through OpenBLAS (pthread build), whose own thread pool ignores
    torch.set_num_threads and defaults to every core."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    n = p.parse_known_args(argv)[0].threads
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(n))
    return n


_early_threads(sys.argv[1:])

import torch  # noqa: E402  (after the thread environment is set)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--sizes", type=str, default="256,512,1024")
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds of timed calls per size")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    gflops, gflops_max, ms = {}, {}, {}
    for n in [int(s) for s in a.sizes.split(",")]:
        A = torch.randn(n, n)
        B = torch.randn(n, n)
        C = torch.empty(n, n)
        for _ in range(3):
            torch.matmul(A, B, out=C)
        times = []
        t_end = time.perf_counter() + a.min_time
        while len(times) < 5 or time.perf_counter() < t_end:
            t0 = time.perf_counter()
            torch.matmul(A, B, out=C)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        flop = 2.0 * n ** 3
        gflops[str(n)] = round(flop / med / 1e9, 2)
        gflops_max[str(n)] = round(flop / min(times) / 1e9, 2)
        ms[str(n)] = round(med * 1e3, 3)
    out = {
        "impl": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "dtype": "float32",
        "gflops": gflops,
        "gflops_max": gflops_max,
        "ms_median": ms,
    }
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
