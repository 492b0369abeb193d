/*
 * embed-skipgram: skip-gram (word2vec) vectors for every WordPiece id of a
 * tokenizer folder, trained on a text corpus; embed-train --init-embeddings
 * starts the encoder's word-embedding matrix from them.
 *
 *   embed-skipgram --vocab-dir DIR [--dim 256] [--epochs 1] [--seed 42] -o OUT.bin CORPUS.txt
 */
#include "skipgram.h"
#include "tokenizer.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
usage(FILE *f)
{
	fprintf(f,
			"usage: embed-skipgram --vocab-dir DIR -o OUT.bin [options] CORPUS.txt\n"
			"  --vocab-dir DIR   folder with vocab.txt and tokenizer_config.json\n"
			"  -o FILE           output vectors (EMBSG001 format)\n"
			"  --dim N           vector size (256)\n"
			"  --window N        context window (5)\n"
			"  --negatives N     negative samples (5)\n"
			"  --epochs N        passes over the corpus (1)\n"
			"  --seed N          random seed (42)\n"
			"  -v                progress on standard error\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"vocab-dir", required_argument, NULL, 'd'},
		{"dim", required_argument, NULL, 'D'},
		{"window", required_argument, NULL, 'w'},
		{"negatives", required_argument, NULL, 'n'},
		{"epochs", required_argument, NULL, 'e'},
		{"seed", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	EmbedSkipgramOptions opt;
	const char *vocab_dir = NULL,
			   *out_path = NULL;
	char		err[512];
	EmbedTokenizer *tok;
	FILE	   *f;
	char	   *line = NULL;
	size_t		cap = 0,
				n_ids = 0,
				ids_cap = 1 << 24;
	ssize_t		len;
	int32_t    *ids,
				buf[1024];
	float	   *vectors;
	int			c,
				vocab;
	time_t		t0 = time(NULL);

	embed_skipgram_default_options(&opt);
	while ((c = getopt_long(argc, argv, "o:vh", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'd': vocab_dir = optarg; break;
			case 'o': out_path = optarg; break;
			case 'D': opt.dim = atoi(optarg); break;
			case 'w': opt.window = atoi(optarg); break;
			case 'n': opt.negatives = atoi(optarg); break;
			case 'e': opt.epochs = atoi(optarg); break;
			case 's': opt.seed = strtoull(optarg, NULL, 10); break;
			case 'v': opt.verbose = true; break;
			case 'h': usage(stdout); return 0;
			default: usage(stderr); return 2;
		}
	}
	if (vocab_dir == NULL || out_path == NULL || optind != argc - 1 ||
		opt.dim <= 0 || opt.window <= 0 || opt.negatives < 0 || opt.epochs <= 0)
	{
		usage(stderr);
		return 2;
	}
	if ((tok = embed_tokenizer_load(vocab_dir, err, sizeof(err))) == NULL)
	{
		fprintf(stderr, "embed-skipgram: %s\n", err);
		return 1;
	}
	vocab = embed_tokenizer_vocab_size(tok);
	if ((f = fopen(argv[optind], "r")) == NULL)
	{
		perror(argv[optind]);
		return 1;
	}
	ids = malloc(sizeof(int32_t) * ids_cap);
	while (ids && (len = getline(&line, &cap, f)) >= 0)
	{
		int			n = embed_tokenizer_encode_ex(tok, line, (size_t) len, false, buf, NULL, 1024,
												  NULL, err, sizeof(err));

		if (n < 0)
			continue;
		if (n_ids + n + 1 > ids_cap)
		{
			ids_cap *= 2;
			ids = realloc(ids, sizeof(int32_t) * ids_cap);
			if (ids == NULL)
				break;
		}
		memcpy(ids + n_ids, buf, sizeof(int32_t) * n);
		n_ids += n;
		ids[n_ids++] = -1;
	}
	fclose(f);
	free(line);
	vectors = malloc(sizeof(float) * (size_t) vocab * opt.dim);
	if (ids == NULL || vectors == NULL)
	{
		fprintf(stderr, "embed-skipgram: out of memory\n");
		return 1;
	}
	if (opt.verbose)
		fprintf(stderr, "skipgram: %zu ids tokenised in %lds, vocabulary %d\n",
				n_ids, (long) (time(NULL) - t0), vocab);
	if (!embed_skipgram_train(ids, n_ids, vocab, &opt, vectors) ||
		!embed_skipgram_write(out_path, vectors, vocab, opt.dim))
	{
		fprintf(stderr, "embed-skipgram: training or writing \"%s\" failed\n", out_path);
		return 1;
	}
	if (opt.verbose)
		fprintf(stderr, "skipgram: wrote %s in %lds\n", out_path, (long) (time(NULL) - t0));
	embed_tokenizer_free(tok);
	free(ids);
	free(vectors);
	return 0;
}
