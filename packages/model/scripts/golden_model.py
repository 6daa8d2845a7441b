#!/usr/bin/python3
"""PyTorch golden fixtures for @seekr/model: Hugging Face checkpoints of tiny LLaMA models and their outputs.

Rerun from the monorepo root with Debian's PyTorch 1.13 interpreter (no transformers needed; ~1 s):

    /usr/bin/python3 packages/model/scripts/golden_model.py

It (re)writes, deterministically, under packages/model/test/fixtures/:

    gqa/            config.json + model.safetensors (F32): GQA (4 query heads, 2 kv heads), untied lm_head
    gqa-sharded/    the same weights as F16 in 3 shards + model.safetensors.index.json
    tied/           config.json + model.safetensors (BF16): MHA, tie_word_embeddings (no lm_head.weight stored)
    golden.safetensors   inputs and expected outputs (see test/fixtures/README.md)

The model code below follows transformers' modeling_llama.py (LlamaRMSNorm, LlamaRotaryEmbedding, rotate_half,
repeat_kv, eager attention with a min-value additive mask and float32 softmax, LlamaMLP, the causal-LM loss with the
shift inside). Positions are derived from the attention mask as transformers' generate() does:
position_ids = cumsum(mask) - 1, with 1 written at padded positions.
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
# safetensors, by hand (torch 1.13 has no safetensors package)

_ST = {torch.float32: "F32", torch.int32: "I32", torch.bfloat16: "BF16", torch.float16: "F16"}
_FROM = {v: k for k, v in _ST.items()}


def _to_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype in (torch.bfloat16, torch.float16):
        a = t.view(torch.int16).numpy()
    else:
        a = t.numpy()
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return a.tobytes(order="C")


def write_safetensors(path, tensors, metadata):
    header = OrderedDict()
    header["__metadata__"] = OrderedDict(metadata)
    blobs, offset = [], 0
    for name, t in tensors.items():
        b = _to_bytes(t)
        header[name] = OrderedDict([("dtype", _ST[t.dtype]), ("shape", [int(s) for s in t.shape]), ("data_offsets", [offset, offset + len(b)])])
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
    return offset


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"), object_pairs_hook=OrderedDict)
    data = raw[8 + n :]
    meta = header.pop("__metadata__", {})
    out = OrderedDict()
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = _FROM[info["dtype"]]
        buf = bytearray(data[begin:end])
        if dtype in (torch.bfloat16, torch.float16):
            t = torch.frombuffer(buf, dtype=torch.int16).view(dtype)
        else:
            t = torch.frombuffer(buf, dtype=dtype)
        out[name] = t.reshape(info["shape"]).clone()
    return out, meta


def write_and_verify(path, tensors, metadata):
    write_safetensors(path, tensors, metadata)
    back, meta = read_safetensors(path)
    assert list(back.keys()) == list(tensors.keys()) and meta == metadata, path
    for k, t in tensors.items():
        assert back[k].dtype == t.dtype and _to_bytes(back[k]) == _to_bytes(t), (path, k)
    return os.path.getsize(path)


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(json.dumps(obj, indent=2) + "\n")


def seed(name):
    torch.manual_seed(zlib.crc32(name.encode("utf-8")))


# --------------------------------------------------------------------------
# transformers' Llama, written out


def hf_config(c):
    return OrderedDict(
        [
            ("architectures", ["LlamaForCausalLM"]),
            ("model_type", "llama"),
            ("vocab_size", c["vocab_size"]),
            ("hidden_size", c["hidden_size"]),
            ("intermediate_size", c["intermediate_size"]),
            ("num_hidden_layers", c["num_hidden_layers"]),
            ("num_attention_heads", c["num_attention_heads"]),
            ("num_key_value_heads", c["num_key_value_heads"]),
            ("head_dim", c["head_dim"]),
            ("hidden_act", "silu"),
            ("max_position_embeddings", 128),
            ("initializer_range", 0.02),
            ("rms_norm_eps", c["rms_norm_eps"]),
            ("rope_theta", c["rope_theta"]),
            ("rope_scaling", None),
            ("attention_bias", False),
            ("attention_dropout", 0.0),
            ("mlp_bias", False),
            ("pretraining_tp", 1),
            ("tie_word_embeddings", c["tie_word_embeddings"]),
            ("bos_token_id", 1),
            ("eos_token_id", 2),
            ("pad_token_id", 0),
            ("use_cache", True),
            ("torch_dtype", c["torch_dtype"]),
        ]
    )


def param_shapes(c):
    H, V, I, D = c["hidden_size"], c["vocab_size"], c["intermediate_size"], c["head_dim"]
    nq, nkv = c["num_attention_heads"] * D, c["num_key_value_heads"] * D
    s = OrderedDict()
    s["model.embed_tokens.weight"] = [V, H]
    for i in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % i
        s[p + "self_attn.q_proj.weight"] = [nq, H]
        s[p + "self_attn.k_proj.weight"] = [nkv, H]
        s[p + "self_attn.v_proj.weight"] = [nkv, H]
        s[p + "self_attn.o_proj.weight"] = [H, nq]
        s[p + "mlp.gate_proj.weight"] = [I, H]
        s[p + "mlp.up_proj.weight"] = [I, H]
        s[p + "mlp.down_proj.weight"] = [H, I]
        s[p + "input_layernorm.weight"] = [H]
        s[p + "post_attention_layernorm.weight"] = [H]
    s["model.norm.weight"] = [H]
    if not c["tie_word_embeddings"]:
        s["lm_head.weight"] = [V, H]
    return s


def init_params(c, std=0.2):
    p = OrderedDict()
    for name, shape in param_shapes(c).items():
        p[name] = (1.0 + 0.1 * torch.randn(shape)) if len(shape) == 1 else torch.randn(shape) * std
    return p


def rms_norm(x, w, eps):  # LlamaRMSNorm
    dt = x.dtype
    x = x.to(torch.float32)
    var = x.pow(2).mean(-1, keepdim=True)
    x = x * torch.rsqrt(var + eps)
    return w * x.to(dt)


def rope_cos_sin(position_ids, dim, base):  # LlamaRotaryEmbedding.forward
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    B = position_ids.shape[0]
    inv = inv_freq[None, :, None].float().expand(B, -1, 1)
    pos = position_ids[:, None, :].float()
    freqs = (inv @ pos).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    b, h, t, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, h, n_rep, t, d).reshape(b, h * n_rep, t, d)


def causal_mask(attention_mask, T, dtype):
    """[B, 1, T, T] additive mask: min value above the diagonal and at padded keys (transformers' eager path)."""
    B = attention_mask.shape[0]
    minv = torch.finfo(dtype).min
    m = torch.full((T, T), minv, dtype=dtype).triu(1)[None, None].expand(B, 1, T, T).clone()
    pad = attention_mask[:, None, None, :].eq(0)
    return m.masked_fill(pad, minv)


def positions_from_mask(attention_mask):
    pos = attention_mask.long().cumsum(-1) - 1
    return pos.masked_fill(attention_mask == 0, 1)


def llama_forward(p, c, ids, attention_mask, keep_probs=False):
    B, T = ids.shape
    nh, nkv, D = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    eps = c["rms_norm_eps"]
    position_ids = positions_from_mask(attention_mask)
    theta = c["rope_theta"] if "rope_theta" in c else c["rope_parameters"]["rope_theta"]  # transformers >= 5 layout
    cos, sin = rope_cos_sin(position_ids, D, theta)
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    mask = causal_mask(attention_mask, T, torch.float32)
    x = p["model.embed_tokens.weight"][ids.long()]
    probs = []
    for i in range(c["num_hidden_layers"]):
        pre = "model.layers.%d." % i
        h = rms_norm(x, p[pre + "input_layernorm.weight"], eps)
        q = F.linear(h, p[pre + "self_attn.q_proj.weight"]).view(B, T, nh, D).transpose(1, 2)
        k = F.linear(h, p[pre + "self_attn.k_proj.weight"]).view(B, T, nkv, D).transpose(1, 2)
        v = F.linear(h, p[pre + "self_attn.v_proj.weight"]).view(B, T, nkv, D).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        kr, vr = repeat_kv(k, nh // nkv), repeat_kv(v, nh // nkv)
        w = torch.matmul(q, kr.transpose(2, 3)) * (D ** -0.5) + mask
        w = F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
        if keep_probs:
            w.retain_grad()
        probs.append(w)
        a = torch.matmul(w, vr).transpose(1, 2).contiguous().reshape(B, T, nh * D)
        x = x + F.linear(a, p[pre + "self_attn.o_proj.weight"])
        h2 = rms_norm(x, p[pre + "post_attention_layernorm.weight"], eps)
        x = x + F.linear(F.silu(F.linear(h2, p[pre + "mlp.gate_proj.weight"])) * F.linear(h2, p[pre + "mlp.up_proj.weight"]), p[pre + "mlp.down_proj.weight"])
    x = rms_norm(x, p["model.norm.weight"], eps)
    head = p["model.embed_tokens.weight"] if c["tie_word_embeddings"] else p["lm_head.weight"]
    return F.linear(x, head).float(), probs


def causal_lm_loss(logits, labels, V):  # LlamaForCausalLM: shift inside
    return F.cross_entropy(logits[..., :-1, :].reshape(-1, V), labels[..., 1:].reshape(-1).long(), ignore_index=IGNORE_INDEX)


def distill_kl(probs, heads, rows, teacher):
    """KL(teacher || student) over the selected (head, row) pairs; mean over (batch, head, row)."""
    B = probs.shape[0]
    s = probs[:, heads]  # [B, nh, T, T]
    s = torch.stack([s[b][:, rows[b].long()] for b in range(B)])  # [B, nh, R, T]
    t = teacher
    kl = torch.where(t > 0, t * (torch.log(t.clamp_min(1e-30)) - torch.log(s.clamp_min(1e-30))), torch.zeros_like(t))
    return kl.sum() / (B * len(heads) * rows.shape[1])


def random_teacher(B, nheads, rows, T, attention_mask):
    """Softmax rows of random logits over the keys each query row can see (zero elsewhere)."""
    R = rows.shape[1]
    t = torch.zeros(B, nheads, R, T)
    for b in range(B):
        for r in range(R):
            q = int(rows[b, r])
            vis = torch.tensor([1.0 if (j <= q and attention_mask[b, j] != 0) else 0.0 for j in range(T)])
            logits = torch.randn(nheads, T) * 2
            logits = logits.masked_fill(vis[None] == 0, float("-inf"))
            t[b, :, r] = torch.softmax(logits, dim=-1)
    return t


# --------------------------------------------------------------------------

GQA = OrderedDict(
    [
        ("vocab_size", 64), ("hidden_size", 32), ("intermediate_size", 48), ("num_hidden_layers", 2),
        ("num_attention_heads", 4), ("num_key_value_heads", 2), ("head_dim", 8), ("rms_norm_eps", 1e-5),
        ("rope_theta", 10000.0), ("tie_word_embeddings", False), ("torch_dtype", "float32"),
    ]
)
TIED = OrderedDict(GQA)
TIED.update([("num_key_value_heads", 4), ("tie_word_embeddings", True), ("rope_theta", 500.0), ("torch_dtype", "bfloat16"), ("rms_norm_eps", 1e-6)])


def save_checkpoint(dirname, c, params, dtype, shards=1):
    d = os.path.join(FIXTURES, dirname)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    cfg = hf_config(c)
    cfg["torch_dtype"] = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}[dtype]
    write_json(os.path.join(d, "config.json"), cfg)
    stored = OrderedDict((k, v.to(dtype)) for k, v in params.items())
    names = list(stored.keys())
    meta = OrderedDict([("format", "pt")])
    if shards == 1:
        write_and_verify(os.path.join(d, "model.safetensors"), stored, meta)
    else:
        per = math.ceil(len(names) / shards)
        weight_map, total = OrderedDict(), 0
        for i in range(shards):
            fname = "model-%05d-of-%05d.safetensors" % (i + 1, shards)
            part = OrderedDict((k, stored[k]) for k in names[i * per : (i + 1) * per])
            write_and_verify(os.path.join(d, fname), part, meta)
            total += sum(len(_to_bytes(t)) for t in part.values())
            for k in part:
                weight_map[k] = fname
        write_json(os.path.join(d, "model.safetensors.index.json"), OrderedDict([("metadata", {"total_size": total}), ("weight_map", weight_map)]))
    # What the stored weights are, back in float32 (bf16 / f16 rounding included).
    return OrderedDict((k, v.float()) for k, v in stored.items())


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    out = OrderedDict()

    # --- GQA model, no padding: logits, loss, attention probs, sensitivity, distillation, gradients
    c = GQA
    V = c["vocab_size"]
    seed("gqa")
    p0 = save_checkpoint("gqa", c, init_params(c), torch.float32)
    save_checkpoint("gqa-sharded", c, p0, torch.float16, shards=3)
    B, T = 2, 7
    ids = torch.randint(3, V, (B, T), dtype=torch.int32)
    mask = torch.ones(B, T, dtype=torch.int32)
    labels = ids.clone()
    labels[0, :3] = IGNORE_INDEX  # answer-only: prompt of 3 tokens
    labels[1, :2] = IGNORE_INDEX
    p = OrderedDict((k, v.clone().requires_grad_(True)) for k, v in p0.items())
    logits, probs = llama_forward(p, c, ids, mask, keep_probs=True)
    loss = causal_lm_loss(logits, labels, V)
    # distillation: layer 0 heads [1] rows R=2; layer 1 heads [0, 3] rows R=3; mean over the two layers
    rows0 = torch.tensor([[2, 6], [0, 4]], dtype=torch.int32)
    rows1 = torch.tensor([[1, 3, 6], [6, 5, 2]], dtype=torch.int32)
    teacher0 = random_teacher(B, 1, rows0, T, mask)
    teacher1 = random_teacher(B, 2, rows1, T, mask)
    kl0 = distill_kl(probs[0], [1], rows0, teacher0)
    kl1 = distill_kl(probs[1], [0, 3], rows1, teacher1)
    distill = (kl0 + kl1) / 2
    total = loss + 0.5 * distill
    # sensitivity ("all"): sum over (q, k) of (dL_task/dP)^2 per (batch, head) — from the task loss alone
    loss.backward(retain_graph=True)
    sens = [w.grad.pow(2).sum(dim=(2, 3)).detach().clone() for w in probs]
    for w in probs:
        w.grad = None
    for v in p.values():
        v.grad = None
    total.backward()
    out["gqa.input_ids"] = ids
    out["gqa.labels"] = labels
    out["gqa.logits"] = logits.detach()
    out["gqa.loss"] = loss.detach().reshape(1)
    out["gqa.probs1"] = probs[1].detach()
    out["gqa.sensitivity0"] = sens[0]
    out["gqa.sensitivity1"] = sens[1]
    out["gqa.distill.rows0"] = rows0
    out["gqa.distill.rows1"] = rows1
    out["gqa.distill.teacher0"] = teacher0
    out["gqa.distill.teacher1"] = teacher1
    out["gqa.distill.loss"] = distill.detach().reshape(1)
    for k, v in p.items():
        out["gqa.grad_total." + k] = v.grad.detach().clone()

    # --- same weights, left padding (3 rows with 0, 2, 5 pads) and labels masked at pads
    B, T = 3, 8
    seed("gqa.leftpad")
    ids = torch.randint(3, V, (B, T), dtype=torch.int32)
    mask = torch.ones(B, T, dtype=torch.int32)
    mask[1, :2] = 0
    mask[2, :5] = 0
    ids[mask == 0] = 0
    labels = ids.clone()
    labels[mask == 0] = IGNORE_INDEX
    # The first real token of a row is predicted from a padded position in transformers' loss (padding logits are
    # implementation-defined there); mask it, as a BOS or a prompt token would be.
    labels[1, 2] = IGNORE_INDEX
    labels[2, 5] = IGNORE_INDEX
    with torch.no_grad():
        logits, _ = llama_forward(p0, c, ids, mask)
    out["leftpad.input_ids"] = ids
    out["leftpad.attention_mask"] = mask
    out["leftpad.labels"] = labels
    out["leftpad.logits"] = logits
    out["leftpad.loss"] = causal_lm_loss(logits, labels, V).reshape(1)

    # --- tied embeddings, MHA, bf16 storage, right padding
    c = TIED
    seed("tied")
    pt = save_checkpoint("tied", c, init_params(c), torch.bfloat16)
    B, T = 2, 6
    ids = torch.randint(3, V, (B, T), dtype=torch.int32)
    mask = torch.ones(B, T, dtype=torch.int32)
    mask[1, 4:] = 0
    ids[mask == 0] = 0
    labels = ids.clone()
    labels[mask == 0] = IGNORE_INDEX
    with torch.no_grad():
        logits, _ = llama_forward(pt, c, ids, mask)
    out["tied.input_ids"] = ids
    out["tied.attention_mask"] = mask
    out["tied.labels"] = labels
    out["tied.logits"] = logits
    out["tied.loss"] = causal_lm_loss(logits, labels, V).reshape(1)

    meta = OrderedDict([("generator", "packages/model/scripts/golden_model.py (torch %s)" % torch.__version__)])
    n = write_and_verify(os.path.join(FIXTURES, "golden.safetensors"), out, meta)
    total_bytes = n
    for d in ("gqa", "gqa-sharded", "tied"):
        for f in os.listdir(os.path.join(FIXTURES, d)):
            total_bytes += os.path.getsize(os.path.join(FIXTURES, d, f))
    print("wrote golden.safetensors (%d bytes, %d tensors); fixtures total %d bytes" % (n, len(out), total_bytes))
    print("  gqa loss %.6f  distill %.6f  leftpad loss %.6f  tied loss %.6f" % (
        out["gqa.loss"].item(), out["gqa.distill.loss"].item(), out["leftpad.loss"].item(), out["tied.loss"].item()))
    assert total_bytes < 600 * 1024, "fixtures too large"
    return 0


if __name__ == "__main__":
    sys.exit(main())
