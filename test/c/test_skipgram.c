/*
 * test_skipgram.c: skip-gram vectors on a synthetic corpus where tokens
 * come in two groups that never share a line: tokens of the same group end
 * up closer than tokens of different groups; the same seed gives the same
 * vectors; the output is centred and of unit RMS; files round-trip.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "skipgram.h"
#include "tap.h"
#include "train_rng.h"

#define VOCAB 12
#define DIM 16

static double
cosine(const float *a, const float *b)
{
	double		ab = 0,
				aa = 0,
				bb = 0;

	for (int i = 0; i < DIM; i++)
	{
		ab += (double) a[i] * b[i];
		aa += (double) a[i] * a[i];
		bb += (double) b[i] * b[i];
	}
	return ab / sqrt(aa * bb);
}

int
main(void)
{
	size_t		n = 0;
	int32_t    *ids = malloc(sizeof(int32_t) * 200000);
	float	   *v1 = malloc(sizeof(float) * VOCAB * DIM),
			   *v2 = malloc(sizeof(float) * VOCAB * DIM),
			   *back;
	uint64_t	rng = 1;
	EmbedSkipgramOptions o;
	double		same = 0,
				diff = 0,
				rms = 0,
				mean0 = 0;
	int			ns = 0,
				nd = 0,
				vocab,
				dim;
	char		path[] = "/tmp/embed-skipgram-test-XXXXXX",
				err[256];
	int			fd;

	/* ids 0..5 form group A, 6..11 group B; each line draws 8 tokens from one group */
	for (int line = 0; line < 10000; line++)
	{
		int			base = (line % 2) ? 6 : 0;

		for (int k = 0; k < 8; k++)
			ids[n++] = base + (int32_t) embed_rng_below(&rng, 6);
		ids[n++] = -1;
	}
	embed_skipgram_default_options(&o);
	o.dim = DIM;
	o.window = 3;
	o.subsample = 1;			/* tiny vocabulary: keep every token */
	o.epochs = 2;
	ok(embed_skipgram_train(ids, n, VOCAB, &o, v1), "training runs");
	ok(embed_skipgram_train(ids, n, VOCAB, &o, v2) &&
	   memcmp(v1, v2, sizeof(float) * VOCAB * DIM) == 0, "the same seed gives identical vectors");
	for (int a = 0; a < VOCAB; a++)
		for (int b = a + 1; b < VOCAB; b++)
		{
			if ((a < 6) == (b < 6))
				same += cosine(v1 + a * DIM, v1 + b * DIM), ns++;
			else
				diff += cosine(v1 + a * DIM, v1 + b * DIM), nd++;
		}
	same /= ns;
	diff /= nd;
	ok(same > diff + 0.5, "same-group cosine %.3f is well above cross-group cosine %.3f", same, diff);
	for (int i = 0; i < VOCAB * DIM; i++)
		rms += (double) v1[i] * v1[i];
	for (int v = 0; v < VOCAB; v++)
		mean0 += v1[v * DIM] / VOCAB;
	is_close(sqrt(rms / (VOCAB * DIM)), 1.0, 1e-3, "unit RMS per component");
	is_close(mean0, 0.0, 1e-3, "centred (equal token frequencies: plain mean 0)");

	fd = mkstemp(path);
	close(fd);
	ok(embed_skipgram_write(path, v1, VOCAB, DIM), "vectors written");
	back = embed_skipgram_read(path, &vocab, &dim, err, sizeof(err));
	ok(back != NULL && vocab == VOCAB && dim == DIM &&
	   memcmp(back, v1, sizeof(float) * VOCAB * DIM) == 0, "and read back identical");
	unlink(path);
	free(back);
	free(ids);
	free(v1);
	free(v2);
	return tap_done();
}
