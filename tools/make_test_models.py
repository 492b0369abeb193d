#!/usr/bin/env python3
"""Write the small random-weight models used by the SQL tests into test/models/.

    python3 tools/make_test_models.py

Each model is a complete Hugging Face / sentence-transformers folder
(config.json, model.safetensors, vocab.txt, tokenizer_config.json,
modules.json, 1_Pooling/config.json, sentence_bert_config.json) with a
vocabulary written here and weights drawn from a seeded xorshift generator,
so the output is byte-for-byte reproducible.  Standard library only.

Models:
  embed-test-tiny     BERT, 32 hidden, 2 layers, 4 heads; mean pooling + Normalize; 16 tokens max
  embed-test-cls      same vocabulary, 24 hidden, 1 layer, 2 heads; CLS pooling, no Normalize
  embed-test-corrupt  embed-test-tiny with its weights file truncated (load must fail cleanly)
  embed-test-mismatch embed-test-tiny whose config claims 48 hidden (shape check must fail)
"""
import json
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "test", "models")

WORDS = """the a an and or of to in on at for with is are was were be been i you he she it we they
love loves enjoy enjoying eating eat ice cream cake food stock market fell sharply rose price prices
dog dogs cat cats runs run running park walk walking man woman child children car cars road city
good bad happy sad big small new old red blue green today yesterday tomorrow quick brown fox jumps
over lazy hello world database postgres query search vector index embedding text sentence""".split()

PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def vocabulary():
    vocab = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    vocab += PUNCT + chars + ["##" + c for c in chars]
    vocab += ["##s", "##ing", "##ed", "##er", "##ly"]
    for w in WORDS:
        if w not in vocab:
            vocab.append(w)
    return vocab


class XorShift:
    """xorshift64*: a tiny generator both easy to re-implement and reproducible."""

    def __init__(self, seed):
        self.state = seed or 0x9E3779B97F4A7C15

    def next_u64(self):
        x = self.state
        x ^= (x >> 12)
        x ^= (x << 25) & 0xFFFFFFFFFFFFFFFF
        x ^= (x >> 27)
        self.state = x
        return (x * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF

    def uniform(self):
        return (self.next_u64() >> 40) / float(1 << 24)

    def normal(self):
        # Irwin-Hall approximation: sum of 12 uniforms minus 6.
        return sum(self.uniform() for _ in range(12)) - 6.0


def bert_tensors(cfg):
    h, f, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    t = {
        "embeddings.word_embeddings.weight": [cfg["vocab_size"], h],
        "embeddings.position_embeddings.weight": [cfg["max_position_embeddings"], h],
        "embeddings.token_type_embeddings.weight": [cfg["type_vocab_size"], h],
        "embeddings.LayerNorm.weight": [h],
        "embeddings.LayerNorm.bias": [h],
        "pooler.dense.weight": [h, h],
        "pooler.dense.bias": [h],
    }
    for i in range(L):
        p = "encoder.layer.%d." % i
        for name in ("query", "key", "value"):
            t[p + "attention.self.%s.weight" % name] = [h, h]
            t[p + "attention.self.%s.bias" % name] = [h]
        t[p + "attention.output.dense.weight"] = [h, h]
        t[p + "attention.output.dense.bias"] = [h]
        t[p + "attention.output.LayerNorm.weight"] = [h]
        t[p + "attention.output.LayerNorm.bias"] = [h]
        t[p + "intermediate.dense.weight"] = [f, h]
        t[p + "intermediate.dense.bias"] = [f]
        t[p + "output.dense.weight"] = [h, f]
        t[p + "output.dense.bias"] = [h]
        t[p + "output.LayerNorm.weight"] = [h]
        t[p + "output.LayerNorm.bias"] = [h]
    return t


def write_safetensors(path, cfg, seed):
    rng = XorShift(seed)
    tensors = bert_tensors(cfg)
    names = sorted(tensors)
    blobs = []
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    # position_ids as in the real checkpoints: I64 [1, max_positions], ignored by the loader
    npos = cfg["max_position_embeddings"]
    pos_blob = struct.pack("<%dq" % npos, *range(npos))
    for name in names + ["embeddings.position_ids"]:
        if name == "embeddings.position_ids":
            blob, dtype, shape = pos_blob, "I64", [1, npos]
        else:
            shape = tensors[name]
            n = 1
            for d in shape:
                n *= d
            if name.endswith("LayerNorm.weight"):
                vals = [1.0 + 0.1 * rng.normal() for _ in range(n)]
            elif name.endswith("LayerNorm.bias") or name.endswith(".bias"):
                vals = [0.05 * rng.normal() for _ in range(n)]
            else:
                vals = [0.2 * rng.normal() for _ in range(n)]
            blob, dtype = struct.pack("<%df" % n, *vals), "F32"
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def write_model(name, hidden, layers, heads, ffn, pooling, normalize, max_seq, seed):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    vocab = vocabulary()
    cfg = {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": hidden,
        "num_hidden_layers": layers, "num_attention_heads": heads, "intermediate_size": ffn,
        "vocab_size": len(vocab), "max_position_embeddings": 64, "type_vocab_size": 2,
        "hidden_act": "gelu", "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "position_embedding_type": "absolute",
    }
    write_json(os.path.join(d, "config.json"), cfg)
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    write_json(os.path.join(d, "tokenizer_config.json"), {
        "do_lower_case": True, "strip_accents": None, "tokenize_chinese_chars": True,
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
        "mask_token": "[MASK]", "model_max_length": 64, "tokenizer_class": "BertTokenizer"})
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
    write_json(os.path.join(d, "modules.json"), modules)
    write_json(os.path.join(d, "1_Pooling", "config.json"), {
        "word_embedding_dimension": hidden,
        "pooling_mode_cls_token": pooling == "cls", "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": pooling == "max", "pooling_mode_mean_sqrt_len_tokens": False})
    write_json(os.path.join(d, "sentence_bert_config.json"), {"max_seq_length": max_seq, "do_lower_case": False})
    write_safetensors(os.path.join(d, "model.safetensors"), cfg, seed)
    return d


def main():
    tiny = write_model("embed-test-tiny", 32, 2, 4, 64, "mean", True, 16, 20261125)
    write_model("embed-test-cls", 24, 1, 2, 48, "cls", False, 64, 7)

    corrupt = os.path.join(OUT, "embed-test-corrupt")
    shutil.rmtree(corrupt, ignore_errors=True)
    shutil.copytree(tiny, corrupt)
    size = os.path.getsize(os.path.join(corrupt, "model.safetensors"))
    with open(os.path.join(corrupt, "model.safetensors"), "r+b") as f:
        f.truncate(size - 1000)

    mismatch = os.path.join(OUT, "embed-test-mismatch")
    shutil.rmtree(mismatch, ignore_errors=True)
    shutil.copytree(tiny, mismatch)
    with open(os.path.join(mismatch, "config.json")) as f:
        cfg = json.load(f)
    cfg["hidden_size"] = 48
    write_json(os.path.join(mismatch, "config.json"), cfg)
    with open(os.path.join(mismatch, "1_Pooling", "config.json")) as f:
        pooling = json.load(f)
    pooling["word_embedding_dimension"] = 48
    write_json(os.path.join(mismatch, "1_Pooling", "config.json"), pooling)
    print("wrote", OUT)


if __name__ == "__main__":
    sys.exit(main())
