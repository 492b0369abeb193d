/*
 * embed-vocab: learn a WordPiece vocabulary (vocab.txt) from text files,
 * and measure how well a vocabulary covers a text.
 *
 *   embed-vocab -o vocab.txt [-n 30522] [options] corpus.txt...
 *   embed-vocab --vocab vocab.txt --eval heldout.txt
 *   embed-vocab --model-dir DIR --eval heldout.txt
 *
 * The last form tokenises with the engine's tokenizer (a model folder with
 * vocab.txt and tokenizer_config.json, as --config writes), so it checks
 * that the learner and the runtime agree.
 * Input files are UTF-8 text ("-" reads standard input), processed line by
 * line with BERT's uncased normalisation and pre-tokenisation.  See
 * wordpiece_learn.h for the vocabulary layout and the scoring rules.
 */
#include "tokenizer.h"
#include "wordpiece_learn.h"

#include <errno.h>
#include <libgen.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct EvalCounts
{
	const EmbedWplVocab *vocab;
	int32_t		unk_id;
	bool		lowercase;
	int64_t		words;
	int64_t		pieces;
	int64_t		unk_words;
	int64_t		single_piece_words;
} EvalCounts;

static void
usage(FILE *f)
{
	fprintf(f,
			"usage: embed-vocab -o VOCAB.txt [options] FILE...\n"
			"       embed-vocab --vocab VOCAB.txt --eval FILE\n"
			"Learn a WordPiece vocabulary from UTF-8 text (\"-\" = standard input).\n"
			"  -o, --output FILE        write the vocabulary here (one token a line)\n"
			"  -n, --vocab-size N       target size, special tokens included (30522)\n"
			"  -c, --min-char-count N   keep characters seen at least N times (2)\n"
			"  -p, --min-pair-count N   stop merging below N occurrences (2)\n"
			"  -s, --score KIND         frequency (Hugging Face trainer, default)\n"
			"                           or likelihood (count(ab)/(count(a)count(b)))\n"
			"      --cased              keep case and accents\n"
			"      --config             also write tokenizer_config.json beside the vocabulary\n"
			"  -m, --merges FILE        also write the merges, one \"left right\" a line\n"
			"  -e, --eval FILE          report [UNK] rate and pieces per word on FILE\n"
			"      --vocab FILE         evaluate this vocabulary instead of learning one\n"
			"      --model-dir DIR      evaluate with the engine's tokenizer on this folder\n"
			"  -v, --verbose            progress on standard error\n");
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Read FILE line by line and pass each line to fn. */
static bool
for_each_line(const char *path, bool (*fn) (const char *, size_t, void *), void *arg,
			  int64_t *bytes)
{
	FILE	   *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		n;
	bool		ok = true;

	if (f == NULL)
	{
		fprintf(stderr, "embed-vocab: could not open \"%s\": %s\n", path, strerror(errno));
		return false;
	}
	while (ok && (n = getline(&line, &cap, f)) >= 0)
	{
		*bytes += n;
		ok = fn(line, (size_t) n, arg);
	}
	if (ferror(f))
	{
		fprintf(stderr, "embed-vocab: error reading \"%s\"\n", path);
		ok = false;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return ok;
}

/* Line callback for learning. */
static bool
learn_line(const char *line, size_t len, void *arg)
{
	if (!embed_wpl_add_text((EmbedWplLearner *) arg, line, len))
	{
		fprintf(stderr, "embed-vocab: out of memory counting words\n");
		return false;
	}
	return true;
}

/* Word callback for evaluation. */
static bool
eval_word(const char *word, size_t len, void *arg)
{
	EvalCounts *ec = arg;
	int32_t		ids[128];
	size_t		n = embed_wpl_tokenize_word(ec->vocab, word, len, ids, 128);

	ec->words++;
	ec->pieces += n;
	if (n == 1 && ids[0] == ec->unk_id)
		ec->unk_words++;
	else if (n == 1)
		ec->single_piece_words++;
	return true;
}

/* Line callback for evaluation. */
static bool
eval_line(const char *line, size_t len, void *arg)
{
	return embed_wpl_pretokenize(line, len, ((EvalCounts *) arg)->lowercase, eval_word, arg);
}

/* Print coverage of vocab on the text in path. */
static bool
evaluate(const EmbedWplVocab *vocab, const char *path, bool lowercase)
{
	EvalCounts	ec;
	int64_t		bytes = 0;

	memset(&ec, 0, sizeof(ec));
	ec.vocab = vocab;
	ec.lowercase = lowercase;
	ec.unk_id = embed_wpl_vocab_lookup(vocab, "[UNK]", 5);
	if (!for_each_line(path, eval_line, &ec, &bytes))
		return false;
	printf("eval %s: %lld words, %lld pieces, %.4f pieces/word, "
		   "%.2f%% whole words, [UNK] %lld words (%.4f%%)\n",
		   path, (long long) ec.words, (long long) ec.pieces,
		   ec.words ? (double) ec.pieces / ec.words : 0.0,
		   ec.words ? 100.0 * ec.single_piece_words / ec.words : 0.0,
		   (long long) ec.unk_words,
		   ec.words ? 100.0 * ec.unk_words / ec.words : 0.0);
	return true;
}

typedef struct EngineEval
{
	const EmbedTokenizer *tok;
	int32_t		unk_id;
	int32_t    *ids;
	int			max_ids;
	int64_t		words;
	int64_t		pieces;
	int64_t		unk;
	int64_t		truncated_lines;
	bool		lowercase;
} EngineEval;

/* Word callback: count words the way the learner splits them. */
static bool
count_word(const char *word, size_t len, void *arg)
{
	((EngineEval *) arg)->words++;
	return true;
}

/* Line callback: tokenise with the engine and count pieces and [UNK]s. */
static bool
engine_line(const char *line, size_t len, void *arg)
{
	EngineEval *ee = arg;
	char		err[256];
	bool		truncated = false;
	int			n;

	n = embed_tokenizer_encode_ex(ee->tok, line, len, false, ee->ids, NULL, ee->max_ids,
								  &truncated, err, sizeof(err));
	if (n < 0)
	{
		fprintf(stderr, "embed-vocab: %s\n", err);
		return false;
	}
	if (truncated)
		ee->truncated_lines++;
	ee->pieces += n;
	for (int i = 0; i < n; i++)
		if (ee->ids[i] == ee->unk_id)
			ee->unk++;
	return embed_wpl_pretokenize(line, len, ee->lowercase, count_word, ee);
}

/* Print coverage of the engine's tokenizer for model_dir on path. */
static bool
evaluate_engine(const char *model_dir, const char *path, bool lowercase)
{
	EngineEval	ee;
	char		err[512];
	int64_t		bytes = 0;
	bool		ok;

	memset(&ee, 0, sizeof(ee));
	ee.tok = embed_tokenizer_load(model_dir, err, sizeof(err));
	if (ee.tok == NULL)
	{
		fprintf(stderr, "embed-vocab: %s\n", err);
		return false;
	}
	ee.unk_id = embed_tokenizer_unk_id(ee.tok);
	ee.max_ids = 1 << 20;
	ee.ids = malloc(ee.max_ids * sizeof(int32_t));
	ee.lowercase = lowercase;
	ok = ee.ids != NULL && for_each_line(path, engine_line, &ee, &bytes);
	if (ok)
		printf("engine eval %s: %lld words, %lld pieces, %.4f pieces/word, [UNK] %lld pieces "
			   "(%.4f%% of words)%s\n",
			   path, (long long) ee.words, (long long) ee.pieces,
			   ee.words ? (double) ee.pieces / ee.words : 0.0, (long long) ee.unk,
			   ee.words ? 100.0 * ee.unk / ee.words : 0.0,
			   ee.truncated_lines ? " (some lines truncated)" : "");
	free(ee.ids);
	embed_tokenizer_free((EmbedTokenizer *) ee.tok);
	return ok;
}

/* Write tokenizer_config.json (BERT uncased or cased) beside the vocabulary. */
static bool
write_config(const char *vocab_path, bool lowercase)
{
	char	   *copy = strdup(vocab_path);
	char		path[4096];
	FILE	   *f;
	bool		ok;

	if (copy == NULL)
		return false;
	snprintf(path, sizeof(path), "%s/tokenizer_config.json", dirname(copy));
	free(copy);
	f = fopen(path, "w");
	if (f == NULL)
	{
		fprintf(stderr, "embed-vocab: could not open \"%s\": %s\n", path, strerror(errno));
		return false;
	}
	ok = fprintf(f,
				 "{\n"
				 "  \"tokenizer_class\": \"BertTokenizer\",\n"
				 "  \"do_lower_case\": %s,\n"
				 "  \"strip_accents\": null,\n"
				 "  \"tokenize_chinese_chars\": true,\n"
				 "  \"unk_token\": \"[UNK]\",\n"
				 "  \"sep_token\": \"[SEP]\",\n"
				 "  \"pad_token\": \"[PAD]\",\n"
				 "  \"cls_token\": \"[CLS]\",\n"
				 "  \"mask_token\": \"[MASK]\",\n"
				 "  \"model_max_length\": 512\n"
				 "}\n", lowercase ? "true" : "false") > 0;
	if (fclose(f) != 0 || !ok)
	{
		fprintf(stderr, "embed-vocab: could not write \"%s\"\n", path);
		return false;
	}
	return true;
}

/* Parse a positive integer option. */
static bool
parse_count(const char *s, const char *what, int64_t *out)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1)
	{
		fprintf(stderr, "embed-vocab: invalid %s \"%s\"\n", what, s);
		return false;
	}
	*out = v;
	return true;
}

/* Write the merges file. */
static bool
write_merges(const EmbedWplLearner *lr, const char *path)
{
	FILE	   *f = fopen(path, "w");
	bool		ok = true;

	if (f == NULL)
	{
		fprintf(stderr, "embed-vocab: could not open \"%s\": %s\n", path, strerror(errno));
		return false;
	}
	for (size_t i = 0; i < embed_wpl_merge_count(lr) && ok; i++)
	{
		const char *l,
				   *r;

		embed_wpl_merge_pair(lr, i, &l, &r);
		ok = fprintf(f, "%s %s\n", l, r) > 0;
	}
	if (fclose(f) != 0 || !ok)
	{
		fprintf(stderr, "embed-vocab: could not write \"%s\"\n", path);
		return false;
	}
	return true;
}

/* Learn, write and optionally evaluate a vocabulary. */
static int
learn(const EmbedWplOptions *opts, char **files, int nfiles, const char *output,
	  const char *merges_path, const char *eval_path, bool config)
{
	EmbedWplLearner *lr = embed_wpl_create(opts);
	EmbedWplStats st;
	char		err[512];
	int64_t		bytes = 0;
	double		t0 = now_seconds(),
				t1,
				t2;
	int			rc = 1;

	if (lr == NULL)
	{
		fprintf(stderr, "embed-vocab: out of memory\n");
		return 1;
	}
	for (int i = 0; i < nfiles; i++)
		if (!for_each_line(files[i], learn_line, lr, &bytes))
			goto done;
	t1 = now_seconds();
	if (!embed_wpl_learn(lr, err, sizeof(err)))
	{
		fprintf(stderr, "embed-vocab: %s\n", err);
		goto done;
	}
	t2 = now_seconds();
	if (!embed_wpl_write_vocab(lr, output, err, sizeof(err)))
	{
		fprintf(stderr, "embed-vocab: %s\n", err);
		goto done;
	}
	if (merges_path && !write_merges(lr, merges_path))
		goto done;
	if (config && !write_config(output, opts->lowercase))
		goto done;
	embed_wpl_stats(lr, &st);
	printf("read %lld bytes: %lld words, %zu distinct, %lld skipped (rare character or "
		   "over 100 characters)\n",
		   (long long) bytes, (long long) st.words_total, st.words_unique,
		   (long long) st.words_skipped);
	printf("vocabulary %s: %zu tokens (%d special, %zu characters x2, %zu merges), "
		   "score %s; counting %.1f s, learning %.1f s\n",
		   output, embed_wpl_vocab_size(lr), EMBED_WPL_N_SPECIAL, st.alphabet_size, st.merges,
		   opts->score == EMBED_WPL_SCORE_LIKELIHOOD ? "likelihood" : "frequency",
		   t1 - t0, t2 - t1);
	if (embed_wpl_vocab_size(lr) < opts->vocab_size)
		printf("note: no pair occurs %lld times any more; the vocabulary is smaller than %zu\n",
			   (long long) opts->min_pair_count, opts->vocab_size);
	if (eval_path)
	{
		EmbedWplVocab *v = embed_wpl_vocab_from_learner(lr);

		if (v == NULL || !evaluate(v, eval_path, opts->lowercase))
		{
			embed_wpl_vocab_free(v);
			goto done;
		}
		embed_wpl_vocab_free(v);
	}
	rc = 0;
done:
	embed_wpl_free(lr);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"vocab-size", required_argument, NULL, 'n'},
		{"min-char-count", required_argument, NULL, 'c'},
		{"min-pair-count", required_argument, NULL, 'p'},
		{"score", required_argument, NULL, 's'},
		{"cased", no_argument, NULL, 'C'},
		{"merges", required_argument, NULL, 'm'},
		{"eval", required_argument, NULL, 'e'},
		{"vocab", required_argument, NULL, 'V'},
		{"model-dir", required_argument, NULL, 'D'},
		{"config", no_argument, NULL, 'K'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	EmbedWplOptions opts;
	const char *output = NULL,
			   *merges_path = NULL,
			   *eval_path = NULL,
			   *vocab_path = NULL,
			   *model_dir = NULL;
	bool		config = false;
	int64_t		v;
	int			c;

	embed_wpl_default_options(&opts);
	while ((c = getopt_long(argc, argv, "o:n:c:p:s:m:e:vh", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'o':
				output = optarg;
				break;
			case 'n':
				if (!parse_count(optarg, "vocabulary size", &v))
					return 2;
				opts.vocab_size = (size_t) v;
				break;
			case 'c':
				if (!parse_count(optarg, "minimum character count", &opts.min_char_count))
					return 2;
				break;
			case 'p':
				if (!parse_count(optarg, "minimum pair count", &opts.min_pair_count))
					return 2;
				break;
			case 's':
				if (strcmp(optarg, "frequency") == 0)
					opts.score = EMBED_WPL_SCORE_FREQUENCY;
				else if (strcmp(optarg, "likelihood") == 0)
					opts.score = EMBED_WPL_SCORE_LIKELIHOOD;
				else
				{
					fprintf(stderr, "embed-vocab: unknown score \"%s\"\n", optarg);
					return 2;
				}
				break;
			case 'C':
				opts.lowercase = false;
				break;
			case 'm':
				merges_path = optarg;
				break;
			case 'e':
				eval_path = optarg;
				break;
			case 'V':
				vocab_path = optarg;
				break;
			case 'D':
				model_dir = optarg;
				break;
			case 'K':
				config = true;
				break;
			case 'v':
				opts.verbose = true;
				break;
			case 'h':
				usage(stdout);
				return 0;
			default:
				usage(stderr);
				return 2;
		}
	}
	if (model_dir)
	{
		if (eval_path == NULL || output != NULL || vocab_path != NULL || optind != argc)
		{
			usage(stderr);
			return 2;
		}
		return evaluate_engine(model_dir, eval_path, opts.lowercase) ? 0 : 1;
	}
	if (vocab_path)
	{
		char		err[512];
		EmbedWplVocab *vocab;
		bool		ok;

		if (eval_path == NULL || output != NULL || optind != argc)
		{
			usage(stderr);
			return 2;
		}
		vocab = embed_wpl_vocab_load(vocab_path, err, sizeof(err));
		if (vocab == NULL)
		{
			fprintf(stderr, "embed-vocab: %s\n", err);
			return 1;
		}
		ok = evaluate(vocab, eval_path, opts.lowercase);
		embed_wpl_vocab_free(vocab);
		return ok ? 0 : 1;
	}
	if (output == NULL || optind >= argc)
	{
		usage(stderr);
		return 2;
	}
	return learn(&opts, argv + optind, argc - optind, output, merges_path, eval_path, config);
}
