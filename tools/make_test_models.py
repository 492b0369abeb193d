#!/usr/bin/env python3
"""Write the small random-weight models used by the SQL tests into test/models/.

    python3 tools/make_test_models.py

Each model is a complete Hugging Face (and, where the model has one,
sentence-transformers) folder with a vocabulary written here and weights
drawn from a seeded xorshift generator, so the output is byte-for-byte
reproducible.  Standard library only.

Models:
  embed-test-tiny       BERT, 32 hidden, 2 layers, 4 heads; mean pooling + Normalize; 16 tokens max
  embed-test-cls        same vocabulary, 24 hidden, 1 layer, 2 heads; CLS pooling, no Normalize
  embed-test-corrupt    embed-test-tiny with its weights file truncated (load must fail cleanly)
  embed-test-mismatch   embed-test-tiny whose config claims 48 hidden (shape check must fail)
  embed-test-gpt2       GPT-2 as GPT2Model.save_pretrained writes it (bare tensor names wte, wpe,
                        h.N, ln_f), 32 hidden, 2 layers, 2 heads, 64 positions; vocab.json +
                        merges.txt + tokenizer_config.json; no modules.json (mean pooling, no
                        normalisation)
  embed-test-roberta    RoBERTa ("roberta." tensor names, as RobertaForMaskedLM saves them, with
                        the LM head), pad_token_id 1, 26 positions (24 usable); tokenizer.json;
                        mean pooling + Normalize
  embed-test-distilbert DistilBERT (bare tensor names), the WordPiece vocabulary of
                        embed-test-tiny; CLS pooling, no Normalize
  embed-test-roberta-plain  embed-test-roberta whose tokenizer.json has no post-processor, so it
                        adds no <s> ... </s> (load must be refused)
  embed-test-noroom     embed-test-tiny with max_seq_length 2: no room beside [CLS] and [SEP]
                        (load must be refused)

The byte-level BPE vocabulary of embed-test-gpt2 and embed-test-roberta is
learned here from CORPUS: GPT-2's 256 byte symbols (bytes_to_unicode order)
plus BPE_MERGES merges, each the most frequent adjacent pair of symbols
inside the corpus' pre-tokenized words (ties broken by the pair's text).
"""
import collections
import json
import os
import re
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

# Text the byte-level BPE vocabulary is learned from (ASCII, written for these tests).
CORPUS = """
The cat sat on the mat. The dog sat on the log. The cat and the dog are friends.
A quick brown fox jumps over the lazy dog, and the lazy dog sleeps in the sun.
I love ice cream. She loves chocolate cake. We enjoy eating food in the park.
The stock market fell sharply today; prices rose again yesterday and may fall tomorrow.
It's a small world. They're happy, we've eaten, I'm here, you'll see, he'd know.
The children are running in the park while the man and the woman walk to the city.
Hello world! This database stores every sentence with its embedding vector.
Search the index: a query finds the nearest text, then the next one, and the one after.
In 2024 the city had 12 parks, 340 roads and 5678 cars; in 1999 it had fewer.
The red car, the blue car and the green car are on the road to the old town.
Postgres answers the query; the vector index makes the search fast and the answer good.
Some people said the cat was sad, but the cat was only sleeping on the warm mat.
"""

# Merges learned for the byte-level BPE vocabulary.
BPE_MERGES = 200

# GPT-2's pre-tokenization pattern restricted to ASCII (CORPUS is ASCII).
GPT2_PATTERN = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")


def vocabulary():
    vocab = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    vocab += PUNCT + chars + ["##" + c for c in chars]
    vocab += ["##s", "##ing", "##ed", "##er", "##ly"]
    for w in WORDS:
        if w not in vocab:
            vocab.append(w)
    return vocab


def bytes_to_unicode():
    """GPT-2's byte alphabet: printable Latin-1 bytes stand for themselves, the others for U+0100 + n."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1))
                 + list(range(ord("\u00ae"), ord("\u00ff") + 1)))
    order, chars, n = printable[:], printable[:], 0
    for b in range(256):
        if b not in printable:
            order.append(b)
            chars.append(256 + n)
            n += 1
    return [(b, chr(c)) for b, c in zip(order, chars)]


def learn_bpe(text, n_merges):
    """Byte symbols in GPT-2's order and the n_merges merges learned from text's words."""
    assert all(ord(c) < 128 for c in text)
    alphabet = bytes_to_unicode()
    spell = dict(alphabet)
    words = collections.Counter(GPT2_PATTERN.findall(text))
    split = {w: tuple(spell[b] for b in w.encode()) for w in words}
    merges = []
    for _ in range(n_merges):
        pairs = collections.Counter()
        for w, count in words.items():
            syms = split[w]
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] += count
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        for w in words:
            syms, out, i = split[w], [], 0
            while i < len(syms):
                if i + 1 < len(syms) and (syms[i], syms[i + 1]) == best:
                    out.append(syms[i] + syms[i + 1])
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            split[w] = tuple(out)
    return [c for _, c in alphabet], merges


def bpe_vocabulary(symbols, merges, before=(), after=()):
    """Token -> id: the tokens before, the byte symbols, the merged tokens, the tokens after."""
    vocab = {}
    for t in list(before) + symbols + [a + b for a, b in merges] + list(after):
        vocab.setdefault(t, len(vocab))
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


def roberta_tensors(cfg):
    """RobertaForMaskedLM's tensors: the encoder under "roberta." (no pooler) and the LM head
    (its decoder weight is tied to the word embeddings, so not stored)."""
    h, v = cfg["hidden_size"], cfg["vocab_size"]
    t = {"roberta." + k: s for k, s in bert_tensors(cfg).items() if not k.startswith("pooler.")}
    t.update({"lm_head.dense.weight": [h, h], "lm_head.dense.bias": [h], "lm_head.layer_norm.weight": [h],
              "lm_head.layer_norm.bias": [h], "lm_head.bias": [v]})
    return t


def distilbert_tensors(cfg):
    h, f = cfg["dim"], cfg["hidden_dim"]
    t = {
        "embeddings.word_embeddings.weight": [cfg["vocab_size"], h],
        "embeddings.position_embeddings.weight": [cfg["max_position_embeddings"], h],
        "embeddings.LayerNorm.weight": [h],
        "embeddings.LayerNorm.bias": [h],
    }
    for i in range(cfg["n_layers"]):
        p = "transformer.layer.%d." % i
        for name in ("q_lin", "k_lin", "v_lin", "out_lin"):
            t[p + "attention.%s.weight" % name] = [h, h]
            t[p + "attention.%s.bias" % name] = [h]
        for name in ("sa_layer_norm", "output_layer_norm"):
            t[p + name + ".weight"] = [h]
            t[p + name + ".bias"] = [h]
        t[p + "ffn.lin1.weight"] = [f, h]
        t[p + "ffn.lin1.bias"] = [f]
        t[p + "ffn.lin2.weight"] = [h, f]
        t[p + "ffn.lin2.bias"] = [h]
    return t


def gpt2_tensors(cfg):
    """GPT2Model's tensors (bare names); Conv1D weights are [in, out]."""
    h, L = cfg["n_embd"], cfg["n_layer"]
    f = cfg["n_inner"] or 4 * h
    t = {"wte.weight": [cfg["vocab_size"], h], "wpe.weight": [cfg["n_positions"], h],
         "ln_f.weight": [h], "ln_f.bias": [h]}
    for i in range(L):
        p = "h.%d." % i
        for ln in ("ln_1", "ln_2"):
            t[p + ln + ".weight"] = [h]
            t[p + ln + ".bias"] = [h]
        t[p + "attn.c_attn.weight"] = [h, 3 * h]
        t[p + "attn.c_attn.bias"] = [3 * h]
        t[p + "attn.c_proj.weight"] = [h, h]
        t[p + "attn.c_proj.bias"] = [h]
        t[p + "mlp.c_fc.weight"] = [h, f]
        t[p + "mlp.c_fc.bias"] = [f]
        t[p + "mlp.c_proj.weight"] = [f, h]
        t[p + "mlp.c_proj.bias"] = [h]
    return t


def is_norm_weight(name):
    """The scale of a LayerNorm (drawn around 1), under any architecture's name."""
    return (name.endswith("LayerNorm.weight") or name.endswith("layer_norm.weight")
            or re.search(r"(^|\.)ln_[0-9a-z]+\.weight$", name) is not None)


def write_safetensors(path, tensors, seed, position_ids=0):
    """F32 tensors drawn in name order (plus an I64 position_ids buffer of that length, if any)."""
    rng = XorShift(seed)
    names = sorted(tensors)
    blobs = []
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    extra = []
    if position_ids:
        # position_ids as in the real checkpoints: I64 [1, max_positions], ignored by the loader
        extra = [position_ids[0]]
    for name in names + extra:
        if extra and name == extra[0]:
            npos = position_ids[1]
            blob, dtype, shape = struct.pack("<%dq" % npos, *range(npos)), "I64", [1, npos]
        else:
            shape = tensors[name]
            n = 1
            for d in shape:
                n *= d
            if is_norm_weight(name):
                vals = [1.0 + 0.1 * rng.normal() for _ in range(n)]
            elif name.endswith(".bias"):
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


def new_folder(name):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def write_vocab_txt(d, vocab, tokenizer_class):
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    write_json(os.path.join(d, "tokenizer_config.json"), {
        "do_lower_case": True, "strip_accents": None, "tokenize_chinese_chars": True,
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
        "mask_token": "[MASK]", "model_max_length": 64, "tokenizer_class": tokenizer_class})


def write_sentence_transformers(d, hidden, pooling, normalize, max_seq):
    """modules.json (Transformer, Pooling, optional Normalize), the pooling config, max_seq_length."""
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


def write_model(name, hidden, layers, heads, ffn, pooling, normalize, max_seq, seed):
    d = new_folder(name)
    vocab = vocabulary()
    cfg = {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": hidden,
        "num_hidden_layers": layers, "num_attention_heads": heads, "intermediate_size": ffn,
        "vocab_size": len(vocab), "max_position_embeddings": 64, "type_vocab_size": 2,
        "hidden_act": "gelu", "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "position_embedding_type": "absolute",
    }
    write_json(os.path.join(d, "config.json"), cfg)
    write_vocab_txt(d, vocab, "BertTokenizer")
    write_sentence_transformers(d, hidden, pooling, normalize, max_seq)
    write_safetensors(os.path.join(d, "model.safetensors"), bert_tensors(cfg), seed,
                      ("embeddings.position_ids", cfg["max_position_embeddings"]))
    return d


def write_gpt2(name, symbols, merges, seed):
    """A bare GPT-2 folder: config, weights, vocab.json + merges.txt, tokenizer_config.json."""
    d = new_folder(name)
    eot = "<|endoftext|>"
    vocab = bpe_vocabulary(symbols, merges, after=[eot])
    cfg = {
        "activation_function": "gelu_new", "architectures": ["GPT2Model"], "attn_pdrop": 0.1,
        "bos_token_id": vocab[eot], "embd_pdrop": 0.1, "eos_token_id": vocab[eot],
        "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
        "n_embd": 32, "n_head": 2, "n_inner": None, "n_layer": 2, "n_positions": 64,
        "reorder_and_upcast_attn": False, "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True, "summary_activation": None, "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True, "summary_type": "cls_index", "summary_use_proj": True,
        "torch_dtype": "float32", "use_cache": True, "vocab_size": len(vocab),
    }
    write_json(os.path.join(d, "config.json"), cfg)
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join("%s %s\n" % m for m in merges))
    write_json(os.path.join(d, "tokenizer_config.json"), {
        "add_bos_token": False, "add_prefix_space": False, "bos_token": eot, "eos_token": eot,
        "unk_token": eot, "model_max_length": cfg["n_positions"], "tokenizer_class": "GPT2Tokenizer",
        "added_tokens_decoder": {str(vocab[eot]): {
            "content": eot, "lstrip": False, "normalized": True, "rstrip": False,
            "single_word": False, "special": True}}})
    write_safetensors(os.path.join(d, "model.safetensors"), gpt2_tensors(cfg), seed)
    return d


def write_roberta(name, symbols, merges, seed):
    """RoBERTa with tokenizer.json (<s> ... </s>), mean pooling + Normalize."""
    d = new_folder(name)
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    vocab = bpe_vocabulary(symbols, merges, before=specials, after=["<mask>"])
    cfg = {
        "architectures": ["RobertaForMaskedLM"], "model_type": "roberta", "hidden_size": 32,
        "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
        "vocab_size": len(vocab), "max_position_embeddings": 26, "type_vocab_size": 1,
        "hidden_act": "gelu", "layer_norm_eps": 1e-05, "pad_token_id": 1, "bos_token_id": 0,
        "eos_token_id": 2, "position_embedding_type": "absolute",
    }
    write_json(os.path.join(d, "config.json"), cfg)
    added = [{"id": vocab[t], "content": t, "single_word": False, "lstrip": t == "<mask>", "rstrip": False,
              "normalized": t == "<mask>", "special": True} for t in specials + ["<mask>"]]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    write_json(os.path.join(d, "tokenizer.json"), {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": None, "pre_tokenizer": byte_level,
        "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", vocab["</s>"]],
                           "cls": ["<s>", vocab["<s>"]], "trim_offsets": True, "add_prefix_space": False},
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [list(m) for m in merges]}})
    write_json(os.path.join(d, "tokenizer_config.json"), {
        "add_prefix_space": False, "bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>",
        "mask_token": "<mask>", "model_max_length": 512, "pad_token": "<pad>", "sep_token": "</s>",
        "tokenizer_class": "RobertaTokenizer", "trim_offsets": True, "unk_token": "<unk>"})
    # max_seq_length above the positions: the limit is the positions left after the padding id
    write_sentence_transformers(d, cfg["hidden_size"], "mean", True, 128)
    write_safetensors(os.path.join(d, "model.safetensors"), roberta_tensors(cfg), seed,
                      ("roberta.embeddings.position_ids", cfg["max_position_embeddings"]))
    return d


def write_distilbert(name, seed):
    """DistilBERT with embed-test-tiny's WordPiece vocabulary, CLS pooling."""
    d = new_folder(name)
    vocab = vocabulary()
    cfg = {
        "activation": "gelu", "architectures": ["DistilBertModel"], "attention_dropout": 0.1,
        "dim": 32, "dropout": 0.1, "hidden_dim": 64, "initializer_range": 0.02,
        "max_position_embeddings": 64, "model_type": "distilbert", "n_heads": 2, "n_layers": 2,
        "pad_token_id": 0, "qa_dropout": 0.1, "seq_classif_dropout": 0.2, "sinusoidal_pos_embds": False,
        "tie_weights_": True, "vocab_size": len(vocab),
    }
    write_json(os.path.join(d, "config.json"), cfg)
    write_vocab_txt(d, vocab, "DistilBertTokenizer")
    write_sentence_transformers(d, cfg["dim"], "cls", False, 64)
    write_safetensors(os.path.join(d, "model.safetensors"), distilbert_tensors(cfg), seed)
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

    symbols, merges = learn_bpe(CORPUS + " ".join(WORDS), BPE_MERGES)
    write_gpt2("embed-test-gpt2", symbols, merges, 2)
    roberta = write_roberta("embed-test-roberta", symbols, merges, 3)
    write_distilbert("embed-test-distilbert", 5)

    # refused at load: a RoBERTa whose tokenizer adds no <s> ... </s>
    plain = os.path.join(OUT, "embed-test-roberta-plain")
    shutil.rmtree(plain, ignore_errors=True)
    shutil.copytree(roberta, plain)
    with open(os.path.join(plain, "tokenizer.json"), encoding="utf-8") as f:
        tokenizer = json.load(f)
    tokenizer["post_processor"] = None
    write_json(os.path.join(plain, "tokenizer.json"), tokenizer)

    # refused at load: max_seq_length leaves no room beside [CLS] and [SEP]
    noroom = os.path.join(OUT, "embed-test-noroom")
    shutil.rmtree(noroom, ignore_errors=True)
    shutil.copytree(tiny, noroom)
    with open(os.path.join(noroom, "sentence_bert_config.json")) as f:
        sbert = json.load(f)
    sbert["max_seq_length"] = 2
    write_json(os.path.join(noroom, "sentence_bert_config.json"), sbert)
    print("wrote", OUT)


if __name__ == "__main__":
    sys.exit(main())
