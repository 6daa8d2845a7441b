#!/usr/bin/python3
"""Writes two tiny Hugging Face tokenizer.json fixtures (trained here by a small BPE loop) and reference encodings.

  packages/model/test/fixtures/tokenizers/bytelevel/   GPT-2 / Qwen style byte-level BPE (ByteLevel pre-tokenizer)
  packages/model/test/fixtures/tokenizers/llama/       LLaMA / Mistral style SentencePiece BPE (U+2581 spaces, byte fallback)
  packages/model/test/fixtures/tokenizers/expected.json   ids for probe strings, computed by the reference BPE below

Each directory holds tokenizer.json and tokenizer_config.json. Deterministic; standard library only.
Run from the monorepo root:  /usr/bin/python3 packages/model/scripts/make_tokenizers.py
scripts/hf_roundtrip.py re-checks expected.json with the real `tokenizers` library where transformers is installed.
"""
import json
import os
import re
import sys
from collections import Counter, OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "test", "fixtures", "tokenizers")

CORPUS = """
The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs.
Continual learning keeps old tasks while learning new ones. Replay the old samples, distill the attention.
Answer: the answer is 42. Question: what is the answer? Hello world, hello there, hello again!
def add(a, b):
    return a + b
print(add(1, 2))
reverse the string abc -> cba, copy the string abc -> abc. the theme of the thesis is there.
"""

PROBES = [
    "Hello world",
    "the quick brown fox",
    "The answer is 42.",
    " leading space and  double  spaces",
    "new\nlines\n\nhere",
    "caf\u00e9 na\u00efve \u00fcber",
    "emoji \U0001F600 and \u4e2d\u6587",
    "def f(x):\n    return x",
    "",
    "<|user|>\nhi<|end|>\n<|assistant|>\n",
]

NUM_MERGES = 60


# --------------------------------------------------------------------------
# GPT-2 byte-level BPE


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


B2U = bytes_to_unicode()
# GPT-2's pre-tokenization pattern, written with the character classes Python's re supports (letters / digits).
GPT2_PAT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""


def bl_words(text):
    return ["".join(B2U[b] for b in w.encode("utf-8")) for w in re.findall(GPT2_PAT, text)]


def train_bpe(words, num_merges, base):
    """Classic BPE on a Counter of words (tuples of symbols); ties broken by the lexicographically smallest pair."""
    vocab_words = Counter(tuple(w) for w in words)
    merges = []
    symbols = list(base)
    for _ in range(num_merges):
        pairs = Counter()
        for w, c in vocab_words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], tuple(-ord(ch) for ch in kv[0][0] + "\0" + kv[0][1])))[0]
        if pairs[best] < 2:
            break
        merges.append(best)
        symbols.append(best[0] + best[1])
        new = Counter()
        for w, c in vocab_words.items():
            out = []
            i = 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] += c
        vocab_words = new
    return merges, symbols


def bpe_word(symbols, ranks):
    """Applies merges by rank (lowest first), as the tokenizers library's BPE model does."""
    w = list(symbols)
    while len(w) > 1:
        best = None
        for i in range(len(w) - 1):
            r = ranks.get((w[i], w[i + 1]))
            if r is not None and (best is None or r < best[0]):
                best = (r, i)
        if best is None:
            break
        _, i = best
        pair = (w[i], w[i + 1])
        out = []
        j = 0
        while j < len(w):
            if j + 1 < len(w) and (w[j], w[j + 1]) == pair:
                out.append(w[j] + w[j + 1])
                j += 2
            else:
                out.append(w[j])
                j += 1
        w = out
    return w


def split_added(text, added):
    """Splits text on added tokens (longest first), as the tokenizers library does before the model runs."""
    if not added:
        return [(text, False)]
    pat = "(" + "|".join(re.escape(a) for a in sorted(added, key=len, reverse=True)) + ")"
    parts = []
    for p in re.split(pat, text):
        if p == "":
            continue
        parts.append((p, p in added))
    return parts


def make_bytelevel():
    words = bl_words(CORPUS)
    base = [B2U[b] for b in range(256)]
    merges, symbols = train_bpe(words, NUM_MERGES, base)
    vocab = OrderedDict((s, i) for i, s in enumerate(symbols))
    specials = ["<|endoftext|>", "<pad>", "<|user|>", "<|assistant|>", "<|end|>"]
    added = []
    for s in specials:
        vocab_id = len(vocab) + len(added)
        added.append(OrderedDict([("id", vocab_id), ("content", s), ("single_word", False), ("lstrip", False), ("rstrip", False), ("normalized", False), ("special", True)]))
    tok = OrderedDict(
        [
            ("version", "1.0"),
            ("truncation", None),
            ("padding", None),
            ("added_tokens", added),
            ("normalizer", None),
            ("pre_tokenizer", OrderedDict([("type", "ByteLevel"), ("add_prefix_space", False), ("trim_offsets", True), ("use_regex", True)])),
            ("post_processor", OrderedDict([("type", "ByteLevel"), ("add_prefix_space", True), ("trim_offsets", False), ("use_regex", True)])),
            ("decoder", OrderedDict([("type", "ByteLevel"), ("add_prefix_space", True), ("trim_offsets", True), ("use_regex", True)])),
            (
                "model",
                OrderedDict(
                    [
                        ("type", "BPE"),
                        ("dropout", None),
                        ("unk_token", None),
                        ("continuing_subword_prefix", ""),
                        ("end_of_word_suffix", ""),
                        ("fuse_unk", False),
                        ("byte_fallback", False),
                        ("ignore_merges", False),
                        ("vocab", vocab),
                        ("merges", ["%s %s" % m for m in merges]),
                    ]
                ),
            ),
        ]
    )
    config = OrderedDict(
        [
            ("tokenizer_class", "PreTrainedTokenizerFast"),
            ("bos_token", "<|endoftext|>"),
            ("eos_token", "<|endoftext|>"),
            ("pad_token", "<pad>"),
            ("add_bos_token", False),
            ("model_max_length", 2048),
        ]
    )
    ranks = {m: i for i, m in enumerate(merges)}
    added_ids = {a["content"]: a["id"] for a in added}

    def encode(text):
        ids = []
        for part, is_added in split_added(text, set(added_ids)):
            if is_added:
                ids.append(added_ids[part])
                continue
            for w in bl_words(part):
                ids.extend(vocab[s] for s in bpe_word(list(w), ranks))
        return ids

    return tok, config, encode


# --------------------------------------------------------------------------
# LLaMA / Mistral style: SentencePiece BPE with U+2581 for spaces and byte fallback

SP = "\u2581"


def make_llama():
    normalized = SP + CORPUS.replace(" ", SP)
    # Words start at each U+2581 (SentencePiece splits by whitespace: pieces never cross a word start).
    # Newlines are not in the vocabulary (they fall back to <0x0A>), so no merge may involve them: train on the
    # pieces between newlines.
    words = [w for w in re.findall(SP + "?[^" + SP + "\n]+|" + SP, normalized)]
    chars = sorted(set(normalized) - {"\n"} | {SP})
    specials = ["<unk>", "<s>", "</s>"]
    byte_tokens = ["<0x%02X>" % b for b in range(256)]
    base = specials + byte_tokens + chars
    merges, symbols = train_bpe([tuple(w) for w in words], NUM_MERGES, [])
    vocab = OrderedDict()
    for s in base + symbols:
        if s not in vocab:
            vocab[s] = len(vocab)
    added = []
    for i, s in enumerate(specials):
        added.append(OrderedDict([("id", i), ("content", s), ("single_word", False), ("lstrip", False), ("rstrip", False), ("normalized", False), ("special", True)]))
    extra = ["<|user|>", "<|assistant|>", "<|end|>"]
    for s in extra:
        vid = len(vocab)
        vocab[s] = vid
        added.append(OrderedDict([("id", vid), ("content", s), ("single_word", False), ("lstrip", False), ("rstrip", False), ("normalized", False), ("special", True)]))
    tok = OrderedDict(
        [
            ("version", "1.0"),
            ("truncation", None),
            ("padding", None),
            ("added_tokens", added),
            (
                "normalizer",
                OrderedDict(
                    [
                        ("type", "Sequence"),
                        (
                            "normalizers",
                            [
                                OrderedDict([("type", "Prepend"), ("prepend", SP)]),
                                OrderedDict([("type", "Replace"), ("pattern", {"String": " "}), ("content", SP)]),
                            ],
                        ),
                    ]
                ),
            ),
            ("pre_tokenizer", None),
            (
                "post_processor",
                OrderedDict(
                    [
                        ("type", "TemplateProcessing"),
                        ("single", [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]),
                        (
                            "pair",
                            [
                                {"SpecialToken": {"id": "<s>", "type_id": 0}},
                                {"Sequence": {"id": "A", "type_id": 0}},
                                {"SpecialToken": {"id": "<s>", "type_id": 1}},
                                {"Sequence": {"id": "B", "type_id": 1}},
                            ],
                        ),
                        ("special_tokens", {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}),
                    ]
                ),
            ),
            (
                "decoder",
                OrderedDict(
                    [
                        ("type", "Sequence"),
                        (
                            "decoders",
                            [
                                OrderedDict([("type", "Replace"), ("pattern", {"String": SP}), ("content", " ")]),
                                OrderedDict([("type", "ByteFallback")]),
                                OrderedDict([("type", "Fuse")]),
                                OrderedDict([("type", "Strip"), ("content", " "), ("start", 1), ("stop", 0)]),
                            ],
                        ),
                    ]
                ),
            ),
            (
                "model",
                OrderedDict(
                    [
                        ("type", "BPE"),
                        ("dropout", None),
                        ("unk_token", "<unk>"),
                        ("continuing_subword_prefix", None),
                        ("end_of_word_suffix", None),
                        ("fuse_unk", True),
                        ("byte_fallback", True),
                        ("ignore_merges", False),
                        ("vocab", vocab),
                        ("merges", ["%s %s" % m for m in merges]),
                    ]
                ),
            ),
        ]
    )
    config = OrderedDict(
        [
            ("tokenizer_class", "LlamaTokenizerFast"),
            ("bos_token", "<s>"),
            ("eos_token", "</s>"),
            ("unk_token", "<unk>"),
            ("pad_token", None),
            ("add_bos_token", True),
            ("add_eos_token", False),
            ("legacy", False),
            ("model_max_length", 2048),
        ]
    )
    ranks = {m: i for i, m in enumerate(merges)}
    added_ids = {a["content"]: a["id"] for a in added}

    def encode_piece(text):
        # The normalizer runs on each piece between added tokens separately (so each gets its own U+2581 prefix).
        norm = SP + text.replace(" ", SP)
        ids = []
        # No pre-tokenizer: the whole normalised piece is one word for the BPE model.
        for s in bpe_word(list(norm), ranks):
            if s in vocab:
                ids.append(vocab[s])
            else:
                ids.extend(vocab["<0x%02X>" % b] for b in s.encode("utf-8"))
        return ids

    def encode(text):
        ids = []
        for part, is_added in split_added(text, set(extra)):
            ids.extend([added_ids[part]] if is_added else encode_piece(part))
        return ids

    return tok, config, encode


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = json.dumps(obj, ensure_ascii=False, indent=1) + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(data)


def main():
    expected = OrderedDict()
    for name, make in (("bytelevel", make_bytelevel), ("llama", make_llama)):
        tok, config, encode = make()
        write_json(os.path.join(OUT, name, "tokenizer.json"), tok)
        write_json(os.path.join(OUT, name, "tokenizer_config.json"), config)
        probes = [p for p in PROBES if not (name == "llama" and p == "")]
        expected[name] = [OrderedDict([("text", p), ("ids", encode(p))]) for p in probes]
        print("%s: vocab %d, merges %d" % (name, len(tok["model"]["vocab"]) + (len(tok["added_tokens"]) if name == "bytelevel" else 0), len(tok["model"]["merges"])))
    write_json(os.path.join(OUT, "expected.json"), expected)
    return 0


if __name__ == "__main__":
    sys.exit(main())
