#!/usr/bin/env python3
"""Puts every kernel launch of the given .cu files on the device's compute stream: `<<<grid, block>>>` and
`<<<grid, block, smem>>>` become `<<<grid, block, smem, SEEKR_STREAM>>>` (launches that name a stream are left as they
are). Idempotent; prints the launches it changed. Usage: python3 native/scripts/stream-launches.py native/src/cuda/*.cu"""
import sys


def split_top(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


for path in sys.argv[1:]:
    src = open(path).read()
    out, i, changed = "", 0, 0
    while True:
        j = src.find("<<<", i)
        if j < 0:
            out += src[i:]
            break
        k = src.find(">>>", j)
        inner = src[j + 3 : k]
        parts = split_top(inner)
        if len(parts) == 2:
            inner = inner + ", 0, SEEKR_STREAM"
            changed += 1
        elif len(parts) == 3:
            inner = inner + ", SEEKR_STREAM"
            changed += 1
        out += src[i : j + 3] + inner + ">>>"
        i = k + 3
    if changed:
        open(path, "w").write(out)
    print(f"{path}: {changed} launches put on the compute stream")
