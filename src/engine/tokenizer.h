/*
 * tokenizer.h: text to token ids, as Hugging Face's tokenizers do it.
 *
 * A tokenizer is loaded from a model folder in Hugging Face layout:
 * tokenizer.json when present, otherwise vocab.txt + tokenizer_config.json
 * (BERT) or vocab.json + merges.txt with an optional tokenizer_config.json
 * (GPT-2, RoBERTa), read the way transformers converts them to a fast
 * tokenizer.  Two model families are implemented, each an
 * EmbedTokenizerKind behind the same functions: BERT's WordPiece
 * (BertNormalizer, BertPreTokenizer, WordPiece, [CLS] ... [SEP]) and
 * byte-level BPE (ByteLevel pre-tokenizer, BPE; GPT-2 adds no special
 * tokens, RoBERTa <s> ... </s>).
 *
 * The object is read-only after loading: one tokenizer may be shared by
 * threads.  Encoding allocates a per-call buffer bounded by the longest
 * word (WordPiece: max_input_chars_per_word; BPE: the longest word of the
 * text, which is merged whole), and stops reading the text once
 * max_tokens tokens are produced.
 *
 * Input is UTF-8 of a given length (NUL bytes are ordinary characters).
 * Invalid UTF-8 reads as U+FFFD: WordPiece reads each byte that does not
 * start a valid sequence as one U+FFFD (and drops it); BPE reads each
 * maximal invalid subsequence as one U+FFFD, as lossy UTF-8 decoders
 * (Rust, Python, WHATWG) do, so it gives Hugging Face's ids for the
 * lossily decoded text.
 */
#ifndef EMBED_TOKENIZER_H
#define EMBED_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum EmbedTokenizerKind
{
	EMBED_TOKENIZER_WORDPIECE = 1,	/* BERT WordPiece */
	EMBED_TOKENIZER_BPE = 2		/* byte-level BPE (GPT-2, RoBERTa) */
} EmbedTokenizerKind;

typedef struct EmbedTokenizer EmbedTokenizer;

/* Byte range [start, end) of a token in the input; (0, 0) for specials. */
typedef struct EmbedTokenOffsets
{
	size_t		start;
	size_t		end;
} EmbedTokenOffsets;

/* Load from a model folder; NULL with a message in err on error. */
EmbedTokenizer *embed_tokenizer_load(const char *model_dir, char *err, size_t errlen);

/* Release everything the tokenizer holds (NULL is allowed). */
void		embed_tokenizer_free(EmbedTokenizer *tok);

/*
 * Encode text[0..len) with the model's special tokens ([CLS] ... [SEP],
 * <s> ... </s>, none for GPT-2),
 * truncating the text's tokens so that at most max_tokens ids, specials
 * included, are written to ids[].  Returns the number of ids, or -1 with a
 * message in err (max_tokens smaller than the number of special tokens).
 * *truncated (may be NULL) tells whether tokens were dropped.
 */
int			embed_tokenizer_encode(const EmbedTokenizer *tok, const char *text, size_t len,
								   int32_t *ids, int max_tokens, bool *truncated,
								   char *err, size_t errlen);

/*
 * The same, optionally without the special tokens, and filling offsets[]
 * (when not NULL, max_tokens entries) with each token's byte range in text;
 * special tokens added around the text get (0, 0), as in Hugging Face.
 */
int			embed_tokenizer_encode_ex(const EmbedTokenizer *tok, const char *text, size_t len,
									  bool add_special_tokens, int32_t *ids,
									  EmbedTokenOffsets *offsets, int max_tokens,
									  bool *truncated, char *err, size_t errlen);

/*
 * Polled while a long text is encoded (every few thousand bytes scanned or
 * merges made); returning true abandons the call.  It must return, not jump out:
 * the call then frees its buffers and returns -1 with "interrupted" in err.
 */
typedef bool (*EmbedTokenizerInterrupt) (void *arg);

/*
 * embed_tokenizer_encode, polling interrupt(arg) (NULL: never) during long
 * work.  Byte-level BPE polls while it pre-tokenizes and merges a word
 * (a word is merged whole, so its cost grows with its length); WordPiece,
 * which reads each byte once in bounded memory, does not poll.
 */
int			embed_tokenizer_encode_interruptible(const EmbedTokenizer *tok, const char *text, size_t len,
												 int32_t *ids, int max_tokens, bool *truncated,
												 EmbedTokenizerInterrupt interrupt, void *arg,
												 char *err, size_t errlen);

/* Token string of id (NUL-terminated), or NULL if id is out of range. */
const char *embed_tokenizer_id_to_token(const EmbedTokenizer *tok, int32_t id);

/* Id of an exact token string (added tokens first, then the vocabulary), or -1. */
int32_t		embed_tokenizer_token_to_id(const EmbedTokenizer *tok, const char *token, size_t len);

/* Number of ids: one more than the largest id, added tokens included. */
int32_t		embed_tokenizer_vocab_size(const EmbedTokenizer *tok);

/* Ids of the special tokens, or -1 when the model has none. */
int32_t		embed_tokenizer_pad_id(const EmbedTokenizer *tok);
int32_t		embed_tokenizer_cls_id(const EmbedTokenizer *tok);
int32_t		embed_tokenizer_sep_id(const EmbedTokenizer *tok);
int32_t		embed_tokenizer_unk_id(const EmbedTokenizer *tok);
int32_t		embed_tokenizer_mask_id(const EmbedTokenizer *tok);

/* Number of special tokens embed_tokenizer_encode adds around a text. */
int			embed_tokenizer_num_special_tokens(const EmbedTokenizer *tok);

/* tokenizer_config.json's model_max_length, or -1 when absent or unbounded. */
int32_t		embed_tokenizer_model_max_length(const EmbedTokenizer *tok);

EmbedTokenizerKind embed_tokenizer_kind(const EmbedTokenizer *tok);

/* "WordPiece", "BPE" */
const char *embed_tokenizer_kind_name(const EmbedTokenizer *tok);

#endif
