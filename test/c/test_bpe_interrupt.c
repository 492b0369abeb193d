/*
 * test_bpe_interrupt.c: embed_tokenizer_encode_interruptible.
 *
 * A long word is merged whole by byte-level BPE, which takes time in
 * proportion to its length; the caller's interrupt callback is polled
 * meanwhile.  Checked here, with the committed test models
 * (test/models/embed-test-gpt2: vocab.json + merges.txt;
 * embed-test-roberta: tokenizer.json; embed-test-tiny: WordPiece): a
 * callback that never stops changes no id, a long word polls it many
 * times, a stop at any poll (during pre-tokenization, symbol set-up or
 * merging) makes the call fail with "interrupted" without calling it
 * again, and the tokenizer works normally afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tokenizer.h"

#define MODELS "test/models"
#define WORD_BYTES (1024 * 1024)
#define MAX_IDS WORD_BYTES

/* The callback's state: how often it was called, and at which call it stops (0: never). */
typedef struct Poll
{
	long		calls;
	long		stop_at;
} Poll;

static bool
poll_callback(void *arg)
{
	Poll	   *p = arg;

	p->calls++;
	return p->stop_at > 0 && p->calls >= p->stop_at;
}

static EmbedTokenizer *
load(const char *name)
{
	char		dir[256],
				err[512];
	EmbedTokenizer *tok;

	snprintf(dir, sizeof(dir), "%s/%s", MODELS, name);
	tok = embed_tokenizer_load(dir, err, sizeof(err));
	if (tok == NULL)
	{
		printf("Bail out! %s: %s\n", dir, err);
		exit(1);
	}
	return tok;
}

/* The ids of text with a callback that never stops equal the plain encode's. */
static long
check_unchanged(const EmbedTokenizer *tok, const char *what, const char *text, size_t len, int max_tokens)
{
	int32_t    *plain = malloc(sizeof(int32_t) * max_tokens);
	int32_t    *polled = malloc(sizeof(int32_t) * max_tokens);
	char		err[256];
	bool		truncated;
	Poll		p = {0, 0};
	int			n_plain,
				n_polled;

	n_plain = embed_tokenizer_encode(tok, text, len, plain, max_tokens, &truncated, err, sizeof(err));
	n_polled = embed_tokenizer_encode_interruptible(tok, text, len, polled, max_tokens, &truncated,
													poll_callback, &p, err, sizeof(err));
	ok(n_plain > 0 && n_polled == n_plain && memcmp(plain, polled, sizeof(int32_t) * n_plain) == 0,
	   "%s: the same %d ids with a callback that never stops (%ld polls)", what, n_plain, p.calls);
	free(plain);
	free(polled);
	return p.calls;
}

/* Stopping at poll stop_at fails the call at once, and the next call is normal. */
static void
check_stop(const EmbedTokenizer *tok, const char *what, const char *text, size_t len, long stop_at)
{
	int32_t		ids[64],
				again[64],
				plain[64];
	char		err[256];
	bool		truncated;
	Poll		p = {0, stop_at};
	int			n,
				n_again,
				n_plain;

	n = embed_tokenizer_encode_interruptible(tok, text, len, ids, 64, &truncated, poll_callback, &p,
											 err, sizeof(err));
	ok(n == -1 && strcmp(err, "interrupted") == 0 && p.calls == stop_at,
	   "%s: stopping at poll %ld fails the call with \"interrupted\" (returned %d, %ld polls)",
	   what, stop_at, n, p.calls);
	n_plain = embed_tokenizer_encode(tok, text, len, plain, 64, &truncated, err, sizeof(err));
	p.calls = 0;
	p.stop_at = 0;
	n_again = embed_tokenizer_encode_interruptible(tok, text, len, again, 64, &truncated, poll_callback, &p,
												   err, sizeof(err));
	ok(n_again == 64 && n_plain == 64 && memcmp(again, plain, sizeof(plain)) == 0,
	   "%s: the next call after the stop gives the usual ids", what);
}

int
main(void)
{
	EmbedTokenizer *gpt2 = load("embed-test-gpt2");
	EmbedTokenizer *roberta = load("embed-test-roberta");
	EmbedTokenizer *wordpiece = load("embed-test-tiny");
	char	   *word = malloc(WORD_BYTES);
	char	   *prose = malloc(WORD_BYTES);
	const char *sentence = "The cat sat on the mat, and the dog said it's 2024! ";
	long		polls;
	size_t		i;

	for (i = 0; i < WORD_BYTES; i++)
	{
		word[i] = "at"[i % 2];
		prose[i] = sentence[i % strlen(sentence)];
	}

	/* results do not change, for every token of a long word and for prose */
	polls = check_unchanged(gpt2, "gpt2, a 1 MB word, every token", word, WORD_BYTES, MAX_IDS);
	ok(polls >= 16, "a 1 MB word polls the callback many times (%ld)", polls);
	check_unchanged(gpt2, "gpt2, 1 MB of prose", prose, WORD_BYTES, MAX_IDS);
	check_unchanged(roberta, "roberta, a 1 MB word, every token", word, WORD_BYTES, MAX_IDS);
	check_unchanged(roberta, "roberta, 1 MB of prose, 64 tokens", prose, WORD_BYTES, 64);
	check_unchanged(gpt2, "gpt2, a short text", sentence, strlen(sentence), 64);
	check_unchanged(wordpiece, "wordpiece, 1 MB of prose, 16 tokens", prose, WORD_BYTES, 16);

	/* a stop at the first poll, at polls all along the word's stages, and at the last one */
	polls = check_unchanged(gpt2, "gpt2, a 1 MB word, 64 tokens", word, WORD_BYTES, 64);
	check_stop(gpt2, "gpt2", word, WORD_BYTES, 1);
	for (i = 1; i < 8; i++)
		check_stop(gpt2, "gpt2", word, WORD_BYTES, polls * i / 8);
	check_stop(gpt2, "gpt2", word, WORD_BYTES, polls);
	polls = check_unchanged(roberta, "roberta, a 1 MB word, 64 tokens", word, WORD_BYTES, 64);
	check_stop(roberta, "roberta", word, WORD_BYTES, polls / 3);

	free(word);
	free(prose);
	embed_tokenizer_free(gpt2);
	embed_tokenizer_free(roberta);
	embed_tokenizer_free(wordpiece);
	return tap_done();
}
