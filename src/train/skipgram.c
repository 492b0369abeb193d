/*
 * skipgram.c: word2vec skip-gram with negative sampling, as in Mikolov et
 * al. (2013): frequent tokens are subsampled, each kept token predicts the
 * tokens within a random window of it, and each (token, context) pair is
 * one logistic step against `negatives` tokens drawn from the unigram
 * distribution raised to 3/4.
 */
#include "skipgram.h"
#include "train_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEG_TABLE_SIZE 10000000

void
embed_skipgram_default_options(EmbedSkipgramOptions *o)
{
	o->dim = 256;
	o->window = 5;
	o->negatives = 5;
	o->epochs = 1;
	o->lr = 0.025;
	o->subsample = 1e-4;
	o->seed = 42;
	o->verbose = false;
}

/* Fill table[NEG_TABLE_SIZE] with ids in proportion to count^0.75. */
static void
build_negative_table(const int64_t *counts, int vocab, int32_t *table)
{
	double		total = 0,
				cum;
	int			id = 0;

	for (int i = 0; i < vocab; i++)
		total += pow((double) counts[i], 0.75);
	while (id < vocab - 1 && counts[id] == 0)
		id++;
	cum = pow((double) counts[id], 0.75) / total;
	for (int64_t t = 0; t < NEG_TABLE_SIZE; t++)
	{
		table[t] = id;
		while ((double) (t + 1) / NEG_TABLE_SIZE > cum && id < vocab - 1)
		{
			id++;
			cum += pow((double) counts[id], 0.75) / total;
		}
	}
}

/* One logistic step of input vector `in` against output vector of `target`. */
static inline void
sgns_step(float *in, float *out, float label, float lr, float *grad_in, int dim)
{
	float		dot = 0,
				g;

	for (int d = 0; d < dim; d++)
		dot += in[d] * out[d];
	if (dot > 8)
		g = (label - 1) * lr;
	else if (dot < -8)
		g = label * lr;
	else
		g = (label - 1.0f / (1.0f + expf(-dot))) * lr;
	for (int d = 0; d < dim; d++)
	{
		grad_in[d] += g * out[d];
		out[d] += g * in[d];
	}
}

bool
embed_skipgram_train(const int32_t *ids, size_t n_ids, int vocab,
					 const EmbedSkipgramOptions *o, float *out)
{
	int			dim = o->dim;
	int64_t    *counts = calloc(vocab, sizeof(int64_t));
	int32_t    *table = malloc(sizeof(int32_t) * NEG_TABLE_SIZE);
	float	   *syn1 = calloc((size_t) vocab * dim, sizeof(float));
	float	   *grad = malloc(sizeof(float) * dim);
	double	   *keep = malloc(sizeof(double) * vocab);
	uint64_t	rng = o->seed;
	int64_t		total = 0,
				done = 0,
				lines = 0,
				planned;
	double		mean_norm = 0;
	double	   *mean = calloc(dim, sizeof(double));

	if (!counts || !table || !syn1 || !grad || !keep || !mean)
	{
		free(counts), free(table), free(syn1), free(grad), free(keep), free(mean);
		return false;
	}
	for (size_t i = 0; i < n_ids; i++)
		if (ids[i] >= 0)
			counts[ids[i]]++, total++;
	for (int v = 0; v < vocab; v++)
	{
		double		f = (double) counts[v] / (double) (total > 0 ? total : 1);

		keep[v] = f > 0 ? (sqrt(f / o->subsample) + 1) * o->subsample / f : 1;
	}
	build_negative_table(counts, vocab, table);
	for (size_t i = 0; i < (size_t) vocab * dim; i++)
		out[i] = (float) ((embed_rng_uniform(&rng) - 0.5) / dim);

	planned = total * o->epochs;
	for (int epoch = 0; epoch < o->epochs; epoch++)
	{
		size_t		line_start = 0;

		while (line_start < n_ids)
		{
			size_t		line_end = line_start;
			int32_t		kept[1024];
			int			n = 0;

			while (line_end < n_ids && ids[line_end] >= 0)
				line_end++;
			for (size_t i = line_start; i < line_end && n < 1024; i++)
			{
				done++;
				if (keep[ids[i]] >= 1 || embed_rng_uniform(&rng) < keep[ids[i]])
					kept[n++] = ids[i];
			}
			line_start = line_end + 1;
			if (n < 2)
				continue;
			{
				float		lr = (float) (o->lr * fmax(1e-4, 1.0 - (double) done / (double) (planned + 1)));

				for (int c = 0; c < n; c++)
				{
					int			b = 1 + (int) embed_rng_below(&rng, o->window);

					for (int j = c - b; j <= c + b; j++)
					{
						float	   *in;

						if (j < 0 || j >= n || j == c)
							continue;
						/* word2vec's form: the context's input vector predicts the centre */
						in = out + (size_t) kept[j] * dim;
						memset(grad, 0, sizeof(float) * dim);
						sgns_step(in, syn1 + (size_t) kept[c] * dim, 1, lr, grad, dim);
						for (int k = 0; k < o->negatives; k++)
						{
							int32_t		neg = table[embed_rng_below(&rng, NEG_TABLE_SIZE)];

							if (neg == kept[c])
								continue;
							sgns_step(in, syn1 + (size_t) neg * dim, 0, lr, grad, dim);
						}
						for (int d = 0; d < dim; d++)
							in[d] += grad[d];
					}
				}
			}
			if (o->verbose && ++lines % 100000 == 0)
				fprintf(stderr, "\rskipgram: epoch %d, %.1f%%", epoch + 1, 100.0 * done / (double) planned);
		}
	}
	if (o->verbose)
		fprintf(stderr, "\n");

	/* centre on the frequency-weighted mean, then unit RMS per component */
	for (int v = 0; v < vocab; v++)
		for (int d = 0; d < dim; d++)
			mean[d] += (double) counts[v] / (double) (total > 0 ? total : 1) * out[(size_t) v * dim + d];
	for (int v = 0; v < vocab; v++)
		for (int d = 0; d < dim; d++)
		{
			float	   *x = &out[(size_t) v * dim + d];

			*x -= (float) mean[d];
			mean_norm += (double) *x * *x;
		}
	mean_norm = sqrt(mean_norm / ((double) vocab * dim));
	for (size_t i = 0; i < (size_t) vocab * dim; i++)
		out[i] = (float) (out[i] / (mean_norm > 0 ? mean_norm : 1));

	free(counts), free(table), free(syn1), free(grad), free(keep), free(mean);
	return true;
}

bool
embed_skipgram_write(const char *path, const float *vectors, int vocab, int dim)
{
	char		tmp[4096];
	FILE	   *f;
	int32_t		hdr[2] = {vocab, dim};
	bool		ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "wb")) == NULL)
		return false;
	ok = fwrite("EMBSG001", 1, 8, f) == 8 &&
		fwrite(hdr, sizeof(int32_t), 2, f) == 2 &&
		fwrite(vectors, sizeof(float), (size_t) vocab * dim, f) == (size_t) vocab * dim;
	ok = (fclose(f) == 0) && ok;
	return ok && rename(tmp, path) == 0;
}

float *
embed_skipgram_read(const char *path, int *vocab, int *dim, char *err, size_t errlen)
{
	FILE	   *f = fopen(path, "rb");
	char		magic[8];
	int32_t		hdr[2];
	float	   *v;

	if (f == NULL)
	{
		snprintf(err, errlen, "could not open \"%s\"", path);
		return NULL;
	}
	if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "EMBSG001", 8) != 0 ||
		fread(hdr, sizeof(int32_t), 2, f) != 2 || hdr[0] <= 0 || hdr[1] <= 0 ||
		hdr[0] > (1 << 22) || hdr[1] > 16000)
	{
		snprintf(err, errlen, "\"%s\" is not a skip-gram vector file", path);
		fclose(f);
		return NULL;
	}
	v = malloc(sizeof(float) * (size_t) hdr[0] * hdr[1]);
	if (v == NULL || fread(v, sizeof(float), (size_t) hdr[0] * hdr[1], f) != (size_t) hdr[0] * hdr[1])
	{
		snprintf(err, errlen, "\"%s\" is truncated", path);
		free(v);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*vocab = hdr[0];
	*dim = hdr[1];
	return v;
}
