/*
 * tokenizer.c: loading a Hugging Face tokenizer and the encode driver.
 *
 * Design.  Hugging Face's fast tokenizer runs, for one text:
 *   1. added tokens whose `normalized` flag is false ([CLS], [SEP], ...) are
 *      found in the raw text (leftmost-longest, non-overlapping) and cut it
 *      into segments;
 *   2. each segment is normalised, added tokens with `normalized` true are
 *      found in the normalised text, the rest is pre-tokenised into words
 *      and each word goes through the model (WordPiece, ...);
 *   3. truncation keeps the first max_length - n_specials tokens and the
 *      post-processor adds the special tokens ([CLS] A [SEP]).
 * This file does step 3 and everything that is the same for every model
 * family: the vocabulary (a hash table from token to id plus the
 * id-to-token array), added tokens and their matching, special tokens and
 * the folder layout.  Steps 1-2 belong to the tokenizer's kind
 * (wordpiece.c, bpe.c), reached through the function pointers of
 * EmbedTokenizer: it reads the text once, asking embed_added_match at each
 * character whether an added token starts there.  Tokens are streamed
 * into the caller's array; once it is full reading stops, so a huge text
 * costs no more than the tokens kept.  A model family plugs in as an
 * EmbedTokenizerKind: a loader called from load_tokenizer_json that sets
 * the kind's encode, normalize and free_model functions.
 *
 * Added tokens get their ids as Hugging Face assigns them on loading (the
 * ids written in the file are not used, see assign_added_ids).
 *
 * Files read: tokenizer.json when present (model.vocab, added_tokens,
 * normalizer, pre_tokenizer, post_processor; its truncation and padding
 * sections are ignored, the caller chooses max_tokens), otherwise vocab.txt
 * with tokenizer_config.json (do_lower_case, strip_accents,
 * tokenize_chinese_chars, special tokens, added_tokens_decoder), built the
 * way transformers converts a slow BertTokenizer to a fast one, otherwise
 * vocab.json + merges.txt with tokenizer_config.json (tokenizer_class
 * GPT2Tokenizer, the default, or RobertaTokenizer; add_prefix_space,
 * add_bos_token, trim_offsets, special tokens, added_tokens_decoder), built
 * as transformers' GPT2Converter and RobertaConverter do.
 * tokenizer_config.json (or special_tokens_map.json) also names the special
 * tokens and gives model_max_length.
 */
#include "tokenizer_internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <utf8proc.h>

/* Largest tokenizer file accepted (multilingual tokenizer.json files are ~20 MB). */
#define MAX_TOKENIZER_FILE_BYTES ((size_t) 512 * 1024 * 1024)
/* Largest vocabulary accepted. */
#define MAX_VOCAB_SIZE (64 * 1024 * 1024)

/* Format an error message into err (nothing when err is NULL or empty). */
void
embed_tokenizer_set_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list		ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* dir/name into buf; false if it does not fit. */
static bool
join_path(char *buf, size_t buflen, const char *dir, const char *name)
{
	int			n = snprintf(buf, buflen, "%s/%s", dir, name);

	return n >= 0 && (size_t) n < buflen;
}

static bool
is_regular_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Parse a JSON file; NULL with a message on error. */
static EmbedJson *
read_json_file(const char *path, char *err, size_t errlen)
{
	char		msg[256];
	size_t		len;
	char	   *text = embed_read_file(path, MAX_TOKENIZER_FILE_BYTES, &len, err, errlen);
	EmbedJson  *root;

	if (text == NULL)
		return NULL;
	root = embed_json_parse(text, len, msg, sizeof(msg));
	free(text);
	if (root == NULL)
		embed_tokenizer_set_error(err, errlen, "invalid JSON in \"%s\": %s", path, msg);
	return root;
}

/* ---------------------------------------------------------------------
 * Vocabulary
 * --------------------------------------------------------------------- */

/* 32-bit hash of a byte string (multiply-xorshift over 8-byte words). */
static uint32_t
hash_bytes(const char *s, size_t n)
{
	uint64_t	h = 0x9E3779B97F4A7C15ULL ^ (uint64_t) n;
	uint64_t	k;

	while (n >= 8)
	{
		memcpy(&k, s, 8);
		h = (h ^ k) * 0xBF58476D1CE4E5B9ULL;
		h ^= h >> 31;
		s += 8;
		n -= 8;
	}
	if (n > 0)
	{
		k = 0;
		memcpy(&k, s, n);
		h = (h ^ k) * 0xBF58476D1CE4E5B9ULL;
		h ^= h >> 31;
	}
	h *= 0x94D049BB133111EBULL;
	h ^= h >> 29;
	return (uint32_t) h;
}

/* Allocate a vocabulary for ids below capacity, holding string_bytes of token text. */
bool
embed_vocab_init(EmbedVocab *v, int32_t capacity, size_t string_bytes, char *err, size_t errlen)
{
	size_t		slots = 16;

	memset(v, 0, sizeof(*v));
	if (capacity <= 0 || capacity > MAX_VOCAB_SIZE)
	{
		embed_tokenizer_set_error(err, errlen, "vocabulary size %d is out of range (1 .. %d)",
				  (int) capacity, MAX_VOCAB_SIZE);
		return false;
	}
	while (slots < (size_t) capacity * 2)
		slots *= 2;
	v->size = capacity;
	v->capacity = capacity;
	v->tokens = calloc((size_t) capacity, sizeof(*v->tokens));
	v->token_lens = calloc((size_t) capacity, sizeof(*v->token_lens));
	v->slots = calloc(slots, sizeof(*v->slots));
	v->strings = malloc(string_bytes > 0 ? string_bytes : 1);
	v->strings_size = string_bytes;
	v->slot_mask = (uint32_t) (slots - 1);
	if (!v->tokens || !v->token_lens || !v->slots || !v->strings)
	{
		embed_vocab_free(v);
		embed_tokenizer_set_error(err, errlen, "out of memory for a vocabulary of %d tokens", (int) capacity);
		return false;
	}
	return true;
}

/*
 * Give id its token string; model tokens also enter the lookup table (a
 * repeated token keeps the last id, as a dict built in file order does).
 */
bool
embed_vocab_set(EmbedVocab *v, int32_t id, const char *token, size_t len, bool model_token)
{
	char	   *copy;
	uint32_t	h,
				slot;

	if (id < 0 || id >= v->capacity || len > UINT32_MAX ||
		v->strings_size - v->strings_used < len + 1)
		return false;
	copy = v->strings + v->strings_used;
	memcpy(copy, token, len);
	copy[len] = '\0';
	v->strings_used += len + 1;
	v->tokens[id] = copy;
	v->token_lens[id] = (uint32_t) len;
	if (!model_token)
		return true;
	if (len > v->max_token_bytes)
		v->max_token_bytes = len;
	h = hash_bytes(token, len);
	for (slot = h & v->slot_mask;; slot = (slot + 1) & v->slot_mask)
	{
		uint32_t	other = v->slots[slot].id1;

		if (other == 0)
		{
			v->model_size++;
			break;
		}
		if (v->slots[slot].hash == h && v->token_lens[other - 1] == len &&
			memcmp(v->tokens[other - 1], token, len) == 0)
			break;
	}
	v->slots[slot].id1 = (uint32_t) id + 1;
	v->slots[slot].hash = h;
	return true;
}

/* Model id of token[0..len), or -1. */
int32_t
embed_vocab_lookup(const EmbedVocab *v, const char *token, size_t len)
{
	uint32_t	h = hash_bytes(token, len);
	uint32_t	slot;

	for (slot = h & v->slot_mask;; slot = (slot + 1) & v->slot_mask)
	{
		uint32_t	id1 = v->slots[slot].id1;

		if (id1 == 0)
			return -1;
		if (v->slots[slot].hash == h && v->token_lens[id1 - 1] == len &&
			memcmp(v->tokens[id1 - 1], token, len) == 0)
			return (int32_t) id1 - 1;
	}
}

void
embed_vocab_free(EmbedVocab *v)
{
	free(v->tokens);
	free(v->token_lens);
	free(v->slots);
	free(v->strings);
	memset(v, 0, sizeof(*v));
}

/* ---------------------------------------------------------------------
 * Character classes shared by the kinds
 * --------------------------------------------------------------------- */

/* Unicode White_Space (Rust's char::is_whitespace, regex \s). */
bool
embed_tokenizer_is_whitespace(uint32_t cp)
{
	utf8proc_category_t cat;

	if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D))
		return true;
	if (cp < 0x80)
		return false;
	if (cp == 0x85)
		return true;
	cat = utf8proc_category((utf8proc_int32_t) cp);
	return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
		cat == UTF8PROC_CATEGORY_ZP;
}

/*
 * Regex \w: Alphabetic, marks, decimal digits, connector punctuation and
 * the joiners.  Alphabetic is approximated by letters, letter numbers and
 * the circled/squared Latin letters (Other_Alphabetic symbols).
 */
bool
embed_tokenizer_is_word_char(uint32_t cp)
{
	if (cp < 0x80)
		return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
			(cp >= 'A' && cp <= 'Z') || cp == '_';
	if (cp == 0x200C || cp == 0x200D || (cp >= 0x24B6 && cp <= 0x24E9) ||
		(cp >= 0x1F130 && cp <= 0x1F149) || (cp >= 0x1F150 && cp <= 0x1F169) ||
		(cp >= 0x1F170 && cp <= 0x1F189))
		return true;
	switch (utf8proc_category((utf8proc_int32_t) cp))
	{
		case UTF8PROC_CATEGORY_LU:
		case UTF8PROC_CATEGORY_LL:
		case UTF8PROC_CATEGORY_LT:
		case UTF8PROC_CATEGORY_LM:
		case UTF8PROC_CATEGORY_LO:
		case UTF8PROC_CATEGORY_NL:
		case UTF8PROC_CATEGORY_MN:
		case UTF8PROC_CATEGORY_MC:
		case UTF8PROC_CATEGORY_ME:
		case UTF8PROC_CATEGORY_ND:
		case UTF8PROC_CATEGORY_PC:
			return true;
		default:
			return false;
	}
}

/* ---------------------------------------------------------------------
 * Loading
 * --------------------------------------------------------------------- */

/* A special token's name in a config: a string or {"content": "..."}. */
static const char *
config_token_name(const EmbedJson *config, const char *key)
{
	const EmbedJson *v = embed_json_get(config, key);

	if (v == NULL)
		return NULL;
	if (v->type == EMBED_JSON_STRING)
		return v->str;
	if (v->type == EMBED_JSON_OBJECT)
		return embed_json_get_string(v, "content");
	return NULL;
}

/* A JSON integer in [0, INT32_MAX), or -1. */
static int32_t
json_id(const EmbedJson *v)
{
	if (v == NULL || v->type != EMBED_JSON_NUMBER || !v->is_integer ||
		v->integer < 0 || v->integer >= INT32_MAX)
		return -1;
	return (int32_t) v->integer;
}

/* Read an optional boolean member (absent or null keeps *out). */
static bool
get_flag(const EmbedJson *obj, const char *key, bool *out, char *err, size_t errlen)
{
	const EmbedJson *v = embed_json_get(obj, key);

	if (v == NULL || v->type == EMBED_JSON_NULL)
		return true;
	if (v->type != EMBED_JSON_TRUE && v->type != EMBED_JSON_FALSE)
	{
		embed_tokenizer_set_error(err, errlen, "added token member \"%s\" is not a boolean", key);
		return false;
	}
	*out = v->type == EMBED_JSON_TRUE;
	return true;
}

/* Parse one added-token object (content and flags; the id is assigned later). */
static bool
parse_added_token(const EmbedJson *obj, EmbedAddedToken *t, char *err, size_t errlen)
{
	const EmbedJson *content = embed_json_get(obj, "content");

	memset(t, 0, sizeof(*t));
	if (obj->type != EMBED_JSON_OBJECT || content == NULL || content->type != EMBED_JSON_STRING)
	{
		embed_tokenizer_set_error(err, errlen, "an added token has no \"content\" string");
		return false;
	}
	t->content = content->str;
	t->len = content->len;
	t->id = -1;
	if (!get_flag(obj, "special", &t->special, err, errlen))
		return false;
	t->normalized = !t->special;	/* the default of an AddedToken */
	return get_flag(obj, "single_word", &t->single_word, err, errlen) &&
		get_flag(obj, "lstrip", &t->lstrip, err, errlen) &&
		get_flag(obj, "rstrip", &t->rstrip, err, errlen) &&
		get_flag(obj, "normalized", &t->normalized, err, errlen);
}

/*
 * Collect added tokens, in file order: tokenizer.json's "added_tokens"
 * array ({id, content, ...}) or tokenizer_config.json's
 * "added_tokens_decoder" object ("id": {content, ...}).  Contents point
 * into the JSON tree until copy_added_tokens moves them into the
 * vocabulary.
 */
static bool
collect_added_tokens(EmbedTokenizer *tok, const EmbedJson *list, bool keyed_by_id,
					 char *err, size_t errlen)
{
	size_t		i;

	if (list == NULL || list->type == EMBED_JSON_NULL || list->len == 0)
		return true;
	if (list->type != (keyed_by_id ? EMBED_JSON_OBJECT : EMBED_JSON_ARRAY))
	{
		embed_tokenizer_set_error(err, errlen, "%s is not an %s", keyed_by_id ? "added_tokens_decoder" : "added_tokens",
				  keyed_by_id ? "object" : "array");
		return false;
	}
	tok->added = calloc(list->len, sizeof(EmbedAddedToken));
	if (tok->added == NULL)
	{
		embed_tokenizer_set_error(err, errlen, "out of memory");
		return false;
	}
	for (i = 0; i < list->len; i++)
	{
		if (!parse_added_token(&list->items[i], &tok->added[tok->n_added], err, errlen))
			return false;
		if (tok->added[tok->n_added].len > 0)
			tok->n_added++;
	}
	return true;
}

/*
 * Give the added tokens their ids the way Hugging Face does when it loads
 * them (the ids written in the file are not used): a token already added
 * keeps its id (a repeated token's later flags win), a token of the model
 * vocabulary takes the model's id, any other token the next free id after
 * the model's.
 */
static void
assign_added_ids(EmbedTokenizer *tok)
{
	const EmbedVocab *v = &tok->vocab;
	int64_t		max_added = -1;
	int			kept = 0;
	int			a,
				b;

	for (a = 0; a < tok->n_added; a++)
	{
		EmbedAddedToken t = tok->added[a];

		for (b = 0; b < kept; b++)
			if (tok->added[b].len == t.len && memcmp(tok->added[b].content, t.content, t.len) == 0)
				break;
		if (b < kept)
		{
			t.id = tok->added[b].id;
			tok->added[b] = t;
			continue;
		}
		t.id = embed_vocab_lookup(v, t.content, t.len);
		if (t.id < 0)
		{
			if (max_added < 0)
				t.id = v->model_size;
			else if (max_added >= v->model_size || v->model_size == 0)
				t.id = (int32_t) max_added + 1;
			else
				t.id = v->model_size;
		}
		if (t.id > max_added)
			max_added = t.id;
		tok->added[kept++] = t;
	}
	tok->n_added = kept;
}

/* Set the vocabulary size to one past the largest model or added id. */
static void
finish_vocab_size(EmbedTokenizer *tok, int64_t max_model_id)
{
	int64_t		max_id = max_model_id;
	int			a;

	for (a = 0; a < tok->n_added; a++)
		if (tok->added[a].id > max_id)
			max_id = tok->added[a].id;
	tok->vocab.size = (int32_t) max_id + 1;
}

/* Make the vocabulary: model tokens from a JSON object, then added tokens' ids. */
static bool
build_vocab_from_json(EmbedTokenizer *tok, const EmbedJson *vocab, const char *what,
					  char *err, size_t errlen)
{
	int64_t		max_id = -1;
	int64_t		capacity;
	size_t		bytes = 0;
	size_t		i;
	int			a;

	if (vocab == NULL || vocab->type != EMBED_JSON_OBJECT || vocab->len == 0)
	{
		embed_tokenizer_set_error(err, errlen, "%s is not a non-empty object", what);
		return false;
	}
	for (i = 0; i < vocab->len; i++)
	{
		int32_t		id = json_id(&vocab->items[i]);

		if (id < 0)
		{
			embed_tokenizer_set_error(err, errlen, "%s: vocabulary entry \"%s\" has no valid id",
					  what, vocab->keys[i]);
			return false;
		}
		if (id > max_id)
			max_id = id;
		bytes += vocab->key_lens[i] + 1;
	}
	for (a = 0; a < tok->n_added; a++)
		bytes += tok->added[a].len + 1;
	/* new added ids follow the larger of the highest id and the token count */
	capacity = (max_id + 1 > (int64_t) vocab->len ? max_id + 1 : (int64_t) vocab->len) + tok->n_added;
	if (capacity > MAX_VOCAB_SIZE)
	{
		embed_tokenizer_set_error(err, errlen, "%s: the vocabulary is too large (id %lld)", what, (long long) max_id);
		return false;
	}
	if (!embed_vocab_init(&tok->vocab, (int32_t) capacity, bytes, err, errlen))
		return false;
	for (i = 0; i < vocab->len; i++)
		embed_vocab_set(&tok->vocab, json_id(&vocab->items[i]), vocab->keys[i], vocab->key_lens[i], true);
	assign_added_ids(tok);
	finish_vocab_size(tok, max_id);
	return true;
}

/* Copy the added tokens' contents into the vocabulary (id -> content). */
static bool
copy_added_tokens(EmbedTokenizer *tok, char *err, size_t errlen)
{
	int			a;

	for (a = 0; a < tok->n_added; a++)
	{
		EmbedAddedToken *t = &tok->added[a];

		if (!embed_vocab_set(&tok->vocab, t->id, t->content, t->len, false))
		{
			embed_tokenizer_set_error(err, errlen, "added token %d does not fit in the vocabulary", (int) t->id);
			return false;
		}
		t->content = tok->vocab.tokens[t->id];
	}
	return true;
}

/* Read vocab.txt (one token per line, id = line number) plus added tokens. */
static bool
build_vocab_from_txt(EmbedTokenizer *tok, const char *path, char *err, size_t errlen)
{
	size_t		len;
	char	   *text = embed_read_file(path, MAX_TOKENIZER_FILE_BYTES, &len, err, errlen);
	size_t		lines = 0;
	size_t		bytes = 0;
	size_t		pos;
	int64_t		size;
	int32_t		id = 0;
	int			a;

	if (text == NULL)
		return false;
	for (pos = 0; pos < len; pos++)
		if (text[pos] == '\n')
			lines++;
	if (len > 0 && text[len - 1] != '\n')
		lines++;
	size = (int64_t) lines + tok->n_added;
	bytes = len + lines + 1;
	for (a = 0; a < tok->n_added; a++)
		bytes += tok->added[a].len + 1;
	if (lines == 0)
	{
		embed_tokenizer_set_error(err, errlen, "\"%s\" is empty", path);
		free(text);
		return false;
	}
	if (size > MAX_VOCAB_SIZE)
	{
		embed_tokenizer_set_error(err, errlen, "\"%s\" has too many tokens", path);
		free(text);
		return false;
	}
	if (!embed_vocab_init(&tok->vocab, (int32_t) size, bytes, err, errlen))
	{
		free(text);
		return false;
	}
	for (pos = 0; pos < len; id++)
	{
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t		end = nl ? (size_t) (nl - text) : len;

		/* the line without its "\n" (a "\r" stays part of the token) */
		embed_vocab_set(&tok->vocab, id, text + pos, end - pos, true);
		pos = end + 1;
	}
	free(text);
	assign_added_ids(tok);
	finish_vocab_size(tok, (int64_t) lines - 1);
	return true;
}

/* Id of a special token named in the configs, else of a default name, else -1. */
static int32_t
special_id(const EmbedTokenizer *tok, const EmbedJson *config, const EmbedJson *map,
		   const char *key, const char *default_name)
{
	const char *name = config_token_name(config, key);

	if (name == NULL)
		name = config_token_name(map, key);
	if (name == NULL)
		name = default_name;
	return name ? embed_tokenizer_token_to_id(tok, name, strlen(name)) : -1;
}

/* The ids of a TemplateProcessing special token ("[CLS]" -> [101]). */
static bool
template_special_ids(const EmbedJson *special_tokens, const char *name, const EmbedJson **ids_out,
					 char *err, size_t errlen)
{
	const EmbedJson *entry = embed_json_get(special_tokens, name);
	const EmbedJson *ids = entry ? embed_json_get(entry, "ids") : NULL;
	size_t		i;

	if (ids == NULL || ids->type != EMBED_JSON_ARRAY)
	{
		embed_tokenizer_set_error(err, errlen, "tokenizer.json: post_processor names special token \"%s\" without ids", name);
		return false;
	}
	for (i = 0; i < ids->len; i++)
		if (json_id(&ids->items[i]) < 0)
		{
			embed_tokenizer_set_error(err, errlen, "tokenizer.json: special token \"%s\" has an invalid id", name);
			return false;
		}
	*ids_out = ids;
	return true;
}

/* Append ids to a growable id list. */
static bool
append_ids(int32_t **list, int *n, const int32_t *ids, int count)
{
	int32_t    *grown = realloc(*list, sizeof(int32_t) * (size_t) (*n + count));

	if (grown == NULL)
		return false;
	memcpy(grown + *n, ids, sizeof(int32_t) * (size_t) count);
	*list = grown;
	*n += count;
	return true;
}

/* TemplateProcessing: the special tokens before and after sequence A. */
static bool
load_template(EmbedTokenizer *tok, const EmbedJson *pp, char *err, size_t errlen)
{
	const EmbedJson *single = embed_json_get(pp, "single");
	const EmbedJson *special_tokens = embed_json_get(pp, "special_tokens");
	bool		seen_sequence = false;
	size_t		i;

	if (single == NULL || single->type != EMBED_JSON_ARRAY)
	{
		embed_tokenizer_set_error(err, errlen, "tokenizer.json: TemplateProcessing has no \"single\" template");
		return false;
	}
	for (i = 0; i < single->len; i++)
	{
		const EmbedJson *item = &single->items[i];
		const EmbedJson *special = embed_json_get(item, "SpecialToken");

		if (special)
		{
			const char *name = embed_json_get_string(special, "id");
			const EmbedJson *ids;
			size_t		k;

			if (name == NULL || !template_special_ids(special_tokens, name, &ids, err, errlen))
			{
				if (name == NULL)
					embed_tokenizer_set_error(err, errlen, "tokenizer.json: a template special token has no id");
				return false;
			}
			for (k = 0; k < ids->len; k++)
			{
				int32_t		id = json_id(&ids->items[k]);

				if (!append_ids(seen_sequence ? &tok->suffix_ids : &tok->prefix_ids,
								seen_sequence ? &tok->n_suffix : &tok->n_prefix, &id, 1))
				{
					embed_tokenizer_set_error(err, errlen, "out of memory");
					return false;
				}
			}
		}
		else if (embed_json_get(item, "Sequence"))
		{
			if (seen_sequence)
			{
				embed_tokenizer_set_error(err, errlen, "tokenizer.json: the single-sequence template uses a sequence twice");
				return false;
			}
			seen_sequence = true;
		}
		else
		{
			embed_tokenizer_set_error(err, errlen, "tokenizer.json: unknown item in the TemplateProcessing template");
			return false;
		}
	}
	if (!seen_sequence)
	{
		embed_tokenizer_set_error(err, errlen, "tokenizer.json: the single-sequence template has no sequence");
		return false;
	}
	return true;
}

/* BertProcessing: {"sep": ["[SEP]", 102], "cls": ["[CLS]", 101]}. */
static bool
load_bert_processing(EmbedTokenizer *tok, const EmbedJson *pp, char *err, size_t errlen)
{
	const EmbedJson *cls = embed_json_get(pp, "cls");
	const EmbedJson *sep = embed_json_get(pp, "sep");
	int32_t		cls_id,
				sep_id;

	if (cls == NULL || sep == NULL || cls->type != EMBED_JSON_ARRAY || sep->type != EMBED_JSON_ARRAY ||
		cls->len != 2 || sep->len != 2 ||
		(cls_id = json_id(&cls->items[1])) < 0 || (sep_id = json_id(&sep->items[1])) < 0)
	{
		embed_tokenizer_set_error(err, errlen, "tokenizer.json: BertProcessing needs \"cls\" and \"sep\" as [token, id]");
		return false;
	}
	if (!append_ids(&tok->prefix_ids, &tok->n_prefix, &cls_id, 1) ||
		!append_ids(&tok->suffix_ids, &tok->n_suffix, &sep_id, 1))
	{
		embed_tokenizer_set_error(err, errlen, "out of memory");
		return false;
	}
	return true;
}

/*
 * The offset trimming of the ByteLevel and RobertaProcessing post-processors
 * (trim_offsets and add_prefix_space, both true when absent).
 */
static bool
load_offset_trimming(EmbedTokenizer *tok, const EmbedJson *pp, char *err, size_t errlen)
{
	const EmbedJson *trim = embed_json_get(pp, "trim_offsets");
	const EmbedJson *prefix = embed_json_get(pp, "add_prefix_space");

	if ((trim && trim->type != EMBED_JSON_TRUE && trim->type != EMBED_JSON_FALSE) ||
		(prefix && prefix->type != EMBED_JSON_TRUE && prefix->type != EMBED_JSON_FALSE))
	{
		embed_tokenizer_set_error(err, errlen, "tokenizer.json: post_processor trim_offsets or add_prefix_space is not a boolean");
		return false;
	}
	tok->trim_offsets = trim == NULL || trim->type == EMBED_JSON_TRUE;
	tok->trim_prefix_space = prefix == NULL || prefix->type == EMBED_JSON_TRUE;
	return true;
}

/* tokenizer.json's post_processor: which special tokens surround the text. */
static bool
load_post_processor(EmbedTokenizer *tok, const EmbedJson *pp, char *err, size_t errlen)
{
	const char *type;

	if (pp == NULL || pp->type == EMBED_JSON_NULL)
		return true;
	type = embed_json_get_string(pp, "type");
	if (type && strcmp(type, "TemplateProcessing") == 0)
		return load_template(tok, pp, err, errlen);
	if (type && strcmp(type, "BertProcessing") == 0)
		return load_bert_processing(tok, pp, err, errlen);
	/* RoBERTa's <s> A </s> has BertProcessing's shape, plus offset trimming */
	if (type && strcmp(type, "RobertaProcessing") == 0)
		return load_bert_processing(tok, pp, err, errlen) && load_offset_trimming(tok, pp, err, errlen);
	if (type && strcmp(type, "ByteLevel") == 0)
		return load_offset_trimming(tok, pp, err, errlen);
	if (type && strcmp(type, "Sequence") == 0)
	{
		const EmbedJson *list = embed_json_get(pp, "processors");
		size_t		i;

		if (list == NULL || list->type != EMBED_JSON_ARRAY)
		{
			embed_tokenizer_set_error(err, errlen, "tokenizer.json: a Sequence post_processor has no \"processors\" array");
			return false;
		}
		for (i = 0; i < list->len; i++)
			if (!load_post_processor(tok, &list->items[i], err, errlen))
				return false;
		return true;
	}
	embed_tokenizer_set_error(err, errlen, "tokenizer.json: post_processor type \"%s\" is not supported (TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence)",
			  type ? type : "(none)");
	return false;
}

/* Sort key of an added token: raw ones by first byte then longest first, normalized ones longest first. */
typedef struct AddedOrder
{
	int			first_byte;
	size_t		len;
	int			index;
} AddedOrder;

static int
compare_order(const void *a, const void *b)
{
	const AddedOrder *x = a;
	const AddedOrder *y = b;

	if (x->first_byte != y->first_byte)
		return x->first_byte < y->first_byte ? -1 : 1;
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return x->index - y->index;
}

/* Sort indexes[0..n) of tok->added; by_first_byte groups raw tokens. */
static bool
sort_added(const EmbedTokenizer *tok, int *indexes, int n, bool by_first_byte)
{
	AddedOrder *order = malloc(sizeof(AddedOrder) * (size_t) (n + 1));
	int			i;

	if (order == NULL)
		return false;
	for (i = 0; i < n; i++)
	{
		const EmbedAddedToken *t = &tok->added[indexes[i]];

		order[i].first_byte = by_first_byte ? (unsigned char) t->content[0] : 0;
		order[i].len = by_first_byte ? t->len : (size_t) t->norm_len;
		order[i].index = indexes[i];
	}
	qsort(order, n, sizeof(AddedOrder), compare_order);
	for (i = 0; i < n; i++)
		indexes[i] = order[i].index;
	free(order);
	return true;
}

/* Build the matching indexes of the added tokens (normalising normalized ones). */
static bool
index_added_tokens(EmbedTokenizer *tok, char *err, size_t errlen)
{
	int			n_raw = 0;
	int			a,
				b;

	tok->raw_order = malloc(sizeof(int) * (size_t) (tok->n_added + 1));
	tok->norm_order = malloc(sizeof(int) * (size_t) (tok->n_added + 1));
	if (tok->raw_order == NULL || tok->norm_order == NULL)
	{
		embed_tokenizer_set_error(err, errlen, "out of memory");
		return false;
	}
	for (a = 0; a < tok->n_added; a++)
	{
		EmbedAddedToken *t = &tok->added[a];

		if (!t->normalized || tok->normalize == NULL)
		{
			tok->raw_order[n_raw++] = a;
			continue;
		}
		/* a normalised form is at most 3 code points per input byte */
		t->norm_cps = malloc(sizeof(uint32_t) * (t->len * 3 + 1));
		if (t->norm_cps == NULL)
		{
			embed_tokenizer_set_error(err, errlen, "out of memory");
			return false;
		}
		t->norm_len = tok->normalize(tok, t->content, t->len, t->norm_cps, (int) (t->len * 3 + 1));
		if (t->norm_len <= 0)
			continue;			/* normalises to nothing: never matches */
		tok->norm_order[tok->n_norm++] = a;
		if (t->norm_len > tok->max_norm_len)
			tok->max_norm_len = t->norm_len;
	}
	if (!sort_added(tok, tok->raw_order, n_raw, true) ||
		!sort_added(tok, tok->norm_order, tok->n_norm, false))
	{
		embed_tokenizer_set_error(err, errlen, "out of memory");
		return false;
	}
	for (b = 0, a = 0; b <= 256; b++)
	{
		while (a < n_raw && (unsigned char) tok->added[tok->raw_order[a]].content[0] < b)
			a++;
		tok->raw_first[b] = a;
	}
	tok->raw_first[256] = n_raw;
	return true;
}

/* Read tokenizer.json. */
static bool
load_tokenizer_json(EmbedTokenizer *tok, const char *path, char *err, size_t errlen)
{
	EmbedJson  *root = read_json_file(path, err, errlen);
	const EmbedJson *model;
	const char *type;
	bool		ok = false;

	if (root == NULL)
		return false;
	model = embed_json_get(root, "model");
	type = model ? embed_json_get_string(model, "type") : NULL;
	/* files written before "type" existed: recognise the model by its keys */
	if (model && type == NULL && embed_json_get(model, "continuing_subword_prefix") &&
		embed_json_get(model, "max_input_chars_per_word"))
		type = "WordPiece";
	else if (model && type == NULL && embed_json_get(model, "merges"))
		type = "BPE";
	if (model == NULL || model->type != EMBED_JSON_OBJECT)
		embed_tokenizer_set_error(err, errlen, "\"%s\" has no \"model\" object", path);
	else if (type == NULL || (strcmp(type, "WordPiece") != 0 && strcmp(type, "BPE") != 0))
		embed_tokenizer_set_error(err, errlen, "\"%s\": tokenizer model type \"%s\" is not supported (supported: WordPiece, BPE)",
				  path, type ? type : "(none)");
	else if (collect_added_tokens(tok, embed_json_get(root, "added_tokens"), false, err, errlen) &&
			 build_vocab_from_json(tok, embed_json_get(model, "vocab"), "tokenizer.json: model.vocab",
								   err, errlen) &&
			 copy_added_tokens(tok, err, errlen) &&
			 (strcmp(type, "BPE") == 0 ? embed_bpe_from_json(tok, root, err, errlen) :
			  embed_wordpiece_from_json(tok, root, err, errlen)) &&
			 load_post_processor(tok, embed_json_get(root, "post_processor"), err, errlen))
	{
		const EmbedJson *padding = embed_json_get(root, "padding");

		tok->pad_id = padding ? json_id(embed_json_get(padding, "pad_id")) : -1;
		ok = true;
	}
	embed_json_free(root);
	return ok;
}

/* The special tokens of a vocab.txt model, when no added_tokens_decoder lists them. */
static bool
default_added_tokens(EmbedTokenizer *tok, const EmbedJson *config, const EmbedJson *map,
					 char *err, size_t errlen)
{
	static const char *const keys[] = {"unk_token", "sep_token", "pad_token", "cls_token", "mask_token"};
	static const char *const defaults[] = {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"};
	int			i;

	free(tok->added);
	tok->added = calloc(5, sizeof(EmbedAddedToken));
	if (tok->added == NULL)
	{
		embed_tokenizer_set_error(err, errlen, "out of memory");
		return false;
	}
	for (i = 0; i < 5; i++)
	{
		const char *name = config_token_name(config, keys[i]);
		int32_t		id;

		if (name == NULL)
			name = config_token_name(map, keys[i]);
		if (name == NULL)
			name = defaults[i];
		id = embed_vocab_lookup(&tok->vocab, name, strlen(name));
		if (id < 0 || name[0] == '\0')
			continue;
		tok->added[tok->n_added].content = tok->vocab.tokens[id];
		tok->added[tok->n_added].len = tok->vocab.token_lens[id];
		tok->added[tok->n_added].id = id;
		tok->added[tok->n_added].special = true;
		tok->n_added++;
	}
	return true;
}

/* Read vocab.txt with tokenizer_config.json, as a converted BertTokenizer. */
static bool
load_vocab_txt(EmbedTokenizer *tok, const char *path, const EmbedJson *config,
			   const EmbedJson *map, char *err, size_t errlen)
{
	const EmbedJson *decoder = embed_json_get(config, "added_tokens_decoder");

	if (!collect_added_tokens(tok, decoder, true, err, errlen) ||
		!build_vocab_from_txt(tok, path, err, errlen) ||
		!copy_added_tokens(tok, err, errlen))
		return false;
	if (tok->n_added == 0 && !default_added_tokens(tok, config, map, err, errlen))
		return false;
	if (!embed_wordpiece_from_vocab_txt(tok, path, config, err, errlen))
		return false;
	tok->cls_id = special_id(tok, config, map, "cls_token", "[CLS]");
	tok->sep_id = special_id(tok, config, map, "sep_token", "[SEP]");
	if (tok->cls_id < 0 || tok->sep_id < 0)
	{
		embed_tokenizer_set_error(err, errlen, "\"%s\" has no [CLS] or [SEP] token", path);
		return false;
	}
	return append_ids(&tok->prefix_ids, &tok->n_prefix, &tok->cls_id, 1) &&
		append_ids(&tok->suffix_ids, &tok->n_suffix, &tok->sep_id, 1);
}

/* The special tokens of a vocab.json + merges.txt tokenizer family, in transformers' order. */
static const char *const bpe_special_keys[] = {
	"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"
};
static const char *const gpt2_special_defaults[] = {
	"<|endoftext|>", "<|endoftext|>", "<|endoftext|>", NULL, NULL, NULL, NULL
};
static const char *const roberta_special_defaults[] = {
	"<s>", "</s>", "<unk>", "</s>", "<pad>", "<s>", "<mask>"
};

/* Add one named special token (a string, or an object with its flags). */
static bool
add_named_special(EmbedTokenizer *tok, const EmbedJson *value, const char *name, bool lstrip,
				  char *err, size_t errlen)
{
	EmbedAddedToken *t = &tok->added[tok->n_added];

	if (value && value->type == EMBED_JSON_OBJECT)
	{
		if (!parse_added_token(value, t, err, errlen))
			return false;
		t->special = true;
	}
	else
	{
		memset(t, 0, sizeof(*t));
		t->content = name;
		t->len = strlen(name);
		t->special = true;
		t->lstrip = lstrip;
		t->id = -1;
	}
	if (t->len > 0)
		tok->n_added++;
	return true;
}

/*
 * The special tokens of a vocab.json + merges.txt folder, when
 * tokenizer_config.json has no added_tokens_decoder: those the configs
 * name, else the family's defaults (RoBERTa's <mask> strips white space
 * on its left), then additional_special_tokens.
 */
static bool
bpe_special_tokens(EmbedTokenizer *tok, const EmbedJson *config, const EmbedJson *map,
				   bool roberta, char *err, size_t errlen)
{
	const EmbedJson *extra = embed_json_get(config, "additional_special_tokens");
	size_t		n_extra,
				i;

	if (extra == NULL || extra->type != EMBED_JSON_ARRAY)
		extra = embed_json_get(map, "additional_special_tokens");
	n_extra = extra && extra->type == EMBED_JSON_ARRAY ? extra->len : 0;
	tok->added = calloc(7 + n_extra, sizeof(EmbedAddedToken));
	if (tok->added == NULL)
	{
		embed_tokenizer_set_error(err, errlen, "out of memory");
		return false;
	}
	for (i = 0; i < 7; i++)
	{
		const char *key = bpe_special_keys[i];
		const EmbedJson *value = embed_json_get(config, key);
		const char *name = config_token_name(config, key);

		if (name == NULL)
		{
			value = embed_json_get(map, key);
			name = config_token_name(map, key);
		}
		if (name == NULL)
		{
			value = NULL;
			name = roberta ? roberta_special_defaults[i] : gpt2_special_defaults[i];
		}
		if (name && !add_named_special(tok, value, name, roberta && strcmp(key, "mask_token") == 0,
									   err, errlen))
			return false;
	}
	for (i = 0; i < n_extra; i++)
	{
		const EmbedJson *value = &extra->items[i];
		const char *name = value->type == EMBED_JSON_STRING ? value->str : embed_json_get_string(value, "content");

		if (name && !add_named_special(tok, value, name, false, err, errlen))
			return false;
	}
	return true;
}

/* A boolean of tokenizer_config.json (absent or null: dflt). */
static bool
config_flag(const EmbedJson *config, const char *key, bool dflt, bool *out, char *err, size_t errlen)
{
	const EmbedJson *v = embed_json_get(config, key);

	*out = dflt;
	if (v == NULL || v->type == EMBED_JSON_NULL)
		return true;
	if (v->type != EMBED_JSON_TRUE && v->type != EMBED_JSON_FALSE)
	{
		embed_tokenizer_set_error(err, errlen, "tokenizer_config.json: \"%s\" is not a boolean", key);
		return false;
	}
	*out = v->type == EMBED_JSON_TRUE;
	return true;
}

/*
 * Read vocab.json + merges.txt with tokenizer_config.json, as transformers
 * converts a slow GPT2Tokenizer (no special tokens around the text, or
 * <|endoftext|> first with add_bos_token) or RobertaTokenizer (<s> ... </s>,
 * offsets trimmed) to a fast one.
 */
static bool
load_vocab_json(EmbedTokenizer *tok, const char *dir, const EmbedJson *config,
				const EmbedJson *map, char *err, size_t errlen)
{
	const char *cls = embed_json_get_string(config, "tokenizer_class");
	const EmbedJson *decoder = embed_json_get(config, "added_tokens_decoder");
	char		path[4096];
	bool		roberta = false;
	bool		add_prefix_space,
				add_bos,
				trim;
	EmbedJson  *vocab;
	bool		ok;

	if (cls && (strcmp(cls, "RobertaTokenizer") == 0 || strcmp(cls, "RobertaTokenizerFast") == 0))
		roberta = true;
	else if (cls && strcmp(cls, "GPT2Tokenizer") != 0 && strcmp(cls, "GPT2TokenizerFast") != 0)
	{
		embed_tokenizer_set_error(err, errlen, "tokenizer_config.json: tokenizer_class \"%s\" is not supported with vocab.json + merges.txt (GPT2Tokenizer, RobertaTokenizer)",
				  cls);
		return false;
	}
	if (!config_flag(config, "add_prefix_space", false, &add_prefix_space, err, errlen) ||
		!config_flag(config, "add_bos_token", false, &add_bos, err, errlen) ||
		!config_flag(config, "trim_offsets", true, &trim, err, errlen))
		return false;
	if (decoder && decoder->type != EMBED_JSON_NULL && decoder->len > 0)
	{
		if (!collect_added_tokens(tok, decoder, true, err, errlen))
			return false;
	}
	else if (!bpe_special_tokens(tok, config, map, roberta, err, errlen))
		return false;
	if (!join_path(path, sizeof(path), dir, "vocab.json") ||
		(vocab = read_json_file(path, err, errlen)) == NULL)
		return false;
	ok = build_vocab_from_json(tok, vocab, "vocab.json", err, errlen) &&
		copy_added_tokens(tok, err, errlen);
	embed_json_free(vocab);
	if (!ok)
		return false;
	if (!join_path(path, sizeof(path), dir, "merges.txt") || !is_regular_file(path))
	{
		embed_tokenizer_set_error(err, errlen, "\"%s\" has vocab.json but no merges.txt", dir);
		return false;
	}
	if (!embed_bpe_from_files(tok, path, add_prefix_space, err, errlen))
		return false;
	if (tok->unk_id < 0)
		tok->unk_id = special_id(tok, config, map, "unk_token", roberta ? "<unk>" : "<|endoftext|>");
	if (roberta)
	{
		int32_t		cls_id = special_id(tok, config, map, "cls_token", "<s>");
		int32_t		sep_id = special_id(tok, config, map, "sep_token", "</s>");

		if (cls_id < 0 || sep_id < 0)
		{
			embed_tokenizer_set_error(err, errlen, "\"%s\" has no <s> or </s> token", dir);
			return false;
		}
		tok->trim_offsets = trim;
		tok->trim_prefix_space = add_prefix_space;
		return append_ids(&tok->prefix_ids, &tok->n_prefix, &cls_id, 1) &&
			append_ids(&tok->suffix_ids, &tok->n_suffix, &sep_id, 1);
	}
	if (add_bos)
	{
		int32_t		bos_id = special_id(tok, config, map, "bos_token", "<|endoftext|>");

		if (bos_id < 0)
		{
			embed_tokenizer_set_error(err, errlen, "\"%s\": add_bos_token is set but there is no bos_token", dir);
			return false;
		}
		return append_ids(&tok->prefix_ids, &tok->n_prefix, &bos_id, 1);
	}
	return true;
}

/* Read an optional JSON file of the folder; false only when it exists but is invalid. */
static bool
read_optional_json(const char *dir, const char *name, EmbedJson **out, char *err, size_t errlen)
{
	char		path[4096];

	*out = NULL;
	if (!join_path(path, sizeof(path), dir, name) || !is_regular_file(path))
		return true;
	*out = read_json_file(path, err, errlen);
	return *out != NULL;
}

/* Load from a model folder; NULL with a message on error. */
EmbedTokenizer *
embed_tokenizer_load(const char *model_dir, char *err, size_t errlen)
{
	EmbedTokenizer *tok;
	EmbedJson  *config = NULL;
	EmbedJson  *map = NULL;
	char		path[4096];
	bool		ok = false;
	bool		bpe;
	int64_t		max_length;

	embed_tokenizer_set_error(err, errlen, "unknown error");
	if (model_dir == NULL)
	{
		embed_tokenizer_set_error(err, errlen, "no model folder given");
		return NULL;
	}
	tok = calloc(1, sizeof(EmbedTokenizer));
	if (tok == NULL)
	{
		embed_tokenizer_set_error(err, errlen, "out of memory");
		return NULL;
	}
	tok->unk_id = tok->cls_id = tok->sep_id = tok->pad_id = tok->mask_id = -1;
	tok->model_max_length = -1;
	if (!read_optional_json(model_dir, "tokenizer_config.json", &config, err, errlen) ||
		!read_optional_json(model_dir, "special_tokens_map.json", &map, err, errlen))
		goto done;
	if (join_path(path, sizeof(path), model_dir, "tokenizer.json") && is_regular_file(path))
		ok = load_tokenizer_json(tok, path, err, errlen);
	else if (join_path(path, sizeof(path), model_dir, "vocab.txt") && is_regular_file(path))
		ok = load_vocab_txt(tok, path, config, map, err, errlen);
	else if (join_path(path, sizeof(path), model_dir, "vocab.json") && is_regular_file(path))
		ok = load_vocab_json(tok, model_dir, config, map, err, errlen);
	else
		embed_tokenizer_set_error(err, errlen, "no tokenizer.json or vocab.txt in \"%s\" (nor vocab.json + merges.txt)",
				  model_dir);
	if (!ok || !index_added_tokens(tok, err, errlen))
	{
		ok = false;
		goto done;
	}
	if (tok->n_prefix > 0 && tok->cls_id < 0)
		tok->cls_id = tok->prefix_ids[0];
	if (tok->n_suffix > 0 && tok->sep_id < 0)
		tok->sep_id = tok->suffix_ids[tok->n_suffix - 1];
	bpe = tok->kind == EMBED_TOKENIZER_BPE;
	if (tok->cls_id < 0)
		tok->cls_id = special_id(tok, config, map, "cls_token", bpe ? "<s>" : "[CLS]");
	if (tok->sep_id < 0)
		tok->sep_id = special_id(tok, config, map, "sep_token", bpe ? "</s>" : "[SEP]");
	if (tok->pad_id < 0)
		tok->pad_id = special_id(tok, config, map, "pad_token", bpe ? "<pad>" : "[PAD]");
	if (tok->unk_id < 0 && bpe)
		tok->unk_id = special_id(tok, config, map, "unk_token", "<unk>");
	tok->mask_id = special_id(tok, config, map, "mask_token", bpe ? "<mask>" : "[MASK]");
	if (embed_json_get_int(config, "model_max_length", &max_length) &&
		max_length > 0 && max_length <= INT32_MAX)
		tok->model_max_length = (int32_t) max_length;
done:
	embed_json_free(config);
	embed_json_free(map);
	if (!ok)
	{
		embed_tokenizer_free(tok);
		return NULL;
	}
	return tok;
}

void
embed_tokenizer_free(EmbedTokenizer *tok)
{
	int			a;

	if (tok == NULL)
		return;
	if (tok->free_model)
		tok->free_model(tok->model);
	for (a = 0; a < tok->n_added; a++)
		free(tok->added[a].norm_cps);
	free(tok->added);
	free(tok->raw_order);
	free(tok->norm_order);
	free(tok->prefix_ids);
	free(tok->suffix_ids);
	embed_vocab_free(&tok->vocab);
	free(tok);
}

/* ---------------------------------------------------------------------
 * Encoding
 * --------------------------------------------------------------------- */

/* The code point that ends just before pos (pos > 0). */
static uint32_t
char_before(const char *text, size_t pos)
{
	size_t		start = pos - 1;
	uint32_t	cp;

	while (start > 0 && pos - start < 4 && ((unsigned char) text[start] & 0xC0) == 0x80)
		start--;
	if (embed_utf8_decode((const unsigned char *) text + start, pos - start, &cp) != pos - start)
		return 0xFFFD;
	return cp;
}

/* The longest non-normalized added token starting at pos, or NULL. */
static const EmbedAddedToken *
raw_match_at(const EmbedTokenizer *tok, const char *text, size_t len, size_t pos)
{
	unsigned char b = (unsigned char) text[pos];
	int			i;

	for (i = tok->raw_first[b]; i < tok->raw_first[b + 1]; i++)
	{
		const EmbedAddedToken *t = &tok->added[tok->raw_order[i]];

		if (t->len <= len - pos && memcmp(text + pos, t->content, t->len) == 0)
			return t;
	}
	return NULL;
}

/*
 * Whether a match [start, end) of a single_word token stands alone: no
 * word character touches it on either side.
 */
static bool
raw_single_word_ok(const char *text, size_t len, size_t start, size_t end)
{
	uint32_t	cp;

	if (start > 0 && embed_tokenizer_is_word_char(char_before(text, start)))
		return false;
	if (end < len)
	{
		embed_utf8_decode((const unsigned char *) text + end, len - end, &cp);
		if (embed_tokenizer_is_word_char(cp))
			return false;
	}
	return true;
}

const EmbedAddedToken *
embed_added_match(const EmbedTokenizer *tok, const char *text, size_t len,
				  size_t pos, size_t seg_start, size_t *start, size_t *end)
{
	const EmbedAddedToken *t = raw_match_at(tok, text, len, pos);

	*start = *end = pos;
	if (t == NULL)
		return NULL;
	*end = pos + t->len;
	if (t->single_word && !raw_single_word_ok(text, len, pos, *end))
		return NULL;
	if (t->lstrip)
	{
		/* white space before the token joins it */
		while (*start > seg_start && embed_tokenizer_is_whitespace(char_before(text, *start)))
		{
			(*start)--;
			while (*start > seg_start && ((unsigned char) text[*start] & 0xC0) == 0x80)
				(*start)--;
		}
	}
	if (t->rstrip)
	{
		uint32_t	cp;
		size_t		n;

		while (*end < len && (n = embed_utf8_decode((const unsigned char *) text + *end, len - *end, &cp)) > 0 &&
			   embed_tokenizer_is_whitespace(cp))
			*end += n;
	}
	return t;
}

/*
 * The encode driver: special tokens around the kind's tokens of the text,
 * truncated to max_tokens; interrupt (may be NULL) is polled by the kind.
 */
static int
encode_text(const EmbedTokenizer *tok, const char *text, size_t len, bool add_special_tokens,
			int32_t *ids, EmbedTokenOffsets *offsets, int max_tokens, bool *truncated,
			EmbedTokenizerInterrupt interrupt, void *arg, char *err, size_t errlen)
{
	EmbedEncodeState st;
	int			n_prefix,
				n_suffix;
	int			i;

	if (truncated)
		*truncated = false;
	if (tok == NULL || ids == NULL || (text == NULL && len > 0))
	{
		embed_tokenizer_set_error(err, errlen, "invalid arguments");
		return -1;
	}
	n_prefix = add_special_tokens ? tok->n_prefix : 0;
	n_suffix = add_special_tokens ? tok->n_suffix : 0;
	if (max_tokens < n_prefix + n_suffix || max_tokens < 1)
	{
		embed_tokenizer_set_error(err, errlen, "max_tokens is %d, less than the %d special tokens",
				  max_tokens, n_prefix + n_suffix);
		return -1;
	}
	memset(&st, 0, sizeof(st));
	st.text = text;
	st.len = len;
	st.ids = ids;
	st.offsets = offsets;
	st.capacity = max_tokens - n_suffix;
	st.interrupt = interrupt;
	st.interrupt_arg = arg;
	for (i = 0; i < n_prefix; i++)
		embed_encode_push(&st, tok->prefix_ids[i], 0, 0);
	if (!tok->encode(tok, &st, err, errlen))
	{
		if (st.interrupted)
			embed_tokenizer_set_error(err, errlen, "interrupted");
		return -1;
	}
	st.capacity = max_tokens;
	for (i = 0; i < n_suffix; i++)
		embed_encode_push(&st, tok->suffix_ids[i], 0, 0);
	if (truncated)
		*truncated = st.truncated;
	return st.count;
}

int
embed_tokenizer_encode_ex(const EmbedTokenizer *tok, const char *text, size_t len,
						  bool add_special_tokens, int32_t *ids, EmbedTokenOffsets *offsets,
						  int max_tokens, bool *truncated, char *err, size_t errlen)
{
	return encode_text(tok, text, len, add_special_tokens, ids, offsets, max_tokens, truncated,
					   NULL, NULL, err, errlen);
}

int
embed_tokenizer_encode(const EmbedTokenizer *tok, const char *text, size_t len,
					   int32_t *ids, int max_tokens, bool *truncated,
					   char *err, size_t errlen)
{
	return encode_text(tok, text, len, true, ids, NULL, max_tokens, truncated,
					   NULL, NULL, err, errlen);
}

int
embed_tokenizer_encode_interruptible(const EmbedTokenizer *tok, const char *text, size_t len,
									 int32_t *ids, int max_tokens, bool *truncated,
									 EmbedTokenizerInterrupt interrupt, void *arg,
									 char *err, size_t errlen)
{
	return encode_text(tok, text, len, true, ids, NULL, max_tokens, truncated,
					   interrupt, arg, err, errlen);
}

/* ---------------------------------------------------------------------
 * Accessors
 * --------------------------------------------------------------------- */

const char *
embed_tokenizer_id_to_token(const EmbedTokenizer *tok, int32_t id)
{
	if (tok == NULL || id < 0 || id >= tok->vocab.size)
		return NULL;
	return tok->vocab.tokens[id];
}

int32_t
embed_tokenizer_token_to_id(const EmbedTokenizer *tok, const char *token, size_t len)
{
	int			a;

	if (tok == NULL || token == NULL)
		return -1;
	for (a = 0; a < tok->n_added; a++)
		if (tok->added[a].len == len && memcmp(tok->added[a].content, token, len) == 0)
			return tok->added[a].id;
	return embed_vocab_lookup(&tok->vocab, token, len);
}

int32_t
embed_tokenizer_vocab_size(const EmbedTokenizer *tok)
{
	return tok ? tok->vocab.size : 0;
}

int32_t
embed_tokenizer_pad_id(const EmbedTokenizer *tok)
{
	return tok ? tok->pad_id : -1;
}

int32_t
embed_tokenizer_cls_id(const EmbedTokenizer *tok)
{
	return tok ? tok->cls_id : -1;
}

int32_t
embed_tokenizer_sep_id(const EmbedTokenizer *tok)
{
	return tok ? tok->sep_id : -1;
}

int32_t
embed_tokenizer_unk_id(const EmbedTokenizer *tok)
{
	return tok ? tok->unk_id : -1;
}

int32_t
embed_tokenizer_mask_id(const EmbedTokenizer *tok)
{
	return tok ? tok->mask_id : -1;
}

int
embed_tokenizer_num_special_tokens(const EmbedTokenizer *tok)
{
	return tok ? tok->n_prefix + tok->n_suffix : 0;
}

int32_t
embed_tokenizer_model_max_length(const EmbedTokenizer *tok)
{
	return tok ? tok->model_max_length : -1;
}

EmbedTokenizerKind
embed_tokenizer_kind(const EmbedTokenizer *tok)
{
	return tok->kind;
}

const char *
embed_tokenizer_kind_name(const EmbedTokenizer *tok)
{
	switch (tok->kind)
	{
		case EMBED_TOKENIZER_WORDPIECE:
			return "WordPiece";
		case EMBED_TOKENIZER_BPE:
			return "BPE";
	}
	return "unknown";
}
