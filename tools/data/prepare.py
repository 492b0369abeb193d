#!/usr/bin/python3
"""Build the sentence-embedding training data from openly licensed text.

Reads Debian packages (WordNet, GCIDE, FOLDOC, the Jargon File, V.E.R.A.,
the Devil's Dictionary, Linux man pages, the KJV and World English Bibles,
fortunes, package descriptions) and the SNLI / WikiSplit files under
../shared/data, and writes into OUT:

  pairs/<source>.tsv   anchor TAB positive [TAB hard_negative], training pairs
  pairs/heldout.tsv    anchor TAB positive, held out from every training file
  heldout_sources.txt  the source of each held-out line
  corpus.txt           unlabeled text, one sentence or paragraph a line
  manifest.json        counts, licences, package versions, sha256 of outputs

Standard library only.  Everything is deterministic: inputs are read in a
fixed order, ties are decided by content, and "random" choices use SHA-1 of
the text, so the same package versions give byte-identical outputs.
"""

import argparse
import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))

# Every source: licence, Debian packages it reads, and what the pairs are.
SOURCES = {
    "wordnet_gloss": ("WordNet 3.0 licence (Princeton, permissive)", ["wordnet-base"],
                      "synonym lemmas of a synset <-> its definition"),
    "wordnet_question": ("WordNet 3.0 licence (Princeton, permissive)", ["wordnet-base"],
                         "templated question about a lemma <-> its definition"),
    "wordnet_example": ("WordNet 3.0 licence (Princeton, permissive)", ["wordnet-base"],
                        "usage example sentence <-> definition of the sense it uses"),
    "wordnet_synonyms": ("WordNet 3.0 licence (Princeton, permissive)", ["wordnet-base"],
                         "lemma <-> another lemma of the same synset"),
    "gcide_def": ("GPL-2+/GPL-3+ (GCIDE); model card must say the model was trained on GPL text",
                  ["dict-gcide"], "headword or phrase <-> one sense's definition"),
    "gcide_example": ("GPL-2+/GPL-3+ (GCIDE); model card must say the model was trained on GPL text",
                      ["dict-gcide"], "quotation illustrating a sense <-> the sense's definition"),
    "definition_pairs": ("WordNet 3.0 licence + GPL (GCIDE)", ["wordnet-base", "dict-gcide"],
                         "WordNet definition <-> Webster definition of the same word sense"),
    "foldoc": ("GFDL 1.1+ (no invariant sections)", ["dict-foldoc"],
               "computing term <-> its definition"),
    "jargon": ("public domain", ["dict-jargon"], "hacker jargon term <-> its definition"),
    "vera": ("GFDL 1.1+ (no invariant sections)", ["dict-vera"],
             "computing acronym <-> its English expansion"),
    "devil": ("public domain", ["dict-devil"], "word <-> satirical definition (Bierce)"),
    "debian_pkg": ("each package's own DFSG licence (Debian main)", ["(apt lists)"],
                   "package synopsis <-> first paragraph of its description"),
    "manpages": ("Linux man-pages copyleft / GPL / BSD (see the packages)",
                 ["manpages", "manpages-dev"],
                 "man page NAME summary <-> first DESCRIPTION paragraph"),
    "bible": ("public domain (KJV; World English Bible)", ["sword-text-kjv", "sword-text-web"],
              "King James verse <-> World English Bible verse (paraphrase)"),
    "snli": ("CC BY-SA 4.0 (SNLI dev+test)", ["shared/data/snli-devtest"],
             "premise <-> entailed hypothesis, contradiction as hard negative"),
    "wikisplit": ("CC BY-SA 4.0 (WikiSplit tune/validation/test)", ["shared/data/wikisplit"],
                  "complex sentence <-> its rewrite as two sentences"),
}
CORPUS_ONLY = {
    "fortunes": ("BSD-style (Debian fortunes; quotations by their authors)", ["fortunes", "fortunes-min"],
                 "quotations and epigrams, unlabeled text only"),
}
DEBIAN_PACKAGES = ["wordnet-base", "dict-gcide", "dict-foldoc", "dict-jargon", "dict-vera",
                   "dict-devil", "manpages", "manpages-dev", "fortunes", "fortunes-min",
                   "sword-text-kjv", "sword-text-web", "diatheke"]

# fortune files left out: pictures, song lyrics and excerpts of recent
# copyrighted books, shows and strips.
FORTUNE_EXCLUDE = {"ascii-art", "pratchett", "songs-poems", "startrek", "zippy"}

MAX_WORDS = 64          # longer texts are cut at a sentence boundary
HELDOUT_PER_SOURCE = 250
HELDOUT_MAX_RATE = 0.05
HASH_SALT = "embed-data-v1"


# ---------------------------------------------------------------------------
# Text helpers
# ---------------------------------------------------------------------------

_ws_re = re.compile(r"\s+")
_ctrl_re = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b\ufeff\ufffd]")


def clean(text):
    """NFC, no control characters, single spaces, no tabs or newlines."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    text = _ctrl_re.sub("", text)
    return _ws_re.sub(" ", text).strip()


def nwords(text):
    return len(text.split())


_sent_split_re = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")


def clip(text, max_words=MAX_WORDS):
    """Whole sentences of text up to max_words words; None if the first is longer."""
    if nwords(text) <= max_words:
        return text
    out = []
    count = 0
    for sent in _sent_split_re.split(text):
        n = nwords(sent)
        if count + n > max_words:
            break
        out.append(sent)
        count += n
    return " ".join(out) if out else None


def key(text):
    """Case- and space-insensitive identity of a text."""
    return _ws_re.sub(" ", text.lower()).strip()


def hval(*parts):
    """A deterministic number in [0, 1) from text."""
    h = hashlib.sha1("\x1f".join((HASH_SALT,) + parts).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / 2.0 ** 64


_CONTRACTIONS = {"n't", "'s", "'re", "'ve", "'m", "'ll", "'d"}
_NO_SPACE_BEFORE = {",", ".", ";", ":", "!", "?", "%", ")", "]", "}", "...", "n't"}
_NO_SPACE_AFTER = {"(", "[", "{", "$", "£", "#"}


def detokenize(text):
    """Undo PTB-style tokenisation: 'packages .' -> 'packages.', 'do n't' -> 'don't'."""
    toks = text.split()
    out = []
    attach = False          # the next token sticks to the previous one
    dq_open = False
    sq_open = False
    for i, t in enumerate(toks):
        space = bool(out) and not attach
        attach = False
        low = t.lower()
        if t == "``":
            t, dq_open, attach = '"', True, True
        elif t in ("''", '"'):
            if dq_open:
                t, dq_open, space = '"', False, False
            else:
                t, dq_open, attach = '"', True, True
        elif t == "'":
            if sq_open:
                sq_open, space = False, False
            elif "'" in toks[i + 1:] and i + 1 < len(toks):
                sq_open, attach = True, True
            else:
                space = False           # possessive or elision: Years ' War, Smokin ' Joe
        elif low in _CONTRACTIONS or t in _NO_SPACE_BEFORE:
            space = False
            if t == "." and out and out[-1].endswith("."):
                continue                # "U.S. ." at the end of a sentence
        if t in _NO_SPACE_AFTER:
            attach = True
        if space:
            out.append(" ")
        out.append(t)
    text = "".join(out).strip()
    return re.sub(r"(?<=\w) - (?=\w)", "-", text)     # long - distance -> long-distance


def drop_trailing_colon(text):
    """Remove a last sentence that announces a list ("It supports:")."""
    if text.endswith(":"):
        parts = _sent_split_re.split(text)
        if len(parts) > 1:
            return " ".join(parts[:-1])
    return text


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, **kw).stdout


# ---------------------------------------------------------------------------
# Collection of pairs and unlabeled text
# ---------------------------------------------------------------------------

class Collector:
    """Pairs per source plus unlabeled texts, with per-source dedup and filters."""

    def __init__(self):
        self.pairs = {name: [] for name in SOURCES}
        self.seen = {name: set() for name in SOURCES}
        self.rejected = {name: 0 for name in SOURCES}
        self.corpus = {}            # group -> list of texts

    def add(self, source, anchor, positive, negative=None, min_pos_words=3):
        anchor = clean(anchor)
        positive = clean(positive)
        negative = clean(negative) if negative else None
        if anchor:
            anchor = clip(anchor)
        if positive:
            positive = clip(positive)
        if negative:
            negative = clip(negative)
            if negative and anchor and positive and key(negative) in (key(anchor), key(positive)):
                negative = None
        if (not anchor or not positive or nwords(positive) < min_pos_words
                or key(anchor) == key(positive)):
            self.rejected[source] += 1
            return False
        k = (key(anchor), key(positive))
        if k in self.seen[source]:
            self.rejected[source] += 1
            return False
        self.seen[source].add(k)
        self.pairs[source].append((anchor, positive, negative or None))
        return True

    def text(self, group, text):
        text = clean(text)
        if text and nwords(text) >= 3:
            self.corpus.setdefault(group, []).append(text)


# ---------------------------------------------------------------------------
# WordNet
# ---------------------------------------------------------------------------

WN_DIR = "/usr/share/wordnet"
WN_POS = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}
_quote_re = re.compile(r'"([^"]+)"')


class Synset:
    __slots__ = ("pos", "offset", "lexfile", "lemmas", "definition", "examples")


def read_wordnet():
    """All synsets, in file order (noun, verb, adj, adv)."""
    synsets = []
    for name in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(WN_DIR, "data." + name), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):
                    continue            # licence header
                head, _, gloss = line.rstrip("\n").partition(" | ")
                fields = head.split(" ")
                n = int(fields[3], 16)
                lemmas = []
                for i in range(n):
                    w = fields[4 + 2 * i]
                    w = re.sub(r"\((a|p|ip)\)$", "", w).replace("_", " ")
                    if w.lower() not in (x.lower() for x in lemmas):
                        lemmas.append(w)
                s = Synset()
                s.pos = WN_POS[name]
                s.offset = fields[0]
                s.lexfile = fields[1]
                s.lemmas = lemmas
                s.examples = [clean(e) for e in _quote_re.findall(gloss)]
                definition = gloss.split('"')[0]
                definition = re.sub(r"[;:,\s]+$", "", definition)
                s.definition = clean(definition)
                synsets.append(s)
    return synsets


def article(word):
    return "an" if word[:1].lower() in "aeiou" else "a"


def question_for(s, lemma):
    """A templated question whose answer is the synset's definition."""
    r = hval("q", s.pos, s.offset)
    if s.pos == "n" and lemma[:1].isupper():
        person = re.search(r"\(\d{3,4}-\d{3,4}\)|\(born \d{4}\)", s.definition)
        forms = ["Who was %s?" % lemma if person else "What is %s?" % lemma,
                 "Tell me about %s." % lemma]
    elif s.pos == "n":
        forms = ["What is %s %s?" % (article(lemma), lemma), "What does %s mean?" % lemma,
                 "Define %s." % lemma, "what is the meaning of %s" % lemma]
    elif s.pos == "v":
        forms = ["What does it mean to %s?" % lemma, "What does %s mean?" % lemma,
                 "Define the verb %s." % lemma, "meaning of %s" % lemma]
    else:
        forms = ["What does %s mean?" % lemma, "What is meant by %s?" % lemma,
                 "Define %s." % lemma, "%s meaning" % lemma]
    return forms[int(r * len(forms))]


def _uses_lemma(example, lemma):
    """Does the example contain the lemma (or an inflection of it)?"""
    low = example.lower()
    lem = lemma.lower()
    if " " in lem or "-" in lem:
        return lem in low
    stem = lem[:-1] if len(lem) > 3 and lem[-1] in "ey" else lem
    return any(w.startswith(stem) and len(w) <= len(lem) + 4 for w in re.findall(r"[a-z'-]+", low))


def example_negative(s, ex, by_word):
    """The definition of another sense of the word the example uses, or None."""
    for lemma in s.lemmas:
        if not _uses_lemma(ex, lemma):
            continue
        # a sense from another lexicographer file, sharing few content words,
        # so that the negative is really a different meaning
        mine = content_stems(s.definition)
        others = [t for t in by_word.get((lemma.lower(), s.pos), ())
                  if t is not s and t.definition and t.lexfile != s.lexfile
                  and dice(mine, content_stems(t.definition)) < 0.2]
        if others:
            return min(others, key=lambda t: hval("neg", ex, t.offset)).definition
        return None
    return None


def wordnet_pairs(col, synsets):
    by_word = {}
    for s in synsets:
        for lemma in s.lemmas:
            by_word.setdefault((lemma.lower(), s.pos), []).append(s)
    for s in synsets:
        if not s.definition or not s.lemmas:
            continue
        if hval("route", s.pos, s.offset) < 0.25:
            col.add("wordnet_question", question_for(s, s.lemmas[0]), s.definition, min_pos_words=2)
        else:
            col.add("wordnet_gloss", ", ".join(s.lemmas[:4]), s.definition, min_pos_words=2)
        for ex in s.examples:
            if nwords(ex) >= 4:
                col.add("wordnet_example", ex, s.definition, example_negative(s, ex, by_word),
                        min_pos_words=2)
        for other in s.lemmas[1:4]:
            col.add("wordnet_synonyms", s.lemmas[0], other, min_pos_words=1)
        col.text("wordnet", s.definition)
        for ex in s.examples:
            col.text("wordnet", ex)


# ---------------------------------------------------------------------------
# dictd dictionaries
# ---------------------------------------------------------------------------

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64num(s):
    n = 0
    for c in s:
        n = n * 64 + _B64.index(c)
    return n


def read_dictd(name):
    """(headword, entry text) for each distinct entry, in file order."""
    base = "/usr/share/dictd/" + name
    with gzip.open(base + ".dict.dz") as f:
        data = f.read()
    entries = {}
    with open(base + ".index", encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[0].startswith("00-database") or parts[0].startswith("00database"):
                continue
            off, ln = _b64num(parts[1]), _b64num(parts[2])
            if off not in entries:
                entries[off] = (parts[0], ln)
    out = []
    for off in sorted(entries):
        hw, ln = entries[off]
        out.append((hw, data[off:off + ln].decode("utf-8", errors="replace")))
    return out


# ----- GCIDE -----

_gc_tag_line_re = re.compile(r"^\s*\[[^\]]*\]\s*$")
_gc_char_re = re.compile(r"\[([=.`'\"~^-]?)([A-Za-z])([=.`'\"~^-]?)\]")
_gc_named_re = re.compile(r"\[([AaEeIiOoUuYyNnCc])(um|acute|grave|cir|circ|tilde|cced|ced|mac|breve|ring|dot)\]")
_gc_symbols = {"[deg]": "\u00b0", "[sect]": "\u00a7", "[pounds]": "\u00a3", "[eth]": "th", "[thorn]": "th",
               "[alpha]": "alpha", "[beta]": "beta", "[frac12]": "1/2", "[frac14]": "1/4", "[frac34]": "3/4"}
_gc_source_tag_re = re.compile(r"\[(?:[^\]]*Webster[^\]]*|PJC|WordNet[^\]]*|Century[^\]]*|RN[^\]]*|"
                               r"Chambers[^\]]*|MW[^\]]*|Mw[^\]]*|RHUD[^\]]*|RDH[^\]]*|Ptr[^\]]*|[A-Z]{2,5})\]")
_gc_lig_re = re.compile(r"\[(ae|AE|oe|OE)\]")
_gc_marker_re = re.compile(r"\[(Obs|R|Archaic|Obsolescent|Rare)\b[^\]]*\]")
_gc_cite_re = re.compile(r"\s*--\s?[A-Z(].*$")
_gc_sense_re = re.compile(r"^\s*(\d+\.|\([a-z]\))\s+")
_gc_header_re = re.compile(r"^(?P<hw>[^\\\n]+?)\s*\\[^\\]*\\(?:\s*(?:,|or)\s*[^\\\n,]+?\s*\\[^\\]*\\)*"
                           r"\s*(?:\([^)]*\)\s*)?[,\s]*"
                           r"(?P<pos>(?:(?:[a-z]{1,6}\.)\s*(?:&\s*)?){0,4})")
_gc_pos_map = {"n": "n", "v": "v", "a": "a", "adj": "a", "adv": "r"}
_gc_xref_re = re.compile(r"^(See|Same as|Alt\.|Alt of|Syn\.|Cf\.|Plural of|pl\. of|imp\.|p\. ?p\.|"
                         r"Obs\.|Variant of|Of |An abbreviation|Abbreviation)", re.I)


def gc_chars(text):
    """GCIDE character entities to plain letters."""
    for k, v in _gc_symbols.items():
        text = text.replace(k, v)
    text = _gc_named_re.sub(lambda m: m.group(1), text)
    text = _gc_lig_re.sub(lambda m: m.group(1), text)
    text = _gc_char_re.sub(lambda m: m.group(2), text)
    return text


def gc_definition(text):
    """Clean one sense's text; None when obsolete, a cross-reference or unusable."""
    text = gc_chars(" ".join(text.split()))
    if _gc_marker_re.search(text):
        return None
    text = _gc_cite_re.sub("", text)
    text = re.sub(r'\s*"[^"]{1,300}"', "", text)          # inline usage quotations
    text = strip_brackets(text)
    if "]" in text:
        text = text[text.rfind("]") + 1:]
    text = text.replace("{", "").replace("}", "")
    text = re.sub(r"^[\s.,;]*(?:[a-z]{1,6}\.\s*){0,3}(?=[A-Z(])", "", text.strip())
    for _ in range(3):
        text = re.sub(r"^\([^)]{0,40}\)[.,:]?\s*", "", text.strip())   # pronunciation, label
    text = re.sub(r"^\d{1,2}\s+(?=[a-z])", "", text)                      # sense number without dot
    text = re.split(r";\s*as,?\s|;\s*--\s|:\s*as,?\s|\s--\s", text)[0]
    text = re.split(r"(?:^|(?<=[.;]))\s*(?:See|Cf\.)(?:\s|$)", text)[0]
    if "[" in text or "]" in text or not re.match(r"[A-Za-z0-9\"'\u00c0-\u024f]", text) \
            or re.match(r"^(And|Or|E\.|L\.|pl\.|imp\.|n\.|v\.|a\.)\s", text):
        return None
    text = text.replace(". . .", "...")
    text = re.sub(r"\s+([;,.])", r"\1", text).strip(" ;,:-")
    text = re.sub(r"\s+(Hence|Compare|Thus|Also)[.,:;]?$", "", text).strip(" ;,:-")
    if re.search(r"\s(R|Obs|Colloq)\.?$", text):
        return None
    if not text or re.search(r"\?\w", text):
        return None
    if _gc_xref_re.match(text) or "\\" in text:
        return None
    if not text.endswith((".", "!", "?")):
        text += "."
    return text[0].upper() + text[1:]


def strip_brackets(text):
    """Remove [...] groups (etymologies, labels), nested ones included."""
    prev = None
    while prev != text:
        prev = text
        text = re.sub(r"\s*\[[^\[\]]*\]", "", text)
    return text


def gc_quote(text):
    """Clean a quotation: joined lines, citation removed."""
    text = gc_chars(" ".join(text.split())).replace(". . .", "...")
    text = _gc_cite_re.sub("", text)
    text = re.sub(r"\s*--\s*$", "", text)
    text = text.replace("{", "").replace("}", "").strip()
    if re.search(r"\?\w", text) or "[" in text or "\\" in text:
        return None
    return text


def parse_gcide_entry(block):
    """(headword, pos, [(definition_or_None, is_wordnet, [quotes])], [(phrase, definition)])."""
    m = _gc_header_re.match(block)
    if not m:
        return None
    hw = gc_chars(m.group("hw")).strip()
    pos_s = m.group("pos").replace(" ", "")
    pos = None
    for p in ("adv.", "adj.", "v.", "n.", "a."):
        if pos_s.startswith(p):
            pos = _gc_pos_map[p[:-1]]
            break
    rest = block[m.end():]
    # skip the etymology: leading balanced brackets
    rest = rest.lstrip()
    while rest.startswith("["):
        depth = 0
        for i, ch in enumerate(rest):
            if ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
                if depth == 0:
                    rest = rest[i + 1:].lstrip(" ;,.\n")
                    break
        else:
            return None
    # chunks: split the remaining lines into senses, quotations and notes
    chunks = []
    cur = None
    for line in rest.split("\n"):
        if not line.strip():
            cur = None
            continue
        tag = _gc_source_tag_re.search(line)
        if tag:
            # a source tag ends the text it follows; anything after it is stray
            line = line[:tag.start()]
            if not line.strip():
                if cur is not None:
                    cur["tags"] += tag.group(0)
                continue
        indent = len(line) - len(line.lstrip(" "))
        stripped = line.strip()
        if _gc_tag_line_re.match(line):
            continue
        if _gc_sense_re.match(line) or stripped.startswith(("Note:", "Syn:", "Usage:", "{")) and indent <= 6:
            cur = {"kind": "sense", "text": _gc_sense_re.sub("", line).strip(), "tags": "",
                   "indent": indent}
            if stripped.startswith(("Note:", "Syn:", "Usage:")):
                cur["kind"] = "note"
            elif stripped.startswith("{"):
                cur["kind"] = "phrase"
            chunks.append(cur)
        elif cur is None:
            kind = "quote" if indent >= 8 and chunks else "sense"
            cur = {"kind": kind, "text": stripped, "tags": "", "indent": indent}
            chunks.append(cur)
        elif not cur["tags"]:
            cur["text"] += " " + stripped
        # else: text after a source tag in the same paragraph is stray
        if tag:
            cur["tags"] += tag.group(0)
    senses = []
    phrases = []
    for ch in chunks:
        wn = "WordNet" in ch["tags"]
        if ch["kind"] == "sense":
            senses.append([None if wn else gc_definition(ch["text"]), wn, []])
        elif ch["kind"] == "quote" and senses:
            q = gc_quote(ch["text"])
            if q:
                senses[-1][2].append(q)
        elif ch["kind"] == "phrase" and not wn:
            pm = re.match(r"^\{([^}]+)\}\s*,?\s*(.*)$", ch["text"])
            if pm:
                d = gc_definition(pm.group(2))
                if d:
                    phrases.append((gc_chars(pm.group(1)), d))
    return hw, pos, senses, phrases


def gcide_pairs(col):
    """GCIDE pairs; returns {(headword, pos): [definitions]} for definition_pairs."""
    senses_by_word = {}
    for _, block in read_dictd("gcide"):
        parsed = parse_gcide_entry(block)
        if not parsed:
            continue
        hw, pos, senses, phrases = parsed
        if not hw or len(hw) > 60:
            continue
        defs = [d for d, is_wn, _ in senses if d and not is_wn]
        for definition, is_wn, quotes in senses:
            if is_wn or not definition:
                continue
            col.add("gcide_def", hw, definition)
            col.text("gcide", definition)
            if pos:
                senses_by_word.setdefault((hw.lower(), pos), []).append(definition)
            mine = content_stems(definition)
            others = [d for d in defs if dice(mine, content_stems(d)) < 0.2]
            for q in quotes:
                if 6 <= nwords(q) <= MAX_WORDS:
                    # another sense of the same entry is a hard negative
                    neg = min(others, key=lambda d: hval("neg", q, d)) if others else None
                    col.add("gcide_example", q, definition, neg)
                col.text("gcide", q)
        for phrase, definition in phrases:
            col.add("gcide_def", phrase, definition)
            col.text("gcide", definition)
    return senses_by_word


# ----- WordNet <-> GCIDE definitions of the same sense -----

_STOP = set("""a an the of to in on for by with from as at or and is are be being been that
which who whom whose this these those it its into out up down over under than such any
some all one used use especially esp something someone somebody person thing things etc
not no very more most other another having has have made make manner way state quality
act process""".split())


def content_stems(text):
    out = set()
    for w in re.findall(r"[a-z]+", text.lower()):
        if w in _STOP or len(w) < 3:
            continue
        for suf in ("ing", "ed", "es", "ly", "s"):
            if len(w) > len(suf) + 3 and w.endswith(suf):
                w = w[:-len(suf)]
                break
        out.add(w)
    return out


def dice(a, b):
    return 2.0 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def near_copy(a, b):
    """Webster entries copied from WordNet without a tag: nothing to learn."""
    return dice(content_stems(a), content_stems(b)) >= 0.75


def definition_pairs(col, synsets, gc_senses):
    """Pair a WordNet gloss with the Webster definition of the same sense."""
    wn_by_word = {}
    for s in synsets:
        for lemma in s.lemmas:
            wn_by_word.setdefault((lemma.lower(), s.pos), []).append(s)
    for word_pos in sorted(wn_by_word):
        defs = gc_senses.get(word_pos)
        if not defs:
            continue
        syns = wn_by_word[word_pos]
        if len(syns) == 1 and len(defs) == 1:
            if nwords(syns[0].definition) >= 4 and nwords(defs[0]) >= 4 \
                    and not near_copy(syns[0].definition, defs[0]):
                col.add("definition_pairs", syns[0].definition, defs[0])
            continue
        # several senses: keep mutual best matches by content-word overlap
        ws = [content_stems(s.definition) | {l.lower() for l in s.lemmas[1:]} for s in syns]
        gs = [content_stems(d) for d in defs]

        def score(i, j):
            if not ws[i] or not gs[j]:
                return 0.0
            return 2.0 * len(ws[i] & gs[j]) / (len(ws[i]) + len(gs[j]))
        best_g = [max(range(len(defs)), key=lambda j: (score(i, j), -j)) for i in range(len(syns))]
        best_w = [max(range(len(syns)), key=lambda i: (score(i, j), -i)) for j in range(len(defs))]
        for i, j in enumerate(best_g):
            if best_w[j] == i and score(i, j) >= 0.3 and len(ws[i] & gs[j]) >= 2 \
                    and nwords(syns[i].definition) >= 4 and nwords(defs[j]) >= 4 \
                    and not near_copy(syns[i].definition, defs[j]):
                col.add("definition_pairs", syns[i].definition, defs[j])


# ----- FOLDOC, Jargon File, V.E.R.A., Devil's Dictionary -----

def _paragraphs(block):
    paras, cur = [], []
    for line in block.split("\n"):
        if line.strip():
            cur.append(line)
        elif cur:
            paras.append(cur)
            cur = []
    if cur:
        paras.append(cur)
    return paras


_num_sense_re = re.compile(r"^\s*\d+\.\s+")


def foldoc_pairs(col):
    for hw, block in read_dictd("foldoc"):
        paras = _paragraphs(block)
        if len(paras) < 2:
            continue
        term = clean(" ".join(paras[0]))
        senses = []
        for p in paras[1:]:
            text = " ".join(l.strip() for l in p)
            if re.match(r"^\(\d{4}-\d{2}-\d{2}\)$", text) or text.startswith(("[", "{(", "(http")):
                continue
            text = re.sub(r"<[^>]{1,40}>", "", text)
            text = re.sub(r"\{\(?https?://[^}]*\}|\(?https?://\S+\)?", "", text)
            text = text.replace("{", "").replace("}", "")
            text = re.sub(r"\s*\(\d{4}-\d{2}-\d{2}\)\s*$", "", text)
            text = clean(re.sub(r"\s+([.,;:])", r"\1", text))
            col.text("foldoc", text)
            if _num_sense_re.match(text) or not senses:
                senses.append(re.sub(r"^\([^)]{1,30}\)\s*", "", _num_sense_re.sub("", text)))
        for d in senses:
            if not d.lower().startswith(("see ", "spelled ")) and nwords(d) >= 4:
                col.add("foldoc", term, d)


def jargon_pairs(col):
    for hw, block in read_dictd("jargon"):
        paras = _paragraphs(block)
        if len(paras) < 2:
            continue
        term = clean(paras[0][0])
        body = []
        for p in paras[1:]:
            text = " ".join(l.strip() for l in p)
            if p[0].startswith("     ") and len(p[0]) - len(p[0].lstrip()) >= 8:
                continue            # verse, code, quotations set off
            text = re.sub(r"^\[[^\]]*\]\s*", "", text)
            text = text.replace("{", "").replace("}", "")
            text = clean(re.sub(r"\s+([.,;:)])", r"\1", text))
            if text:
                body.append(text)
        senses = [b for b in body if _num_sense_re.match(b)] or body[:1]
        for d in senses:
            d = re.sub(r"^\[[^\]]*\]\s*", "", _num_sense_re.sub("", d))
            d = re.sub(r"^(?:(?:n|v|vi|vt|adj|adv|imper|interj|pl|prep|excl|abbrev)\.[,\s]*)+", "", d)
            d = re.sub(r"^Syn\.\s[^.]*\.\s*", "", d)
            col.text("jargon", d)
            if nwords(d) >= 4 and not d.lower().startswith("see "):
                col.add("jargon", term, d)
        for b in body:
            col.text("jargon", b)


def vera_pairs(col, lexicon):
    for hw, block in read_dictd("vera"):
        lines = [l.strip() for l in block.split("\n") if l.strip()]
        if len(lines) < 2:
            continue
        acro = clean(lines[0])
        exp = clean(" ".join(lines[1:]))
        exp = clean(re.sub(r"\s*[(\[][^)\]]*[)\]]", "", exp))
        words = re.findall(r"[A-Za-z]+", exp)
        if len(words) < 2 or not acro or "/" in exp:
            continue
        english = sum(1 for w in words if w.lower() in lexicon)
        if english / len(words) >= 0.75:
            col.add("vera", acro, exp, min_pos_words=2)


def devil_pairs(col):
    for hw, block in read_dictd("devil"):
        m = re.match(r"^([A-Z][A-Za-z' -]+),\s*((?:[a-z]+\.\s*){1,3})\s*(.*)$", block, re.S)
        if not m:
            continue
        word = m.group(1).strip().lower()
        body = m.group(3)
        first = body.split("\n\n")[0]
        if not first.strip() or first.startswith("    "):
            continue
        text = clean(first.replace("{", "").replace("}", ""))
        text = re.sub(r"^\[[^\]]*\]\s*", "", text)
        text = re.sub(r"\s*--$", ":", text)
        text = drop_trailing_colon(text)
        col.text("devil", text)
        if nwords(text) >= 3:
            col.add("devil", word, text)


# ---------------------------------------------------------------------------
# Debian package descriptions
# ---------------------------------------------------------------------------

def _stanzas(text):
    for block in text.split("\n\n"):
        fields = {}
        last = None
        for line in block.split("\n"):
            if line.startswith((" ", "\t")) and last:
                fields[last] += "\n" + line
            elif ":" in line:
                k, _, v = line.partition(":")
                last = k
                fields[k] = v.strip()
        if fields:
            yield fields


def debian_pairs(col):
    avail = run(["apt-cache", "dumpavail"]).decode("utf-8", errors="replace")
    packages = {}
    for st in _stanzas(avail):
        name = st.get("Package")
        if name and name not in packages:
            packages[name] = (st.get("Description", ""), st.get("Description-md5", ""))
    targets = run(["apt-get", "indextargets", "-o", "Acquire::Languages=en", "--format",
                   "$(FILENAME)", "Identifier: Translations", "Language: en"]).decode().split()
    long_by_md5 = {}
    for path in sorted(set(targets)):
        if not os.path.exists(path):
            continue
        text = run(["/usr/lib/apt/apt-helper", "cat-file", path]).decode("utf-8", errors="replace")
        for st in _stanzas(text):
            md5 = st.get("Description-md5")
            if md5 and "Description-en" in st and md5 not in long_by_md5:
                long_by_md5[md5] = st["Description-en"]
    # best (smallest name) package per first paragraph and per synopsis
    chosen = {}
    for name in sorted(packages):
        synopsis, md5 = packages[name]
        full = long_by_md5.get(md5)
        if not full:
            continue
        lines = full.split("\n")
        synopsis = clean(lines[0]) or clean(synopsis)
        paras, cur = [], []
        for line in lines[1:]:
            if line.strip() == ".":
                if cur:
                    paras.append(cur)
                cur = []
            else:
                cur.append(line)
        if cur:
            paras.append(cur)
        prose = []
        for p in paras:
            text_lines = []
            for l in p:
                if l.startswith("  ") or re.match(r"^\s*[-*+o]\s", l):
                    break           # verbatim or list item: prose ends
                text_lines.append(l.strip())
            if text_lines:
                prose.append(clean(" ".join(text_lines)))
        for t in prose:
            col.text("debian", t)
        if not prose or re.search(r"transitional|dummy package|metapackage|meta-package",
                                  synopsis, re.I):
            continue
        first = drop_trailing_colon(prose[0])
        if nwords(first) < 6 or nwords(synopsis) < 2:
            continue
        for k in (("p", key(first)), ("s", key(synopsis))):
            if k in chosen:
                break
        else:
            chosen[("p", key(first))] = name
            chosen[("s", key(synopsis))] = name
            col.add("debian_pkg", synopsis, first)
    return len(packages), len(long_by_md5)


# ---------------------------------------------------------------------------
# Linux man pages (roff source)
# ---------------------------------------------------------------------------

_ROFF_NAMED = {"aq": "'", "dq": '"', "em": "\u2014", "en": "\u2013", "bu": "\u2022", "co": "\u00a9",
               "lq": "\u201c", "rq": "\u201d", "oq": "\u2018", "cq": "\u2019", "mu": "\u00d7",
               "hy": "-", "ti": "~", "ha": "^", "rs": "\\", "ga": "`", "ul": "_", "at": "@",
               "sh": "#", "Do": "$", "pl": "+", "eq": "=", "lt": "<", "gt": ">", "<=": "\u2264",
               ">=": "\u2265", "!=": "\u2260", "->": "\u2192", "de": "\u00b0", "ba": "|",
               "rg": "\u00ae", "tm": "\u2122", "R": "\u00ae", "ss": "\u00df"}


def roff_text(s):
    """Roff escapes to plain text."""
    s = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", s)
    s = re.sub(r"\\\*(\[[^\]]*\]|\(..|.)",
               lambda m: {"(lq": "\u201c", "(rq": "\u201d", "R": "\u00ae", "(Tm": "\u2122"}.get(m.group(1), ""), s)
    s = re.sub(r"\\\((..)", lambda m: _ROFF_NAMED.get(m.group(1), ""), s)
    s = re.sub(r"\\\[([^\]]*)\]", lambda m: _ROFF_NAMED.get(m.group(1), ""), s)
    s = re.sub(r"\\s[-+]?\d", "", s)
    s = s.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "").replace("\\~", " ")
    s = s.replace("\\ ", " ").replace("\\%", "").replace("\\c", "").replace("\\|", "")
    s = s.replace("\\^", "").replace("\\0", " ").replace("\\:", "").replace("\\/", "").replace("\\,", "")
    s = re.sub(r"\\.", "", s)
    return s


def roff_args(s):
    args = []
    for m in re.finditer(r'"((?:[^"]|"")*)"|(\S+)', s):
        args.append(m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2))
    return args


def parse_manpage(src):
    """(NAME summary, [DESCRIPTION paragraphs]) from roff source."""
    # join continuation lines
    src = re.sub(r"\\\n", "", src)
    section = None
    name_text = []
    paras = []
    cur = []
    nofill = False

    def flush():
        if cur and section == "DESCRIPTION":
            paras.append(clean(" ".join(cur)))
        cur.clear()

    for line in src.split("\n"):
        if line.startswith(('.\\"', "'\\\"", '\\"')):
            continue
        if line.startswith((".", "'")):
            m = re.match(r"^[.']\s*(\S+)\s*(.*)$", line)
            if not m:
                continue
            mac, rest = m.group(1), m.group(2)
            if mac in ("SH", "SS"):
                flush()
                title = " ".join(roff_args(rest)).strip().upper()
                if mac == "SH":
                    section = title
                elif section == "DESCRIPTION":
                    section = "DESCRIPTION-SUB"
                continue
            if mac in ("nf", "EX"):
                flush()
                nofill = True
                continue
            if mac in ("fi", "EE"):
                nofill = False
                continue
            if mac in ("PP", "P", "LP", "TP", "IP", "HP", "sp", "TS", "RS", "RE", "in", "br", "TQ"):
                flush()
                if mac == "TS":
                    nofill = True
                continue
            if mac == "TE":
                nofill = False
                continue
            args = roff_args(rest)
            if mac in ("B", "I", "SM", "SB"):
                text = " ".join(args)
            elif mac in ("BR", "RB", "BI", "IB", "RI", "IR"):
                text = "".join(args)
            elif mac in ("UR", "MT", "UE", "ME"):
                text = ""
            else:
                continue
            line = text
        if nofill:
            continue
        line = roff_text(line)
        if section == "NAME":
            name_text.append(line)
        elif section == "DESCRIPTION":
            cur.append(line)
    flush()
    name = clean(" ".join(name_text))
    summary = None
    m = re.match(r"^.*?\s[-\u2013\u2014]\s+(.+)$", name)
    if m:
        summary = m.group(1)
    return summary, [p for p in paras if p]


def manpage_pairs(col):
    files = []
    for pkg in ("manpages", "manpages-dev"):
        out = run(["dpkg", "-L", pkg]).decode()
        files += [f for f in out.split("\n") if re.match(r"^/usr/share/man/man\d/[^/]+\.gz$", f)]
    for path in sorted(set(files)):
        if not os.path.isfile(path) or os.path.islink(path):
            continue
        with gzip.open(path) as f:
            src = f.read().decode("utf-8", errors="replace")
        if src.lstrip().startswith(".so "):
            continue
        summary, paras = parse_manpage(src)
        for p in paras:
            col.text("manpages", p)
        if summary and paras and nwords(drop_trailing_colon(paras[0])) >= 6:
            col.add("manpages", summary, drop_trailing_colon(paras[0]))


# ---------------------------------------------------------------------------
# Bibles (SWORD modules through diatheke)
# ---------------------------------------------------------------------------

_ref_re = re.compile(r"(?:^|(?<=\s))((?:I{1,3} |[1-4] )?[A-Z][A-Za-z]+(?: (?:of )?[A-Z][A-Za-z]+)*) "
                     r"(\d+):(\d+): ")


def _verses(module):
    """{(book, chapter, verse): text}; diatheke prints one verse a line."""
    osis = run(["diatheke", "-b", module, "-f", "osis", "-k", "Gen 1:1-Rev 22:21"]).decode(
        "utf-8", errors="replace")
    # the module text sometimes lacks the space between two <w> elements
    osis = re.sub(r"</w><w", "</w> <w", osis)
    osis = re.sub(r"([A-Za-z,;:.!?])<w\b", r"\1 <w", osis)
    verses = {}
    for line in osis.split("\n"):
        # a heading may precede the reference on the line: skip it
        m = _ref_re.search(line)
        if not m:
            continue
        text = line[m.end():]
        text = re.sub(r"<note\b.*?</note>", "", text)
        text = re.sub(r"<title\b.*?</title>", "", text)
        text = re.sub(r"<[^>]*>", "", text)
        text = clean(text.replace("\u00b6", ""))
        if text:
            verses[(m.group(1), int(m.group(2)), int(m.group(3)))] = text
    return verses


def bible_pairs(col):
    kjv = _verses("engKJV2006eb")
    web = _verses("engWEB2015eb")
    for ref in sorted(set(web) - set(kjv)):
        col.text("bible", web[ref])
    for ref in sorted(kjv, key=lambda r: (r[0], r[1], r[2])):
        a = kjv[ref]
        b = web.get(ref)
        col.text("bible", a)
        if not b:
            continue
        col.text("bible", b)
        na, nb = nwords(a), nwords(b)
        if not (4 <= na <= MAX_WORDS and 4 <= nb <= MAX_WORDS) or max(na, nb) > 1.8 * min(na, nb):
            continue
        sa, sb = content_stems(a), content_stems(b)
        if sa and sb and len(sa & sb) / min(len(sa), len(sb)) < 0.2:
            continue                # verse numbering differs here
        col.add("bible", a, b)
    return len(kjv), len(web)


# ---------------------------------------------------------------------------
# SNLI and WikiSplit (shared/data)
# ---------------------------------------------------------------------------

def snli_pairs(col, shared):
    d = os.path.join(shared, "snli-devtest")
    for split in ("dev", "test"):
        s1 = read_lines(os.path.join(d, "s1." + split))
        s2 = read_lines(os.path.join(d, "s2." + split))
        labels = read_lines(os.path.join(d, "labels." + split))
        groups = {}
        order = []
        for p, h, lab in zip(s1, s2, labels):
            if not p.strip():
                continue
            p, h = detokenize(p), detokenize(h)
            col.text("snli", p)
            col.text("snli", h)
            if p not in groups:
                groups[p] = {"entailment": [], "contradiction": [], "neutral": []}
                order.append(p)
            if lab.strip() in groups[p]:
                groups[p][lab.strip()].append(h)
        for p in order:
            ent, con = groups[p]["entailment"], groups[p]["contradiction"]
            for i, h in enumerate(ent):
                neg = con[i % len(con)] if con else None
                if neg is None:
                    col.add("snli", p, h, min_pos_words=1)
                else:
                    col.add("snli", p, h, neg, min_pos_words=1)


def wikisplit_pairs(col, shared):
    d = os.path.join(shared, "wikisplit")
    for split in ("tune", "validation", "test"):
        for line in read_lines(os.path.join(d, split + ".tsv")):
            if "\t" not in line:
                continue
            complex_s, split_s = line.split("\t", 1)
            a = detokenize(complex_s)
            b = " ".join(detokenize(x) for x in split_s.split("<::::>"))
            col.text("wikisplit", a)
            col.text("wikisplit", b)
            col.add("wikisplit", a, b)


# ---------------------------------------------------------------------------
# Fortunes (unlabeled)
# ---------------------------------------------------------------------------

def fortune_texts(col):
    d = "/usr/share/games/fortunes"
    for name in sorted(os.listdir(d)):
        if "." in name or name in FORTUNE_EXCLUDE or not os.path.isfile(os.path.join(d, name)):
            continue
        path = os.path.join(d, name + ".u8") if os.path.exists(os.path.join(d, name + ".u8")) \
            else os.path.join(d, name)
        with open(path, encoding="utf-8", errors="replace") as f:
            data = f.read()
        for entry in data.split("\n%\n"):
            text = re.sub(r"\n\s*(--|\u2014)\s*[^\n]*$", "", entry.strip())   # attribution
            text = re.sub(r".\x08", "", text)                                   # overstrike
            alpha = sum(c.isalpha() for c in text)
            if text and alpha > 0.6 * len(text.replace(" ", "").replace("\n", "")):
                col.text("fortunes", text)


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_lines(path, lines):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line)
            f.write("\n")
    os.replace(tmp, path)


def package_versions(names):
    out = {}
    for name in names:
        try:
            v = run(["dpkg-query", "-W", "-f", "${Version}", name], stderr=subprocess.DEVNULL).decode()
        except subprocess.CalledProcessError:
            v = None
        out[name] = v
    return out


def split_heldout(col):
    """Choose held-out pairs by a hash of the anchor; return (train, heldout)."""
    heldout = []
    seen_a, seen_p = set(), set()
    for source in SOURCES:
        pairs = col.pairs[source]
        if not pairs:
            continue
        rate = min(HELDOUT_MAX_RATE, HELDOUT_PER_SOURCE / len(pairs))
        cand = [(hval("heldout", key(a)), a, p) for a, p, _ in pairs if hval("heldout", key(a)) < rate]
        for _, a, p in sorted(cand):
            if key(a) in seen_a or key(p) in seen_p or key(a) in seen_p or key(p) in seen_a:
                continue
            seen_a.add(key(a))
            seen_p.add(key(p))
            heldout.append((source, a, p))
    held_texts = seen_a | seen_p
    train = {}
    for source in SOURCES:
        train[source] = [t for t in col.pairs[source]
                         if key(t[0]) not in held_texts and key(t[1]) not in held_texts
                         and (t[2] is None or key(t[2]) not in held_texts)]
    return train, heldout, held_texts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.environ.get("EMBED_DATA_DIR") or "/var/tmp/embed-data")
    ap.add_argument("--shared", default=os.path.normpath(os.path.join(HERE, "../../../shared/data")))
    ap.add_argument("--samples", type=int, default=0, help="print N sample pairs per source")
    args = ap.parse_args()

    t_start = time.time()
    timings = {}
    os.makedirs(os.path.join(args.out, "pairs"), exist_ok=True)
    col = Collector()

    def step(name, fn, *a):
        t0 = time.time()
        r = fn(*a)
        timings[name] = round(time.time() - t0, 1)
        print("  %-12s %6.1f s" % (name, timings[name]), file=sys.stderr, flush=True)
        return r

    print("reading sources", file=sys.stderr)
    synsets = step("wordnet-read", read_wordnet)
    step("wordnet", wordnet_pairs, col, synsets)
    gc_senses = step("gcide", gcide_pairs, col)
    step("definitions", definition_pairs, col, synsets, gc_senses)
    lexicon = {l.lower() for s in synsets for l in s.lemmas} | {w for w, _ in gc_senses}
    step("foldoc", foldoc_pairs, col)
    step("jargon", jargon_pairs, col)
    step("vera", vera_pairs, col, lexicon)
    step("devil", devil_pairs, col)
    debian_counts = step("debian", debian_pairs, col)
    step("manpages", manpage_pairs, col)
    bible_counts = step("bible", bible_pairs, col)
    step("snli", snli_pairs, col, args.shared)
    step("wikisplit", wikisplit_pairs, col, args.shared)
    step("fortunes", fortune_texts, col)

    train, heldout, held_texts = split_heldout(col)

    # training files: one per source, in a hash order (a deterministic shuffle)
    files = {}
    for source in SOURCES:
        rows = ["\t".join(x for x in t if x is not None) for t in train[source]]
        rows.sort(key=lambda r: hashlib.sha1(r.encode("utf-8")).digest())
        path = os.path.join(args.out, "pairs", source + ".tsv")
        write_lines(path, rows)
        files["pairs/%s.tsv" % source] = path
    heldout.sort(key=lambda t: (t[0], hval("order", key(t[1]))))
    write_lines(os.path.join(args.out, "pairs", "heldout.tsv"), ["%s\t%s" % (a, p) for _, a, p in heldout])
    write_lines(os.path.join(args.out, "heldout_sources.txt"), [s for s, _, _ in heldout])
    files["pairs/heldout.tsv"] = os.path.join(args.out, "pairs", "heldout.tsv")
    files["heldout_sources.txt"] = os.path.join(args.out, "heldout_sources.txt")

    # corpus: every unlabeled text and every pair text, held-out texts excluded
    corpus_seen = set()
    corpus = []
    corpus_groups = {}
    groups = sorted(col.corpus)
    for group in groups:
        n = 0
        for text in col.corpus[group]:
            k = key(text)
            if k in corpus_seen or k in held_texts:
                continue
            corpus_seen.add(k)
            corpus.append(text)
            n += 1
        corpus_groups[group] = n
    for source in SOURCES:
        for t in train[source]:
            for text in t:
                if text and nwords(text) >= 3 and key(text) not in corpus_seen:
                    corpus_seen.add(key(text))
                    corpus.append(text)
    corpus.sort(key=lambda r: hashlib.sha1(r.encode("utf-8")).digest())
    write_lines(os.path.join(args.out, "corpus.txt"), corpus)
    files["corpus.txt"] = os.path.join(args.out, "corpus.txt")
    corpus_words = sum(nwords(t) for t in corpus)

    # manifest (no timings: identical inputs give an identical manifest)
    held_by_source = {}
    for s, _, _ in heldout:
        held_by_source[s] = held_by_source.get(s, 0) + 1
    manifest = {
        "format": "embed training data v1",
        "generated_by": "tools/data/prepare.sh",
        "hash_salt": HASH_SALT,
        "max_words": MAX_WORDS,
        "pair_files": "pairs/<source>.tsv: anchor TAB positive [TAB hard_negative]; "
                      "pairs/heldout.tsv is not training data",
        "sources": {},
        "corpus": {"lines": len(corpus), "words": corpus_words,
                   "unlabeled_lines_by_group": corpus_groups},
        "heldout": {"pairs": len(heldout), "by_source": held_by_source},
        "debian": {"packages_in_lists": debian_counts[0], "english_descriptions": debian_counts[1]},
        "bible": {"kjv_verses": bible_counts[0], "web_verses": bible_counts[1]},
        "packages": package_versions(DEBIAN_PACKAGES),
        "files": {},
    }
    for source, (lic, pkgs, desc) in SOURCES.items():
        manifest["sources"][source] = {
            "train_pairs": len(train[source]),
            "heldout_pairs": held_by_source.get(source, 0),
            "with_hard_negative": sum(1 for t in train[source] if t[2]),
            "rejected_or_duplicate": col.rejected[source],
            "licence": lic, "inputs": pkgs, "pairs": desc,
        }
    for group, (lic, pkgs, desc) in CORPUS_ONLY.items():
        manifest["sources"][group] = {"train_pairs": 0, "licence": lic, "inputs": pkgs, "pairs": desc}
    for rel in sorted(files):
        path = files[rel]
        with open(path, "rb") as f:
            nlines = sum(1 for _ in f)
        manifest["files"][rel] = {"sha256": sha256_file(path), "lines": nlines,
                                  "bytes": os.path.getsize(path)}
    mpath = os.path.join(args.out, "manifest.json")
    with open(mpath + ".tmp", "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    os.replace(mpath + ".tmp", mpath)

    # report
    print()
    print("%-18s %9s %8s %9s" % ("source", "train", "heldout", "hard-neg"))
    total = 0
    for source in SOURCES:
        m = manifest["sources"][source]
        total += m["train_pairs"]
        print("%-18s %9d %8d %9d" % (source, m["train_pairs"], m["heldout_pairs"], m["with_hard_negative"]))
    print("%-18s %9d %8d" % ("total", total, len(heldout)))
    print("corpus.txt: %d lines, %d words, %.1f MB" % (len(corpus), corpus_words,
                                                       os.path.getsize(files["corpus.txt"]) / 1e6))
    print("written to %s in %.0f s" % (args.out, time.time() - t_start))
    if args.samples:
        for source in SOURCES:
            rows = train[source]
            if not rows:
                continue
            print("\n== %s" % source)
            picks = sorted(rows, key=lambda t: hval("sample", key(t[0]), key(t[1])))[:args.samples]
            for t in picks:
                print("  " + "  |  ".join(x for x in t if x))


if __name__ == "__main__":
    main()
