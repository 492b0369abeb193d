/*
 * tokenizer_internal.h: what the tokenizer kinds share (tokenizer.c owns
 * loading, the vocabulary, added tokens, special tokens and truncation; a
 * kind such as wordpiece.c owns normalisation, pre-tokenisation and the
 * model).  Not part of the engine's public API.
 */
#ifndef EMBED_TOKENIZER_INTERNAL_H
#define EMBED_TOKENIZER_INTERNAL_H

#include "json.h"
#include "tokenizer.h"

/* A hash slot: the token's hash and model id + 1 (0 = empty). */
typedef struct EmbedVocabSlot
{
	uint32_t	hash;
	uint32_t	id1;
} EmbedVocabSlot;

/* Token string -> id (open addressing) plus id -> string for every id. */
typedef struct EmbedVocab
{
	int32_t		size;			/* ids are 0 .. size-1; some may be unused */
	int32_t		capacity;		/* ids the arrays can hold */
	int32_t		model_size;		/* distinct model tokens */
	const char **tokens;		/* id -> NUL-terminated string, or NULL */
	uint32_t   *token_lens;		/* id -> length in bytes */
	EmbedVocabSlot *slots;		/* open addressing, linear probing */
	uint32_t	slot_mask;
	size_t		max_token_bytes;	/* longest model token */
	char	   *strings;		/* storage of all token strings */
	size_t		strings_used;
	size_t		strings_size;
} EmbedVocab;

/* A token of tokenizer.json's added_tokens (or a special token). */
typedef struct EmbedAddedToken
{
	const char *content;		/* in the vocabulary's string storage */
	size_t		len;
	int32_t		id;
	bool		special;
	bool		single_word;
	bool		lstrip;
	bool		rstrip;
	bool		normalized;		/* matched after normalisation */
	uint32_t   *norm_cps;		/* normalised content (normalized tokens) */
	int			norm_len;
} EmbedAddedToken;

/* One encode call's output. */
typedef struct EmbedEncodeState
{
	const char *text;
	size_t		len;
	int32_t    *ids;
	EmbedTokenOffsets *offsets;
	int			count;
	int			capacity;		/* ids are written below this index */
	bool		truncated;
	bool		stop;			/* output full: stop reading */
	EmbedTokenizerInterrupt interrupt;	/* polled during long work, or NULL */
	void	   *interrupt_arg;
	bool		interrupted;	/* interrupt() asked to stop: the call fails */
} EmbedEncodeState;

struct EmbedTokenizer
{
	EmbedTokenizerKind kind;
	EmbedVocab	vocab;
	EmbedAddedToken *added;
	int			n_added;
	int		   *raw_order;		/* indexes of non-normalized added tokens, by first byte */
	int			raw_first[257]; /* raw_order[raw_first[b] .. raw_first[b+1]) start with byte b */
	int		   *norm_order;		/* normalized added tokens, longest first */
	int			n_norm;
	int			max_norm_len;	/* longest normalised added token, code points */
	int32_t    *prefix_ids;		/* special tokens before the text */
	int			n_prefix;
	int32_t    *suffix_ids;		/* and after it */
	int			n_suffix;
	int32_t		unk_id;
	int32_t		cls_id;
	int32_t		sep_id;
	int32_t		pad_id;
	int32_t		mask_id;
	int32_t		model_max_length;
	bool		trim_offsets;	/* ByteLevel post-processing: white space out of offsets */
	bool		trim_prefix_space;	/* ... except the space add_prefix_space added */

	/* the kind's part */
	void	   *model;
	/* tokens of st->text, calling embed_added_match at each character */
	bool		(*encode) (const EmbedTokenizer *tok, EmbedEncodeState *st, char *err, size_t errlen);
	int			(*normalize) (const EmbedTokenizer *tok, const char *text, size_t len,
							  uint32_t *out, int outcap);
	void		(*free_model) (void *model);
};

/* Push one token; false (and stop set) when the output is full. */
static inline bool
embed_encode_push(EmbedEncodeState *st, int32_t id, size_t start, size_t end)
{
	if (st->count >= st->capacity)
	{
		st->truncated = true;
		st->stop = true;
		return false;
	}
	st->ids[st->count] = id;
	if (st->offsets)
	{
		st->offsets[st->count].start = start;
		st->offsets[st->count].end = end;
	}
	st->count++;
	return true;
}

/* Could a non-normalized added token start with byte b? */
static inline bool
embed_added_may_start(const EmbedTokenizer *tok, unsigned char b)
{
	return tok->raw_first[b] != tok->raw_first[b + 1];
}

/*
 * The non-normalized added token matched at text[pos] (leftmost-longest),
 * with its byte range [*start, *end) once lstrip/rstrip took the white
 * space around it (never before seg_start, the end of the previous match).
 * NULL when none starts there; if *end > pos then, a single_word token
 * matched but touches a word, and no token may start before *end.
 */
const EmbedAddedToken *embed_added_match(const EmbedTokenizer *tok, const char *text, size_t len,
										 size_t pos, size_t seg_start, size_t *start, size_t *end);

/* Vocabulary building (tokenizer.c). */
bool		embed_vocab_init(EmbedVocab *v, int32_t capacity, size_t string_bytes, char *err, size_t errlen);
bool		embed_vocab_set(EmbedVocab *v, int32_t id, const char *token, size_t len, bool model_token);
int32_t		embed_vocab_lookup(const EmbedVocab *v, const char *token, size_t len);
void		embed_vocab_free(EmbedVocab *v);

/* snprintf into an error buffer (err may be NULL or errlen 0: nothing is written). */
void		embed_tokenizer_set_error(char *err, size_t errlen, const char *fmt, ...)
			__attribute__((format(printf, 3, 4)));

/* Decode one UTF-8 character; invalid bytes read as U+FFFD, one byte each. */
static inline size_t
embed_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char c = s[0];
	uint32_t	v;
	size_t		n,
				i;

	if (c < 0x80)
	{
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
	{
		n = 2;
		v = c & 0x1F;
	}
	else if (c >= 0xE0 && c <= 0xEF)
	{
		n = 3;
		v = c & 0x0F;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		n = 4;
		v = c & 0x07;
	}
	else
	{
		*cp = 0xFFFD;
		return 1;
	}
	if (len < n)
	{
		*cp = 0xFFFD;
		return 1;
	}
	for (i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
		{
			*cp = 0xFFFD;
			return 1;
		}
		v = (v << 6) | (s[i] & 0x3F);
	}
	/* overlong forms, surrogates and values above U+10FFFF */
	if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
		(v >= 0xD800 && v <= 0xDFFF))
	{
		*cp = 0xFFFD;
		return 1;
	}
	*cp = v;
	return n;
}

/* Encode one code point as UTF-8 into out (4 bytes room); returns the length. */
static inline size_t
embed_utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80)
	{
		out[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (char) (0xC0 | (cp >> 6));
		out[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (char) (0xE0 | (cp >> 12));
		out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char) (0xF0 | (cp >> 18));
	out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/* Is cp a word character for added tokens' single_word (regex \w)? */
bool		embed_tokenizer_is_word_char(uint32_t cp);

/* Is cp white space (Unicode White_Space, as Rust's char::is_whitespace)? */
bool		embed_tokenizer_is_whitespace(uint32_t cp);

/* The WordPiece kind (wordpiece.c). */
bool		embed_wordpiece_from_json(EmbedTokenizer *tok, const EmbedJson *root,
									  char *err, size_t errlen);
bool		embed_wordpiece_from_vocab_txt(EmbedTokenizer *tok, const char *vocab_path,
										   const EmbedJson *config, char *err, size_t errlen);

/* The byte-level BPE kind (bpe.c). */
bool		embed_bpe_from_json(EmbedTokenizer *tok, const EmbedJson *root, char *err, size_t errlen);
bool		embed_bpe_from_files(EmbedTokenizer *tok, const char *merges_path, bool add_prefix_space,
								 char *err, size_t errlen);

/*
 * Split text into GPT-2's pre-tokens (no added tokens), writing each
 * word's end offset to ends[]; a word that is only the space
 * add_prefix_space prepends ends where it starts.  Returns the number of
 * words, or -1 when there are more than max_ends.
 */
int			embed_bpe_pretokenize(const char *text, size_t len, bool add_prefix_space, bool use_regex,
								  size_t *ends, int max_ends);

#endif
