#!/usr/bin/python3
"""Benchmark anchor: PyTorch eager causal attention, forward + backward, on the CPU.

    /usr/bin/python3 packages/tensor/bench/torch_attention.py --B 4 --H 8 --D 64 --T 128,512,1024 --threads 2

Eager attention as the SEEKR reference code runs it: scores = q k^T / sqrt(d), causal mask, softmax (the full
[B, H, T, T] map), @ v; backward of sum(out * w). Prints one JSON line per T:
{"impl": "pytorch", "T": ..., "ms_median": ..., "threads": ...}
"""
import argparse
import json
import os
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--B", type=int, default=4)
    ap.add_argument("--H", type=int, default=8)
    ap.add_argument("--D", type=int, default=64)
    ap.add_argument("--T", type=str, default="128,512,1024")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(a.threads))
    import torch

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for T in [int(x) for x in a.T.split(",")]:
        q = torch.randn(a.B, a.H, T, a.D, requires_grad=True)
        k = torch.randn(a.B, a.H, T, a.D, requires_grad=True)
        v = torch.randn(a.B, a.H, T, a.D, requires_grad=True)
        w = torch.randn(a.B, a.H, T, a.D)
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)

        def step():
            s = (q @ k.transpose(-1, -2)) / (a.D ** 0.5)
            s = s.masked_fill(mask, float("-inf"))
            p = torch.softmax(s, -1)
            o = p @ v
            (o * w).sum().backward()
            q.grad = k.grad = v.grad = None

        step()
        times = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "T": T, "B": a.B, "H": a.H, "D": a.D,
                          "threads": a.threads, "ms_median": statistics.median(times) * 1e3}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
