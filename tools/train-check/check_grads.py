#!/usr/bin/python3
"""Compare the C trainer's loss and gradients with PyTorch autograd.

Builds tools/train-check/dump_grads against the trainer and engine objects
(run `make tools` first), runs it on a tiny model and batch, re-implements
the same encoder and loss in PyTorch (float64), and reports the largest
relative difference per parameter tensor.  Exit status 0 when every tensor
agrees within 1e-4 of its scale.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        x = torch.frombuffer(bytearray(data[b:e]), dtype=torch.float32).reshape(t["shape"])
        out[name] = x.to(torch.float64)
    return out


def build(tmp):
    objs = sorted(
        [os.path.join(TOP, "build/train", f) for f in os.listdir(os.path.join(TOP, "build/train")) if f.endswith(".o")]
        + [os.path.join(TOP, "src/engine", f) for f in os.listdir(os.path.join(TOP, "src/engine")) if f.endswith(".o")])
    flags = subprocess.check_output(["pkg-config", "--cflags", "--libs", "openblas", "libutf8proc"], text=True).split()
    exe = os.path.join(tmp, "dump_grads")
    subprocess.check_call(["cc", "-std=gnu11", "-O2", "-D_GNU_SOURCE", "-I" + os.path.join(TOP, "src/engine"),
                           "-I" + os.path.join(TOP, "src/train"), os.path.join(HERE, "dump_grads.c"), "-o", exe]
                          + objs + flags + ["-lm", "-lpthread"])
    return exe


def layernorm(x, g, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * g + b


def encode(p, ids, lengths, layers, heads, eps):
    outs = []
    off = 0
    for n in lengths:
        tok = torch.tensor(ids[off:off + n])
        off += n
        x = p["embeddings.word_embeddings.weight"][tok] + p["embeddings.position_embeddings.weight"][:n] \
            + p["embeddings.token_type_embeddings.weight"][0]
        x = layernorm(x, p["embeddings.LayerNorm.weight"], p["embeddings.LayerNorm.bias"], eps)
        for l in range(layers):
            pre = "encoder.layer.%d." % l
            lin = lambda h, name: h @ p[pre + name + ".weight"].T + p[pre + name + ".bias"]
            q = lin(x, "attention.self.query")
            k = lin(x, "attention.self.key")
            v = lin(x, "attention.self.value")
            H = q.shape[1]
            d = H // heads
            q = q.view(n, heads, d).transpose(0, 1)
            k = k.view(n, heads, d).transpose(0, 1)
            v = v.view(n, heads, d).transpose(0, 1)
            att = torch.softmax(q @ k.transpose(1, 2) / d ** 0.5, dim=-1)
            ctx = (att @ v).transpose(0, 1).reshape(n, H)
            x = layernorm(x + lin(ctx, "attention.output.dense"), p[pre + "attention.output.LayerNorm.weight"],
                          p[pre + "attention.output.LayerNorm.bias"], eps)
            f = torch.nn.functional.gelu(lin(x, "intermediate.dense"))
            x = layernorm(x + lin(f, "output.dense"), p[pre + "output.LayerNorm.weight"],
                          p[pre + "output.LayerNorm.bias"], eps)
        outs.append(torch.nn.functional.normalize(x.mean(0), dim=0))
    return torch.stack(outs)


def infonce(q, qh, c, ch, scale):
    logits = scale * q @ c.T
    B = q.shape[0]
    for i in range(B):
        for j in range(c.shape[0]):
            if j != i and (ch[j] == ch[i] or ch[j] == qh[i]):
                logits[i, j] = float("-inf")
    return torch.nn.functional.cross_entropy(logits, torch.arange(B))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        exe = build(tmp)
        subprocess.check_call([exe, tmp], stdout=subprocess.DEVNULL)
        params = read_safetensors(os.path.join(tmp, "params/model.safetensors"))
        grads = read_safetensors(os.path.join(tmp, "grads/model.safetensors"))
        cfg = json.load(open(os.path.join(tmp, "params/config.json")))
        batch = json.load(open(os.path.join(tmp, "batch.json")))
    for t in params.values():
        t.requires_grad_(True)
    B, nneg = batch["B"], batch["nneg"]
    z = encode(params, batch["ids"], batch["lengths"], cfg["num_hidden_layers"], cfg["num_attention_heads"],
               batch["eps"])
    h = batch["hashes"]
    a, pos = z[:B], z[B:2 * B]
    cand = z[B:2 * B + nneg]
    loss = 0.5 * (infonce(a, h[:B], cand, h[B:2 * B + nneg], batch["scale"])
                  + infonce(pos, h[B:2 * B], a, h[:B], batch["scale"]))
    loss.backward()
    print("loss: C %.7f  PyTorch %.7f" % (batch["loss"], loss.item()))
    worst_all = abs(batch["loss"] - loss.item()) / max(1.0, abs(loss.item()))
    for name, t in params.items():
        ref = t.grad if t.grad is not None else torch.zeros_like(t)
        scale = max(ref.abs().max().item(), 1e-3)
        err = (grads[name] - ref).abs().max().item() / scale
        worst_all = max(worst_all, err)
        print("%-50s max |C - torch| / scale = %.2e  (scale %.2e)" % (name, err, scale))
    print("worst relative difference: %.2e" % worst_all)
    return 0 if worst_all < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
