/*
 * test_tokenizer.c: the WordPiece tokenizer against Hugging Face.
 *
 * Expected ids come from Hugging Face's tokenizers library (see
 * tools/tokenizer-fixture): the configuration variants committed under
 * test/fixtures/tokenizer_variants/, and, for all-MiniLM-L6-v2 (whose
 * tokenizer files are read from ../shared/models, or $EMBED_SHARED_DIR),
 * test/fixtures/tokenizer_minilm.jsonl, an "x" + c + "x" sweep over every
 * code point, the shared test vectors and the reference cases of
 * ../shared/data.  Hand-written cases cover what the library cannot show:
 * invalid UTF-8, truncation limits, huge inputs and loading errors.
 * Everything that needs ../shared/ is skipped when it is absent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "tap.h"
#include "tokenizer_fixture.h"
#include "tokenizer.h"

#define FIXTURES "test/fixtures"

static char shared_dir[2048];
static char temp_dir[64];

/*
 * Check one fixture case: ids (and offsets when given) without truncation,
 * and the truncated ids when the case has a limit.  tok2, when not NULL,
 * must give the same ids (the vocab.txt layout of the same model).
 */
static bool
check_case(const EmbedTokenizer *tok, const EmbedTokenizer *tok2, const EmbedJson *c, int *shown)
{
	const EmbedJson *text = embed_json_get(c, "text");
	const EmbedJson *want = embed_json_get(c, "ids");
	const EmbedJson *want_offsets = embed_json_get(c, "offsets");
	const EmbedJson *want_truncated = embed_json_get(c, "ids_truncated");
	int64_t		limit = 0;
	int			cap = (int) text->len + 16;
	int32_t    *ids;
	EmbedTokenOffsets *offsets;
	bool		truncated;
	bool		good;
	int			n;

	n = encode(tok, text->str, text->len, true, cap, &ids, &offsets, &truncated);
	good = n >= 0 && !truncated && ids_equal(want, ids, n) &&
		(want_offsets == NULL || offsets_equal(want_offsets, offsets, n));
	if (!good && (*shown)++ < MAX_SHOWN_FAILURES)
	{
		diag_text("text", text->str, text->len);
		diag_json_ids("want", want);
		diag_ids("got ", ids, n);
		if (n >= 0 && ids_equal(want, ids, n))
		{
			int			k;

			for (k = 0; k < n; k++)
				if (want_offsets->items[k].items[0].integer != (int64_t) offsets[k].start ||
					want_offsets->items[k].items[1].integer != (int64_t) offsets[k].end)
					diag("offsets of token %d: want [%lld, %lld], got [%zu, %zu]", k,
						 (long long) want_offsets->items[k].items[0].integer,
						 (long long) want_offsets->items[k].items[1].integer,
						 offsets[k].start, offsets[k].end);
		}
	}
	if (good && tok2)
	{
		free(ids);
		free(offsets);
		n = encode(tok2, text->str, text->len, true, cap, &ids, &offsets, &truncated);
		good = n >= 0 && ids_equal(want, ids, n);
		if (!good && (*shown)++ < MAX_SHOWN_FAILURES)
			diag_text("vocab.txt layout differs on", text->str, text->len);
	}
	if (good && want_truncated && embed_json_get_int(c, "truncate", &limit))
	{
		free(ids);
		free(offsets);
		n = encode(tok, text->str, text->len, true, (int) limit, &ids, &offsets, &truncated);
		good = ids_equal(want_truncated, ids, n) && truncated == (want->len > (size_t) limit);
		if (!good && (*shown)++ < MAX_SHOWN_FAILURES)
			diag_text("truncated encoding differs", text->str, text->len);
	}
	free(ids);
	free(offsets);
	return good;
}

/* Run a JSONL fixture through tok; key names the category member. */
static int
run_jsonl(const char *path, const char *key, EmbedTokenizer *(*tokenizer_for) (const EmbedJson *),
		  const EmbedTokenizer *tok2, int *total)
{
	char		err[256];
	size_t		len;
	char	   *data = embed_read_file(path, 64 * 1024 * 1024, &len, err, sizeof(err));
	char	   *line;
	int			passed = 0;
	int			shown = 0;

	*total = 0;
	if (data == NULL)
	{
		ok(0, "read %s", path);
		diag("%s", err);
		return 0;
	}
	for (line = data; line < data + len;)
	{
		char	   *nl = memchr(line, '\n', (size_t) (data + len - line));
		size_t		line_len = nl ? (size_t) (nl - line) : (size_t) (data + len - line);
		EmbedJson  *c = line_len ? embed_json_parse(line, line_len, err, sizeof(err)) : NULL;

		if (c)
		{
			const char *cat = embed_json_get_string(c, key);
			EmbedTokenizer *tok = tokenizer_for(c);
			Category   *k = category(cat ? cat : "?");
			bool		good = tok && embed_json_get(c, "text") && check_case(tok, tok2, c, &shown);

			k->total++;
			k->passed += good;
			passed += good;
			(*total)++;
			embed_json_free(c);
		}
		else if (line_len)
		{
			ok(0, "parse a line of %s", path);
			diag("%s", err);
		}
		line += line_len + 1;
	}
	free(data);
	return passed;
}

/* ---------------------------------------------------------------------
 * Configuration variants (committed, no ../shared needed)
 * --------------------------------------------------------------------- */

#define MAX_VARIANTS 16
static char variant_names[MAX_VARIANTS][64];
static EmbedTokenizer *variant_toks[MAX_VARIANTS];
static int	n_variants;

static EmbedTokenizer *
variant_tokenizer(const EmbedJson *c)
{
	const char *name = embed_json_get_string(c, "variant");
	char		dir[512];
	int			i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < n_variants; i++)
		if (strcmp(variant_names[i], name) == 0)
			return variant_toks[i];
	if (n_variants == MAX_VARIANTS)
		return NULL;
	snprintf(dir, sizeof(dir), "%s/tokenizer_variants/%s", FIXTURES, name);
	snprintf(variant_names[n_variants], sizeof(variant_names[0]), "%s", name);
	variant_toks[n_variants] = load(dir);
	return variant_toks[n_variants++];
}

static void
test_variants(void)
{
	int			total;
	int			passed = run_jsonl(FIXTURES "/tokenizer_variants/cases.jsonl", "variant",
								   variant_tokenizer, NULL, &total);

	report_categories("variant");
	ok(total > 0 && passed == total, "configuration variants: %d/%d cases equal", passed, total);
}

/* Model-level facts of the variants: special ids, lengths, kind. */
static void
test_variant_properties(void)
{
	EmbedTokenizer *cased_txt = NULL;
	int			i;

	for (i = 0; i < n_variants; i++)
		if (strcmp(variant_names[i], "txt_cased") == 0)
			cased_txt = variant_toks[i];
	for (i = 0; i < n_variants; i++)
	{
		EmbedTokenizer *t = variant_toks[i];

		if (t == NULL)
			continue;
		if (strcmp(variant_names[i], "base") == 0)
		{
			ok(embed_tokenizer_kind(t) == EMBED_TOKENIZER_WORDPIECE &&
			   strcmp(embed_tokenizer_kind_name(t), "WordPiece") == 0, "base: kind WordPiece");
			ok(embed_tokenizer_pad_id(t) == 0 && embed_tokenizer_unk_id(t) == 1 &&
			   embed_tokenizer_cls_id(t) == 2 && embed_tokenizer_sep_id(t) == 3 &&
			   embed_tokenizer_mask_id(t) == 4, "base: special token ids");
			ok(embed_tokenizer_num_special_tokens(t) == 2, "base: two special tokens");
			ok(embed_tokenizer_model_max_length(t) == -1, "base: no model_max_length");
			ok(embed_tokenizer_id_to_token(t, -1) == NULL &&
			   embed_tokenizer_id_to_token(t, embed_tokenizer_vocab_size(t)) == NULL &&
			   strcmp(embed_tokenizer_id_to_token(t, 2), "[CLS]") == 0, "base: id_to_token bounds");
			ok(embed_tokenizer_token_to_id(t, "[SEP]", 5) == 3 &&
			   embed_tokenizer_token_to_id(t, "hello", 5) >= 0 &&
			   embed_tokenizer_token_to_id(t, "no such token", 13) == -1, "base: token_to_id");
		}
		else if (strcmp(variant_names[i], "added_tokens") == 0)
		{
			int32_t		id = embed_tokenizer_token_to_id(t, "<extra_long>", 12);

			ok(id >= 0 && id == embed_tokenizer_vocab_size(t) - 1 &&
			   strcmp(embed_tokenizer_id_to_token(t, id), "<extra_long>") == 0,
			   "added_tokens: ids past the model vocabulary count in the size");
			ok(embed_tokenizer_num_special_tokens(t) == 0, "added_tokens: no post-processor, no specials");
		}
	}
	ok(cased_txt && embed_tokenizer_model_max_length(cased_txt) == 64 &&
	   embed_tokenizer_num_special_tokens(cased_txt) == 2, "txt_cased: model_max_length and specials");
}

/* ---------------------------------------------------------------------
 * Robustness (on the base variant)
 * --------------------------------------------------------------------- */

/* ids of text without specials, into out (cap 256); the count. */
static int
plain_ids(const EmbedTokenizer *tok, const char *text, size_t len, int32_t *out)
{
	char		err[128];
	bool		truncated;

	return embed_tokenizer_encode_ex(tok, text, len, false, out, NULL, 256, &truncated, err, sizeof(err));
}

/* Whether two texts give the same ids. */
static bool
same_ids(const EmbedTokenizer *tok, const char *a, size_t alen, const char *b, size_t blen)
{
	int32_t		x[256],
				y[256];
	int			n = plain_ids(tok, a, alen, x);
	int			m = plain_ids(tok, b, blen, y);

	return n >= 0 && n == m && memcmp(x, y, sizeof(int32_t) * (size_t) n) == 0;
}

static void
test_invalid_utf8(const EmbedTokenizer *tok)
{
	static const struct
	{
		const char *bad;
		size_t		bad_len;
		const char *clean;
	}			cases[] = {
		{"ab\xff" "cd", 5, "abcd"},
		{"hello \xe4\xb8 world", 14, "hello  world"},
		{"\xc0\xaf" "cat", 5, "cat"},
		{"x\xed\xa0\x80y", 5, "xy"},
		{"\x80\x80\x80", 3, ""},
		{"caf\xc3", 4, "caf"},
		{"\xf4\x90\x80\x80!", 5, "!"},
		{"a\0b", 3, "ab"},
	};
	size_t		i;
	int			failures = 0;
	unsigned int rng = 12345;

	/* clean_text drops U+FFFD, so an invalid byte vanishes like a control character */
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!same_ids(tok, cases[i].bad, cases[i].bad_len, cases[i].clean, strlen(cases[i].clean)))
		{
			failures++;
			diag_text("invalid UTF-8 case differs", cases[i].bad, cases[i].bad_len);
		}
	ok(failures == 0, "invalid UTF-8 reads as U+FFFD, one per byte");

	/* random bytes: no crash, offsets inside the text and ordered */
	failures = 0;
	for (i = 0; i < 20000; i++)
	{
		unsigned char buf[64];
		int32_t		ids[80];
		EmbedTokenOffsets off[80];
		size_t		len = (size_t) (i % 64);
		size_t		k;
		bool		truncated;
		char		err[128];
		int			n;

		for (k = 0; k < len; k++)
		{
			rng = rng * 1103515245u + 12345u;
			buf[k] = (unsigned char) (rng >> 16);
			if (i % 3 == 0 && (buf[k] & 0x80) == 0)
				buf[k] |= 0x40;	/* more letters */
		}
		n = embed_tokenizer_encode_ex(tok, (const char *) buf, len, true, ids, off, 80, &truncated, err, sizeof(err));
		if (n < 2)
			failures++;
		for (k = 1; n > 2 && k + 1 < (size_t) n; k++)
			if (off[k].start > off[k].end || off[k].end > len || (k > 1 && off[k].start < off[k - 1].start) ||
				ids[k] < 0 || ids[k] >= embed_tokenizer_vocab_size(tok))
				failures++;
	}
	ok(failures == 0, "random bytes: valid ids, offsets within the text and in order");
}

static void
test_truncation(const EmbedTokenizer *tok)
{
	char		err[256];
	int32_t		ids[8];
	bool		truncated = true;
	int			n;

	n = embed_tokenizer_encode(tok, "hello world", 11, ids, 1, &truncated, err, sizeof(err));
	ok(n == -1 && strstr(err, "special") != NULL, "max_tokens below the special tokens is an error");
	n = embed_tokenizer_encode(tok, "hello world", 11, ids, 2, &truncated, err, sizeof(err));
	ok(n == 2 && ids[0] == 2 && ids[1] == 3 && truncated, "max_tokens 2: [CLS] [SEP], truncated");
	n = embed_tokenizer_encode(tok, "", 0, ids, 2, &truncated, err, sizeof(err));
	ok(n == 2 && !truncated, "empty text: [CLS] [SEP], not truncated");
	n = embed_tokenizer_encode(tok, "hello world", 11, ids, 3, &truncated, err, sizeof(err));
	ok(n == 3 && ids[2] == 3 && truncated && ids[1] == embed_tokenizer_token_to_id(tok, "hello", 5),
	   "max_tokens 3: [CLS] hello [SEP]");
	n = embed_tokenizer_encode(tok, "hello world", 11, ids, 4, &truncated, err, sizeof(err));
	ok(n == 4 && !truncated, "max_tokens 4: everything fits, not truncated");
	n = embed_tokenizer_encode(tok, NULL, 0, ids, 4, &truncated, err, sizeof(err));
	ok(n == 2, "NULL text of length 0 is empty");
	n = embed_tokenizer_encode_ex(tok, "hello world", 11, false, ids, NULL, 1, &truncated, err, sizeof(err));
	ok(n == 1 && truncated, "without specials max_tokens counts only text tokens");
}

/* A huge text costs only the tokens kept; a huge word is one [UNK]. */
static void
test_huge_input(const EmbedTokenizer *tok)
{
	size_t		len = 64 * 1024 * 1024;
	char	   *text = malloc(len);
	char		err[256];
	int32_t		ids[16];
	EmbedTokenOffsets off[16];
	bool		truncated;
	size_t		i;
	int			n;
	clock_t		t0;
	double		seconds;

	for (i = 0; i < len; i++)
		text[i] = "hello world "[i % 12];
	t0 = clock();
	n = embed_tokenizer_encode(tok, text, len, ids, 16, &truncated, err, sizeof(err));
	seconds = (double) (clock() - t0) / CLOCKS_PER_SEC;
	ok(n == 16 && truncated && ids[15] == 3, "64 MB of text, 16 tokens: stops early");
	diag("64 MB text truncated to 16 tokens in %.6f s", seconds);
	memset(text, 'a', len);
	n = embed_tokenizer_encode_ex(tok, text, len, true, ids, off, 16, &truncated, err, sizeof(err));
	ok(n == 3 && ids[1] == embed_tokenizer_unk_id(tok) && !truncated &&
	   off[1].start == 0 && off[1].end == len, "a 64 MB word is one [UNK] covering it");
	free(text);
}

static void
test_load_errors(void)
{
	char		err[512];
	char		path[256];
	FILE	   *f;
	EmbedTokenizer *tok;

	tok = embed_tokenizer_load("/nonexistent/model", err, sizeof(err));
	ok(tok == NULL && strstr(err, "no tokenizer.json or vocab.txt") != NULL,
	   "a folder without tokenizer files is refused");
	snprintf(path, sizeof(path), "%s/tokenizer.json", temp_dir);
	f = fopen(path, "w");
	fputs("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}", f);
	fclose(f);
	tok = embed_tokenizer_load(temp_dir, err, sizeof(err));
	ok(tok == NULL && strstr(err, "\"BPE\" is not supported") != NULL, "a BPE tokenizer.json is refused clearly");
	if (tok == NULL)
		diag("message: %s", err);
	f = fopen(path, "w");
	fputs("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}, \"normalizer\": {\"type\": \"NFKC\"}}", f);
	fclose(f);
	tok = embed_tokenizer_load(temp_dir, err, sizeof(err));
	ok(tok == NULL && strstr(err, "NFKC") != NULL, "an unsupported normalizer is refused");
	f = fopen(path, "w");
	fputs("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0, \"##b\": 1}}}", f);
	fclose(f);
	tok = embed_tokenizer_load(temp_dir, err, sizeof(err));
	ok(tok == NULL && strstr(err, "[UNK]") != NULL, "a vocabulary without its unknown token is refused");
	f = fopen(path, "w");
	fputs("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0", f);
	fclose(f);
	tok = embed_tokenizer_load(temp_dir, err, sizeof(err));
	ok(tok == NULL && strstr(err, "invalid JSON") != NULL, "truncated JSON is refused");
	f = fopen(path, "w");
	fputs("{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"?\", \"vocab\": {\"?\": 0, \"ab\": 1, \"##c\": 2}}}", f);
	fclose(f);
	tok = embed_tokenizer_load(temp_dir, err, sizeof(err));
	if (ok(tok != NULL, "a minimal tokenizer.json (no normalizer, pre-tokenizer or post-processor) loads"))
	{
		int32_t		ids[8];
		bool		truncated;
		int			n = embed_tokenizer_encode(tok, "abc", 3, ids, 8, &truncated, err, sizeof(err));

		ok(n == 2 && ids[0] == 1 && ids[1] == 2 && embed_tokenizer_num_special_tokens(tok) == 0 &&
		   embed_tokenizer_cls_id(tok) == -1, "minimal tokenizer: ab ##c, no specials");
		embed_tokenizer_free(tok);
	}
	unlink(path);
}

/* ---------------------------------------------------------------------
 * all-MiniLM-L6-v2 (needs ../shared)
 * --------------------------------------------------------------------- */

static void
remove_link(const char *dir, const char *name)
{
	char		path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static EmbedTokenizer *minilm;

static EmbedTokenizer *
minilm_tokenizer(const EmbedJson *c)
{
	return minilm;
}

/* The committed fixture, through tokenizer.json and through vocab.txt. */
static void
test_minilm_fixture(const EmbedTokenizer *txt)
{
	int			total;
	int			passed = run_jsonl(FIXTURES "/tokenizer_minilm.jsonl", "cat", minilm_tokenizer, txt, &total);

	report_categories("minilm");
	ok(total >= 2000 && passed == total, "all-MiniLM-L6-v2 fixture: %d/%d cases equal (tokenizer.json and vocab.txt)",
	   passed, total);
}

/* "x" + c + "x" for every code point, against the committed runs. */
static void
test_codepoint_sweep(void)
{
	char		err[256];
	size_t		len;
	char	   *data = embed_read_file(FIXTURES "/tokenizer_minilm_codepoints.tsv", 16 * 1024 * 1024, &len, err, sizeof(err));
	char	   *line,
			   *save = NULL;
	long		checked = 0,
				failed = 0;
	uint32_t	next = 0;
	bool		contiguous = true;

	if (!ok(data != NULL, "read the code point sweep"))
	{
		diag("%s", err);
		return;
	}
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
	{
		unsigned long first,
					last;
		int32_t		want[8];
		int			nwant = 0;
		char	   *p;
		uint32_t	c;

		if (line[0] == '#')
			continue;
		first = strtoul(line, &p, 16);
		last = strtoul(p, &p, 16);
		while (*p && nwant < 8)
		{
			char	   *end;
			long		v = strtol(p, &end, 10);

			if (end == p)
				break;
			want[nwant++] = (int32_t) v;
			p = end;
		}
		if (first != next)
			contiguous = false;
		next = (uint32_t) last + 1;
		if (next == 0xD800)
			next = 0xE000;
		for (c = (uint32_t) first; c <= last; c++)
		{
			char		text[8];
			int32_t		ids[16];
			int			n;

			if (c >= 0xD800 && c <= 0xDFFF)
				continue;
			text[0] = 'x';
			if (c < 0x80)
			{
				text[1] = (char) c;
				n = 2;
			}
			else if (c < 0x800)
			{
				text[1] = (char) (0xC0 | (c >> 6));
				text[2] = (char) (0x80 | (c & 0x3F));
				n = 3;
			}
			else if (c < 0x10000)
			{
				text[1] = (char) (0xE0 | (c >> 12));
				text[2] = (char) (0x80 | ((c >> 6) & 0x3F));
				text[3] = (char) (0x80 | (c & 0x3F));
				n = 4;
			}
			else
			{
				text[1] = (char) (0xF0 | (c >> 18));
				text[2] = (char) (0x80 | ((c >> 12) & 0x3F));
				text[3] = (char) (0x80 | ((c >> 6) & 0x3F));
				text[4] = (char) (0x80 | (c & 0x3F));
				n = 5;
			}
			text[n] = 'x';
			n = plain_ids(minilm, text, (size_t) n + 1, ids);
			checked++;
			if (n != nwant || memcmp(ids, want, sizeof(int32_t) * (size_t) n) != 0)
			{
				if (failed++ < MAX_SHOWN_FAILURES)
				{
					diag("U+%04X: want %d ids, got %d", (unsigned) c, nwant, n);
					diag_ids("want", want, nwant);
					diag_ids("got ", ids, n);
				}
			}
		}
	}
	free(data);
	ok(contiguous && next == 0x110000 && checked == 0x110000 - 0x800,
	   "the sweep covers every code point (%ld)", checked);
	ok(failed == 0, "\"x\" + c + \"x\" equal to Hugging Face for every code point: %ld/%ld",
	   checked - failed, checked);
}

/* The 47 inputs of tokenizer-tests/bert-uncased.inp (ids without [CLS]/[SEP]). */
static void
test_shared_vectors(void)
{
	char		path[2300];
	char		err[256];
	size_t		inp_len,
				out_len;
	char	   *inp,
			   *out;
	const char *sep = "\n__ggml_vocab_test__\n";
	char	   *p,
			   *q;
	int			total = 0,
				passed = 0;

	snprintf(path, sizeof(path), "%s/data/tokenizer-tests/bert-uncased.inp", shared_dir);
	inp = embed_read_file(path, 1 << 20, &inp_len, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/data/tokenizer-tests/bert-uncased.out", shared_dir);
	out = embed_read_file(path, 1 << 20, &out_len, err, sizeof(err));
	if (!ok(inp && out, "read the shared bert-uncased test vectors"))
	{
		free(inp);
		free(out);
		return;
	}
	for (p = inp, q = out; p <= inp + inp_len;)
	{
		char	   *end = strstr(p, sep);
		size_t		text_len = end ? (size_t) (end - p) : strlen(p);
		char	   *q_end = strchr(q, '\n');
		int32_t		want[512],
					ids[512];
		int			nwant = 0,
					n;
		char	   *r = q;

		if (q_end)
			*q_end = '\0';
		while (nwant < 512)
		{
			char	   *e;
			long		v = strtol(r, &e, 10);

			if (e == r)
				break;
			want[nwant++] = (int32_t) v;
			r = e;
		}
		n = plain_ids(minilm, p, text_len, ids);
		total++;
		if (n == nwant && memcmp(ids, want, sizeof(int32_t) * (size_t) n) == 0)
			passed++;
		else
		{
			diag_text("differs", p, text_len);
			diag_ids("want", want, nwant);
			diag_ids("got ", ids, n);
		}
		if (end == NULL)
			break;
		p = end + strlen(sep);
		q = q_end ? q_end + 1 : q + strlen(q);
	}
	ok(total == 47 && passed == total, "shared vectors bert-uncased: %d/%d equal", passed, total);
	free(inp);
	free(out);
}

/* The expected ids listed in tokenizer-tests/SOURCES.md. */
static void
test_documented_examples(void)
{
	static const struct
	{
		const char *text;
		int32_t		ids[8];
		int			n;
	}			cases[] = {
		{"hello world", {101, 7592, 2088, 102}, 4},
		{"flag embedding", {101, 5210, 7861, 8270, 4667, 102}, 6},
		{"Deep Learning is...", {101, 2784, 4083, 2003, 1012, 1012, 1012, 102}, 8},
		{"What is Deep Learning?", {101, 2054, 2003, 2784, 4083, 1029, 102}, 7},
		{"Qu\xc3\xa9" "bec", {101, 5447, 102}, 3},
	};
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		int32_t		ids[32];
		char		err[128];
		bool		truncated;
		int			n = embed_tokenizer_encode(minilm, cases[i].text, strlen(cases[i].text), ids, 32,
											   &truncated, err, sizeof(err));

		if (!ok(n == cases[i].n && memcmp(ids, cases[i].ids, sizeof(int32_t) * (size_t) n) == 0,
				"documented: %s", cases[i].text))
			diag_ids("got", ids, n);
	}
	ok(embed_tokenizer_vocab_size(minilm) == 30522 && embed_tokenizer_pad_id(minilm) == 0 &&
	   embed_tokenizer_unk_id(minilm) == 100 && embed_tokenizer_cls_id(minilm) == 101 &&
	   embed_tokenizer_sep_id(minilm) == 102 && embed_tokenizer_mask_id(minilm) == 103 &&
	   embed_tokenizer_model_max_length(minilm) == 512, "all-MiniLM-L6-v2: vocabulary and special ids");
}

/* hf_tokenizer_cases.json "wordpiece" cases with tiny_wordpiece_tokenizer.json. */
static void
test_tiny_wordpiece(void)
{
	char		path[2300];
	char		err[256];
	size_t		len;
	char	   *data;
	EmbedJson  *root;
	const EmbedJson *cases;
	EmbedTokenizer *tok;
	size_t		i;
	int			passed = 0;

	snprintf(path, sizeof(path), "%s/data/reference-outputs/tiny_wordpiece_tokenizer.json", shared_dir);
	if (!ok(make_link(path, temp_dir, "tokenizer.json"), "link the tiny WordPiece tokenizer"))
		return;
	tok = load(temp_dir);
	remove_link(temp_dir, "tokenizer.json");
	snprintf(path, sizeof(path), "%s/data/reference-outputs/hf_tokenizer_cases.json", shared_dir);
	data = embed_read_file(path, 16 << 20, &len, err, sizeof(err));
	root = data ? embed_json_parse(data, len, err, sizeof(err)) : NULL;
	cases = embed_json_get(embed_json_get(root, "wordpiece"), "cases");
	if (ok(tok && cases && cases->type == EMBED_JSON_ARRAY, "load the tiny WordPiece tokenizer and its cases"))
	{
		for (i = 0; i < cases->len; i++)
		{
			const EmbedJson *text = embed_json_get(&cases->items[i], "text");
			int32_t		ids[256];
			bool		truncated;
			int			n = embed_tokenizer_encode(tok, text->str, text->len, ids, 256, &truncated, err, sizeof(err));

			if (ids_equal(embed_json_get(&cases->items[i], "ids"), ids, n))
				passed++;
			else
			{
				diag_text("differs", text->str, text->len);
				diag_ids("got", ids, n);
			}
		}
		ok(passed == (int) cases->len && cases->len > 0, "tiny WordPiece reference cases: %d/%zu equal",
		   passed, cases->len);
	}
	embed_tokenizer_free(tok);
	embed_json_free(root);
	free(data);
}

/* Encoding speed over the fixture texts (a diagnostic, not a test). */
static void
measure_speed(void)
{
	char		err[256];
	size_t		len;
	char	   *data = embed_read_file(FIXTURES "/tokenizer_minilm.jsonl", 64 << 20, &len, err, sizeof(err));
	EmbedJson  *texts[4096];
	int			n_texts = 0;
	char	   *line;
	long		tokens = 0,
				bytes = 0;
	struct timespec t0,
				t1;
	int			rep,
				i;
	double		seconds;
	int32_t    *ids = malloc(sizeof(int32_t) * 65536);

	for (line = data; data && line < data + len && n_texts < 4096;)
	{
		char	   *nl = memchr(line, '\n', (size_t) (data + len - line));
		size_t		line_len = nl ? (size_t) (nl - line) : (size_t) (data + len - line);
		EmbedJson  *c = line_len ? embed_json_parse(line, line_len, err, sizeof(err)) : NULL;

		if (c)
			texts[n_texts++] = c;
		line += line_len + 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (rep = 0; rep < 20; rep++)
		for (i = 0; i < n_texts; i++)
		{
			const EmbedJson *text = embed_json_get(texts[i], "text");
			bool		truncated;

			tokens += embed_tokenizer_encode(minilm, text->str, text->len, ids, 65536, &truncated, err, sizeof(err));
			bytes += (long) text->len;
		}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	seconds = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
	diag("speed: %ld tokens (%ld bytes, %d texts x 20) in %.3f s: %.2f M tokens/s, %.1f MB/s",
		 tokens, bytes, n_texts, seconds, (double) tokens / seconds / 1e6, (double) bytes / seconds / 1e6);
	for (i = 0; i < n_texts; i++)
		embed_json_free(texts[i]);
	free(ids);
	free(data);
}

int
main(void)
{
	const char *env = getenv("EMBED_SHARED_DIR");
	char		model_dir[2300];
	char		path[2400];
	EmbedTokenizer *txt = NULL;
	EmbedTokenizer *base = NULL;
	int			i;

	snprintf(temp_dir, sizeof(temp_dir), "/tmp/embed_tokenizer_XXXXXX");
	if (mkdtemp(temp_dir) == NULL)
		skip_all("cannot create a temporary folder");

	/* committed fixtures */
	test_variants();
	test_variant_properties();
	for (i = 0; i < n_variants; i++)
		if (strcmp(variant_names[i], "base") == 0)
			base = variant_toks[i];
	if (ok(base != NULL, "base variant loaded"))
	{
		test_invalid_utf8(base);
		test_truncation(base);
		test_huge_input(base);
	}
	test_load_errors();
	for (i = 0; i < n_variants; i++)
		embed_tokenizer_free(variant_toks[i]);

	/* all-MiniLM-L6-v2 from ../shared */
	snprintf(shared_dir, sizeof(shared_dir), "%s", env && env[0] ? env : "../shared");
	snprintf(model_dir, sizeof(model_dir), "%s/models/all-MiniLM-L6-v2", shared_dir);
	if (!is_dir(model_dir))
	{
		printf("ok %d # SKIP all-MiniLM-L6-v2 cases: %s not found (set EMBED_SHARED_DIR)\n", ++tap_count, model_dir);
		rmdir(temp_dir);
		return tap_done();
	}
	minilm = load(model_dir);
	if (ok(minilm != NULL, "load all-MiniLM-L6-v2 (tokenizer.json)"))
	{
		/* the same model through vocab.txt + tokenizer_config.json */
		snprintf(path, sizeof(path), "%s/vocab.txt", model_dir);
		make_link(path, temp_dir, "vocab.txt");
		snprintf(path, sizeof(path), "%s/tokenizer_config.json", model_dir);
		make_link(path, temp_dir, "tokenizer_config.json");
		txt = load(temp_dir);
		remove_link(temp_dir, "vocab.txt");
		remove_link(temp_dir, "tokenizer_config.json");
		ok(txt != NULL, "load all-MiniLM-L6-v2 (vocab.txt + tokenizer_config.json)");

		test_documented_examples();
		test_minilm_fixture(txt);
		test_codepoint_sweep();
		test_shared_vectors();
		test_tiny_wordpiece();
		measure_speed();
	}
	embed_tokenizer_free(txt);
	embed_tokenizer_free(minilm);
	rmdir(temp_dir);
	return tap_done();
}
