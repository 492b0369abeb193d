#!/usr/bin/python3
"""Generate the BERT parity fixtures in test/fixtures/parity/.

Each fixture describes a BERT encoder with deterministic pseudo-random
weights, a padded batch of token ids, and the expected outputs computed by
an independent float64 reference in PyTorch:

  * the encoder layers are torch.nn.TransformerEncoderLayer (post-LayerNorm,
    norm_first=False, batch_first=True) run with a key padding mask;
  * a second, functional implementation written from the BERT equations runs
    every sequence alone, without padding; the two must agree to 1e-9.

The weights are never stored: both this script and test/c/bert_writer.h
derive every value from (seed, tensor name, element index), see
weight_values() below, so the C test rebuilds the identical
model.safetensors in a temporary folder.  A fixture holds only the config
files, the inputs and the expected per-token hidden states (a few tokens
per sequence) and pooled sentence embeddings.

Usage (from the top of the source tree):
    /usr/bin/python3 tools/parity/bert_parity.py [--out test/fixtures/parity]
"""

import argparse
import json
import math
import os
import random

import numpy as np
import torch
import torch.nn.functional as F

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15

FIXTURES = [
    {
        "name": "minilm",
        "about": "all-MiniLM-L6-v2 shape: 6 layers, 384 hidden, 12 heads, 1536 FFN, 30522 vocab, "
                 "512 positions, erf GELU, eps 1e-12; mean pooling + Normalize",
        "seed": 20240601,
        "header": "all-MiniLM-L6-v2",
        "config": {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
                   "intermediate_size": 1536, "vocab_size": 30522, "max_position_embeddings": 512,
                   "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12},
        "prefix": "", "with_pooler": True, "with_position_ids": True,
        "pooling": "mean", "normalize": True, "max_seq_length": 256,
        "lengths": [128, 16, 37, 5],
        "typed_rows": [2],
    },
    {
        "name": "cls256",
        "about": "4 layers, 256 hidden, 4 heads, 1024 FFN, 1000 vocab, 64 positions, eps 1e-6, "
                 "tensors named with the bert. prefix; CLS pooling, no normalisation",
        "seed": 7,
        "header": None,
        "config": {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
                   "intermediate_size": 1024, "vocab_size": 1000, "max_position_embeddings": 64,
                   "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-6},
        "prefix": "bert.", "with_pooler": True, "with_position_ids": False,
        "pooling": "cls", "normalize": False, "max_seq_length": 64,
        "lengths": [23, 64, 1, 40],
        "typed_rows": [0, 1, 2, 3],
    },
    {
        "name": "tanh-max",
        "about": "3 layers, 96 hidden, 6 heads of 16, 192 FFN, 500 vocab, 40 positions, 3 token types, "
                 "eps 1e-5, tanh GELU (gelu_pytorch_tanh); max pooling + Normalize",
        "seed": 99,
        "header": None,
        "config": {"hidden_size": 96, "num_hidden_layers": 3, "num_attention_heads": 6,
                   "intermediate_size": 192, "vocab_size": 500, "max_position_embeddings": 40,
                   "type_vocab_size": 3, "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-5},
        "prefix": "", "with_pooler": False, "with_position_ids": False,
        "pooling": "max", "normalize": True, "max_seq_length": 32,
        "lengths": [32, 7, 19],
        "typed_rows": [0, 2],
    },
]


def fnv1a64(text):
    h = 0xcbf29ce484222325
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001b3) & MASK64
    return h


def weight_values(seed, name, numel):
    """The weights of one tensor, exactly as test/c/bert_writer.h makes them."""
    base = name[5:] if name.startswith("bert.") else name
    tensor_seed = np.uint64(seed ^ fnv1a64(base))
    i = np.arange(1, numel + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = tensor_seed + i * np.uint64(GAMMA)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = ((z >> np.uint64(40)).astype(np.int64) - (1 << 23)).astype(np.float32) * np.float32(2.0 ** -23)
    if name.endswith("LayerNorm.weight"):
        return np.float32(1.0) + u * np.float32(0.125)
    if name.endswith("LayerNorm.bias"):
        return u * np.float32(0.125)
    if "embeddings." in name:
        return u * np.float32(0.5)
    if name.endswith(".bias"):
        return u * np.float32(0.0625)
    return u * np.float32(0.125)


def make_weights(fx):
    """name (without prefix) -> float64 torch tensor, for the tensors the encoder uses."""
    c = fx["config"]
    H, I = c["hidden_size"], c["intermediate_size"]
    shapes = {
        "embeddings.word_embeddings.weight": (c["vocab_size"], H),
        "embeddings.position_embeddings.weight": (c["max_position_embeddings"], H),
        "embeddings.token_type_embeddings.weight": (c["type_vocab_size"], H),
        "embeddings.LayerNorm.weight": (H,),
        "embeddings.LayerNorm.bias": (H,),
    }
    for l in range(c["num_hidden_layers"]):
        p = "encoder.layer.%d." % l
        for part in ("query", "key", "value"):
            shapes[p + "attention.self.%s.weight" % part] = (H, H)
            shapes[p + "attention.self.%s.bias" % part] = (H,)
        shapes[p + "attention.output.dense.weight"] = (H, H)
        shapes[p + "attention.output.dense.bias"] = (H,)
        shapes[p + "attention.output.LayerNorm.weight"] = (H,)
        shapes[p + "attention.output.LayerNorm.bias"] = (H,)
        shapes[p + "intermediate.dense.weight"] = (I, H)
        shapes[p + "intermediate.dense.bias"] = (I,)
        shapes[p + "output.dense.weight"] = (H, I)
        shapes[p + "output.dense.bias"] = (H,)
        shapes[p + "output.LayerNorm.weight"] = (H,)
        shapes[p + "output.LayerNorm.bias"] = (H,)
    weights = {}
    for name, shape in shapes.items():
        values = weight_values(fx["seed"], fx["prefix"] + name, int(np.prod(shape)))
        weights[name] = torch.from_numpy(values.astype(np.float64).reshape(shape))
    return weights


def activation(fx):
    if fx["config"]["hidden_act"] == "gelu":
        return lambda x: F.gelu(x)
    return lambda x: F.gelu(x, approximate="tanh")


def embed_inputs(w, fx, ids, types):
    """BERT input embeddings + LayerNorm for [B, L] ids."""
    c = fx["config"]
    H = c["hidden_size"]
    L = ids.shape[1]
    x = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.position_embeddings.weight"][torch.arange(L)].unsqueeze(0)
         + w["embeddings.token_type_embeddings.weight"][types])
    return F.layer_norm(x, (H,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"],
                        c["layer_norm_eps"])


def reference_torch_layers(w, fx, ids, types, lengths):
    """Batched run through nn.TransformerEncoderLayer with a key padding mask."""
    c = fx["config"]
    H, I, heads = c["hidden_size"], c["intermediate_size"], c["num_attention_heads"]
    x = embed_inputs(w, fx, ids, types)
    pad = torch.arange(ids.shape[1]).unsqueeze(0) >= torch.tensor(lengths).unsqueeze(1)
    for l in range(c["num_hidden_layers"]):
        p = "encoder.layer.%d." % l
        act = "gelu" if c["hidden_act"] == "gelu" else activation(fx)
        layer = torch.nn.TransformerEncoderLayer(
            H, heads, dim_feedforward=I, dropout=0.0, activation=act,
            layer_norm_eps=c["layer_norm_eps"], batch_first=True, norm_first=False,
            dtype=torch.float64)
        layer.eval()
        with torch.no_grad():
            layer.self_attn.in_proj_weight.copy_(torch.cat([w[p + "attention.self.query.weight"],
                                                            w[p + "attention.self.key.weight"],
                                                            w[p + "attention.self.value.weight"]]))
            layer.self_attn.in_proj_bias.copy_(torch.cat([w[p + "attention.self.query.bias"],
                                                          w[p + "attention.self.key.bias"],
                                                          w[p + "attention.self.value.bias"]]))
            layer.self_attn.out_proj.weight.copy_(w[p + "attention.output.dense.weight"])
            layer.self_attn.out_proj.bias.copy_(w[p + "attention.output.dense.bias"])
            layer.norm1.weight.copy_(w[p + "attention.output.LayerNorm.weight"])
            layer.norm1.bias.copy_(w[p + "attention.output.LayerNorm.bias"])
            layer.linear1.weight.copy_(w[p + "intermediate.dense.weight"])
            layer.linear1.bias.copy_(w[p + "intermediate.dense.bias"])
            layer.linear2.weight.copy_(w[p + "output.dense.weight"])
            layer.linear2.bias.copy_(w[p + "output.dense.bias"])
            layer.norm2.weight.copy_(w[p + "output.LayerNorm.weight"])
            layer.norm2.bias.copy_(w[p + "output.LayerNorm.bias"])
            x = layer(x, src_key_padding_mask=pad)
    return x


def reference_equations(w, fx, ids, types):
    """One unpadded sequence [1, n] through the BERT equations, written out."""
    c = fx["config"]
    H, heads, eps = c["hidden_size"], c["num_attention_heads"], c["layer_norm_eps"]
    d = H // heads
    act = activation(fx)
    x = embed_inputs(w, fx, ids, types)[0]
    n = x.shape[0]
    for l in range(c["num_hidden_layers"]):
        p = "encoder.layer.%d." % l
        q = F.linear(x, w[p + "attention.self.query.weight"], w[p + "attention.self.query.bias"])
        k = F.linear(x, w[p + "attention.self.key.weight"], w[p + "attention.self.key.bias"])
        v = F.linear(x, w[p + "attention.self.value.weight"], w[p + "attention.self.value.bias"])
        q, k, v = (t.view(n, heads, d).transpose(0, 1) for t in (q, k, v))
        probs = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(d), dim=-1)
        ctx = (probs @ v).transpose(0, 1).reshape(n, H)
        a = F.linear(ctx, w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"])
        x = F.layer_norm(x + a, (H,), w[p + "attention.output.LayerNorm.weight"],
                         w[p + "attention.output.LayerNorm.bias"], eps)
        f = act(F.linear(x, w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"]))
        f = F.linear(f, w[p + "output.dense.weight"], w[p + "output.dense.bias"])
        x = F.layer_norm(x + f, (H,), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    return x


def pool(fx, rows):
    if fx["pooling"] == "mean":
        out = rows.mean(dim=0)
    elif fx["pooling"] == "cls":
        out = rows[0]
    else:
        out = rows.max(dim=0).values
    if fx["normalize"]:
        out = F.normalize(out, p=2.0, dim=0)
    return out


def make_inputs(fx):
    c = fx["config"]
    rng = random.Random(fx["seed"] * 7919 + 1)
    seq = max(fx["lengths"])
    ids, types = [], []
    for b, n in enumerate(fx["lengths"]):
        row = [rng.randrange(1, c["vocab_size"]) for _ in range(n)]
        if c["vocab_size"] > 102 and n >= 2:
            row[0], row[-1] = 101, 102
        t = [0] * n
        if b in fx["typed_rows"]:
            t = [min(c["type_vocab_size"] - 1, (i * c["type_vocab_size"]) // n) for i in range(n)]
        ids.append(row + [0] * (seq - n))
        types.append(t + [0] * (seq - n))
    return seq, ids, types


def sentence_transformers_files(fx):
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if fx["normalize"]:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
    pooling = {"word_embedding_dimension": fx["config"]["hidden_size"],
               "pooling_mode_cls_token": fx["pooling"] == "cls",
               "pooling_mode_mean_tokens": fx["pooling"] == "mean",
               "pooling_mode_max_tokens": fx["pooling"] == "max",
               "pooling_mode_mean_sqrt_len_tokens": False}
    config = dict({"architectures": ["BertModel"], "model_type": "bert"}, **fx["config"])
    return {
        "config.json": json.dumps(config, indent=2) + "\n",
        "modules.json": json.dumps(modules, indent=2) + "\n",
        "1_Pooling/config.json": json.dumps(pooling, indent=2) + "\n",
        "sentence_bert_config.json": json.dumps({"max_seq_length": fx["max_seq_length"],
                                                 "do_lower_case": False}) + "\n",
    }


def floats(values):
    return "[" + ", ".join("%.8g" % v for v in values) + "]"


def write_fixture(fx, path):
    torch.set_grad_enabled(False)
    w = make_weights(fx)
    seq, ids, types = make_inputs(fx)
    ids_t = torch.tensor(ids)
    types_t = torch.tensor(types)
    batched = reference_torch_layers(w, fx, ids_t, types_t, fx["lengths"])

    check, hidden, pooled = [], [], []
    worst = 0.0
    for b, n in enumerate(fx["lengths"]):
        alone = reference_equations(w, fx, ids_t[b:b + 1, :n], types_t[b:b + 1, :n])
        worst = max(worst, float((alone - batched[b, :n]).abs().max()))
        for i in sorted({0, n // 2, n - 1}):
            check.append([b, i])
            hidden.append(alone[i].tolist())
        pooled.append(pool(fx, alone).tolist())
    if worst > 1e-9:
        raise SystemExit("%s: TransformerEncoderLayer and the BERT equations differ by %g" % (fx["name"], worst))

    files = sentence_transformers_files(fx)
    lines = ["{",
             '  "name": %s,' % json.dumps(fx["name"]),
             '  "about": %s,' % json.dumps(fx["about"]),
             '  "generator": "tools/parity/bert_parity.py (torch %s, float64)",' % torch.__version__,
             '  "reference_agreement": %s,' % json.dumps("%.2g" % worst),
             '  "seed": %d,' % fx["seed"],
             '  "header": %s,' % json.dumps(fx["header"]),
             '  "tensor_prefix": %s,' % json.dumps(fx["prefix"]),
             '  "with_pooler": %s,' % json.dumps(fx["with_pooler"]),
             '  "with_position_ids": %s,' % json.dumps(fx["with_position_ids"]),
             '  "pooling": %s,' % json.dumps(fx["pooling"]),
             '  "normalize": %s,' % json.dumps(fx["normalize"]),
             '  "files": %s,' % json.dumps(files, sort_keys=True),
             '  "batch": %d,' % len(fx["lengths"]),
             '  "seq": %d,' % seq,
             '  "lengths": %s,' % json.dumps(fx["lengths"]),
             '  "ids": [%s],' % ",\n    ".join(json.dumps(r) for r in ids),
             '  "type_ids": [%s],' % ",\n    ".join(json.dumps(r) for r in types),
             '  "check_tokens": %s,' % json.dumps(check),
             '  "hidden": [\n    %s],' % ",\n    ".join(floats(r) for r in hidden),
             '  "pooled": [\n    %s]' % ",\n    ".join(floats(r) for r in pooled),
             "}"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s (%d checked tokens, references agree to %.2g)" % (path, len(check), worst))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="test/fixtures/parity")
    parser.add_argument("--only", help="generate only this fixture")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for fx in FIXTURES:
        if args.only and fx["name"] != args.only:
            continue
        write_fixture(fx, os.path.join(args.out, fx["name"] + ".json"))


if __name__ == "__main__":
    main()
