/*
 * embed-eval: evaluate a model folder exactly as the extension computes
 * embeddings (the engine's loader, tokenizer, forward pass and pooling).
 *
 *   embed-eval --model DIR [--heldout PAIRS.tsv --heldout-sources SOURCES.txt]
 *              [--similarity SCORED.tsv] [--triplet A B C] [--latency N] [--markdown]
 *
 * --heldout: retrieval over held-out pairs: each anchor is compared with
 *   every positive of the file (cosine); accuracy@1 and mean reciprocal
 *   rank, overall and per source (one source name a line, same order).
 * --similarity: "text TAB text TAB score" lines; Spearman correlation of
 *   the cosine similarities with the scores.
 * --triplet A B C: prints cos(A, B) and cos(A, C); exit status 0 only when
 *   B is closer to A than C is.
 * --latency N: median wall time of N single-sentence embeddings (batch 1,
 *   the calling thread only) of a short sentence.
 */
#include "forward.h"
#include "kernels.h"
#include "model.h"
#include "tokenizer.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVAL_BATCH 32

typedef struct Encoder
{
	EmbedModel *model;
	EmbedTokenizer *tok;
	const EmbedModelInfo *info;
	int			max_tokens;
	void	   *workspace;
	float	   *hidden;
	int32_t    *ids;
	int32_t    *lengths;
} Encoder;

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static bool
encoder_open(Encoder *e, const char *dir)
{
	char		err[1024];
	size_t		bytes;

	memset(e, 0, sizeof(*e));
	if (embed_model_load(dir, &e->model, err, sizeof(err)) != EMBED_OK ||
		(e->tok = embed_tokenizer_load(dir, err, sizeof(err))) == NULL)
	{
		fprintf(stderr, "embed-eval: %s\n", err);
		return false;
	}
	e->info = embed_model_info(e->model);
	e->max_tokens = e->info->max_tokens;
	if (!embed_forward_workspace_size(e->model, EVAL_BATCH, e->max_tokens, 1, &bytes))
		return false;
	e->workspace = aligned_alloc(64, (bytes + 63) / 64 * 64);
	e->hidden = malloc(sizeof(float) * EVAL_BATCH * e->max_tokens * e->info->hidden);
	e->ids = calloc((size_t) EVAL_BATCH * e->max_tokens, sizeof(int32_t));
	e->lengths = malloc(sizeof(int32_t) * EVAL_BATCH);
	return e->workspace && e->hidden && e->ids && e->lengths;
}

/* Embed n texts (n <= EVAL_BATCH) into out[n, hidden]. */
static bool
encode_batch(Encoder *e, const char *const *texts, int n, float *out)
{
	char		err[512];
	int			seq = 1;

	for (int i = 0; i < n; i++)
	{
		int			len = embed_tokenizer_encode(e->tok, texts[i], strlen(texts[i]),
												 e->ids + (size_t) i * e->max_tokens, e->max_tokens,
												 NULL, err, sizeof(err));

		if (len < 1)
		{
			fprintf(stderr, "embed-eval: %s\n", err);
			return false;
		}
		e->lengths[i] = len;
		if (len > seq)
			seq = len;
	}
	/* repack the rows to the batch's own width */
	for (int i = 1; i < n; i++)
		memmove(e->ids + (size_t) i * seq, e->ids + (size_t) i * e->max_tokens, sizeof(int32_t) * seq);
	if (embed_forward(e->model, NULL, e->ids, NULL, e->lengths, n, seq, e->hidden,
						   e->workspace, NULL, NULL, err, sizeof(err)) != EMBED_OK)
	{
		fprintf(stderr, "embed-eval: %s\n", err);
		return false;
	}
	embed_model_pool(e->model, e->hidden, e->lengths, n, seq, out);
	return true;
}

/* Embed any number of texts, EVAL_BATCH at a time. */
static bool
encode_all(Encoder *e, char **texts, int n, float *out)
{
	for (int i = 0; i < n; i += EVAL_BATCH)
	{
		int			k = n - i < EVAL_BATCH ? n - i : EVAL_BATCH;

		if (!encode_batch(e, (const char *const *) texts + i, k, out + (size_t) i * e->info->hidden))
			return false;
	}
	return true;
}

static double
cosine(const float *a, const float *b, int n)
{
	double		ab = 0,
				aa = 0,
				bb = 0;

	for (int i = 0; i < n; i++)
	{
		ab += (double) a[i] * b[i];
		aa += (double) a[i] * a[i];
		bb += (double) b[i] * b[i];
	}
	return ab / (sqrt(aa) * sqrt(bb) + 1e-30);
}

/* Split a line into up to max tab-separated fields (in place); returns the count. */
static int
split_tabs(char *line, char **field, int max)
{
	int			n = 0;
	char	   *p = line;

	line[strcspn(line, "\r\n")] = '\0';
	field[n++] = p;
	while (n < max && (p = strchr(p, '\t')) != NULL)
	{
		*p++ = '\0';
		field[n++] = p;
	}
	return n;
}

/* Read a file's lines (newline stripped). */
static char **
read_lines(const char *path, int *n)
{
	FILE	   *f = fopen(path, "r");
	char	  **lines = NULL;
	char	   *line = NULL;
	size_t		cap = 0;
	int			count = 0,
				lcap = 0;

	if (f == NULL)
	{
		fprintf(stderr, "embed-eval: could not open \"%s\"\n", path);
		return NULL;
	}
	while (getline(&line, &cap, f) >= 0)
	{
		line[strcspn(line, "\r\n")] = '\0';
		if (count == lcap)
		{
			lcap = lcap ? lcap * 2 : 256;
			lines = realloc(lines, sizeof(char *) * lcap);
		}
		lines[count++] = strdup(line);
	}
	free(line);
	fclose(f);
	*n = count;
	return lines;
}

/* Ranks 1..n with ties averaged. */
static void
rank_values(const double *x, int n, double *rank)
{
	for (int i = 0; i < n; i++)
	{
		int			less = 0,
					equal = 0;

		for (int j = 0; j < n; j++)
		{
			less += x[j] < x[i];
			equal += x[j] == x[i];
		}
		rank[i] = less + (equal + 1) / 2.0;
	}
}

static double
pearson(const double *x, const double *y, int n)
{
	double		mx = 0,
				my = 0,
				sxy = 0,
				sxx = 0,
				syy = 0;

	for (int i = 0; i < n; i++)
		mx += x[i], my += y[i];
	mx /= n;
	my /= n;
	for (int i = 0; i < n; i++)
	{
		sxy += (x[i] - mx) * (y[i] - my);
		sxx += (x[i] - mx) * (x[i] - mx);
		syy += (y[i] - my) * (y[i] - my);
	}
	return sxy / (sqrt(sxx * syy) + 1e-30);
}

static bool
eval_similarity(Encoder *e, const char *path, bool markdown)
{
	int			n,
				m = 0,
				H = e->info->hidden;
	char	  **lines = read_lines(path, &n);
	char	  **a,
			  **b;
	double	   *gold,
			   *pred,
			   *rg,
			   *rp;
	float	   *ea,
			   *eb;

	if (lines == NULL)
		return false;
	a = malloc(sizeof(char *) * n);
	b = malloc(sizeof(char *) * n);
	gold = malloc(sizeof(double) * n);
	for (int i = 0; i < n; i++)
	{
		char	   *f[3];

		if (lines[i][0] == '#' || split_tabs(lines[i], f, 3) != 3)
			continue;
		a[m] = f[0];
		b[m] = f[1];
		gold[m++] = atof(f[2]);
	}
	ea = malloc(sizeof(float) * (size_t) m * H);
	eb = malloc(sizeof(float) * (size_t) m * H);
	pred = malloc(sizeof(double) * m);
	rg = malloc(sizeof(double) * m);
	rp = malloc(sizeof(double) * m);
	if (m < 2 || !encode_all(e, a, m, ea) || !encode_all(e, b, m, eb))
		return false;
	for (int i = 0; i < m; i++)
		pred[i] = cosine(ea + (size_t) i * H, eb + (size_t) i * H, H);
	rank_values(gold, m, rg);
	rank_values(pred, m, rp);
	if (markdown)
		printf("| hand-written similarity set (%d pairs) | Spearman %.4f | Pearson %.4f |\n",
			   m, pearson(rg, rp, m), pearson(gold, pred, m));
	else
		printf("similarity\tpairs %d\tspearman %.4f\tpearson %.4f\n", m, pearson(rg, rp, m),
			   pearson(gold, pred, m));
	return true;
}

static bool
eval_heldout(Encoder *e, const char *pairs_path, const char *sources_path, bool markdown)
{
	int			n,
				ns = 0,
				H = e->info->hidden;
	char	  **lines = read_lines(pairs_path, &n);
	char	  **src = sources_path ? read_lines(sources_path, &ns) : NULL;
	char	  **a = malloc(sizeof(char *) * n),
			  **p = malloc(sizeof(char *) * n);
	float	   *ea = malloc(sizeof(float) * (size_t) n * H),
			   *ep = malloc(sizeof(float) * (size_t) n * H);
	int		   *rank = malloc(sizeof(int) * n);
	char	   *names[256];
	int			nnames = 0;

	if (lines == NULL || (sources_path && (src == NULL || ns != n)))
	{
		fprintf(stderr, "embed-eval: held-out pairs and sources differ in length\n");
		return false;
	}
	for (int i = 0; i < n; i++)
	{
		char	   *f[2];

		if (split_tabs(lines[i], f, 2) != 2)
		{
			fprintf(stderr, "embed-eval: line %d of %s is not a pair\n", i + 1, pairs_path);
			return false;
		}
		a[i] = f[0];
		p[i] = f[1];
	}
	if (!encode_all(e, a, n, ea) || !encode_all(e, p, n, ep))
		return false;
	for (int i = 0; i < n; i++)
	{
		const float *ai = ea + (size_t) i * H;
		double		target = 0;

		for (int h = 0; h < H; h++)
			target += (double) ai[h] * ep[(size_t) i * H + h];
		rank[i] = 1;
		for (int j = 0; j < n; j++)
		{
			double		s = 0;

			if (j == i)
				continue;
			for (int h = 0; h < H; h++)
				s += (double) ai[h] * ep[(size_t) j * H + h];
			rank[i] += s > target;
		}
	}
	for (int i = 0; src && i < n; i++)
	{
		int			k;

		for (k = 0; k < nnames; k++)
			if (strcmp(names[k], src[i]) == 0)
				break;
		if (k == nnames && nnames < 256)
			names[nnames++] = src[i];
	}
	if (markdown)
		printf("| held-out source | pairs | accuracy@1 | MRR |\n|---|---:|---:|---:|\n");
	for (int k = -1; k < nnames; k++)
	{
		int			count = 0,
					hits = 0;
		double		rr = 0;

		for (int i = 0; i < n; i++)
			if (k < 0 || strcmp(src[i], names[k]) == 0)
			{
				count++;
				hits += rank[i] == 1;
				rr += 1.0 / rank[i];
			}
		if (markdown)
			printf("| %s | %d | %.4f | %.4f |\n", k < 0 ? "**all**" : names[k], count,
				   (double) hits / count, rr / count);
		else
			printf("heldout\t%s\tpairs %d\tacc@1 %.4f\tmrr %.4f\n", k < 0 ? "all" : names[k], count,
				   (double) hits / count, rr / count);
	}
	return true;
}

static int
compare_doubles(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

static void
usage(FILE *f)
{
	fprintf(f,
			"usage: embed-eval --model DIR [--heldout PAIRS.tsv [--heldout-sources FILE]]\n"
			"                  [--similarity SCORED.tsv] [--triplet A B C] [--latency N] [--markdown]\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"model", required_argument, NULL, 1}, {"heldout", required_argument, NULL, 2},
		{"heldout-sources", required_argument, NULL, 3}, {"similarity", required_argument, NULL, 4},
		{"triplet", no_argument, NULL, 5}, {"latency", required_argument, NULL, 6},
		{"markdown", no_argument, NULL, 7}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}
	};
	const char *model_dir = NULL,
			   *heldout = NULL,
			   *sources = NULL,
			   *similarity = NULL;
	bool		triplet = false,
				markdown = false;
	int			latency = 0,
				c,
				status = 0;
	Encoder		e;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 1: model_dir = optarg; break;
			case 2: heldout = optarg; break;
			case 3: sources = optarg; break;
			case 4: similarity = optarg; break;
			case 5: triplet = true; break;
			case 6: latency = atoi(optarg); break;
			case 7: markdown = true; break;
			case 'h': usage(stdout); return 0;
			default: usage(stderr); return 2;
		}
	}
	if (model_dir == NULL || (triplet ? argc - optind != 3 : optind != argc))
	{
		usage(stderr);
		return 2;
	}
	if (!encoder_open(&e, model_dir))
		return 1;
	if (heldout && !eval_heldout(&e, heldout, sources, markdown))
		return 1;
	if (similarity && !eval_similarity(&e, similarity, markdown))
		return 1;
	if (triplet)
	{
		const char *t[3] = {argv[optind], argv[optind + 1], argv[optind + 2]};
		float	   *v = malloc(sizeof(float) * 3 * e.info->hidden);
		double		ab,
					ac;

		if (!encode_batch(&e, t, 3, v))
			return 1;
		ab = cosine(v, v + e.info->hidden, e.info->hidden);
		ac = cosine(v, v + 2 * e.info->hidden, e.info->hidden);
		printf("cos(A, B) %.4f\ncos(A, C) %.4f\n", ab, ac);
		status = ab > ac ? 0 : 1;
		free(v);
	}
	if (latency > 0)
	{
		const char *s[1] = {"I love ice cream"};
		float	   *v = malloc(sizeof(float) * e.info->hidden);
		double	   *ms = malloc(sizeof(double) * latency);

		for (int i = 0; i < latency; i++)
		{
			double		t0 = now_seconds();

			if (!encode_batch(&e, s, 1, v))
				return 1;
			ms[i] = (now_seconds() - t0) * 1000;
		}
		qsort(ms, latency, sizeof(double), compare_doubles);
		printf("latency\t\"%s\"\truns %d\tmedian %.3f ms\tp90 %.3f ms\n", s[0], latency,
			   ms[latency / 2], ms[(int) (latency * 0.9)]);
		free(v);
		free(ms);
	}
	return status;
}
