#!/usr/bin/python3
"""Generate the parity fixtures in test/fixtures/parity/.

Each fixture describes a model (BERT, RoBERTa, DistilBERT or GPT-2) with
deterministic pseudo-random weights, a padded batch of token ids, and the
expected outputs computed by two independent float64 references in PyTorch
that must agree to 1e-9 before the fixture is written:

  * encoders (BERT, RoBERTa, DistilBERT): torch.nn.TransformerEncoderLayer
    (post-LayerNorm, norm_first=False, batch_first=True) run over the padded
    batch with a key padding mask, and the encoder equations written out
    with torch.nn.functional, one unpadded sequence at a time;
  * GPT-2: the two implementations of gpt2_reference.py (nn.MultiheadAttention
    with a causal mask over the padded batch, and the decoder equations).

The weights are never stored: both this script and test/c/bert_writer.h
derive every value from (seed, tensor name, element index), see
weight_values() below, so the C test rebuilds the identical
model.safetensors in a temporary folder.  A fixture holds only the config
files, the inputs and the expected per-token hidden states (a few tokens
per sequence), pooled sentence embeddings and, for GPT-2, a few logits of
the tied LM head.

Usage (from the top of the source tree):
    /usr/bin/python3 tools/parity/bert_parity.py [--out test/fixtures/parity] [--only NAME]
"""

import argparse
import json
import math
import os
import random
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also when loaded by path
import gpt2_reference  # noqa: E402

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15

FIXTURES = [
    {
        "name": "minilm",
        "about": "all-MiniLM-L6-v2 shape: 6 layers, 384 hidden, 12 heads, 1536 FFN, 30522 vocab, "
                 "512 positions, erf GELU, eps 1e-12; mean pooling + Normalize",
        "arch": "bert",
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
        "arch": "bert",
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
        "arch": "bert",
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
    {
        "name": "gpt2-small",
        "about": "GPT-2 small shape: 12 layers, 768 hidden, 12 heads, n_inner null (3072), 50257 vocab, "
                 "1024 positions, gelu_new, eps 1e-5, GPT2LMHeadModel tensor names (transformer. prefix), "
                 "tied LM head; no sentence-transformers files (mean pooling)",
        "arch": "gpt2",
        "seed": 124,
        "header": None,
        "config": {"activation_function": "gelu_new", "attn_pdrop": 0.1, "bos_token_id": 50256,
                   "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
                   "layer_norm_epsilon": 1e-05, "n_ctx": 1024, "n_embd": 768, "n_head": 12,
                   "n_inner": None, "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1,
                   "scale_attn_weights": True, "tie_word_embeddings": True, "vocab_size": 50257},
        "prefix": "transformer.", "with_pooler": False, "with_position_ids": False,
        "pooling": "mean", "normalize": False, "max_seq_length": None,
        "lengths": [80, 21, 6],
        "typed_rows": [],
        "check": "few",
        "logit_ids": 8,
    },
    {
        "name": "distilbert",
        "about": "multi-qa-distilbert-cos-v1 shape: 6 layers, dim 768, 12 heads, hidden_dim 3072, "
                 "30522 vocab, 512 positions, erf GELU, eps 1e-12 (fixed by DistilBERT), bare tensor "
                 "names; CLS pooling + Normalize",
        "arch": "distilbert",
        "seed": 66,
        "header": None,
        "config": {"activation": "gelu", "attention_dropout": 0.1, "dim": 768, "dropout": 0.1,
                   "hidden_dim": 3072, "initializer_range": 0.02, "max_position_embeddings": 512,
                   "n_heads": 12, "n_layers": 6, "pad_token_id": 0, "qa_dropout": 0.1,
                   "seq_classif_dropout": 0.2, "sinusoidal_pos_embds": False, "tie_weights_": True,
                   "vocab_size": 30522},
        "prefix": "", "with_pooler": False, "with_position_ids": False,
        "pooling": "cls", "normalize": True, "max_seq_length": 512,
        "lengths": [96, 25, 1],
        "typed_rows": [],
        "check": "few",
    },
    {
        "name": "distilroberta",
        "about": "all-distilroberta-v1 shape: 6 layers, 768 hidden, 12 heads, 3072 FFN, 50265 vocab, "
                 "514 positions, pad_token_id 1, type_vocab_size 1, erf GELU, eps 1e-5; mean pooling "
                 "+ Normalize; sequence 2 holds the pad id at two places (positions skip it)",
        "arch": "roberta",
        "seed": 82,
        "header": None,
        "config": {"attention_probs_dropout_prob": 0.1, "bos_token_id": 0, "eos_token_id": 2,
                   "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 768,
                   "initializer_range": 0.02, "intermediate_size": 3072, "layer_norm_eps": 1e-05,
                   "max_position_embeddings": 514, "num_attention_heads": 12, "num_hidden_layers": 6,
                   "pad_token_id": 1, "position_embedding_type": "absolute", "type_vocab_size": 1,
                   "vocab_size": 50265},
        "prefix": "", "with_pooler": True, "with_position_ids": True,
        "pooling": "mean", "normalize": True, "max_seq_length": 128,
        "lengths": [100, 26, 13],
        "typed_rows": [],
        "pad_inside_rows": [2],
        "check": "few",
    },
]

# Hugging Face's class name and model_type of each architecture.
ARCHITECTURES = {"bert": ("BertModel", "bert"), "roberta": ("RobertaModel", "roberta"),
                 "distilbert": ("DistilBertModel", "distilbert"), "gpt2": ("GPT2LMHeadModel", "gpt2")}

# config.json key of each hyper-parameter, as Hugging Face's config classes name them.
CONFIG_KEYS = {
    "bert": {"hidden": "hidden_size", "layers": "num_hidden_layers", "heads": "num_attention_heads",
             "intermediate": "intermediate_size", "vocab": "vocab_size",
             "max_positions": "max_position_embeddings", "act": "hidden_act", "eps": "layer_norm_eps"},
    "distilbert": {"hidden": "dim", "layers": "n_layers", "heads": "n_heads", "intermediate": "hidden_dim",
                   "vocab": "vocab_size", "max_positions": "max_position_embeddings", "act": "activation",
                   "eps": None},
    "gpt2": {"hidden": "n_embd", "layers": "n_layer", "heads": "n_head", "intermediate": "n_inner",
             "vocab": "vocab_size", "max_positions": "n_positions", "act": "activation_function",
             "eps": "layer_norm_epsilon"},
}
CONFIG_KEYS["roberta"] = CONFIG_KEYS["bert"]

# The encoder tensors of one layer by role, for BERT/RoBERTa and DistilBERT.
ENCODER_LAYER = {
    "bert": {"layer": "encoder.layer.%d.",
             "q_w": "attention.self.query.weight", "q_b": "attention.self.query.bias",
             "k_w": "attention.self.key.weight", "k_b": "attention.self.key.bias",
             "v_w": "attention.self.value.weight", "v_b": "attention.self.value.bias",
             "o_w": "attention.output.dense.weight", "o_b": "attention.output.dense.bias",
             "ln1_w": "attention.output.LayerNorm.weight", "ln1_b": "attention.output.LayerNorm.bias",
             "i_w": "intermediate.dense.weight", "i_b": "intermediate.dense.bias",
             "out_w": "output.dense.weight", "out_b": "output.dense.bias",
             "ln2_w": "output.LayerNorm.weight", "ln2_b": "output.LayerNorm.bias"},
    "distilbert": {"layer": "transformer.layer.%d.",
                   "q_w": "attention.q_lin.weight", "q_b": "attention.q_lin.bias",
                   "k_w": "attention.k_lin.weight", "k_b": "attention.k_lin.bias",
                   "v_w": "attention.v_lin.weight", "v_b": "attention.v_lin.bias",
                   "o_w": "attention.out_lin.weight", "o_b": "attention.out_lin.bias",
                   "ln1_w": "sa_layer_norm.weight", "ln1_b": "sa_layer_norm.bias",
                   "i_w": "ffn.lin1.weight", "i_b": "ffn.lin1.bias",
                   "out_w": "ffn.lin2.weight", "out_b": "ffn.lin2.bias",
                   "ln2_w": "output_layer_norm.weight", "ln2_b": "output_layer_norm.bias"},
}
ENCODER_LAYER["roberta"] = ENCODER_LAYER["bert"]

LAYERNORM_MODULES = ("LayerNorm", "layer_norm", ".ln_1", ".ln_2", "ln_f")


def fnv1a64(text):
    h = 0xcbf29ce484222325
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001b3) & MASK64
    return h


def is_layernorm(name, param):
    return any(name.endswith(module + "." + param) for module in LAYERNORM_MODULES)


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
    if is_layernorm(name, "weight"):
        return np.float32(1.0) + u * np.float32(0.125)
    if is_layernorm(name, "bias"):
        return u * np.float32(0.125)
    if "embeddings." in name or name.endswith("wte.weight") or name.endswith("wpe.weight"):
        return u * np.float32(0.5)
    if name.endswith(".bias"):
        return u * np.float32(0.0625)
    return u * np.float32(0.125)


def model_shape(fx):
    """The hyper-parameters of the fixture's config.json, read as Hugging Face reads them."""
    arch, c = fx["arch"], fx["config"]
    keys = CONFIG_KEYS[arch]
    shape = {k: c[v] for k, v in keys.items() if k not in ("eps", "intermediate")}
    shape["eps"] = c[keys["eps"]] if keys["eps"] else 1e-12
    shape["intermediate"] = c[keys["intermediate"]]
    if arch == "gpt2" and shape["intermediate"] is None:
        shape["intermediate"] = 4 * shape["hidden"]
    shape["type_vocab"] = c.get("type_vocab_size", 0) if arch in ("bert", "roberta") else 0
    shape["pad_id"] = c["pad_token_id"] if arch == "roberta" else -1
    return shape


def generated_tensors(fx):
    """get(name, shape): float64 tensor of the fixture's generated weights (name without the class prefix)."""
    def get(name, shape):
        values = weight_values(fx["seed"], fx["prefix"] + name, int(np.prod(shape)))
        return torch.from_numpy(values.astype(np.float64).reshape(shape))
    return get


def encoder_weights(get, arch, shape):
    """Embedding tables and per-layer tensors (by role) of an encoder, each from get(name, shape)."""
    H, I = shape["hidden"], shape["intermediate"]
    names = ENCODER_LAYER[arch]
    w = {"word": get("embeddings.word_embeddings.weight", (shape["vocab"], H)),
         "position": get("embeddings.position_embeddings.weight", (shape["max_positions"], H)),
         "token_type": None,
         "ln_w": get("embeddings.LayerNorm.weight", (H,)),
         "ln_b": get("embeddings.LayerNorm.bias", (H,)),
         "layers": []}
    if shape["type_vocab"] > 0:
        w["token_type"] = get("embeddings.token_type_embeddings.weight", (shape["type_vocab"], H))
    dims = {"q_w": (H, H), "k_w": (H, H), "v_w": (H, H), "o_w": (H, H), "i_w": (I, H), "out_w": (H, I),
            "i_b": (I,)}
    for l in range(shape["layers"]):
        layer = names["layer"] % l
        w["layers"].append({role: get(layer + names[role], dims.get(role, (H,)))
                            for role in names if role != "layer"})
    return w


def make_weights(fx):
    """name (without prefix) -> float64 tensor of a BERT encoder's tensors; fx holds
    "config" (BertConfig keys), "seed" and "prefix" (used by bench/engine/peers)."""
    shape = model_shape(dict(fx, arch="bert"))
    get = generated_tensors(fx)
    names = ENCODER_LAYER["bert"]
    w = encoder_weights(get, "bert", shape)
    weights = {"embeddings.word_embeddings.weight": w["word"],
               "embeddings.position_embeddings.weight": w["position"],
               "embeddings.token_type_embeddings.weight": w["token_type"],
               "embeddings.LayerNorm.weight": w["ln_w"], "embeddings.LayerNorm.bias": w["ln_b"]}
    for l, lw in enumerate(w["layers"]):
        weights.update({names["layer"] % l + names[role]: t for role, t in lw.items()})
    return weights


def gpt2_weights(get, shape):
    """GPT-2's tensors, Conv1D weights [in, out] as stored, keyed by their names in a block."""
    H, I = shape["hidden"], shape["intermediate"]
    w = {"wte": get("wte.weight", (shape["vocab"], H)),
         "wpe": get("wpe.weight", (shape["max_positions"], H)),
         "ln_f.weight": get("ln_f.weight", (H,)),
         "ln_f.bias": get("ln_f.bias", (H,)),
         "layers": []}
    dims = {"attn.c_attn.weight": (H, 3 * H), "attn.c_attn.bias": (3 * H,),
            "attn.c_proj.weight": (H, H), "attn.c_proj.bias": (H,),
            "ln_1.weight": (H,), "ln_1.bias": (H,), "ln_2.weight": (H,), "ln_2.bias": (H,),
            "mlp.c_fc.weight": (H, I), "mlp.c_fc.bias": (I,),
            "mlp.c_proj.weight": (I, H), "mlp.c_proj.bias": (H,)}
    for l in range(shape["layers"]):
        w["layers"].append({name: get("h.%d.%s" % (l, name), dims[name]) for name in dims})
    return w


def activation(shape):
    if shape["act"] == "gelu":
        return lambda x: F.gelu(x)
    return lambda x: F.gelu(x, approximate="tanh")


def roberta_positions_cumsum(ids, pad):
    """Hugging Face's create_position_ids_from_input_ids, for a [B, L] tensor."""
    mask = ids.ne(pad).int()
    return (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + pad


def roberta_positions_counted(ids, pad):
    """The same rule for one sequence, counting: pads sit at pad, real tokens at pad + their rank."""
    positions, seen = [], 0
    for token in ids:
        if token == pad:
            positions.append(pad)
        else:
            seen += 1
            positions.append(pad + seen)
    return torch.tensor(positions)


def encoder_embeddings(w, shape, ids, types, positions):
    """Word + position (+ token type) embeddings and their LayerNorm, for [..., L] ids."""
    x = w["word"][ids] + w["position"][positions]
    if w["token_type"] is not None:
        x = x + w["token_type"][types]
    return F.layer_norm(x, (shape["hidden"],), w["ln_w"], w["ln_b"], shape["eps"])


def encoder_torch_layers(w, shape, arch, ids, types, lengths):
    """Batched run through nn.TransformerEncoderLayer with a key padding mask."""
    H, I, heads = shape["hidden"], shape["intermediate"], shape["heads"]
    if arch == "roberta":
        positions = roberta_positions_cumsum(ids, shape["pad_id"])
    else:
        positions = torch.arange(ids.shape[1]).unsqueeze(0)
    x = encoder_embeddings(w, shape, ids, types, positions)
    pad = torch.arange(ids.shape[1]).unsqueeze(0) >= torch.tensor(lengths).unsqueeze(1)
    act = "gelu" if shape["act"] == "gelu" else activation(shape)
    for lw in w["layers"]:
        layer = torch.nn.TransformerEncoderLayer(
            H, heads, dim_feedforward=I, dropout=0.0, activation=act,
            layer_norm_eps=shape["eps"], batch_first=True, norm_first=False, dtype=torch.float64)
        layer.eval()
        layer.self_attn.in_proj_weight.copy_(torch.cat([lw["q_w"], lw["k_w"], lw["v_w"]]))
        layer.self_attn.in_proj_bias.copy_(torch.cat([lw["q_b"], lw["k_b"], lw["v_b"]]))
        layer.self_attn.out_proj.weight.copy_(lw["o_w"])
        layer.self_attn.out_proj.bias.copy_(lw["o_b"])
        layer.norm1.weight.copy_(lw["ln1_w"])
        layer.norm1.bias.copy_(lw["ln1_b"])
        layer.linear1.weight.copy_(lw["i_w"])
        layer.linear1.bias.copy_(lw["i_b"])
        layer.linear2.weight.copy_(lw["out_w"])
        layer.linear2.bias.copy_(lw["out_b"])
        layer.norm2.weight.copy_(lw["ln2_w"])
        layer.norm2.bias.copy_(lw["ln2_b"])
        x = layer(x, src_key_padding_mask=pad)
    return x


def encoder_equations(w, shape, arch, ids, types):
    """One unpadded sequence (lists of n ids and types) through the encoder equations, written out."""
    H, heads, eps = shape["hidden"], shape["heads"], shape["eps"]
    d = H // heads
    act = activation(shape)
    if arch == "roberta":
        positions = roberta_positions_counted(ids, shape["pad_id"])
    else:
        positions = torch.arange(len(ids))
    x = encoder_embeddings(w, shape, torch.tensor(ids), torch.tensor(types), positions)
    n = x.shape[0]
    for lw in w["layers"]:
        q = F.linear(x, lw["q_w"], lw["q_b"])
        k = F.linear(x, lw["k_w"], lw["k_b"])
        v = F.linear(x, lw["v_w"], lw["v_b"])
        q, k, v = (t.view(n, heads, d).transpose(0, 1) for t in (q, k, v))
        probs = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(d), dim=-1)
        ctx = (probs @ v).transpose(0, 1).reshape(n, H)
        a = F.linear(ctx, lw["o_w"], lw["o_b"])
        x = F.layer_norm(x + a, (H,), lw["ln1_w"], lw["ln1_b"], eps)
        f = act(F.linear(x, lw["i_w"], lw["i_b"]))
        f = F.linear(f, lw["out_w"], lw["out_b"])
        x = F.layer_norm(x + f, (H,), lw["ln2_w"], lw["ln2_b"], eps)
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


def special_tokens(arch, row, b, fx):
    """Put the architecture's sequence markers (and, where asked, pad ids) into a row of ids."""
    n = len(row)
    if arch in ("bert", "distilbert") and fx["config"]["vocab_size"] > 102 and n >= 2:
        row[0], row[-1] = 101, 102
    elif arch == "roberta":
        pad = fx["config"]["pad_token_id"]
        row[:] = [t if t != pad else pad + 2 for t in row]
        if n >= 2:
            row[0], row[-1] = 0, 2
        if b in fx.get("pad_inside_rows", []):
            row[3] = row[n - 4] = pad
    elif arch == "gpt2" and b == 0:
        row[0] = fx["config"]["vocab_size"] - 1
    return row


def make_inputs(fx, shape):
    rng = random.Random(fx["seed"] * 7919 + 1)
    seq = max(fx["lengths"])
    fill = shape["pad_id"] if fx["arch"] == "roberta" else 0
    ids, types = [], []
    for b, n in enumerate(fx["lengths"]):
        row = special_tokens(fx["arch"], [rng.randrange(1, shape["vocab"]) for _ in range(n)], b, fx)
        t = [0] * n
        if b in fx["typed_rows"]:
            tv = shape["type_vocab"]
            t = [min(tv - 1, (i * tv) // n) for i in range(n)]
        ids.append(row + [fill] * (seq - n))
        types.append(t + [0] * (seq - n))
    return seq, ids, types


def check_positions(fx, b, n):
    """Tokens whose hidden state the fixture keeps: first, middle and last (fewer for wide models)."""
    if fx.get("check") == "few" and b > 0:
        return sorted({n // 2, n - 1})
    return sorted({0, n // 2, n - 1})


def model_files(fx):
    """config.json and, unless the model is a bare transformer, the sentence-transformers files."""
    class_name, model_type = ARCHITECTURES[fx["arch"]]
    config = dict({"architectures": [class_name], "model_type": model_type}, **fx["config"])
    files = {"config.json": json.dumps(config, indent=2) + "\n"}
    if fx["max_seq_length"] is None:
        return files
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if fx["normalize"]:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
    pooling = {"word_embedding_dimension": model_shape(fx)["hidden"],
               "pooling_mode_cls_token": fx["pooling"] == "cls",
               "pooling_mode_mean_tokens": fx["pooling"] == "mean",
               "pooling_mode_max_tokens": fx["pooling"] == "max",
               "pooling_mode_mean_sqrt_len_tokens": False}
    files["modules.json"] = json.dumps(modules, indent=2) + "\n"
    files["1_Pooling/config.json"] = json.dumps(pooling, indent=2) + "\n"
    files["sentence_bert_config.json"] = json.dumps({"max_seq_length": fx["max_seq_length"],
                                                     "do_lower_case": False}) + "\n"
    return files


def writer_spec(fx, shape):
    """What test/c/bert_writer.h needs to lay out the same safetensors file."""
    return {"arch": fx["arch"], "prefix": fx["prefix"], "hidden": shape["hidden"],
            "layers": shape["layers"], "heads": shape["heads"], "intermediate": shape["intermediate"],
            "vocab": shape["vocab"], "max_positions": shape["max_positions"],
            "type_vocab": shape["type_vocab"], "with_pooler": fx["with_pooler"],
            "with_position_ids": fx["with_position_ids"]}


def run_references(fx, shape, ids, types):
    """Per-sequence outputs [n, H] of the two references, their largest difference, and the weights."""
    arch, lengths = fx["arch"], fx["lengths"]
    ids_t = torch.tensor(ids)
    if arch == "gpt2":
        w = gpt2_weights(generated_tensors(fx), shape)
        batched = gpt2_reference.reference_modules(w, shape, ids_t, lengths)
        alone = [gpt2_reference.reference_equations(w, shape, ids[b][:n]) for b, n in enumerate(lengths)]
    else:
        w = encoder_weights(generated_tensors(fx), arch, shape)
        batched = encoder_torch_layers(w, shape, arch, ids_t, torch.tensor(types), lengths)
        alone = [encoder_equations(w, shape, arch, ids[b][:n], types[b][:n]) for b, n in enumerate(lengths)]
    worst = max(float((alone[b] - batched[b, :n]).abs().max()) for b, n in enumerate(lengths))
    return alone, worst, w


def logit_ids(fx, shape):
    """Vocabulary ids whose logits the fixture keeps: 0, 1, the last, and random others."""
    rng = random.Random(fx["seed"] + 5)
    chosen = [0, 1, shape["vocab"] - 1]
    while len(chosen) < fx["logit_ids"]:
        chosen.append(rng.randrange(2, shape["vocab"] - 1))
    return chosen


def floats(values):
    return "[" + ", ".join("%.8g" % v for v in values) + "]"


def write_fixture(fx, path):
    torch.set_grad_enabled(False)
    shape = model_shape(fx)
    seq, ids, types = make_inputs(fx, shape)
    alone, worst, w = run_references(fx, shape, ids, types)
    if worst > 1e-9:
        raise SystemExit("%s: the two references differ by %g" % (fx["name"], worst))

    check, hidden, pooled = [], [], []
    for b, n in enumerate(fx["lengths"]):
        for i in check_positions(fx, b, n):
            check.append([b, i])
            hidden.append(alone[b][i].tolist())
        pooled.append(pool(fx, alone[b]).tolist())

    lines = ["{",
             '  "name": %s,' % json.dumps(fx["name"]),
             '  "about": %s,' % json.dumps(fx["about"]),
             '  "generator": "tools/parity/bert_parity.py (torch %s, float64)",' % torch.__version__,
             '  "reference_agreement": %s,' % json.dumps("%.2g" % worst),
             '  "seed": %d,' % fx["seed"],
             '  "header": %s,' % json.dumps(fx["header"]),
             '  "writer": %s,' % json.dumps(writer_spec(fx, shape)),
             '  "pooling": %s,' % json.dumps(fx["pooling"]),
             '  "normalize": %s,' % json.dumps(fx["normalize"]),
             '  "files": %s,' % json.dumps(model_files(fx), sort_keys=True),
             '  "batch": %d,' % len(fx["lengths"]),
             '  "seq": %d,' % seq,
             '  "lengths": %s,' % json.dumps(fx["lengths"]),
             '  "ids": [%s],' % ",\n    ".join(json.dumps(r) for r in ids),
             '  "type_ids": [%s],' % ",\n    ".join(json.dumps(r) for r in types),
             '  "check_tokens": %s,' % json.dumps(check),
             '  "hidden": [\n    %s],' % ",\n    ".join(floats(r) for r in hidden)]
    if fx.get("logit_ids"):
        chosen = logit_ids(fx, shape)
        logits = [(w["wte"][chosen] @ alone[b][i]).tolist() for b, i in check]
        lines += ['  "logit_ids": %s,' % json.dumps(chosen),
                  '  "logits": [\n    %s],' % ",\n    ".join(floats(r) for r in logits)]
    lines += ['  "pooled": [\n    %s]' % ",\n    ".join(floats(r) for r in pooled),
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
