#!/usr/bin/python3
"""PyTorch side of the transformer-engine benchmark (run by bench/engine/peers.sh).

Builds the all-MiniLM-L6-v2-shaped BERT encoder (6 layers, 384 hidden, 12
heads, 1536 FFN, erf GELU) in float32 with the same pseudo-random weights as
bench/engine/bench_engine.c (the generator of tools/parity/bert_parity.py
and test/c/bert_writer.h, seed 1), written the way Hugging Face's BertModel
computes it (additive attention mask, softmax, erf GELU, post-LayerNorm).

    bert_peers.py export OUT.onnx        export to ONNX (opset 17, dynamic batch and length)
    bert_peers.py bench THREADS SECONDS CASE...
                                         time PyTorch eager; CASE is LENGTHxBATCH,
                                         prints "RESULT torch THREADS LENGTH BATCH BEST_S MEDIAN_S"
"""

import importlib.util
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SEED = 1
CONFIG = {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
          "intermediate_size": 1536, "vocab_size": 30522, "max_position_embeddings": 512,
          "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12}


def parity_module():
    spec = importlib.util.spec_from_file_location("bert_parity", os.path.join(ROOT, "tools", "parity", "bert_parity.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Bert(torch.nn.Module):
    """BERT encoder returning the last hidden state [batch, length, hidden]."""

    def __init__(self, weights, c):
        super().__init__()
        self.heads = c["num_attention_heads"]
        self.hidden = c["hidden_size"]
        self.eps = c["layer_norm_eps"]
        self.w = torch.nn.ParameterDict({name.replace(".", "__"): torch.nn.Parameter(t.float(), requires_grad=False)
                                         for name, t in weights.items()})
        self.layers = c["num_hidden_layers"]

    def p(self, name):
        return self.w[name.replace(".", "__")]

    def forward(self, input_ids, attention_mask):
        B, L = input_ids.shape
        H, heads = self.hidden, self.heads
        d = H // heads
        positions = torch.arange(L, device=input_ids.device).unsqueeze(0)
        x = (F.embedding(input_ids, self.p("embeddings.word_embeddings.weight"))
             + F.embedding(positions, self.p("embeddings.position_embeddings.weight"))
             + self.p("embeddings.token_type_embeddings.weight")[0])
        x = F.layer_norm(x, (H,), self.p("embeddings.LayerNorm.weight"), self.p("embeddings.LayerNorm.bias"), self.eps)
        mask = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for l in range(self.layers):
            pre = "encoder.layer.%d." % l

            def lin(name, t):
                return F.linear(t, self.p(pre + name + ".weight"), self.p(pre + name + ".bias"))

            q = lin("attention.self.query", x).view(B, L, heads, d).transpose(1, 2)
            k = lin("attention.self.key", x).view(B, L, heads, d).transpose(1, 2)
            v = lin("attention.self.value", x).view(B, L, heads, d).transpose(1, 2)
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + mask
            ctx = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(B, L, H)
            x = F.layer_norm(x + lin("attention.output.dense", ctx), (H,),
                             self.p(pre + "attention.output.LayerNorm.weight"),
                             self.p(pre + "attention.output.LayerNorm.bias"), self.eps)
            f = lin("output.dense", F.gelu(lin("intermediate.dense", x)))
            x = F.layer_norm(x + f, (H,), self.p(pre + "output.LayerNorm.weight"),
                             self.p(pre + "output.LayerNorm.bias"), self.eps)
        return x


def build_model():
    parity = parity_module()
    fx = {"config": CONFIG, "seed": SEED, "prefix": ""}
    model = Bert(parity.make_weights(fx), CONFIG)
    model.eval()
    return model


def inputs(length, batch):
    """Token ids like the C benchmark's: 1000 + (i * 7919) % 20000 over the flattened batch."""
    i = np.arange(batch * length, dtype=np.int64)
    ids = torch.from_numpy((1000 + (i * 7919) % 20000).reshape(batch, length))
    return ids, torch.ones(batch, length, dtype=torch.int64)


def export(path):
    model = build_model()
    ids, mask = inputs(8, 2)
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask), path, opset_version=17,
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "length"},
                                        "attention_mask": {0: "batch", 1: "length"},
                                        "last_hidden_state": {0: "batch", 1: "length"}})
    print("exported %s (%.1f MB)" % (path, os.path.getsize(path) / 1e6))


def bench(threads, seconds, cases):
    torch.set_num_threads(threads)
    model = build_model()
    with torch.inference_mode():
        for case in cases:
            length, batch = (int(v) for v in case.split("x"))
            ids, mask = inputs(length, batch)
            model(ids, mask)
            times = []
            start = time.perf_counter()
            while time.perf_counter() - start < seconds or len(times) < 3:
                t = time.perf_counter()
                model(ids, mask)
                times.append(time.perf_counter() - t)
            print("RESULT torch %d %d %d %.6f %.6f" % (threads, length, batch, min(times), statistics.median(times)),
                  flush=True)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "export":
        export(sys.argv[2])
    elif len(sys.argv) >= 5 and sys.argv[1] == "bench":
        bench(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
