/*
 * wordpiece_learn.c: WordPiece vocabulary learner.
 *
 * Design
 * ------
 * 1. Text is normalised and pre-tokenised with the rules of BERT's
 *    BasicTokenizer / Hugging Face's BertNormalizer + BertPreTokenizer
 *    (clean control characters, white space, CJK ideographs and punctuation
 *    as single words, NFD + drop Mn + lower-case when uncased), and the
 *    words are counted in a hash table.
 * 2. The alphabet is every character occurring at least min_char_count
 *    times (weighted by word counts).  A word holding any other character,
 *    or longer than 100 characters, is left out: BERT would map it to [UNK]
 *    whatever the vocabulary.
 * 3. Each kept word starts as its characters, the first bare and the others
 *    with the "##" continuation prefix ("low" = l ##o ##w).  Then, as in
 *    byte-pair encoding, the best adjacent pair is merged, again and again,
 *    until the vocabulary reaches its target size or no pair occurs
 *    min_pair_count times.  Merging "l" with "##o" gives "lo"; "##o" with
 *    "##w" gives "##ow" (the right token loses its prefix).
 *
 *    "Best" is the highest pair count (Hugging Face's WordPieceTrainer,
 *    which is its BPE trainer with the ## prefix), or the highest
 *    count(ab) / (count(a) count(b)) (the likelihood criterion of the
 *    original WordPiece), compared exactly in 128-bit integers.  Ties go to
 *    the pair whose left token is smaller in byte order, then whose right
 *    token is: no result depends on input order or on hash layout.
 *
 * The merge loop is incremental, as in Hugging Face's trainer: every pair
 * keeps its count and the list of words it occurs in, a max-heap holds
 * (pair, score snapshot) entries, and an entry whose snapshot no longer
 * matches the pair's current score is re-queued with the current one when
 * it reaches the top.  A merge only rewrites the words that contain the
 * pair, subtracting their old adjacent pairs and adding the new ones; pairs
 * whose score rose are pushed again (for the likelihood score that includes
 * every pair next to the two tokens whose counts fell).
 */
#include "wordpiece_learn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <utf8proc.h>

#include "tokenizer_internal.h"

const char *const embed_wpl_special_tokens[EMBED_WPL_N_SPECIAL] = {
	"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
};

#define PREFIX_LEN 2
#define UNK_ID 1

/* ---------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------- */

/* Make room for `need` elements of `size` bytes in *arr (capacity *cap). */
static bool
grow_array(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t		new_cap;
	size_t		bytes;
	void	   *p;

	if (need <= *cap)
		return true;
	new_cap = *cap ? *cap : 16;
	while (new_cap < need)
	{
		if (__builtin_mul_overflow(new_cap, (size_t) 2, &new_cap))
			return false;
	}
	if (__builtin_mul_overflow(new_cap, size, &bytes))
		return false;
	p = realloc(*arr, bytes);
	if (p == NULL)
		return false;
	*arr = p;
	*cap = new_cap;
	return true;
}

/* malloc(n * size), NULL on overflow. */
static void *
malloc_array(size_t n, size_t size)
{
	size_t		bytes;

	if (__builtin_mul_overflow(n, size, &bytes))
		return NULL;
	return malloc(bytes);
}

/* 64-bit FNV-1a, then a final avalanche so low bits are usable. */
static uint64_t
hash_bytes(const char *s, size_t len)
{
	uint64_t	h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++)
	{
		h ^= (unsigned char) s[i];
		h *= 1099511628211ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

/* Avalanche of a 64-bit integer key. */
static uint64_t
hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* ---------------------------------------------------------------------
 * String map: byte string -> int64 value, keys copied into an arena
 * ------------------------------------------------------------------- */

typedef struct StrEntry
{
	uint64_t	hash;
	size_t		off;			/* key offset in the arena; SIZE_MAX = empty */
	uint32_t	len;
	int64_t		value;
} StrEntry;

typedef struct StrMap
{
	StrEntry   *slots;
	size_t		cap;			/* power of two */
	size_t		used;
	char	   *arena;
	size_t		arena_len;
	size_t		arena_cap;
} StrMap;

static bool
strmap_init(StrMap *m, size_t cap)
{
	memset(m, 0, sizeof(*m));
	m->cap = 1024;
	while (m->cap < cap)
		m->cap *= 2;
	m->slots = malloc_array(m->cap, sizeof(StrEntry));
	if (m->slots == NULL)
		return false;
	for (size_t i = 0; i < m->cap; i++)
		m->slots[i].off = SIZE_MAX;
	return true;
}

static void
strmap_free(StrMap *m)
{
	free(m->slots);
	free(m->arena);
	memset(m, 0, sizeof(*m));
}

static const char *
strmap_key(const StrMap *m, const StrEntry *e)
{
	return m->arena + e->off;
}

/* Double the table. */
static bool
strmap_rehash(StrMap *m)
{
	size_t		new_cap = m->cap * 2;
	StrEntry   *slots = malloc_array(new_cap, sizeof(StrEntry));

	if (slots == NULL || new_cap < m->cap)
	{
		free(slots);
		return false;
	}
	for (size_t i = 0; i < new_cap; i++)
		slots[i].off = SIZE_MAX;
	for (size_t i = 0; i < m->cap; i++)
	{
		size_t		j;

		if (m->slots[i].off == SIZE_MAX)
			continue;
		j = m->slots[i].hash & (new_cap - 1);
		while (slots[j].off != SIZE_MAX)
			j = (j + 1) & (new_cap - 1);
		slots[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = slots;
	m->cap = new_cap;
	return true;
}

/* Entry for key, or NULL when absent. */
static StrEntry *
strmap_find(const StrMap *m, const char *key, size_t len)
{
	uint64_t	h = hash_bytes(key, len);
	size_t		j = h & (m->cap - 1);

	while (m->slots[j].off != SIZE_MAX)
	{
		StrEntry   *e = &m->slots[j];

		if (e->hash == h && e->len == len && memcmp(m->arena + e->off, key, len) == 0)
			return e;
		j = (j + 1) & (m->cap - 1);
	}
	return NULL;
}

/* Entry for key, inserted with value `init` when absent; NULL on OOM. */
static StrEntry *
strmap_upsert(StrMap *m, const char *key, size_t len, int64_t init, bool *inserted)
{
	uint64_t	h;
	size_t		j;
	StrEntry   *e;

	if (len > UINT32_MAX)
		return NULL;
	if ((m->used + 1) * 10 > m->cap * 7 && !strmap_rehash(m))
		return NULL;
	h = hash_bytes(key, len);
	j = h & (m->cap - 1);
	while (m->slots[j].off != SIZE_MAX)
	{
		e = &m->slots[j];
		if (e->hash == h && e->len == len && memcmp(m->arena + e->off, key, len) == 0)
		{
			if (inserted)
				*inserted = false;
			return e;
		}
		j = (j + 1) & (m->cap - 1);
	}
	if (!grow_array((void **) &m->arena, &m->arena_cap, m->arena_len + len + 1, 1))
		return NULL;
	memcpy(m->arena + m->arena_len, key, len);
	m->arena[m->arena_len + len] = '\0';
	e = &m->slots[j];
	e->hash = h;
	e->off = m->arena_len;
	e->len = (uint32_t) len;
	e->value = init;
	m->arena_len += len + 1;
	m->used++;
	if (inserted)
		*inserted = true;
	return e;
}

/* ---------------------------------------------------------------------
 * Pre-tokenisation (BERT BasicTokenizer rules)
 * ------------------------------------------------------------------- */

/* CJK ideograph ranges that BERT surrounds with spaces. */
static bool
is_cjk(int32_t cp)
{
	return (cp >= 0x4E00 && cp <= 0x9FFF) ||
		(cp >= 0x3400 && cp <= 0x4DBF) ||
		(cp >= 0x20000 && cp <= 0x2A6DF) ||
		(cp >= 0x2A700 && cp <= 0x2B73F) ||
		(cp >= 0x2B740 && cp <= 0x2B81F) ||
		(cp >= 0x2B820 && cp <= 0x2CEAF) ||
		(cp >= 0xF900 && cp <= 0xFAFF) ||
		(cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* White space for BERT: \t \n \r and the Unicode space separators. */
static bool
is_space_cp(int32_t cp)
{
	utf8proc_category_t cat;

	if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r')
		return true;
	if (cp < 0x80)
		return false;
	cat = utf8proc_category(cp);
	return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
		cat == UTF8PROC_CATEGORY_ZP;
}

/* Removed by BERT's clean-up: NUL, U+FFFD and "other" characters but \t\n\r. */
static bool
is_dropped_cp(int32_t cp)
{
	utf8proc_category_t cat;

	if (cp == '\t' || cp == '\n' || cp == '\r')
		return false;
	if (cp == 0 || cp == 0xFFFD)
		return true;
	if (cp < 0x80)
		return cp < 0x20 || cp == 0x7F;
	cat = utf8proc_category(cp);
	return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
		cat == UTF8PROC_CATEGORY_CS || cat == UTF8PROC_CATEGORY_CO ||
		cat == UTF8PROC_CATEGORY_CN;
}

/* ASCII punctuation or any Unicode P* character. */
static bool
is_punct_cp(int32_t cp)
{
	utf8proc_category_t cat;

	if (cp < 0x80)
		return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) ||
			(cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
	cat = utf8proc_category(cp);
	return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

typedef struct WordBuf
{
	char		buf[4 * 256];
	size_t		len;
	EmbedWplWordFn fn;
	void	   *arg;
	bool		failed;
} WordBuf;

/* Emit the pending word, if any. */
static void
word_flush(WordBuf *w)
{
	if (w->len > 0 && !w->failed)
	{
		if (!w->fn(w->buf, w->len, w->arg))
			w->failed = true;
	}
	w->len = 0;
}

/* Append one code point to the pending word. */
static void
word_put(WordBuf *w, int32_t cp)
{
	utf8proc_uint8_t tmp[4];
	utf8proc_ssize_t n = utf8proc_encode_char(cp, tmp);

	/*
	 * A full buffer holds at least 256 characters, far more than the 100 a
	 * BERT word may have: the rest of the word is dropped and the caller
	 * still sees an over-long word, which it treats as [UNK].
	 */
	if (w->len + (size_t) n > sizeof(w->buf))
		return;
	memcpy(w->buf + w->len, tmp, n);
	w->len += n;
}

/* Emit a code point as a word of its own. */
static void
word_single(WordBuf *w, int32_t cp)
{
	word_flush(w);
	word_put(w, cp);
	word_flush(w);
}

/* Route one normalised code point. */
static void
word_feed(WordBuf *w, int32_t cp)
{
	if (is_space_cp(cp))
		word_flush(w);
	else if (is_punct_cp(cp))
		word_single(w, cp);
	else
		word_put(w, cp);
}

/* Normalise one non-ASCII letter-like code point and feed the result. */
static void
feed_normalised(WordBuf *w, int32_t cp, bool lowercase)
{
	utf8proc_int32_t dec[32];
	utf8proc_ssize_t n;
	int			boundclass = UTF8PROC_BOUNDCLASS_START;

	if (!lowercase)
	{
		word_feed(w, cp);
		return;
	}
	n = utf8proc_decompose_char(cp, dec, 32, UTF8PROC_DECOMPOSE, &boundclass);
	if (n < 0 || n > 32)
	{
		dec[0] = cp;
		n = 1;
	}
	for (utf8proc_ssize_t i = 0; i < n; i++)
	{
		if (utf8proc_category(dec[i]) == UTF8PROC_CATEGORY_MN)
			continue;
		word_feed(w, utf8proc_tolower(dec[i]));
	}
}

bool
embed_wpl_pretokenize(const char *text, size_t len, bool lowercase,
					  EmbedWplWordFn fn, void *arg)
{
	WordBuf		w;
	size_t		i = 0;

	w.len = 0;
	w.fn = fn;
	w.arg = arg;
	w.failed = false;
	while (i < len && !w.failed)
	{
		unsigned char c = (unsigned char) text[i];
		utf8proc_int32_t cp;
		utf8proc_ssize_t n;

		if (c < 0x80)
		{
			i++;
			if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
				word_flush(&w);
			else if (c < 0x20 || c == 0x7F)
				continue;
			else if (is_punct_cp(c))
				word_single(&w, c);
			else
				word_put(&w, (lowercase && c >= 'A' && c <= 'Z') ? c + 32 : c);
			continue;
		}
		n = utf8proc_iterate((const utf8proc_uint8_t *) text + i, len - i, &cp);
		if (n <= 0)
		{
			i++;				/* invalid byte: drop it */
			continue;
		}
		i += n;
		if (is_dropped_cp(cp))
			continue;
		if (is_space_cp(cp))
			word_flush(&w);
		else if (is_cjk(cp))
		{
			word_flush(&w);
			feed_normalised(&w, cp, lowercase);
			word_flush(&w);
		}
		else
			feed_normalised(&w, cp, lowercase);
	}
	word_flush(&w);
	return !w.failed;
}

/* Number of code points in valid UTF-8. */
static size_t
utf8_chars(const char *s, size_t len)
{
	size_t		n = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/* Length of the UTF-8 sequence starting with byte c. */
static size_t
utf8_seq_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0)
		return 2;
	if ((c & 0xF0) == 0xE0)
		return 3;
	return 4;
}

/* ---------------------------------------------------------------------
 * Learner state
 * ------------------------------------------------------------------- */

typedef struct Word
{
	size_t		off;			/* first symbol in lr->syms */
	uint32_t	len;			/* current number of symbols */
	uint32_t	stamp;			/* last merge step that visited it */
	int64_t		count;
} Word;

typedef struct Pair
{
	int32_t		a;
	int32_t		b;
	int64_t		count;
	int32_t    *words;			/* words it occurs in (may hold stale entries) */
	uint32_t	nwords;
	uint32_t	capwords;
	uint32_t	stamp;			/* last merge step that touched it */
	uint32_t	qstamp;			/* last merge step that requeued it */
} Pair;

typedef struct HeapEntry
{
	int32_t		pair;
	int64_t		count;			/* snapshots taken when queued */
	int64_t		ca;
	int64_t		cb;
} HeapEntry;

typedef struct Touched
{
	int32_t		pair;
	int64_t		before;			/* count before the current merge */
} Touched;

typedef struct IntList
{
	int32_t    *v;
	size_t		n;
	size_t		cap;
} IntList;

struct EmbedWplLearner
{
	EmbedWplOptions opts;
	StrMap		words;			/* word -> count */
	int64_t		words_total;
	int64_t		words_skipped;
	bool		learned;

	/* tokens */
	char	  **tok;			/* token strings by id */
	size_t		ntok;
	size_t		captok;
	StrMap		tokmap;			/* token -> id */
	int64_t    *tokcount;		/* occurrences as a symbol, weighted */
	IntList    *tokpairs;		/* likelihood: pairs each token takes part in */
	size_t		alphabet_size;

	/* merge state */
	Word	   *w;
	size_t		nw;
	int32_t    *syms;
	size_t		nsyms;
	Pair	   *pairs;
	size_t		npairs;
	size_t		cappairs;
	uint64_t   *pslot_key;		/* pair map: (a << 32 | b) + 1; 0 = empty */
	int32_t    *pslot_val;
	size_t		pslot_cap;
	HeapEntry  *heap;
	size_t		nheap;
	size_t		capheap;
	int32_t    *merges;			/* left, right token id pairs */
	size_t		nmerges;
	size_t		capmerges;
	uint32_t	step;
	Touched    *touched;		/* pairs changed by the current merge */
	size_t		ntouched;
	size_t		captouched;
};

void
embed_wpl_default_options(EmbedWplOptions *opts)
{
	opts->vocab_size = 30522;
	opts->min_char_count = 2;
	opts->min_pair_count = 2;
	opts->score = EMBED_WPL_SCORE_FREQUENCY;
	opts->lowercase = true;
	opts->verbose = false;
}

EmbedWplLearner *
embed_wpl_create(const EmbedWplOptions *opts)
{
	EmbedWplLearner *lr = calloc(1, sizeof(EmbedWplLearner));

	if (lr == NULL)
		return NULL;
	lr->opts = *opts;
	if (!strmap_init(&lr->words, 1 << 16) || !strmap_init(&lr->tokmap, 1 << 12))
	{
		embed_wpl_free(lr);
		return NULL;
	}
	return lr;
}

void
embed_wpl_free(EmbedWplLearner *lr)
{
	if (lr == NULL)
		return;
	strmap_free(&lr->words);
	strmap_free(&lr->tokmap);
	for (size_t i = 0; i < lr->ntok; i++)
		free(lr->tok[i]);
	free(lr->tok);
	free(lr->tokcount);
	if (lr->tokpairs)
		for (size_t i = 0; i < lr->captok; i++)
			free(lr->tokpairs[i].v);
	free(lr->tokpairs);
	free(lr->w);
	free(lr->syms);
	for (size_t i = 0; i < lr->npairs; i++)
		free(lr->pairs[i].words);
	free(lr->pairs);
	free(lr->pslot_key);
	free(lr->pslot_val);
	free(lr->heap);
	free(lr->merges);
	free(lr->touched);
	free(lr);
}

bool
embed_wpl_add_word(EmbedWplLearner *lr, const char *word, size_t len, int64_t count)
{
	StrEntry   *e;

	if (len == 0 || count <= 0)
		return true;
	e = strmap_upsert(&lr->words, word, len, 0, NULL);
	if (e == NULL)
		return false;
	e->value += count;
	lr->words_total += count;
	return true;
}

/* Pre-tokeniser callback: count the word once. */
static bool
count_word_cb(const char *word, size_t len, void *arg)
{
	return embed_wpl_add_word((EmbedWplLearner *) arg, word, len, 1);
}

bool
embed_wpl_add_text(EmbedWplLearner *lr, const char *text, size_t len)
{
	return embed_wpl_pretokenize(text, len, lr->opts.lowercase, count_word_cb, lr);
}

/* Add a token string (copy); returns its id, reusing an existing one. */
static int32_t
add_token(EmbedWplLearner *lr, const char *s, size_t len)
{
	bool		inserted;
	StrEntry   *e;
	char	   *copy;

	e = strmap_upsert(&lr->tokmap, s, len, (int64_t) lr->ntok, &inserted);
	if (e == NULL)
		return -1;
	if (!inserted)
		return (int32_t) e->value;
	if (lr->ntok >= INT32_MAX)
		return -1;
	if (lr->ntok + 1 > lr->captok)
	{
		size_t		old = lr->captok;
		size_t		c1 = lr->captok,
					c2 = lr->captok,
					c3 = lr->captok;

		if (!grow_array((void **) &lr->tok, &c1, lr->ntok + 1, sizeof(char *)) ||
			!grow_array((void **) &lr->tokcount, &c2, lr->ntok + 1, sizeof(int64_t)))
			return -1;
		if (lr->opts.score == EMBED_WPL_SCORE_LIKELIHOOD)
		{
			if (!grow_array((void **) &lr->tokpairs, &c3, lr->ntok + 1, sizeof(IntList)))
				return -1;
			memset(lr->tokpairs + old, 0, (c3 - old) * sizeof(IntList));
		}
		lr->captok = c1;
	}
	copy = malloc(len + 1);
	if (copy == NULL)
		return -1;
	memcpy(copy, s, len);
	copy[len] = '\0';
	lr->tok[lr->ntok] = copy;
	lr->tokcount[lr->ntok] = 0;
	return (int32_t) lr->ntok++;
}

/* ---------------------------------------------------------------------
 * Alphabet
 * ------------------------------------------------------------------- */

typedef struct CharCount
{
	int32_t		cp;
	int64_t		count;
} CharCount;

static int
cmp_charcount_cp(const void *x, const void *y)
{
	int32_t		a = ((const CharCount *) x)->cp;
	int32_t		b = ((const CharCount *) y)->cp;

	return (a > b) - (a < b);
}

/*
 * Count characters over all words (weighted) and register the alphabet as
 * tokens: all bare characters, then all continued ones, by code point.
 */
static bool
build_alphabet(EmbedWplLearner *lr, StrMap *alpha, char *err, size_t errlen)
{
	StrMap		chars;
	CharCount  *cc;
	size_t		ncc = 0;

	if (!strmap_init(&chars, 1 << 12))
		goto oom;
	for (size_t i = 0; i < lr->words.cap; i++)
	{
		const StrEntry *e = &lr->words.slots[i];
		const char *s;

		if (e->off == SIZE_MAX)
			continue;
		s = strmap_key(&lr->words, e);
		for (size_t j = 0; j < e->len;)
		{
			size_t		n = utf8_seq_len((unsigned char) s[j]);
			StrEntry   *c;

			if (j + n > e->len)
				n = e->len - j;
			c = strmap_upsert(&chars, s + j, n, 0, NULL);
			if (c == NULL)
			{
				strmap_free(&chars);
				goto oom;
			}
			c->value += e->value;
			j += n;
		}
	}
	cc = malloc_array(chars.used + 1, sizeof(CharCount));
	if (cc == NULL)
	{
		strmap_free(&chars);
		goto oom;
	}
	for (size_t i = 0; i < chars.cap; i++)
	{
		const StrEntry *e = &chars.slots[i];
		utf8proc_int32_t cp;

		if (e->off == SIZE_MAX || e->value < lr->opts.min_char_count)
			continue;
		if (utf8proc_iterate((const utf8proc_uint8_t *) strmap_key(&chars, e), e->len, &cp) <= 0)
			continue;
		cc[ncc].cp = cp;
		cc[ncc].count = e->value;
		ncc++;
	}
	strmap_free(&chars);
	qsort(cc, ncc, sizeof(CharCount), cmp_charcount_cp);

	if (EMBED_WPL_N_SPECIAL + 2 * ncc > lr->opts.vocab_size)
	{
		embed_tokenizer_set_error(err, errlen, "the alphabet has %zu characters: %zu tokens with their ## forms "
				"and the special tokens exceed the vocabulary size %zu (raise the minimum "
				"character count)", ncc, EMBED_WPL_N_SPECIAL + 2 * ncc, lr->opts.vocab_size);
		free(cc);
		return false;
	}
	for (int prefixed = 0; prefixed <= 1; prefixed++)
	{
		for (size_t i = 0; i < ncc; i++)
		{
			char		buf[PREFIX_LEN + 4];
			utf8proc_ssize_t n;

			memcpy(buf, EMBED_WPL_PREFIX, PREFIX_LEN);
			n = utf8proc_encode_char(cc[i].cp, (utf8proc_uint8_t *) buf + PREFIX_LEN);
			if (add_token(lr, prefixed ? buf : buf + PREFIX_LEN, prefixed ? n + PREFIX_LEN : n) < 0)
			{
				free(cc);
				goto oom;
			}
			if (!prefixed && strmap_upsert(alpha, buf + PREFIX_LEN, n, 1, NULL) == NULL)
			{
				free(cc);
				goto oom;
			}
		}
	}
	lr->alphabet_size = ncc;
	free(cc);
	return true;

oom:
	embed_tokenizer_set_error(err, errlen, "out of memory building the alphabet");
	return false;
}

/* ---------------------------------------------------------------------
 * Pair map and heap
 * ------------------------------------------------------------------- */

static uint64_t
pair_key(int32_t a, int32_t b)
{
	return (((uint64_t) (uint32_t) a << 32) | (uint32_t) b) + 1;
}

/* Double the pair map. */
static bool
pairmap_grow(EmbedWplLearner *lr)
{
	size_t		cap = lr->pslot_cap ? lr->pslot_cap * 2 : 1 << 16;
	uint64_t   *keys = calloc(cap, sizeof(uint64_t));
	int32_t    *vals = malloc_array(cap, sizeof(int32_t));

	if (keys == NULL || vals == NULL)
	{
		free(keys);
		free(vals);
		return false;
	}
	for (size_t i = 0; i < lr->pslot_cap; i++)
	{
		size_t		j;

		if (lr->pslot_key[i] == 0)
			continue;
		j = hash_u64(lr->pslot_key[i]) & (cap - 1);
		while (keys[j] != 0)
			j = (j + 1) & (cap - 1);
		keys[j] = lr->pslot_key[i];
		vals[j] = lr->pslot_val[i];
	}
	free(lr->pslot_key);
	free(lr->pslot_val);
	lr->pslot_key = keys;
	lr->pslot_val = vals;
	lr->pslot_cap = cap;
	return true;
}

/* Index of pair (a, b), created with count 0 when absent; -1 on OOM. */
static int32_t
pair_get(EmbedWplLearner *lr, int32_t a, int32_t b)
{
	uint64_t	key = pair_key(a, b);
	size_t		j;
	Pair	   *p;

	if ((lr->npairs + 1) * 10 > lr->pslot_cap * 7 && !pairmap_grow(lr))
		return -1;
	j = hash_u64(key) & (lr->pslot_cap - 1);
	while (lr->pslot_key[j] != 0)
	{
		if (lr->pslot_key[j] == key)
			return lr->pslot_val[j];
		j = (j + 1) & (lr->pslot_cap - 1);
	}
	if (lr->npairs >= INT32_MAX ||
		!grow_array((void **) &lr->pairs, &lr->cappairs, lr->npairs + 1, sizeof(Pair)))
		return -1;
	p = &lr->pairs[lr->npairs];
	memset(p, 0, sizeof(*p));
	p->a = a;
	p->b = b;
	p->stamp = UINT32_MAX;
	p->qstamp = UINT32_MAX;
	lr->pslot_key[j] = key;
	lr->pslot_val[j] = (int32_t) lr->npairs;
	if (lr->opts.score == EMBED_WPL_SCORE_LIKELIHOOD)
	{
		int32_t		ends[2] = {a, b};

		for (int k = 0; k < (a == b ? 1 : 2); k++)
		{
			IntList    *l = &lr->tokpairs[ends[k]];

			if (!grow_array((void **) &l->v, &l->cap, l->n + 1, sizeof(int32_t)))
				return -1;
			l->v[l->n++] = (int32_t) lr->npairs;
		}
	}
	return (int32_t) lr->npairs++;
}

/* Record that word wi contains pair pi. */
static bool
pair_add_word(Pair *p, int32_t wi)
{
	if (p->nwords > 0 && p->words[p->nwords - 1] == wi)
		return true;
	if (p->nwords == p->capwords)
	{
		size_t		cap = p->capwords;

		if (cap >= UINT32_MAX / 2 ||
			!grow_array((void **) &p->words, &cap, (size_t) p->nwords + 1, sizeof(int32_t)))
			return false;
		p->capwords = (uint32_t) cap;
	}
	p->words[p->nwords++] = wi;
	return true;
}

/* Is heap entry x better than y?  Score, then left token, then right token. */
static bool
entry_better(const EmbedWplLearner *lr, const HeapEntry *x, const HeapEntry *y)
{
	const Pair *px = &lr->pairs[x->pair];
	const Pair *py = &lr->pairs[y->pair];
	int			c;

	if (lr->opts.score == EMBED_WPL_SCORE_LIKELIHOOD)
	{
		unsigned __int128 lhs = (unsigned __int128) x->count * (uint64_t) y->ca * (uint64_t) y->cb;
		unsigned __int128 rhs = (unsigned __int128) y->count * (uint64_t) x->ca * (uint64_t) x->cb;

		if (lhs != rhs)
			return lhs > rhs;
	}
	else if (x->count != y->count)
		return x->count > y->count;
	c = strcmp(lr->tok[px->a], lr->tok[py->a]);
	if (c != 0)
		return c < 0;
	return strcmp(lr->tok[px->b], lr->tok[py->b]) < 0;
}

/* Queue pair pi with its current score. */
static bool
heap_push(EmbedWplLearner *lr, int32_t pi)
{
	const Pair *p = &lr->pairs[pi];
	HeapEntry	e;
	size_t		i;

	if (!grow_array((void **) &lr->heap, &lr->capheap, lr->nheap + 1, sizeof(HeapEntry)))
		return false;
	e.pair = pi;
	e.count = p->count;
	e.ca = lr->tokcount[p->a];
	e.cb = lr->tokcount[p->b];
	i = lr->nheap++;
	while (i > 0)
	{
		size_t		parent = (i - 1) / 2;

		if (!entry_better(lr, &e, &lr->heap[parent]))
			break;
		lr->heap[i] = lr->heap[parent];
		i = parent;
	}
	lr->heap[i] = e;
	return true;
}

/* Remove the top entry into *out. */
static void
heap_pop(EmbedWplLearner *lr, HeapEntry *out)
{
	HeapEntry	last;
	size_t		i = 0;

	*out = lr->heap[0];
	last = lr->heap[--lr->nheap];
	for (;;)
	{
		size_t		l = 2 * i + 1;
		size_t		best;

		if (l >= lr->nheap)
			break;
		best = l;
		if (l + 1 < lr->nheap && entry_better(lr, &lr->heap[l + 1], &lr->heap[l]))
			best = l + 1;
		if (!entry_better(lr, &lr->heap[best], &last))
			break;
		lr->heap[i] = lr->heap[best];
		i = best;
	}
	if (lr->nheap > 0)
		lr->heap[i] = last;
}

/* Does the snapshot in e still describe its pair? */
static bool
entry_current(const EmbedWplLearner *lr, const HeapEntry *e)
{
	const Pair *p = &lr->pairs[e->pair];

	if (p->count != e->count)
		return false;
	if (lr->opts.score == EMBED_WPL_SCORE_LIKELIHOOD)
		return lr->tokcount[p->a] == e->ca && lr->tokcount[p->b] == e->cb;
	return true;
}

/* Rebuild the heap from the live pairs when stale entries dominate it. */
static bool
heap_compact(EmbedWplLearner *lr)
{
	size_t		live = 0;

	for (size_t i = 0; i < lr->npairs; i++)
		if (lr->pairs[i].count >= lr->opts.min_pair_count)
			live++;
	if (lr->nheap < 4 * live + (1 << 20))
		return true;
	lr->nheap = 0;
	for (size_t i = 0; i < lr->npairs; i++)
		if (lr->pairs[i].count >= lr->opts.min_pair_count && !heap_push(lr, (int32_t) i))
			return false;
	return true;
}

/* ---------------------------------------------------------------------
 * Merging
 * ------------------------------------------------------------------- */

/* Add delta to the count of pair (a, b); remember it as touched. */
static bool
pair_delta(EmbedWplLearner *lr, int32_t a, int32_t b, int64_t delta, int32_t wi,
		   bool add_word)
{
	int32_t		pi = pair_get(lr, a, b);
	Pair	   *p;

	if (pi < 0)
		return false;
	p = &lr->pairs[pi];
	p->count += delta;
	if (add_word && !pair_add_word(p, wi))
		return false;
	if (p->stamp != lr->step)
	{
		p->stamp = lr->step;
		if (!grow_array((void **) &lr->touched, &lr->captouched, lr->ntouched + 1,
						sizeof(Touched)))
			return false;
		lr->touched[lr->ntouched].pair = pi;
		lr->touched[lr->ntouched].before = p->count - delta;
		lr->ntouched++;
	}
	return true;
}

/* Initial words, symbols, token counts and pair counts. */
static bool
build_words(EmbedWplLearner *lr, const StrMap *alpha, char *err, size_t errlen)
{
	size_t		nsym_total = 0;
	size_t		capsyms = 0;

	lr->w = malloc_array(lr->words.used + 1, sizeof(Word));
	if (lr->w == NULL)
		goto oom;
	for (size_t i = 0; i < lr->words.cap; i++)
	{
		const StrEntry *e = &lr->words.slots[i];
		const char *s;
		size_t		nchars;
		bool		keep = true;
		Word	   *w;

		if (e->off == SIZE_MAX)
			continue;
		s = strmap_key(&lr->words, e);
		nchars = utf8_chars(s, e->len);
		if (nchars > EMBED_WPL_MAX_WORD_CHARS)
			keep = false;
		for (size_t j = 0; keep && j < e->len;)
		{
			size_t		n = utf8_seq_len((unsigned char) s[j]);

			if (j + n > e->len || strmap_find(alpha, s + j, n) == NULL)
				keep = false;
			j += n;
		}
		if (!keep)
		{
			lr->words_skipped += e->value;
			continue;
		}
		if (lr->nw >= INT32_MAX ||
			!grow_array((void **) &lr->syms, &capsyms, nsym_total + nchars, sizeof(int32_t)))
			goto oom;
		w = &lr->w[lr->nw];
		w->off = nsym_total;
		w->len = (uint32_t) nchars;
		w->stamp = UINT32_MAX;
		w->count = e->value;
		for (size_t j = 0, k = 0; j < e->len; k++)
		{
			size_t		n = utf8_seq_len((unsigned char) s[j]);
			char		buf[PREFIX_LEN + 4];
			const StrEntry *t;

			memcpy(buf, EMBED_WPL_PREFIX, PREFIX_LEN);
			memcpy(buf + PREFIX_LEN, s + j, n);
			t = j == 0 ? strmap_find(&lr->tokmap, buf + PREFIX_LEN, n)
				: strmap_find(&lr->tokmap, buf, n + PREFIX_LEN);
			if (t == NULL)
			{
				embed_tokenizer_set_error(err, errlen, "internal error: character missing from the alphabet");
				return false;
			}
			lr->syms[nsym_total + k] = (int32_t) t->value;
			lr->tokcount[t->value] += e->value;
			j += n;
		}
		nsym_total += nchars;
		lr->nw++;
	}
	lr->nsyms = nsym_total;

	/* Word order (hash order) does not matter: ties are broken by string. */
	lr->step = 0;
	for (size_t wi = 0; wi < lr->nw; wi++)
	{
		const Word *w = &lr->w[wi];
		const int32_t *s = lr->syms + w->off;

		for (uint32_t k = 0; k + 1 < w->len; k++)
			if (!pair_delta(lr, s[k], s[k + 1], w->count, (int32_t) wi, true))
				goto oom;
	}
	lr->ntouched = 0;
	for (size_t i = 0; i < lr->npairs; i++)
		if (lr->pairs[i].count >= lr->opts.min_pair_count && !heap_push(lr, (int32_t) i))
			goto oom;
	return true;

oom:
	embed_tokenizer_set_error(err, errlen, "out of memory building the word table");
	return false;
}

/* Merge pair pi into token c in every word that contains it. */
static bool
apply_merge(EmbedWplLearner *lr, int32_t pi, int32_t c)
{
	int32_t		a = lr->pairs[pi].a;
	int32_t		b = lr->pairs[pi].b;
	int32_t    *wl = lr->pairs[pi].words;
	uint32_t	nwl = lr->pairs[pi].nwords;

	lr->ntouched = 0;
	for (uint32_t t = 0; t < nwl; t++)
	{
		int32_t		wi = wl[t];
		Word	   *w = &lr->w[wi];
		int32_t    *s = lr->syms + w->off;
		uint32_t	n = w->len,
					out = 0;
		int64_t		merged = 0;
		bool		found = false;

		if (w->stamp == lr->step)
			continue;
		w->stamp = lr->step;
		for (uint32_t k = 0; k + 1 < n; k++)
			if (s[k] == a && s[k + 1] == b)
			{
				found = true;
				break;
			}
		if (!found)
			continue;
		for (uint32_t k = 0; k + 1 < n; k++)
			if (!pair_delta(lr, s[k], s[k + 1], -w->count, wi, false))
				return false;
		for (uint32_t k = 0; k < n; k++)
		{
			if (k + 1 < n && s[k] == a && s[k + 1] == b)
			{
				s[out++] = c;
				k++;
				merged++;
			}
			else
				s[out++] = s[k];
		}
		w->len = out;
		for (uint32_t k = 0; k + 1 < out; k++)
			if (!pair_delta(lr, s[k], s[k + 1], w->count, wi, s[k] == c || s[k + 1] == c))
				return false;
		lr->tokcount[a] -= merged * w->count;
		lr->tokcount[b] -= merged * w->count;
		lr->tokcount[c] += merged * w->count;
	}
	return true;
}

/* Queue the pairs whose score may have risen during the last merge. */
static bool
requeue_after_merge(EmbedWplLearner *lr, int32_t a, int32_t b)
{
	for (size_t i = 0; i < lr->ntouched; i++)
	{
		int32_t		pi = lr->touched[i].pair;
		Pair	   *p = &lr->pairs[pi];

		if (p->count > lr->touched[i].before && p->count >= lr->opts.min_pair_count)
		{
			p->qstamp = lr->step;
			if (!heap_push(lr, pi))
				return false;
		}
	}
	if (lr->opts.score == EMBED_WPL_SCORE_LIKELIHOOD)
	{
		int32_t		ends[2] = {a, b};

		for (int k = 0; k < 2; k++)
		{
			const IntList *l = &lr->tokpairs[ends[k]];

			for (size_t i = 0; i < l->n; i++)
			{
				Pair	   *p = &lr->pairs[l->v[i]];

				if (p->count >= lr->opts.min_pair_count && p->qstamp != lr->step)
				{
					p->qstamp = lr->step;
					if (!heap_push(lr, l->v[i]))
						return false;
				}
			}
		}
	}
	return true;
}

/* Monotonic seconds, for progress messages. */
static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The merge loop. */
static bool
merge_loop(EmbedWplLearner *lr, char *err, size_t errlen)
{
	double		t0 = now_seconds();

	while (lr->ntok < lr->opts.vocab_size && lr->nheap > 0)
	{
		HeapEntry	top;
		Pair	   *p;
		int32_t		a,
					b,
					c;
		size_t		la,
					lb;
		char	   *buf;

		heap_pop(lr, &top);
		p = &lr->pairs[top.pair];
		if (!entry_current(lr, &top))
		{
			if (p->count >= lr->opts.min_pair_count && !heap_push(lr, top.pair))
				goto oom;
			continue;
		}
		if (p->count < lr->opts.min_pair_count)
		{
			if (lr->opts.score == EMBED_WPL_SCORE_FREQUENCY)
				break;			/* nothing better is left */
			continue;
		}
		a = p->a;
		b = p->b;
		la = strlen(lr->tok[a]);
		lb = strlen(lr->tok[b]);
		buf = malloc(la + lb + 1);
		if (buf == NULL)
			goto oom;
		memcpy(buf, lr->tok[a], la);
		memcpy(buf + la, lr->tok[b] + PREFIX_LEN, lb - PREFIX_LEN);
		c = add_token(lr, buf, la + lb - PREFIX_LEN);
		free(buf);
		if (c < 0)
			goto oom;

		lr->step++;
		if (!apply_merge(lr, top.pair, c))
			goto oom;
		/* the merged pair is gone from every word: release its list */
		p = &lr->pairs[top.pair];
		free(p->words);
		p->words = NULL;
		p->nwords = p->capwords = 0;

		if (!grow_array((void **) &lr->merges, &lr->capmerges, 2 * lr->nmerges + 2,
						sizeof(int32_t)))
			goto oom;
		lr->merges[2 * lr->nmerges] = a;
		lr->merges[2 * lr->nmerges + 1] = b;
		lr->nmerges++;

		if (!requeue_after_merge(lr, a, b))
			goto oom;

		if (lr->opts.verbose && lr->nmerges % 2000 == 0)
			fprintf(stderr, "embed-vocab: %zu merges, %zu tokens, heap %zu, %.1f s\n",
					lr->nmerges, lr->ntok, lr->nheap, now_seconds() - t0);
		if (lr->nmerges % 256 == 0 && !heap_compact(lr))
			goto oom;
	}
	return true;

oom:
	embed_tokenizer_set_error(err, errlen, "out of memory during merges");
	return false;
}

bool
embed_wpl_learn(EmbedWplLearner *lr, char *err, size_t errlen)
{
	StrMap		alpha;
	bool		ok;

	if (lr->learned)
	{
		embed_tokenizer_set_error(err, errlen, "vocabulary already learned");
		return false;
	}
	if (lr->opts.vocab_size < EMBED_WPL_N_SPECIAL || lr->opts.vocab_size > INT32_MAX)
	{
		embed_tokenizer_set_error(err, errlen, "vocabulary size %zu out of range", lr->opts.vocab_size);
		return false;
	}
	for (int i = 0; i < EMBED_WPL_N_SPECIAL; i++)
		if (add_token(lr, embed_wpl_special_tokens[i], strlen(embed_wpl_special_tokens[i])) != i)
		{
			embed_tokenizer_set_error(err, errlen, "out of memory");
			return false;
		}
	if (!strmap_init(&alpha, 1 << 10))
	{
		embed_tokenizer_set_error(err, errlen, "out of memory");
		return false;
	}
	ok = build_alphabet(lr, &alpha, err, errlen) &&
		build_words(lr, &alpha, err, errlen) &&
		merge_loop(lr, err, errlen);
	strmap_free(&alpha);
	lr->learned = ok;
	return ok;
}

size_t
embed_wpl_vocab_size(const EmbedWplLearner *lr)
{
	return lr->learned ? lr->ntok : 0;
}

const char *
embed_wpl_vocab_token(const EmbedWplLearner *lr, size_t id)
{
	return (lr->learned && id < lr->ntok) ? lr->tok[id] : NULL;
}

size_t
embed_wpl_merge_count(const EmbedWplLearner *lr)
{
	return lr->nmerges;
}

void
embed_wpl_merge_pair(const EmbedWplLearner *lr, size_t i, const char **left,
					 const char **right)
{
	*left = lr->tok[lr->merges[2 * i]];
	*right = lr->tok[lr->merges[2 * i + 1]];
}

void
embed_wpl_stats(const EmbedWplLearner *lr, EmbedWplStats *stats)
{
	stats->words_total = lr->words_total;
	stats->words_unique = lr->words.used;
	stats->words_skipped = lr->words_skipped;
	stats->alphabet_size = lr->alphabet_size;
	stats->merges = lr->nmerges;
}

bool
embed_wpl_write_vocab(const EmbedWplLearner *lr, const char *path, char *err, size_t errlen)
{
	FILE	   *f;
	bool		ok = true;

	if (!lr->learned)
	{
		embed_tokenizer_set_error(err, errlen, "no vocabulary learned");
		return false;
	}
	f = fopen(path, "w");
	if (f == NULL)
	{
		embed_tokenizer_set_error(err, errlen, "could not open \"%s\": %s", path, strerror(errno));
		return false;
	}
	for (size_t i = 0; i < lr->ntok && ok; i++)
		ok = fputs(lr->tok[i], f) >= 0 && fputc('\n', f) != EOF;
	if (fclose(f) != 0)
		ok = false;
	if (!ok)
		embed_tokenizer_set_error(err, errlen, "could not write \"%s\": %s", path, strerror(errno));
	return ok;
}

/* ---------------------------------------------------------------------
 * Vocabulary lookup and greedy WordPiece tokenisation
 * ------------------------------------------------------------------- */

struct EmbedWplVocab
{
	StrMap		map;			/* token -> id */
	int32_t		unk_id;
};

/* An empty vocabulary. */
static EmbedWplVocab *
vocab_new(void)
{
	EmbedWplVocab *v = calloc(1, sizeof(EmbedWplVocab));

	if (v == NULL)
		return NULL;
	if (!strmap_init(&v->map, 1 << 16))
	{
		free(v);
		return NULL;
	}
	v->unk_id = UNK_ID;
	return v;
}

/* Add token with the next id (a repeated token keeps its first id). */
static bool
vocab_add(EmbedWplVocab *v, const char *tok, size_t len, int32_t id)
{
	return strmap_upsert(&v->map, tok, len, id, NULL) != NULL;
}

EmbedWplVocab *
embed_wpl_vocab_from_learner(const EmbedWplLearner *lr)
{
	EmbedWplVocab *v;

	if (!lr->learned || (v = vocab_new()) == NULL)
		return NULL;
	for (size_t i = 0; i < lr->ntok; i++)
		if (!vocab_add(v, lr->tok[i], strlen(lr->tok[i]), (int32_t) i))
		{
			embed_wpl_vocab_free(v);
			return NULL;
		}
	return v;
}

EmbedWplVocab *
embed_wpl_vocab_load(const char *path, char *err, size_t errlen)
{
	FILE	   *f = fopen(path, "r");
	EmbedWplVocab *v;
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		n;
	int32_t		id = 0;

	if (f == NULL)
	{
		embed_tokenizer_set_error(err, errlen, "could not open \"%s\": %s", path, strerror(errno));
		return NULL;
	}
	v = vocab_new();
	if (v == NULL)
	{
		fclose(f);
		embed_tokenizer_set_error(err, errlen, "out of memory");
		return NULL;
	}
	while ((n = getline(&line, &cap, f)) >= 0)
	{
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (n == 5 && memcmp(line, "[UNK]", 5) == 0)
			v->unk_id = id;
		if (id == INT32_MAX || !vocab_add(v, line, (size_t) n, id))
		{
			embed_tokenizer_set_error(err, errlen, "out of memory reading \"%s\"", path);
			free(line);
			fclose(f);
			embed_wpl_vocab_free(v);
			return NULL;
		}
		id++;
	}
	free(line);
	fclose(f);
	return v;
}

void
embed_wpl_vocab_free(EmbedWplVocab *v)
{
	if (v == NULL)
		return;
	strmap_free(&v->map);
	free(v);
}

int32_t
embed_wpl_vocab_lookup(const EmbedWplVocab *v, const char *tok, size_t len)
{
	const StrEntry *e = strmap_find(&v->map, tok, len);

	return e ? (int32_t) e->value : -1;
}

size_t
embed_wpl_tokenize_word(const EmbedWplVocab *v, const char *word, size_t len,
						int32_t *ids, size_t max_ids)
{
	char		buf[PREFIX_LEN + 4 * EMBED_WPL_MAX_WORD_CHARS];
	size_t		start = 0;
	size_t		npieces = 0;

	if (len == 0)
		return 0;
	if (utf8_chars(word, len) > EMBED_WPL_MAX_WORD_CHARS || len > 4 * EMBED_WPL_MAX_WORD_CHARS)
		goto unk;
	memcpy(buf, EMBED_WPL_PREFIX, PREFIX_LEN);
	while (start < len)
	{
		size_t		end = len;
		int32_t		id = -1;

		while (end > start)
		{
			memcpy(buf + PREFIX_LEN, word + start, end - start);
			id = start == 0 ? embed_wpl_vocab_lookup(v, buf + PREFIX_LEN, end - start)
				: embed_wpl_vocab_lookup(v, buf, end - start + PREFIX_LEN);
			if (id >= 0)
				break;
			/* step back one UTF-8 character */
			end--;
			while (end > start && ((unsigned char) word[end] & 0xC0) == 0x80)
				end--;
		}
		if (id < 0)
			goto unk;
		if (npieces < max_ids)
			ids[npieces] = id;
		npieces++;
		start = end;
	}
	return npieces;

unk:
	if (max_ids > 0)
		ids[0] = v->unk_id;
	return 1;
}
