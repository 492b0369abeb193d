/*
 * tokenizer_fixture.h: what the tokenizer parity tests (test_tokenizer.c,
 * test_bpe.c) share: per-category pass counts, loading, encoding into
 * malloc'd arrays, comparing with a fixture's expected ids and offsets,
 * and diagnostics for the first failures.  Header-only, for test programs.
 */
#ifndef EMBED_TOKENIZER_FIXTURE_H
#define EMBED_TOKENIZER_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "tap.h"
#include "tokenizer.h"

#define MAX_SHOWN_FAILURES 5

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

/* Per-category parity counts. */
typedef struct Category
{
	char		name[48];
	int			total;
	int			passed;
} Category;

static Category categories[64];
static int	n_categories;

static Category *
category(const char *name)
{
	int			i;

	for (i = 0; i < n_categories; i++)
		if (strcmp(categories[i].name, name) == 0)
			return &categories[i];
	if (n_categories == 64)
		return &categories[63];
	memset(&categories[n_categories], 0, sizeof(Category));
	snprintf(categories[n_categories].name, sizeof(categories[0].name), "%s", name);
	return &categories[n_categories++];
}

/* Report and reset the categories as one test each. */
static void
report_categories(const char *what)
{
	int			i;

	for (i = 0; i < n_categories; i++)
		ok(categories[i].passed == categories[i].total, "%s %s: %d/%d equal to Hugging Face",
		   what, categories[i].name, categories[i].passed, categories[i].total);
	n_categories = 0;
}

static bool
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static EmbedTokenizer *
load(const char *dir)
{
	char		err[512];
	EmbedTokenizer *tok = embed_tokenizer_load(dir, err, sizeof(err));

	if (tok == NULL)
		diag("loading %s: %s", dir, err);
	return tok;
}

/* Print text with escapes for diagnostics. */
static void
diag_text(const char *label, const char *text, size_t len)
{
	char		buf[400];
	size_t		i,
				n = 0;

	for (i = 0; i < len && n < sizeof(buf) - 8; i++)
	{
		unsigned char c = (unsigned char) text[i];

		if (c < 0x20 || c == 0x7F)
			n += snprintf(buf + n, sizeof(buf) - n, "\\x%02x", c);
		else
			buf[n++] = (char) c;
	}
	buf[n] = '\0';
	diag("%s: \"%s\"%s", label, buf, i < len ? "..." : "");
}

static void
diag_ids(const char *label, const int32_t *ids, int n)
{
	char		buf[600];
	size_t		k = 0;
	int			i;

	for (i = 0; i < n && k < sizeof(buf) - 16; i++)
		k += snprintf(buf + k, sizeof(buf) - k, "%s%d", i ? " " : "", (int) ids[i]);
	diag("%s: [%s%s]", label, buf, i < n ? " ..." : "");
}

/* Show the expected ids of a failed case. */
static void
diag_json_ids(const char *label, const EmbedJson *want)
{
	int32_t		ids[64];
	int			n = 0;

	for (; want && want->type == EMBED_JSON_ARRAY && (size_t) n < want->len && n < 64; n++)
		ids[n] = (int32_t) want->items[n].integer;
	diag_ids(label, ids, n);
}

/* Whether JSON array `want` of integers equals ids[0..n). */
static bool
ids_equal(const EmbedJson *want, const int32_t *ids, int n)
{
	size_t		i;

	if (want == NULL || want->type != EMBED_JSON_ARRAY || want->len != (size_t) n)
		return false;
	for (i = 0; i < want->len; i++)
		if (!want->items[i].is_integer || want->items[i].integer != ids[i])
			return false;
	return true;
}

/* Whether JSON [[start, end], ...] equals offsets[0..n). */
static bool
offsets_equal(const EmbedJson *want, const EmbedTokenOffsets *offsets, int n)
{
	size_t		i;

	if (want == NULL || want->type != EMBED_JSON_ARRAY || want->len != (size_t) n)
		return false;
	for (i = 0; i < want->len; i++)
	{
		const EmbedJson *pair = &want->items[i];

		if (pair->type != EMBED_JSON_ARRAY || pair->len != 2 ||
			pair->items[0].integer != (int64_t) offsets[i].start ||
			pair->items[1].integer != (int64_t) offsets[i].end)
			return false;
	}
	return true;
}

/* Encode into malloc'd arrays; returns the count (or -1). */
static int
encode(const EmbedTokenizer *tok, const char *text, size_t len, bool specials, int max_tokens,
	   int32_t **ids, EmbedTokenOffsets **offsets, bool *truncated)
{
	char		err[256];
	int			n;

	*ids = malloc(sizeof(int32_t) * (size_t) max_tokens);
	*offsets = malloc(sizeof(EmbedTokenOffsets) * (size_t) max_tokens);
	n = embed_tokenizer_encode_ex(tok, text, len, specials, *ids, *offsets, max_tokens, truncated,
								  err, sizeof(err));
	if (n < 0)
		diag("encode failed: %s", err);
	return n;
}

/* dir/name -> target (made absolute). */
static bool
make_link(const char *target, const char *dir, const char *name)
{
	char		path[1024];
	char	   *absolute = realpath(target, NULL);
	bool		done;

	if (absolute == NULL)
		return false;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	done = symlink(absolute, path) == 0;
	free(absolute);
	return done;
}

#pragma GCC diagnostic pop

#endif
