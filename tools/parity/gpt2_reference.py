"""Two independent float64 references of the GPT-2 decoder, for bert_parity.py.

Both are written from the GPT-2 equations, not from Hugging Face code:

  x = wte[ids] + wpe[0 .. n-1]
  per block:  h = LN1(x); q | k | v = h W_attn + b_attn      (Conv1D: W is [in, out])
              x = x + causal_attention(q, k, v) W_proj + b_proj
              h = LN2(x); x = x + gelu(h W_fc + b_fc) W_fc2 + b_fc2
  last_hidden_state = LN_f(x); logits = last_hidden_state wte^T (tied head)

  * reference_equations runs one unpadded sequence with plain tensor algebra:
    explicit heads, a -inf mask above the diagonal, GELU spelt out;
  * reference_modules runs the padded batch through torch.nn modules:
    nn.MultiheadAttention with a causal attn_mask and a key padding mask,
    nn.Linear holding the transposed Conv1D weights, nn.LayerNorm.
"""

import math

import torch
import torch.nn.functional as F


def gelu(name, x):
    """GPT-2's activation_function: "gelu_new" (tanh form) or "gelu" (erf)."""
    if name == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def reference_equations(w, shape, ids):
    """last_hidden_state [n, H] of one sequence (a list of n ids)."""
    H, heads, eps = shape["hidden"], shape["heads"], shape["eps"]
    d = H // heads
    n = len(ids)
    x = w["wte"][torch.tensor(ids)] + w["wpe"][:n]
    above_diagonal = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
    for lw in w["layers"]:
        h = F.layer_norm(x, (H,), lw["ln_1.weight"], lw["ln_1.bias"], eps)
        qkv = h @ lw["attn.c_attn.weight"] + lw["attn.c_attn.bias"]
        q, k, v = (qkv[:, i * H:(i + 1) * H].reshape(n, heads, d).transpose(0, 1) for i in range(3))
        scores = (q @ k.transpose(1, 2)) / math.sqrt(d)
        scores = scores.masked_fill(above_diagonal, float("-inf"))
        ctx = (torch.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(n, H)
        x = x + ctx @ lw["attn.c_proj.weight"] + lw["attn.c_proj.bias"]
        h = F.layer_norm(x, (H,), lw["ln_2.weight"], lw["ln_2.bias"], eps)
        f = gelu(shape["act"], h @ lw["mlp.c_fc.weight"] + lw["mlp.c_fc.bias"])
        x = x + f @ lw["mlp.c_proj.weight"] + lw["mlp.c_proj.bias"]
    return F.layer_norm(x, (H,), w["ln_f.weight"], w["ln_f.bias"], eps)


def linear_from_conv1d(weight, bias):
    """nn.Linear computing x W + b for a Conv1D weight W [in, out]."""
    lin = torch.nn.Linear(weight.shape[0], weight.shape[1], dtype=torch.float64)
    lin.weight.copy_(weight.t())
    lin.bias.copy_(bias)
    return lin


def layer_norm_module(weight, bias, eps):
    ln = torch.nn.LayerNorm(weight.shape[0], eps=eps, dtype=torch.float64)
    ln.weight.copy_(weight)
    ln.bias.copy_(bias)
    return ln


def reference_modules(w, shape, ids, lengths):
    """last_hidden_state [B, L, H] of a padded batch ([B, L] tensor of ids)."""
    H, heads, eps = shape["hidden"], shape["heads"], shape["eps"]
    B, L = ids.shape
    x = w["wte"][ids] + w["wpe"][torch.arange(L)].unsqueeze(0)
    causal = torch.triu(torch.ones(L, L, dtype=torch.bool), diagonal=1)
    padding = torch.arange(L).unsqueeze(0) >= torch.tensor(lengths).unsqueeze(1)
    approximate = "none" if shape["act"] == "gelu" else "tanh"
    for lw in w["layers"]:
        attn = torch.nn.MultiheadAttention(H, heads, dropout=0.0, batch_first=True, dtype=torch.float64)
        attn.eval()
        attn.in_proj_weight.copy_(lw["attn.c_attn.weight"].t())
        attn.in_proj_bias.copy_(lw["attn.c_attn.bias"])
        attn.out_proj.weight.copy_(lw["attn.c_proj.weight"].t())
        attn.out_proj.bias.copy_(lw["attn.c_proj.bias"])
        ln1 = layer_norm_module(lw["ln_1.weight"], lw["ln_1.bias"], eps)
        ln2 = layer_norm_module(lw["ln_2.weight"], lw["ln_2.bias"], eps)
        fc = linear_from_conv1d(lw["mlp.c_fc.weight"], lw["mlp.c_fc.bias"])
        fc2 = linear_from_conv1d(lw["mlp.c_proj.weight"], lw["mlp.c_proj.bias"])
        h = ln1(x)
        a, _ = attn(h, h, h, attn_mask=causal, key_padding_mask=padding, need_weights=False)
        x = x + a
        x = x + fc2(F.gelu(fc(ln2(x)), approximate=approximate))
    return layer_norm_module(w["ln_f.weight"], w["ln_f.bias"], eps)(x)
