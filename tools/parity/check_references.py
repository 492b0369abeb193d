#!/usr/bin/python3
"""Check the float64 references of bert_parity.py against Hugging Face's outputs.

bert_parity.py's references are written from the model equations, not from
Hugging Face code.  This script runs them on the tiny real checkpoints kept
in ../shared/models and compares their outputs with those Hugging Face
computed (../shared/data/reference-outputs, see its SOURCES.md): GPT-2
logits through the tied head, DistilBERT's and (XLM-)RoBERTa's
last_hidden_state, BERT's too.  Both references of each architecture are
run: the nn-module one over the batch, the equations one per sequence.
The reference files run without an attention mask, so every sequence is
passed whole.

Usage (from the top of the source tree; nothing is written):
    /usr/bin/python3 tools/parity/check_references.py [--shared ../shared]
Exit status 1 when a difference exceeds the tolerance (1e-9 against the
float64 files, 1e-5 against the float32 one).
"""

import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

import bert_parity
import gpt2_reference

# (model folder, reference file, key of the expected values, tolerance)
CASES = [
    ("pico-bert", "tiny_bert_hidden.json", "hidden", 1e-9),
    ("pico-distilbert", "tiny_distilbert_hidden.json", "hidden", 1e-9),
    ("pico-roberta", "tiny_roberta_hidden.json", "hidden", 1e-9),
    ("pico-xlmroberta", "tiny_xlmroberta_hidden.json", "hidden", 1e-9),
    ("pico-distilgpt2", "tiny_distilgpt2_logits.json", "logits", 1e-9),
    ("pico-cerebras-gpt", "tiny_cerebras_gpt_logits.json", "logits", 1e-9),
    ("pico-gpt2-stdlib", "tiny_gpt2_logits.json", "logits", 1e-9),
    ("loractl-tiny-gpt2", "gpt2_tiny_golden.json", "logits", 1e-5),
]

ARCH_OF_MODEL_TYPE = {"bert": "bert", "roberta": "roberta", "xlm-roberta": "roberta",
                      "distilbert": "distilbert", "gpt2": "gpt2"}
CLASS_PREFIXES = ("", "bert.", "roberta.", "distilbert.", "transformer.")


def read_safetensors(path):
    """name -> float64 numpy array of every F32 tensor of a safetensors file."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] != "F32":
            continue
        begin, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(entry["shape"]).astype(np.float64)
    return tensors


def file_tensors(tensors, probe):
    """get(name, shape) over a checkpoint, under the class prefix that holds `probe`."""
    prefix = next(p for p in CLASS_PREFIXES if p + probe in tensors)

    def get(name, shape):
        t = torch.from_numpy(tensors[prefix + name])
        if tuple(t.shape) != tuple(shape):
            raise SystemExit("%s%s has shape %s, expected %s" % (prefix, name, tuple(t.shape), shape))
        return t
    return get


def inputs(ref):
    """Sequences [B, L] (loractl's single input_ids included) and token types, all passed whole."""
    seqs = ref["sequences"] if "sequences" in ref else [ref["input_ids"]]
    types = ref.get("token_types", [[0] * len(s) for s in seqs])
    return seqs, types


def run_case(shared, model, reference, key):
    """Largest difference of each reference from the expected values."""
    folder = os.path.join(shared, "models", model)
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(shared, "data", "reference-outputs", reference)) as f:
        ref = json.load(f)
    arch = ARCH_OF_MODEL_TYPE[config.get("model_type", "bert")]
    shape = bert_parity.model_shape({"arch": arch, "config": config})
    tensors = read_safetensors(os.path.join(folder, "model.safetensors"))
    seqs, types = inputs(ref)
    lengths = [len(s) for s in seqs]
    want = torch.tensor(ref[key], dtype=torch.float64).reshape(len(seqs), lengths[0], -1)
    if arch == "gpt2":
        w = bert_parity.gpt2_weights(file_tensors(tensors, "wte.weight"), shape)
        batched = gpt2_reference.reference_modules(w, shape, torch.tensor(seqs), lengths)
        alone = torch.stack([gpt2_reference.reference_equations(w, shape, s) for s in seqs])
        batched, alone = batched @ w["wte"].t(), alone @ w["wte"].t()
    else:
        w = bert_parity.encoder_weights(file_tensors(tensors, "embeddings.word_embeddings.weight"), arch, shape)
        if shape["type_vocab"] == 0:
            types = [[0] * n for n in lengths]
        batched = bert_parity.encoder_torch_layers(w, shape, arch, torch.tensor(seqs), torch.tensor(types), lengths)
        alone = torch.stack([bert_parity.encoder_equations(w, shape, arch, s, t) for s, t in zip(seqs, types)])
    return float((batched - want).abs().max()), float((alone - want).abs().max())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", default="../shared")
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(args.shared, "data", "reference-outputs")):
        print("%s/data/reference-outputs not found: nothing to check" % args.shared)
        return 0
    torch.set_grad_enabled(False)
    failed = 0
    for model, reference, key, tolerance in CASES:
        if not os.path.isdir(os.path.join(args.shared, "models", model)):
            print("%-18s skipped: not in %s/models" % (model, args.shared))
            continue
        modules, equations = run_case(args.shared, model, reference, key)
        good = max(modules, equations) <= tolerance
        failed += not good
        print("%-18s %-6s modules %.2g, equations %.2g (tolerance %g) %s"
              % (model, key, modules, equations, tolerance, "ok" if good else "FAILED"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
