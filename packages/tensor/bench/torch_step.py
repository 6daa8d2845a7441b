#!/usr/bin/python3
"""Benchmark anchor: one PyTorch CPU training step of the LLaMA-style model.

Run from the monorepo root with Debian's PyTorch (a tool, not a dependency):

    /usr/bin/python3 packages/tensor/bench/torch_step.py [--warmup 3] [--steps 10]
        [--threads N] [--config '{"batch_size": 8}']

Same architecture as packages/tensor/scripts/golden.py (HF Llama: RMSNorm,
bias-free q/k/v/o, RoPE with rotate_half, causal softmax attention, SwiGLU MLP,
final norm, untied lm_head), here with multi-head attention
(num_key_value_heads = num_attention_heads). One timed step is: zero grads,
forward, mean cross-entropy, backward, clip_grad_norm_(1.0), AdamW.step().
The token batch is drawn once, outside the timed region.

Prints exactly one JSON line on stdout:
  {"impl": "pytorch", "torch": ..., "threads": n, "blas_threads": "n",
   "attention": "eager"|"sdpa", "step_ms_median": ..., "step_ms_min": ..., "tokens_per_s": ..., "params": ...,
   "config": {...}}
tokens_per_s = batch_size * seq_len / (step_ms_median / 1000).

Threads: torch.set_num_threads(--threads) governs ATen's OpenMP pool only. The
Debian build runs GEMMs in OpenBLAS (pthread flavour), whose pool ignores it, so
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS are set to --threads
before torch is imported (an explicitly set environment variable wins;
"blas_threads" reports what OpenBLAS got). The container shares its cores with
other work, so compare medians from back-to-back runs only.
"""

import argparse
import contextlib
import json
import math
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
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_CONFIG = {
    "vocab_size": 256,
    "hidden_size": 256,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 8,
    "intermediate_size": 688,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "seq_len": 128,
    "batch_size": 16,
    "lr": 1e-3,
    "betas": [0.9, 0.95],
    "eps": 1e-8,
    "weight_decay": 0.1,
    "clip_grad_norm": 1.0,
    "init_std": 0.02,
    "seed": 0,
}

HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    d = x.shape[-1] // 2
    return torch.cat((-x[..., d:], x[..., :d]), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh = c["num_attention_heads"]
        self.nkv = c["num_key_value_heads"]
        self.hd = c["hidden_size"] // self.nh
        H = c["hidden_size"]
        self.q_proj = nn.Linear(H, self.nh * self.hd, bias=False)
        self.k_proj = nn.Linear(H, self.nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(H, self.nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.nh * self.hd, H, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        g = self.nh // self.nkv
        if g > 1:
            k = k.repeat_interleave(g, dim=1)
            v = v.repeat_interleave(g, dim=1)
        if HAS_SDPA:
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            s = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.hd))
            s = s.masked_fill(mask, float("-inf"))
            a = torch.matmul(torch.softmax(s, dim=-1), v)
        return self.o_proj(a.transpose(1, 2).reshape(B, T, self.nh * self.hd))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        H, I = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(H, I, bias=False)
        self.up_proj = nn.Linear(H, I, bias=False)
        self.down_proj = nn.Linear(I, H, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, c["init_std"])
        hd = c["hidden_size"] // c["num_attention_heads"]
        T = c["seq_len"]
        inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
        emb = torch.outer(torch.arange(T).float(), inv_freq)
        emb = torch.cat((emb, emb), dim=-1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)
        self.register_buffer("mask", torch.ones(T, T, dtype=torch.bool).triu(1), persistent=False)

    def forward(self, ids):
        T = ids.shape[1]
        cos, sin, mask = self.cos[:T], self.sin[:T], self.mask[:T, :T]
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.norm(x))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--config", type=str, default=None, help="JSON object overriding fields of the default config")
    ap.add_argument("--device", type=str, default="cpu", help="cpu (default) or cuda (the GPU machine's anchor)")
    ap.add_argument("--amp", type=str, default="float32", choices=["float32", "bfloat16", "float16"],
                    help="torch.autocast dtype for forward + loss (float16 adds a GradScaler); float32 = off")
    a = ap.parse_args(argv)

    c = dict(DEFAULT_CONFIG)
    if a.config:
        over = json.loads(a.config)
        unknown = sorted(set(over) - set(c))
        if unknown:
            ap.error("unknown config fields: %s (known: %s)" % (unknown, sorted(c)))
        c.update(over)
    if a.steps < 1:
        ap.error("--steps must be >= 1")

    torch.set_num_threads(a.threads)
    torch.manual_seed(c["seed"])
    model = Llama(c).to(a.device)
    params = [p for p in model.parameters()]
    n_params = sum(p.numel() for p in params)
    opt = torch.optim.AdamW(params, lr=c["lr"], betas=tuple(c["betas"]), eps=c["eps"], weight_decay=c["weight_decay"])
    B, T, V = c["batch_size"], c["seq_len"], c["vocab_size"]
    tokens = torch.randint(0, V, (B, T + 1)).to(a.device)
    ids, targets = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()

    amp = None if a.amp == "float32" else getattr(torch, a.amp)
    dev_type = "cuda" if a.device.startswith("cuda") else "cpu"
    scaler = torch.cuda.amp.GradScaler() if amp == torch.float16 and dev_type == "cuda" else None

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev_type, dtype=amp) if amp is not None else contextlib.nullcontext():
            loss = F.cross_entropy(model(ids).float().reshape(-1, V), targets.reshape(-1))
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, max_norm=c["clip_grad_norm"])
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, max_norm=c["clip_grad_norm"])
            opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    times = []
    loss = float("nan")
    for _ in range(a.steps):
        t0 = time.perf_counter()
        loss = step()
        times.append((time.perf_counter() - t0) * 1e3)
    med = statistics.median(times)
    out = {
        "impl": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "attention": "sdpa" if HAS_SDPA else "eager",
        "device": a.device,
        "amp": a.amp,
        "step_ms_median": round(med, 3),
        "step_ms_min": round(min(times), 3),
        "tokens_per_s": round(B * T / (med / 1e3), 1),
        "params": n_params,
        "config": c,
    }
    if not math.isfinite(loss):
        print("warning: non-finite loss %r" % loss, file=sys.stderr)
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
