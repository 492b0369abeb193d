/*
 * test_wordpiece_learn.c: the WordPiece vocabulary learner.
 *
 * A tiny corpus whose merges are worked out by hand (both scores), the
 * vocabulary layout, BERT pre-tokenisation, determinism under input order,
 * full coverage of the corpus, and agreement with the engine's tokenizer
 * on a learned vocabulary.
 */
#include "tap.h"
#include "tokenizer.h"
#include "wordpiece_learn.h"

#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The classic BPE example: low x5, lower x2, newest x6, widest x3. */
static const char *const tiny_corpus =
"low low low low low lower lower newest newest newest newest newest newest\n"
"widest widest widest\n";

static EmbedWplLearner *
learn_text(const char *text, size_t vocab_size, EmbedWplScore score)
{
	EmbedWplOptions opts;
	EmbedWplLearner *lr;
	char		err[256];

	embed_wpl_default_options(&opts);
	opts.vocab_size = vocab_size;
	opts.min_char_count = 1;
	opts.min_pair_count = 2;
	opts.score = score;
	lr = embed_wpl_create(&opts);
	if (lr == NULL || !embed_wpl_add_text(lr, text, strlen(text)) ||
		!embed_wpl_learn(lr, err, sizeof(err)))
	{
		diag("learning failed: %s", lr ? err : "out of memory");
		embed_wpl_free(lr);
		return NULL;
	}
	return lr;
}

/* The merges as "left+right" strings joined by spaces. */
static void
merges_string(const EmbedWplLearner *lr, size_t max, char *out, size_t outlen)
{
	size_t		used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < embed_wpl_merge_count(lr) && i < max; i++)
	{
		const char *l,
				   *r;

		embed_wpl_merge_pair(lr, i, &l, &r);
		used += snprintf(out + used, outlen - used, "%s%s+%s", i ? " " : "", l, r);
		if (used >= outlen)
			break;
	}
}

/* The vocabulary as tokens joined by spaces. */
static void
vocab_string(const EmbedWplLearner *lr, size_t from, char *out, size_t outlen)
{
	size_t		used = 0;

	out[0] = '\0';
	for (size_t i = from; i < embed_wpl_vocab_size(lr); i++)
	{
		used += snprintf(out + used, outlen - used, "%s%s", i > from ? " " : "",
						 embed_wpl_vocab_token(lr, i));
		if (used >= outlen)
			break;
	}
}

static void
test_frequency_merges(void)
{
	EmbedWplLearner *lr = learn_text(tiny_corpus, 1000, EMBED_WPL_SCORE_FREQUENCY);
	char		buf[2048];

	if (!ok(lr != NULL, "frequency: learns the tiny corpus"))
		return;
	merges_string(lr, 100, buf, sizeof(buf));
	ok(strcmp(buf, "##e+##s ##es+##t ##o+##w l+##ow ##e+##w ##ew+##est n+##ewest "
			  "##d+##est ##i+##dest w+##idest ##e+##r low+##er") == 0,
	   "frequency: merges in the hand-computed order");
	diag("merges: %s", buf);
	ok(embed_wpl_vocab_size(lr) == 5 + 20 + 12, "frequency: 5 special + 2x10 characters + 12 merges");
	vocab_string(lr, 0, buf, sizeof(buf));
	ok(strcmp(buf, "[PAD] [UNK] [CLS] [SEP] [MASK] d e i l n o r s t w "
			  "##d ##e ##i ##l ##n ##o ##r ##s ##t ##w "
			  "##es ##est ##ow low ##ew ##ewest newest ##dest ##idest widest ##er lower") == 0,
	   "frequency: vocabulary layout (specials, bare, ##, merges)");
	diag("vocab: %s", buf);
	embed_wpl_free(lr);

	/* a size limit stops after the first merges */
	lr = learn_text(tiny_corpus, 5 + 20 + 3, EMBED_WPL_SCORE_FREQUENCY);
	if (lr)
	{
		vocab_string(lr, 25, buf, sizeof(buf));
		ok(embed_wpl_vocab_size(lr) == 28 && strcmp(buf, "##es ##est ##ow") == 0,
		   "frequency: stops at the target size");
		embed_wpl_free(lr);
	}
	else
		ok(0, "frequency: stops at the target size");
}

static void
test_likelihood_merges(void)
{
	EmbedWplLearner *lr = learn_text(tiny_corpus, 5 + 20 + 3, EMBED_WPL_SCORE_LIKELIHOOD);
	char		buf[1024];

	if (!ok(lr != NULL, "likelihood: learns the tiny corpus"))
		return;

	/*
	 * count(ab) / (count(a) count(b)): ##i+##d and w+##i both score 3/9, the
	 * tie goes to the smaller left token "##i"; then w+##id scores 3/9, then
	 * l+##o 7/49 beats ##s+##t 9/81.
	 */
	merges_string(lr, 100, buf, sizeof(buf));
	ok(strcmp(buf, "##i+##d w+##id l+##o") == 0, "likelihood: merges in the hand-computed order");
	diag("merges: %s", buf);
	embed_wpl_free(lr);
}

typedef struct WordList
{
	char		words[64][32];
	int			n;
} WordList;

static bool
collect_word(const char *word, size_t len, void *arg)
{
	WordList   *wl = arg;

	if (wl->n < 64 && len < 32)
	{
		memcpy(wl->words[wl->n], word, len);
		wl->words[wl->n][len] = '\0';
		wl->n++;
	}
	return true;
}

static void
test_pretokenize(void)
{
	const char *text = "Hello,\tWORLD!  Caf\xc3\xa9 na\xc3\xafve \xe4\xb8\xad\xe6\x96\x87x don't\x01 "
		"\xc2\xa0" "a\xe2\x80\x94" "b";
	const char *want[] = {"hello", ",", "world", "!", "cafe", "naive", "\xe4\xb8\xad",
	"\xe6\x96\x87", "x", "don", "'", "t", "a", "\xe2\x80\x94", "b"};
	int			nwant = sizeof(want) / sizeof(want[0]);
	WordList	wl;
	bool		same;

	wl.n = 0;
	embed_wpl_pretokenize(text, strlen(text), true, collect_word, &wl);
	same = wl.n == nwant;
	for (int i = 0; same && i < nwant; i++)
		same = strcmp(wl.words[i], want[i]) == 0;
	ok(same, "pre-tokenisation: lower-case, accents, punctuation, CJK, controls, spaces");
	if (!same)
		for (int i = 0; i < wl.n; i++)
			diag("word %d: \"%s\"", i, wl.words[i]);

	wl.n = 0;
	embed_wpl_pretokenize("Caf\xc3\xa9 ABC", 9, false, collect_word, &wl);
	ok(wl.n == 2 && strcmp(wl.words[0], "Caf\xc3\xa9") == 0 && strcmp(wl.words[1], "ABC") == 0,
	   "pre-tokenisation: cased mode keeps case and accents");
}

/* A pseudo-random corpus of words over a small alphabet, with Zipf-like repeats. */
static char *
make_corpus(uint32_t seed, int nwords, bool reversed)
{
	static const char *const syll[] = {"ka", "to", "ri", "sen", "ba", "lo", "mi", "que",
	"tra", "on", "el", "us", "ing", "er", "st", "pa"};
	char	  **words = malloc(nwords * sizeof(char *));
	size_t		total = 0;
	char	   *out;
	size_t		used = 0;
	uint32_t	x = seed;

	for (int i = 0; i < nwords; i++)
	{
		char		w[64];
		int			len = 0;
		int			nsyl;

		x = x * 1664525u + 1013904223u;
		/* small ids are common: word i repeats word (x % (i+1)) / 4 */
		if (i > 10 && (x >> 28) < 10)
		{
			int			j = (x >> 8) % (i / 4 + 1);

			words[i] = strdup(words[j]);
			total += strlen(words[i]) + 1;
			continue;
		}
		nsyl = 1 + (x >> 24) % 4;
		for (int s = 0; s < nsyl; s++)
		{
			x = x * 1664525u + 1013904223u;
			len += snprintf(w + len, sizeof(w) - len, "%s", syll[(x >> 20) % 16]);
		}
		words[i] = strdup(w);
		total += len + 1;
	}
	out = malloc(total + 1);
	for (int k = 0; k < nwords; k++)
	{
		int			i = reversed ? nwords - 1 - k : k;
		size_t		l = strlen(words[i]);

		memcpy(out + used, words[i], l);
		used += l;
		out[used++] = (k % 13 == 12) ? '\n' : ' ';
		free(words[i]);
	}
	out[used] = '\0';
	free(words);
	return out;
}

static bool
same_vocab(const EmbedWplLearner *a, const EmbedWplLearner *b)
{
	if (embed_wpl_vocab_size(a) != embed_wpl_vocab_size(b))
		return false;
	for (size_t i = 0; i < embed_wpl_vocab_size(a); i++)
		if (strcmp(embed_wpl_vocab_token(a, i), embed_wpl_vocab_token(b, i)) != 0)
			return false;
	return true;
}

typedef struct CoverageArgs
{
	const EmbedWplVocab *vocab;
	int64_t		words;
	int64_t		unk;
	int64_t		pieces;
} CoverageArgs;

static bool
coverage_word(const char *word, size_t len, void *arg)
{
	CoverageArgs *ca = arg;
	int32_t		ids[128];
	size_t		n = embed_wpl_tokenize_word(ca->vocab, word, len, ids, 128);

	ca->words++;
	ca->pieces += n;
	if (n == 1 && ids[0] == 1)
		ca->unk++;
	return true;
}

static void
test_determinism_and_coverage(void)
{
	char	   *fwd = make_corpus(12345, 20000, false);
	char	   *rev = make_corpus(12345, 20000, true);

	for (int s = 0; s < 2; s++)
	{
		EmbedWplScore score = s ? EMBED_WPL_SCORE_LIKELIHOOD : EMBED_WPL_SCORE_FREQUENCY;
		const char *name = s ? "likelihood" : "frequency";
		EmbedWplLearner *a = learn_text(fwd, 300, score);
		EmbedWplLearner *b = learn_text(rev, 300, score);
		EmbedWplLearner *c = learn_text(fwd, 300, score);
		EmbedWplVocab *v;
		CoverageArgs ca;

		if (!ok(a && b && c, "%s: learns the random corpus", name))
			continue;
		ok(embed_wpl_vocab_size(a) == 300, "%s: reaches the target size (%zu)", name,
		   embed_wpl_vocab_size(a));
		ok(same_vocab(a, c), "%s: same input, same vocabulary", name);
		ok(same_vocab(a, b), "%s: reversed word order, same vocabulary", name);

		v = embed_wpl_vocab_from_learner(a);
		memset(&ca, 0, sizeof(ca));
		ca.vocab = v;
		embed_wpl_pretokenize(fwd, strlen(fwd), true, coverage_word, &ca);
		ok(ca.words == 20000 && ca.unk == 0,
		   "%s: every corpus word tokenises without [UNK] (%lld words, %.3f pieces/word)",
		   name, (long long) ca.words, (double) ca.pieces / (ca.words ? ca.words : 1));

		/* unseen words over the same alphabet, and a character outside it */
		memset(&ca, 0, sizeof(ca));
		ca.vocab = v;
		embed_wpl_pretokenize("ueqrtsinab zzzz", 15, true, coverage_word, &ca);
		ok(ca.words == 2 && ca.unk == 1, "%s: unseen word over the alphabet is covered, "
		   "a foreign character is [UNK]", name);
		embed_wpl_vocab_free(v);
		embed_wpl_free(a);
		embed_wpl_free(b);
		embed_wpl_free(c);
	}
	free(fwd);
	free(rev);
}

static void
test_rare_characters(void)
{
	EmbedWplOptions opts;
	EmbedWplLearner *lr;
	EmbedWplStats st;
	char		err[256];
	const char *text = "aaa ab ab ab abq";

	embed_wpl_default_options(&opts);
	opts.vocab_size = 100;
	opts.min_char_count = 2;
	lr = embed_wpl_create(&opts);
	embed_wpl_add_text(lr, text, strlen(text));
	ok(embed_wpl_learn(lr, err, sizeof(err)), "rare characters: learns");
	embed_wpl_stats(lr, &st);
	ok(st.alphabet_size == 2 && st.words_skipped == 1,
	   "rare characters: q (seen once) is left out with its word");
	embed_wpl_free(lr);

	opts.vocab_size = 6;
	lr = embed_wpl_create(&opts);
	embed_wpl_add_text(lr, text, strlen(text));
	ok(!embed_wpl_learn(lr, err, sizeof(err)), "an alphabet larger than the target size is an error");
	diag("%s", err);
	embed_wpl_free(lr);
}

/* Write vocab.txt + tokenizer_config.json into a fresh folder. */
static bool
write_model_dir(const EmbedWplLearner *lr, char *dir, size_t dirlen)
{
	char		path[512];
	char		err[256];
	FILE	   *f;

	snprintf(dir, dirlen, "/tmp/test_wpl_XXXXXX");
	if (mkdtemp(dir) == NULL)
		return false;
	snprintf(path, sizeof(path), "%s/vocab.txt", dir);
	if (!embed_wpl_write_vocab(lr, path, err, sizeof(err)))
		return false;
	snprintf(path, sizeof(path), "%s/tokenizer_config.json", dir);
	f = fopen(path, "w");
	if (f == NULL)
		return false;
	fputs("{\"do_lower_case\": true, \"tokenizer_class\": \"BertTokenizer\", "
		  "\"unk_token\": \"[UNK]\", \"pad_token\": \"[PAD]\", \"cls_token\": \"[CLS]\", "
		  "\"sep_token\": \"[SEP]\", \"mask_token\": \"[MASK]\"}\n", f);
	return fclose(f) == 0;
}

typedef struct IdList
{
	const EmbedWplVocab *vocab;
	int32_t		ids[512];
	int			n;
} IdList;

static bool
collect_ids(const char *word, size_t len, void *arg)
{
	IdList	   *il = arg;
	int32_t		ids[128];
	size_t		n = embed_wpl_tokenize_word(il->vocab, word, len, ids, 128);

	for (size_t i = 0; i < n && il->n < 512; i++)
		il->ids[il->n++] = ids[i];
	return true;
}

static void
test_engine_agreement(void)
{
	static const char *const texts[] = {
		"The widest newest lower lows, LOWEST!",
		"Caf\xc3\xa9 \"newer\" (wider) low-er; st\xc3\xb6r x\xe4\xb8\xad" "y",
		"kato risen baloque traonel usingerst",
		"  \t tab\tseparated\nlines  "
	};
	char	   *corpus = make_corpus(777, 5000, false);
	EmbedWplLearner *lr;
	EmbedWplVocab *v;
	EmbedTokenizer *tok;
	char		dir[64];
	char		err[256];
	char		path[600];
	size_t		clen = strlen(corpus);

	/* make sure the test texts' characters are in the alphabet */
	corpus = realloc(corpus, clen + 200);
	strcpy(corpus + clen, " the widest newest lower lows lowest caf\xc3\xa9 newer wider "
		   "st\xc3\xb6r x\xe4\xb8\xad y tab separated lines ( ) \" ; ! , - ");
	lr = learn_text(corpus, 400, EMBED_WPL_SCORE_FREQUENCY);
	free(corpus);
	if (!ok(lr && write_model_dir(lr, dir, sizeof(dir)), "engine: vocabulary folder written"))
		return;
	tok = embed_tokenizer_load(dir, err, sizeof(err));
	if (!ok(tok != NULL, "engine: tokenizer loads the learned vocab.txt"))
		diag("%s", err);
	v = embed_wpl_vocab_from_learner(lr);
	for (size_t t = 0; tok && t < sizeof(texts) / sizeof(texts[0]); t++)
	{
		int32_t		ids[512];
		IdList		il;
		int			n;
		bool		same;

		n = embed_tokenizer_encode_ex(tok, texts[t], strlen(texts[t]), false, ids, NULL, 512,
									  NULL, err, sizeof(err));
		il.vocab = v;
		il.n = 0;
		embed_wpl_pretokenize(texts[t], strlen(texts[t]), true, collect_ids, &il);
		same = n == il.n;
		for (int i = 0; same && i < n; i++)
			same = ids[i] == il.ids[i];
		ok(same, "engine: same ids as the learner's tokenisation for text %zu", t);
		if (!same)
		{
			diag("engine %d ids, learner %d ids", n, il.n);
			for (int i = 0; i < n || i < il.n; i++)
				diag("  %d: %s | %s", i,
					 i < n ? embed_tokenizer_id_to_token(tok, ids[i]) : "-",
					 i < il.n ? embed_wpl_vocab_token(lr, il.ids[i]) : "-");
		}
	}
	embed_tokenizer_free(tok);
	embed_wpl_vocab_free(v);
	embed_wpl_free(lr);
	snprintf(path, sizeof(path), "%s/vocab.txt", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/tokenizer_config.json", dir);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	test_frequency_merges();
	test_likelihood_merges();
	test_pretokenize();
	test_determinism_and_coverage();
	test_rare_characters();
	test_engine_agreement();
	return tap_done();
}
