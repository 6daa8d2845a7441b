"""PyTorch anchor on the GPU machine: causal attention fwd+bwd (SDPA flash, bf16 and f32) and the reference
SEEKR distillation (eager attention with all maps, KL on 1/8 heads x 100 rows), same shapes as attention-gpu.mjs."""
import json, time
import torch
import torch.nn.functional as F

def t(fn, reps=10):
    fn(); torch.cuda.synchronize(); t0 = time.perf_counter()
    for _ in range(reps): fn()
    torch.cuda.synchronize(); return (time.perf_counter() - t0) / reps * 1e3

B, H, D = 4, 16, 64
for T in (512, 1024, 2048):
    for dt in (torch.float32, torch.bfloat16):
        q, k, v = (torch.randn(B, H, T, D, device="cuda", dtype=dt, requires_grad=True) for _ in range(3))
        g = torch.randn(B, H, T, D, device="cuda", dtype=dt)
        fwd = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)
        def fb():
            o = fwd(); o.backward(g)
        f = t(fwd); fbm = t(fb)
        fl = 4 * B * H * T * T * D / 2
        print(json.dumps({"impl": "pytorch-sdpa", "dtype": str(dt), "T": T, "fwd_ms": f, "fwd_bwd_ms": fbm, "fwd_tflops": fl / f / 1e9, "fwd_bwd_tflops": 3.5 * fl / fbm / 1e9}))
    q, k, v = (torch.randn(B, H, T, D, device="cuda", requires_grad=True) for _ in range(3))
    rows = torch.randint(0, T, (B, 100), device="cuda")
    teacher = torch.full((B, H // 8, 100, T), 1.0 / T, device="cuda")
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool, device="cuda"), 1)
    def ref():
        s = (q @ k.transpose(-1, -2)) / D ** 0.5
        p = torch.softmax(s.masked_fill(mask, float("-inf")), -1)
        sel = p[:, : H // 8].gather(2, rows[:, None, :, None].expand(B, H // 8, 100, T))
        kl = (teacher * (teacher.log() - sel.clamp_min(1e-30).log())).sum() / (B * (H // 8) * 100)
        kl.backward()
    print(json.dumps({"impl": "pytorch-eager-reference", "what": "distill fwd+bwd via full maps (1/8 heads, 100 rows)", "T": T, "ms": t(ref), "peak_mem_mib": torch.cuda.max_memory_allocated() / 2**20}))
