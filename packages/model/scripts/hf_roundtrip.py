#!/usr/bin/env python3
"""Interop check between @seekr/model and Hugging Face transformers (run where transformers is installed).

    python3 packages/model/scripts/hf_roundtrip.py            # full check (needs torch + transformers)
    /usr/bin/python3 packages/model/scripts/hf_roundtrip.py --torch-only   # the parts that need only torch

1. Reads test/fixtures/seekr-written/ (written by our saveCheckpoint: config.json, 5 shards + index) with
   transformers.LlamaForCausalLM.from_pretrained and compares its logits (eager attention, float32, position_ids
   derived from the attention mask as generate() does) with our logits in expected.safetensors, at real positions.
   The same check runs against the handwritten torch model of golden_model.py (also in --torch-only mode).
2. Checks the tokenizer fixtures (test/fixtures/tokenizers/*) with transformers' PreTrainedTokenizerFast (the Rust
   `tokenizers` library): the ids of every probe string must equal expected.json, which the TS tests compare
   against @huggingface/tokenizers.
3. Writes checkpoints with transformers' save_pretrained for our loader test (src/checkpoint.test.ts reads every
   directory that exists):
     test/fixtures/hf-written/        float32, tied embeddings, GQA, one model.safetensors
     test/fixtures/hf-written-bf16/   bfloat16, untied, sharded (max_shard_size) with model.safetensors.index.json
   each with expected.safetensors: input_ids, attention_mask (left padding) and transformers' float32 logits (for
   the bf16 checkpoint: of the bf16 weights upcast to float32, which is what our loader computes with).
Commit the hf-written* directories after a successful run. Exit status 0 only when every check passed.
"""
import argparse
import json
import os
import sys
from collections import OrderedDict

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import golden_model as gm  # noqa: E402  (safetensors by hand, the handwritten Llama)

FIX = os.path.normpath(os.path.join(HERE, "..", "test", "fixtures"))
failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def positions_from_mask(mask):
    pos = mask.long().cumsum(-1) - 1
    return pos.masked_fill(mask == 0, 1)


def max_err_real(a, b, mask):
    m = mask.bool()
    return (a[m] - b[m]).abs().max().item()


def torch_reference(dirname):
    """Our checkpoint through the handwritten torch Llama (no transformers)."""
    d = os.path.join(FIX, dirname)
    cfg = json.load(open(os.path.join(d, "config.json")))
    index = os.path.join(d, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    params = OrderedDict()
    for f in files:
        t, meta = gm.read_safetensors(os.path.join(d, f))
        check(meta.get("format") == "pt", "%s/%s has metadata format=pt" % (dirname, f))
        params.update((k, v.float()) for k, v in t.items())
    c = dict(cfg)
    c.setdefault("head_dim", c["hidden_size"] // c["num_attention_heads"])
    exp, _ = gm.read_safetensors(os.path.join(d, "expected.safetensors"))
    with torch.no_grad():
        logits, _ = gm.llama_forward(params, c, exp["input_ids"], exp["attention_mask"])
    err = max_err_real(logits, exp["logits"], exp["attention_mask"])
    check(err < 1e-4, "%s: handwritten torch Llama logits vs ours, max err %.2e" % (dirname, err))


def transformers_read(dirname):
    from transformers import LlamaForCausalLM

    d = os.path.join(FIX, dirname)
    try:
        model = LlamaForCausalLM.from_pretrained(d, torch_dtype=torch.float32, attn_implementation="eager")
    except TypeError:
        model = LlamaForCausalLM.from_pretrained(d, torch_dtype=torch.float32)
    model.eval()
    exp, _ = gm.read_safetensors(os.path.join(d, "expected.safetensors"))
    ids, mask = exp["input_ids"].long(), exp["attention_mask"].long()
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions_from_mask(mask))
    err = max_err_real(out.logits.float(), exp["logits"], exp["attention_mask"])
    check(err < 1e-4, "%s: transformers logits vs ours, max err %.2e" % (dirname, err))


def transformers_tokenizers():
    from transformers import PreTrainedTokenizerFast

    expected = json.load(open(os.path.join(FIX, "tokenizers", "expected.json")))
    for name, cases in expected.items():
        try:
            tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(FIX, "tokenizers", name, "tokenizer.json"))
        except Exception as e:  # a fixture the Rust library refuses is a failure, and the other checks still run
            check(False, "tokenizer %s: the tokenizers library cannot load it (%s)" % (name, e))
            continue
        for case in cases:
            ids = tok.encode(case["text"], add_special_tokens=False)
            check(ids == case["ids"], "tokenizer %s: %r -> %s" % (name, case["text"], ids if ids != case["ids"] else "ok"))


def transformers_write():
    from transformers import LlamaConfig, LlamaForCausalLM

    def make(tied, seed):
        cfg = LlamaConfig(
            vocab_size=80, hidden_size=32, intermediate_size=44, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=10000.0,
            tie_word_embeddings=tied, bos_token_id=1, eos_token_id=2, pad_token_id=0,
        )
        cfg._attn_implementation = "eager"  # explicit softmax path, chosen at construction in older versions
        torch.manual_seed(seed)
        m = LlamaForCausalLM(cfg)
        with torch.no_grad():
            for p in m.parameters():
                if p.dim() == 2:
                    p.normal_(0, 0.2)
                else:
                    p.copy_(1 + 0.1 * torch.randn_like(p))
        m.eval()
        return m

    ids = torch.tensor([[1, 11, 21, 31, 41, 51, 61], [0, 0, 1, 17, 27, 37, 47]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1]])
    for dirname, tied, dtype, shard in (("hf-written", True, torch.float32, None), ("hf-written-bf16", False, torch.bfloat16, "20KB")):
        d = os.path.join(FIX, dirname)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
        m = make(tied, 7 if tied else 8).to(dtype)
        kw = {"safe_serialization": True}
        if shard:
            kw["max_shard_size"] = shard
        m.save_pretrained(d, **kw)
        # Expected logits from a fresh float32 load of what was saved: m.float() would keep RoPE's inv_freq buffer
        # rounded to the save dtype.
        m32 = LlamaForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager")
        m32.eval()
        with torch.no_grad():
            logits = m32(input_ids=ids, attention_mask=mask, position_ids=positions_from_mask(mask)).logits.float()
        gm.write_and_verify(
            os.path.join(d, "expected.safetensors"),
            OrderedDict([("input_ids", ids.int()), ("attention_mask", mask.int()), ("logits", logits)]),
            OrderedDict([("generator", "packages/model/scripts/hf_roundtrip.py (transformers)")]),
        )
        print("wrote %s: %s" % (dirname, sorted(os.listdir(d))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torch-only", action="store_true", help="skip the transformers checks and writes")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch_reference("seekr-written")
    if not args.torch_only:
        transformers_read("seekr-written")
        transformers_tokenizers()
        transformers_write()
    for dirname in ("hf-written", "hf-written-bf16"):
        if os.path.exists(os.path.join(FIX, dirname, "expected.safetensors")):
            torch_reference(dirname)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
