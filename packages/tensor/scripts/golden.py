#!/usr/bin/python3
"""Golden fixtures for the TypeScript tensor engine's tests.

Rerun (from the monorepo root) with Debian's PyTorch 1.13 interpreter:

    /usr/bin/python3 packages/tensor/scripts/golden.py

It (re)writes, deterministically:

    packages/tensor/test/fixtures/llama_step.safetensors
    packages/tensor/test/fixtures/ops.safetensors

PyTorch is only a tool for producing these committed files (and the benchmark
anchor in packages/tensor/bench/); it is never a runtime dependency. See
packages/tensor/test/fixtures/README.md for the contents and naming scheme.

Determinism: float32 everywhere, torch.set_num_threads(1) so that reductions
are summed in a fixed order, and every fixture / op case reseeds the generator
from a stable hash of its name, so adding a case does not change the others.

torch 1.13 ships without the `safetensors` package, so the format is written by
hand (see write_safetensors) and read back (read_safetensors) to check that the
writer round-trips bit-exactly.
"""

import json
import math
import os
import struct
import sys
import zlib
from collections import OrderedDict

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(HERE, "..", "test", "fixtures"))

IGNORE_INDEX = -100

# --------------------------------------------------------------------------
# safetensors, by hand
# --------------------------------------------------------------------------

_DTYPES = {torch.float32: "F32", torch.int32: "I32"}
_FROM_DTYPE = {"F32": torch.float32, "I32": torch.int32}


def _to_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype not in _DTYPES:
        raise TypeError("unsupported dtype %s" % t.dtype)
    # numpy() is host-endian; force little-endian explicitly.
    a = t.numpy()
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return a.tobytes(order="C")


def write_safetensors(path, tensors, metadata):
    """tensors: ordered mapping name -> float32/int32 tensor; metadata: str->str.

    Layout: u64 little-endian N, then N bytes of UTF-8 JSON header (padded with
    spaces to a multiple of 8), then the tensor bytes, contiguous, in header
    order; data_offsets are relative to the first byte after the header.
    """
    header = OrderedDict()
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("__metadata__ must map str -> str")
        header["__metadata__"] = OrderedDict(metadata)
    blobs = []
    offset = 0
    for name, t in tensors.items():
        if name == "__metadata__":
            raise ValueError("reserved name")
        b = _to_bytes(t)
        header[name] = OrderedDict(
            [
                ("dtype", _DTYPES[t.dtype]),
                ("shape", [int(s) for s in t.shape]),
                ("data_offsets", [offset, offset + len(b)]),
            ]
        )
        blobs.append(b)
        offset += len(b)
    hjson = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Returns (OrderedDict name -> tensor, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"), object_pairs_hook=OrderedDict)
    data = raw[8 + n :]
    meta = header.pop("__metadata__", {})
    out = OrderedDict()
    expected = 0
    for name, info in header.items():
        begin, end = info["data_offsets"]
        if begin != expected:
            raise ValueError("%s: non-contiguous data (%d != %d)" % (name, begin, expected))
        expected = end
        dtype = _FROM_DTYPE[info["dtype"]]
        numel = 1
        for s in info["shape"]:
            numel *= s
        if end - begin != numel * 4:
            raise ValueError("%s: byte size mismatch" % name)
        buf = bytearray(data[begin:end])
        t = torch.frombuffer(buf, dtype=dtype) if numel else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"]).clone()
    if expected != len(data):
        raise ValueError("trailing bytes after the last tensor")
    return out, meta


def write_and_verify(path, tensors, metadata):
    write_safetensors(path, tensors, metadata)
    back, meta = read_safetensors(path)
    assert list(back.keys()) == list(tensors.keys()), "name order changed"
    assert meta == metadata, "metadata changed"
    for k, t in tensors.items():
        b = back[k]
        assert b.dtype == t.dtype and tuple(b.shape) == tuple(t.shape), k
        # bit-exact (also distinguishes -0.0 / NaN payloads)
        assert _to_bytes(b) == _to_bytes(t), k
    return os.path.getsize(path)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def seed(name):
    torch.manual_seed(zlib.crc32(name.encode("utf-8")))


def rotate_half(x):
    d = x.shape[-1] // 2
    return torch.cat((-x[..., d:], x[..., :d]), dim=-1)


def rope_cos_sin(T, head_dim, theta):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    pos = torch.arange(T, dtype=torch.int64).float()
    freqs = torch.outer(pos, inv_freq)  # [T, head_dim/2]
    emb = torch.cat((freqs, freqs), dim=-1)  # [T, head_dim]
    return emb.cos(), emb.sin()


def apply_rope(x, cos, sin):
    # x [B, H, T, D]; cos/sin [T, D] broadcast over B, H
    return x * cos + rotate_half(x) * sin


def rms_norm(x, weight, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(var + eps))


def causal_attention(q, k, v, scale):
    # q [B, Hq, T, D], k/v [B, Hkv, T, D]; kv head j serves query heads j*g .. j*g+g-1
    g = q.shape[1] // k.shape[1]
    if g > 1:
        k = k.repeat_interleave(g, dim=1)
        v = v.repeat_interleave(g, dim=1)
    T = q.shape[2]
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    scores = scores.masked_fill(mask, float("-inf"))
    p = torch.softmax(scores, dim=-1)
    return torch.matmul(p, v)


def causal_attention_loop(q, k, v, scale):
    """Independent (slow, float64) reference used only to cross-check."""
    q, k, v = q.double(), k.double(), v.double()
    B, Hq, T, D = q.shape
    g = Hq // k.shape[1]
    out = torch.zeros(B, Hq, T, D, dtype=torch.float64)
    for b in range(B):
        for h in range(Hq):
            kh = h // g
            for i in range(T):
                s = torch.stack([(q[b, h, i] * k[b, kh, j]).sum() * scale for j in range(i + 1)])
                p = torch.exp(s - s.max())
                p = p / p.sum()
                for j in range(i + 1):
                    out[b, h, i] += p[j] * v[b, kh, j]
    return out


# --------------------------------------------------------------------------
# a) tiny LLaMA step
# --------------------------------------------------------------------------

LLAMA_CONFIG = OrderedDict(
    [
        ("vocab_size", 64),
        ("hidden_size", 32),
        ("num_hidden_layers", 2),
        ("num_attention_heads", 4),
        ("num_key_value_heads", 2),
        ("head_dim", 8),
        ("intermediate_size", 48),
        ("rms_norm_eps", 1e-5),
        ("rope_theta", 10000.0),
        ("tie_word_embeddings", False),
        ("hidden_act", "silu"),
        ("attention_bias", False),
        ("mlp_bias", False),
        ("batch_size", 2),
        ("seq_len", 8),
        ("ignore_index", IGNORE_INDEX),
    ]
)

LLAMA_OPTIMIZER = OrderedDict(
    [
        ("type", "AdamW"),
        ("lr", 1e-2),
        ("betas", [0.9, 0.95]),
        ("eps", 1e-8),
        ("weight_decay", 0.1),
        ("clip_grad_norm", 1.0),
        ("clip_coef_eps", 1e-6),
        ("steps", 3),
    ]
)


def llama_param_shapes(cfg):
    H = cfg["hidden_size"]
    V = cfg["vocab_size"]
    I = cfg["intermediate_size"]
    D = cfg["head_dim"]
    nq = cfg["num_attention_heads"] * D
    nkv = cfg["num_key_value_heads"] * D
    shapes = OrderedDict()
    shapes["model.embed_tokens.weight"] = [V, H]
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        shapes[p + "self_attn.q_proj.weight"] = [nq, H]
        shapes[p + "self_attn.k_proj.weight"] = [nkv, H]
        shapes[p + "self_attn.v_proj.weight"] = [nkv, H]
        shapes[p + "self_attn.o_proj.weight"] = [H, nq]
        shapes[p + "mlp.gate_proj.weight"] = [I, H]
        shapes[p + "mlp.up_proj.weight"] = [I, H]
        shapes[p + "mlp.down_proj.weight"] = [H, I]
        shapes[p + "input_layernorm.weight"] = [H]
        shapes[p + "post_attention_layernorm.weight"] = [H]
    shapes["model.norm.weight"] = [H]
    shapes["lm_head.weight"] = [V, H]
    return shapes


def llama_init(cfg, std=0.1):
    params = OrderedDict()
    for name, shape in llama_param_shapes(cfg).items():
        if len(shape) == 1:  # RMSNorm weights
            params[name] = 1.0 + 0.1 * torch.randn(shape)
        else:
            params[name] = torch.randn(shape) * std
    return params


def llama_forward(p, input_ids, cfg, attention=causal_attention, amp=None):
    """amp=torch.bfloat16 / torch.float16 spells out Seekr's autocast policy: every linear runs on operands cast to amp
    (result in amp), RoPE and attention compute in float32 from their amp inputs and round their result to amp once,
    silu / products run in amp (computed in float32, rounded), residual adds promote to float32, RMSNorm and the loss
    stay float32."""
    B, T = input_ids.shape
    H = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg["num_key_value_heads"]
    D = cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    cos, sin = rope_cos_sin(T, D, cfg["rope_theta"])
    if amp is None:
        lin = F.linear
        rope = lambda t: apply_rope(t, cos, sin)
        attn = attention
    elif amp == torch.bfloat16:  # torch's own bf16 CPU kernels (f32 accumulation, one rounding)
        lin = lambda a, w: F.linear(a.to(amp), w.to(amp))
        rope = lambda t: apply_rope(t.float(), cos, sin).to(amp)
        attn = lambda q_, k_, v_, s_: attention(q_.float(), k_.float(), v_.float(), s_).to(amp)
    else:  # torch 1.13 has no f16 CPU matmul / silu: the same math as f32 on f16 values, rounded once (products of
        # f16 values are exact in f32)
        lin = lambda a, w: F.linear(a.to(amp).float(), w.to(amp).float()).to(amp)
        rope = lambda t: apply_rope(t.float(), cos, sin).to(amp)
        attn = lambda q_, k_, v_, s_: attention(q_.float(), k_.float(), v_.float(), s_).to(amp)
    act = (lambda t: F.silu(t.float()).to(t.dtype)) if amp == torch.float16 else F.silu
    mul = (lambda a_, b_: (a_.float() * b_.float()).to(a_.dtype)) if amp == torch.float16 else (lambda a_, b_: a_ * b_)
    x = p["model.embed_tokens.weight"][input_ids.long()]  # [B, T, H]
    for i in range(cfg["num_hidden_layers"]):
        pre = "model.layers.%d." % i
        h = rms_norm(x, p[pre + "input_layernorm.weight"], eps)
        q = lin(h, p[pre + "self_attn.q_proj.weight"]).view(B, T, nh, D).transpose(1, 2)
        k = lin(h, p[pre + "self_attn.k_proj.weight"]).view(B, T, nkv, D).transpose(1, 2)
        v = lin(h, p[pre + "self_attn.v_proj.weight"]).view(B, T, nkv, D).transpose(1, 2)
        q = rope(q)
        k = rope(k)
        a = attn(q, k, v, 1.0 / math.sqrt(D))  # [B, nh, T, D]
        a = a.transpose(1, 2).reshape(B, T, nh * D)
        x = x + lin(a, p[pre + "self_attn.o_proj.weight"])
        h2 = rms_norm(x, p[pre + "post_attention_layernorm.weight"], eps)
        m = mul(act(lin(h2, p[pre + "mlp.gate_proj.weight"])), lin(h2, p[pre + "mlp.up_proj.weight"]))
        x = x + lin(m, p[pre + "mlp.down_proj.weight"])
    x = rms_norm(x, p["model.norm.weight"], eps)
    return lin(x, p["lm_head.weight"])  # [B, T, V]


def llama_loss(logits, targets, V):
    return F.cross_entropy(logits.float().reshape(-1, V), targets.reshape(-1).long(), ignore_index=IGNORE_INDEX)


def llama_batch(cfg):
    """The seeded initial parameters and the token batch shared by every llama_step fixture."""
    V = cfg["vocab_size"]
    B, T = cfg["batch_size"], cfg["seq_len"]
    seed("llama_step")
    init = llama_init(cfg)
    input_ids = torch.randint(0, V, (B, T), dtype=torch.int32)
    targets = torch.full((B, T), IGNORE_INDEX, dtype=torch.int32)
    targets[:, : T - 1] = input_ids[:, 1:]
    targets[0, 0:3] = IGNORE_INDEX
    targets[1, 0:2] = IGNORE_INDEX
    return init, input_ids, targets


def make_llama():
    cfg = LLAMA_CONFIG
    V = cfg["vocab_size"]
    init, input_ids, targets = llama_batch(cfg)

    # forward/backward at the initial parameters
    p = OrderedDict((k, v.clone().requires_grad_(True)) for k, v in init.items())
    logits = llama_forward(p, input_ids, cfg)
    loss = llama_loss(logits, targets, V)
    loss.backward()
    grads = OrderedDict((k, v.grad.detach().clone()) for k, v in p.items())

    # cross-check the forward with float64 params and a loop attention
    p64 = OrderedDict((k, v.detach().double()) for k, v in init.items())
    logits64 = llama_forward(p64, input_ids, cfg, attention=lambda q, k, v, s: causal_attention_loop(q, k, v, s))
    err = (logits64 - logits.detach().double()).abs().max().item()
    assert err < 1e-4, "llama forward cross-check failed: %g" % err

    # three optimizer steps from the initial parameters
    o = LLAMA_OPTIMIZER
    params = OrderedDict((k, v.clone().requires_grad_(True)) for k, v in init.items())
    opt = torch.optim.AdamW(
        list(params.values()), lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"], weight_decay=o["weight_decay"]
    )
    step_losses, grad_norms = [], []
    for _ in range(o["steps"]):
        opt.zero_grad(set_to_none=True)
        l = llama_loss(llama_forward(params, input_ids, cfg), targets, V)
        l.backward()
        gn = torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm=o["clip_grad_norm"])
        opt.step()
        step_losses.append(l.detach().item())
        grad_norms.append(float(gn))
    assert abs(step_losses[0] - loss.item()) == 0.0

    tensors = OrderedDict()
    for k, v in init.items():
        tensors[k] = v
    tensors["input_ids"] = input_ids
    tensors["targets"] = targets
    tensors["logits"] = logits.detach()
    tensors["loss"] = loss.detach().reshape(1)
    for k, g in grads.items():
        tensors["grad." + k] = g
    tensors["step_losses"] = torch.tensor(step_losses, dtype=torch.float32)
    tensors["grad_norms"] = torch.tensor(grad_norms, dtype=torch.float32)
    for k, v in params.items():
        tensors["step3." + k] = v.detach().clone()
    meta = OrderedDict(
        [
            ("config", json.dumps(cfg)),
            ("optimizer", json.dumps(o)),
            ("generator", "packages/tensor/scripts/golden.py (torch %s)" % torch.__version__),
        ]
    )
    return tensors, meta, {"loss": loss.item(), "step_losses": step_losses, "grad_norms": grad_norms}


def make_llama_amp(amp, name):
    """The llama_step batch and initial parameters, trained under Seekr's autocast policy in `amp` (see llama_forward):
    logits, loss and gradients at the initial parameters, then three clipped AdamW steps on float32 master weights.
    float16 uses a static loss scale of 1024 (gradients unscaled before clipping), as GradScaler does between
    overflows."""
    cfg = LLAMA_CONFIG
    V = cfg["vocab_size"]
    init, input_ids, targets = llama_batch(cfg)
    scale = 1024.0 if amp == torch.float16 else 1.0

    p = OrderedDict((k, v.clone().requires_grad_(True)) for k, v in init.items())
    logits = llama_forward(p, input_ids, cfg, amp=amp)
    assert logits.dtype == amp
    loss = llama_loss(logits, targets, V)
    (loss * scale).backward()
    grads = OrderedDict((k, (v.grad / scale).detach().clone()) for k, v in p.items())

    o = LLAMA_OPTIMIZER
    params = OrderedDict((k, v.clone().requires_grad_(True)) for k, v in init.items())
    opt = torch.optim.AdamW(
        list(params.values()), lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"], weight_decay=o["weight_decay"]
    )
    step_losses = []
    for _ in range(o["steps"]):
        opt.zero_grad(set_to_none=True)
        l = llama_loss(llama_forward(params, input_ids, cfg, amp=amp), targets, V)
        (l * scale).backward()
        for v in params.values():
            v.grad.div_(scale)
        torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm=o["clip_grad_norm"])
        opt.step()
        step_losses.append(l.detach().item())

    tensors = OrderedDict()
    tensors["logits"] = logits.detach().float()  # exact: every amp value is a float32
    tensors["loss"] = loss.detach().reshape(1)
    for k, g in grads.items():
        tensors["grad." + k] = g
    tensors["step_losses"] = torch.tensor(step_losses, dtype=torch.float32)
    for k, v in params.items():
        tensors["step3." + k] = v.detach().clone()
    meta = OrderedDict(
        [
            ("amp", name),
            ("loss_scale", json.dumps(scale)),
            ("policy", "linear operands cast to amp; rope/attention in f32 rounded to amp; residual adds f32; rmsnorm and loss f32"),
            ("generator", "packages/tensor/scripts/golden.py (torch %s)" % torch.__version__),
        ]
    )
    return tensors, meta


# --------------------------------------------------------------------------
# b) per-op cases
# --------------------------------------------------------------------------


def rn(*shape):
    return torch.randn(*shape)


def pos(*shape):
    return torch.randn(*shape).abs() + 0.5


def adamw_reference(param, grad, steps, lr, betas, eps, wd):
    p = param.clone().requires_grad_(True)
    opt = torch.optim.AdamW([p], lr=lr, betas=betas, eps=eps, weight_decay=wd)
    for _ in range(steps):
        p.grad = grad.clone()
        opt.step()
    st = opt.state[p]
    return p.detach().clone(), st["exp_avg"].clone(), st["exp_avg_sq"].clone()


def make_ops():
    tensors = OrderedDict()
    cases = OrderedDict()

    def case(name, op, args, inputs, fn, diff=None):
        """inputs: list of tensors (already generated under seed(name));
        diff: indices of inputs that get gradients (default: all float inputs)."""
        if diff is None:
            diff = [i for i, t in enumerate(inputs) if t.dtype == torch.float32]
        xs = [t.clone().requires_grad_(i in diff) for i, t in enumerate(inputs)]
        out = fn(*xs)
        w = torch.randn(out.shape)
        (out * w).sum().backward()
        for i, t in enumerate(inputs):
            tensors["%s.in%d" % (name, i)] = t
        tensors["%s.out" % name] = out.detach()
        tensors["%s.w" % name] = w
        for i in diff:
            tensors["%s.grad%d" % (name, i)] = xs[i].grad.detach().clone()
        cases[name] = OrderedDict([("op", op), ("args", args), ("grads", diff)])

    def s(name):
        seed("ops." + name)
        return name

    # matmul family
    n = s("matmul_nn"); case(n, "matmul", {"transpose_a": False, "transpose_b": False}, [rn(3, 4), rn(4, 5)], lambda a, b: a @ b)
    n = s("matmul_tn"); case(n, "matmul", {"transpose_a": True, "transpose_b": False}, [rn(4, 3), rn(4, 5)], lambda a, b: a.t() @ b)
    n = s("matmul_nt"); case(n, "matmul", {"transpose_a": False, "transpose_b": True}, [rn(3, 4), rn(5, 4)], lambda a, b: a @ b.t())
    n = s("bmm"); case(n, "matmul", {"transpose_a": False, "transpose_b": False}, [rn(2, 3, 4), rn(2, 4, 5)], torch.matmul)
    n = s("bmm_broadcast"); case(n, "matmul", {"transpose_a": False, "transpose_b": False}, [rn(2, 3, 4), rn(4, 5)], torch.matmul)

    # broadcasting binary ops
    n = s("add_broadcast"); case(n, "add", {}, [rn(2, 3, 4), rn(3, 1)], torch.add)
    n = s("mul_broadcast"); case(n, "mul", {}, [rn(2, 1, 4), rn(3, 4)], torch.mul)
    n = s("div"); case(n, "div", {}, [rn(2, 3), pos(2, 3)], torch.div)
    n = s("sub_broadcast"); case(n, "sub", {}, [rn(4), rn(2, 4)], torch.sub)

    # unary ops on [3,5]
    n = s("exp"); case(n, "exp", {}, [rn(3, 5)], torch.exp)
    n = s("log"); case(n, "log", {}, [pos(3, 5)], torch.log)
    n = s("sqrt"); case(n, "sqrt", {}, [pos(3, 5)], torch.sqrt)
    n = s("rsqrt"); case(n, "rsqrt", {}, [pos(3, 5)], torch.rsqrt)
    n = s("tanh"); case(n, "tanh", {}, [rn(3, 5)], torch.tanh)
    n = s("sigmoid"); case(n, "sigmoid", {}, [rn(3, 5)], torch.sigmoid)
    n = s("silu"); case(n, "silu", {}, [rn(3, 5)], F.silu)
    n = s("gelu"); case(n, "gelu", {"approximate": "none"}, [rn(3, 5)], lambda x: F.gelu(x, approximate="none"))
    n = s("relu"); case(n, "relu", {}, [rn(3, 5)], F.relu)
    n = s("pow_scalar"); case(n, "pow", {"exponent": 1.5}, [rn(3, 5).abs() + 0.1], lambda x: x ** 1.5)

    # reductions
    n = s("sum_axis1_keepdim"); case(n, "sum", {"dims": [1], "keepdim": True}, [rn(2, 3, 4)], lambda x: x.sum(dim=1, keepdim=True))
    n = s("mean_axes02"); case(n, "mean", {"dims": [0, 2], "keepdim": False}, [rn(2, 3, 4)], lambda x: x.mean(dim=(0, 2)))
    n = s("max_axis2"); case(n, "max", {"dims": [2], "keepdim": False}, [rn(2, 3, 4)], lambda x: x.max(dim=2).values)
    n = s("sum_all"); case(n, "sum", {"dims": None, "keepdim": False}, [rn(2, 3, 4)], lambda x: x.sum())

    n = s("softmax"); case(n, "softmax", {"dim": -1}, [rn(2, 3, 5)], lambda x: torch.softmax(x, dim=-1))
    n = s("log_softmax"); case(n, "log_softmax", {"dim": -1}, [rn(2, 3, 5)], lambda x: torch.log_softmax(x, dim=-1))

    n = s("cross_entropy")
    logits = rn(6, 7)
    tgt = torch.randint(0, 7, (6,), dtype=torch.int32)
    tgt[1] = IGNORE_INDEX
    tgt[4] = IGNORE_INDEX
    case(n, "cross_entropy", {"ignore_index": IGNORE_INDEX, "reduction": "mean"}, [logits, tgt],
         lambda x, t: F.cross_entropy(x, t.long(), ignore_index=IGNORE_INDEX), diff=[0])

    n = s("rms_norm"); case(n, "rms_norm", {"eps": 1e-5}, [rn(2, 3, 8), 1.0 + 0.1 * rn(8)], lambda x, w: rms_norm(x, w, 1e-5))

    n = s("rope")
    cos, sin = rope_cos_sin(6, 8, 10000.0)
    case(n, "rope", {"theta": 10000.0, "positions": list(range(6)), "layout": "BHTD", "convention": "hf_rotate_half"},
         [rn(2, 4, 6, 8)], lambda x: apply_rope(x, cos, sin))

    n = s("causal_attention")
    q, k, v = rn(2, 4, 6, 8), rn(2, 2, 6, 8), rn(2, 2, 6, 8)
    scale = 1.0 / math.sqrt(8)
    case(n, "causal_attention", {"scale": scale, "causal": True, "gqa_group": 2, "kv_repeat": "repeat_interleave", "layout": "BHTD"},
         [q, k, v], lambda a, b, c: causal_attention(a, b, c, scale))
    err = (causal_attention_loop(q, k, v, scale) - tensors[n + ".out"].double()).abs().max().item()
    assert err < 1e-5, "attention cross-check failed: %g" % err

    n = s("embedding")
    table = rn(10, 4)
    ids = torch.tensor([[3, 7, 3], [0, 9, 7]], dtype=torch.int32)
    case(n, "embedding", {}, [table, ids], lambda t, i: t[i.long()], diff=[0])

    n = s("where")
    cond = (torch.rand(3, 4) < 0.5).float()
    a, b = rn(3, 4), rn(1, 4)
    case(n, "where", {}, [cond, a, b], lambda c, x, y: torch.where(c != 0, x, y), diff=[1, 2])

    n = s("permute"); case(n, "permute", {"dims": [2, 0, 1]}, [rn(2, 3, 4)], lambda x: x.permute(2, 0, 1))
    n = s("concat"); case(n, "concat", {"dim": 1}, [rn(2, 3), rn(2, 2)], lambda a, b: torch.cat([a, b], dim=1))
    n = s("slice")
    case(n, "slice", {"ranges": [[1, 3], None, [2, 4]], "python": "x[1:3, :, 2:4]"}, [rn(4, 3, 5)], lambda x: x[1:3, :, 2:4])

    # AdamW
    hp = OrderedDict([("lr", 1e-2), ("betas", [0.9, 0.95]), ("eps", 1e-8), ("weight_decay", 0.1)])
    for name, steps in (("adamw_step", 1), ("adamw_step5", 5)):
        seed("ops.adamw_step")  # both cases share the same param and grad
        param, grad = rn(5), rn(5)
        out, m, v = adamw_reference(param, grad, steps, hp["lr"], tuple(hp["betas"]), hp["eps"], hp["weight_decay"])
        tensors[name + ".param"] = param
        tensors[name + ".grad"] = grad
        tensors[name + ".out"] = out
        tensors[name + ".exp_avg"] = m
        tensors[name + ".exp_avg_sq"] = v
        args = OrderedDict(hp)
        args["steps"] = steps
        cases[name] = OrderedDict([("op", "adamw"), ("args", args), ("grads", [])])

    meta = OrderedDict(
        [
            ("cases", json.dumps(cases)),
            ("generator", "packages/tensor/scripts/golden.py (torch %s)" % torch.__version__),
        ]
    )
    return tensors, meta


# --------------------------------------------------------------------------


def self_test_format(tmpdir):
    t = OrderedDict(
        [
            ("a", torch.tensor([1.0, -0.0, float("inf"), 3.5e-40])),
            ("b", torch.tensor([[1, -2], [2147483647, -2147483648]], dtype=torch.int32)),
            ("scalar", torch.tensor(2.5)),
            ("empty", torch.zeros(0, 3)),
        ]
    )
    path = os.path.join(tmpdir, ".golden_selftest.safetensors")
    write_and_verify(path, t, {"k": "v \u00e9"})
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0 and raw[8 + n - 1 : 8 + n] in (b" ", b"}")
    os.remove(path)


def main():
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    torch.use_deterministic_algorithms(True)
    os.makedirs(FIXTURES, exist_ok=True)
    self_test_format(FIXTURES)

    tensors, meta, info = make_llama()
    p1 = os.path.join(FIXTURES, "llama_step.safetensors")
    n1 = write_and_verify(p1, tensors, meta)
    print("wrote %s (%d bytes, %d tensors)" % (os.path.relpath(p1), n1, len(tensors)))
    print("  loss %.6f  step_losses %s  grad_norms %s" % (
        info["loss"], ["%.6f" % x for x in info["step_losses"]], ["%.6f" % x for x in info["grad_norms"]]))

    for amp, name in ((torch.bfloat16, "bfloat16"), (torch.float16, "float16")):
        tensors, meta = make_llama_amp(amp, name)
        pa = os.path.join(FIXTURES, "llama_step_%s.safetensors" % name)
        na = write_and_verify(pa, tensors, meta)
        n1 += na
        print("wrote %s (%d bytes, %d tensors)" % (os.path.relpath(pa), na, len(tensors)))

    tensors, meta = make_ops()
    p2 = os.path.join(FIXTURES, "ops.safetensors")
    n2 = write_and_verify(p2, tensors, meta)
    print("wrote %s (%d bytes, %d tensors, %d cases)" % (
        os.path.relpath(p2), n2, len(tensors), len(json.loads(meta["cases"]))))
    assert n1 + n2 < 1 << 20, "fixtures exceed 1 MB"
    return 0


if __name__ == "__main__":
    sys.exit(main())
