/*
 * bench_engine.c: throughput of the forward pass on the all-MiniLM-L6-v2
 * shape (BERT, 6 layers, 384 hidden, 12 heads, 1536 FFN) or the GPT-2-small
 * shape with random weights, against a plain sgemm measured in the same
 * process.
 *
 * usage: [MODEL=gpt2-small] bench_engine [threads [seconds [LENGTHxBATCH ...]]]
 *        (defaults: 1 thread, 2 s per case)
 *
 * MODEL=gpt2-small runs the GPT-2 decoder of gpt2.c on the GPT-2-small
 * shape (12 layers, 768 hidden, 12 heads, 3072 MLP, 50257 tokens, 1024
 * positions) instead.
 *
 * Without cases, prints a Markdown table: tokens/s, sentences/s,
 * milliseconds per batch and GFLOP/s (matrix products and attention,
 * counted by embed_bert_flops) for 16-, 128- and 256-token sentences in
 * batches of 1 and 32, plus a batch of 32 sentences of mixed lengths padded
 * to 128.  With cases, prints one line per case for bench/engine/peers.sh:
 *   RESULT engine THREADS LENGTH BATCH BEST_S MEDIAN_S GFLOPS PEAK_GFLOPS
 * The forward pass runs on an engine thread pool of `threads` threads (none
 * for 1).  The sgemm peak is `threads` single-threaded 1024^3 sgemms running
 * at once, one per pool thread, which is how the engine uses OpenBLAS.
 * Throughput figures are the best of the runs made in `seconds` (the
 * machine may be shared; the best run is the least disturbed one).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forward.h"
#include "model.h"
#include "threadpool.h"

#include "bert_writer.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(getenv("CPUTIME") ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One thread's operands of the peak measurement. */
typedef struct PeakOperands
{
	int			M,
				N,
				K;
	float	   *A[64],
			   *W[64],
			   *C[64];
} PeakOperands;

/* Task: one single-threaded sgemm on the thread's own operands. */
static void
peak_task(void *arg, int task, int thread)
{
	PeakOperands *p = arg;

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, p->M, p->N, p->K, 1.0f, p->A[task], p->K,
				p->W[task], p->K, 0.0f, p->C[task], p->N);
}

/*
 * GFLOP/s of `threads` concurrent C[M,N] = A[M,K] W[N,K]^T (one per pool
 * thread), best of repeated runs over `seconds`.
 */
static double
sgemm_gflops(EmbedThreadPool *pool, int threads, int M, int N, int K, double seconds)
{
	PeakOperands p = {.M = M, .N = N, .K = K};
	double		best = 1e30,
				start;

	for (int t = 0; t < threads; t++)
	{
		p.A[t] = malloc(sizeof(float) * M * K);
		p.W[t] = malloc(sizeof(float) * N * K);
		p.C[t] = malloc(sizeof(float) * M * N);
		for (size_t i = 0; i < (size_t) M * K; i++)
			p.A[t][i] = (float) (i % 17) * 0.01f;
		for (size_t i = 0; i < (size_t) N * K; i++)
			p.W[t][i] = (float) (i % 13) * 0.01f;
	}
	start = now();
	do
	{
		double		t = now();

		embed_thread_pool_run(pool, threads, peak_task, &p);
		t = now() - t;
		if (t < best)
			best = t;
	} while (now() - start < seconds);
	for (int t = 0; t < threads; t++)
	{
		free(p.A[t]);
		free(p.W[t]);
		free(p.C[t]);
	}
	return 2.0 * M * N * K * threads / best / 1e9;
}

/* qsort comparator for doubles. */
static int
compare_doubles(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/* Time one case: best and median seconds per forward call. */
static void
time_case(const EmbedModel *m, EmbedThreadPool *pool, int batch, int seq, const int32_t *lengths,
		  double seconds, double *best, double *median)
{
	size_t		bytes;
	void	   *ws;
	int32_t    *ids = malloc(sizeof(int32_t) * batch * seq);
	float	   *hidden = malloc(sizeof(float) * batch * seq * embed_model_info(m)->hidden);
	char		err[256];
	double		start;
	double	   *times = NULL;
	int			reps = 0,
				cap = 0;

	for (int i = 0; i < batch * seq; i++)
		ids[i] = 1000 + (i * 7919) % 20000;
	embed_forward_workspace_size(m, batch, seq, embed_thread_pool_threads(pool), &bytes);
	ws = malloc(bytes);
	if (embed_forward(m, pool, ids, NULL, lengths, batch, seq, hidden, ws, NULL, NULL,
						   err, sizeof(err)) != EMBED_OK)
	{
		fprintf(stderr, "forward failed: %s\n", err);
		exit(1);
	}
	start = now();
	do
	{
		double		t = now();

		embed_forward(m, pool, ids, NULL, lengths, batch, seq, hidden, ws, NULL, NULL,
						   err, sizeof(err));
		t = now() - t;
		if (reps == cap)
		{
			cap = cap ? cap * 2 : 64;
			times = realloc(times, sizeof(double) * cap);
		}
		times[reps++] = t;
	} while (now() - start < seconds || reps < 3);
	qsort(times, reps, sizeof(double), compare_doubles);
	*best = times[0];
	*median = times[reps / 2];
	free(times);
	free(ws);
	free(ids);
	free(hidden);
}

/* Run one case; prints a table row. */
static void
table_row(const EmbedModel *m, EmbedThreadPool *pool, const char *label, int batch, int seq,
		  const int32_t *lengths, double seconds, double peak)
{
	double		best,
				median,
				flops = embed_forward_flops(m, lengths, batch);
	long		tokens = 0;

	for (int b = 0; b < batch; b++)
		tokens += lengths[b];
	time_case(m, pool, batch, seq, lengths, seconds, &best, &median);
	printf("| %s | %d | %ld | %.0f | %.1f | %.2f | %.2f | %.1f | %.0f%% |\n", label, batch, tokens,
		   tokens / best, batch / best, best * 1e3, median * 1e3, flops / best / 1e9,
		   100.0 * flops / best / 1e9 / peak);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	int			threads = argc > 1 ? atoi(argv[1]) : 1;
	double		seconds = argc > 2 ? atof(argv[2]) : 2.0;
	BertSpec	minilm = {.hidden = 384, .layers = 6, .heads = 12, .intermediate = 1536, .vocab = 30522,
	.max_positions = 512, .type_vocab = 2, .prefix = "", .with_pooler = true,
	.with_position_ids = true, .dtype = "F32"};
	BertSpec	gpt2_small = {.hidden = 768, .layers = 12, .heads = 12, .intermediate = 3072,
	.vocab = 50257, .max_positions = 1024, .prefix = "", .dtype = "F32", .arch = BW_ARCH_GPT2};
	bool		gpt2 = getenv("MODEL") && strcmp(getenv("MODEL"), "gpt2-small") == 0;
	BertSpec   *spec = gpt2 ? &gpt2_small : &minilm;
	char	   *dir = bw_tempdir();
	char		path[4200];
	size_t		hlen;
	char	   *header = bw_header(spec, 0, &hlen);
	char	   *cfg = gpt2 ? bw_config_json(spec, "gelu_new", 1e-5) : bw_config_json(spec, "gelu", 1e-12);
	EmbedModel *m;
	EmbedThreadPool *pool = NULL;
	char		err[512];
	double		peak;
	int32_t		lengths[32];
	unsigned	seed = 12345;

	if (threads < 1 || threads > 64)
	{
		fprintf(stderr, "threads must be 1 to 64\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	if (!bw_write_safetensors(path, header, hlen, 1, NULL) || !bw_write_text(dir, "config.json", cfg))
	{
		fprintf(stderr, "could not write the model\n");
		return 1;
	}
	if (embed_model_load(dir, &m, err, sizeof(err)) != EMBED_OK)
	{
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (threads > 1 && (pool = embed_thread_pool_create(threads)) == NULL)
	{
		perror("embed_thread_pool_create");
		return 1;
	}
	embed_kernels_init();
	peak = sgemm_gflops(pool, threads, 1024, 1024, 1024, seconds > 2.0 ? seconds : 2.0);

	if (argc > 3)
	{
		for (int i = 3; i < argc; i++)
		{
			int			length,
						batch;
			double		best,
						median;

			if (sscanf(argv[i], "%dx%d", &length, &batch) != 2 || length < 1 || length > 512 ||
				batch < 1 || batch > 32)
			{
				fprintf(stderr, "bad case \"%s\" (LENGTHxBATCH, length 1-512, batch 1-32)\n", argv[i]);
				return 1;
			}
			for (int b = 0; b < batch; b++)
				lengths[b] = length;
			time_case(m, pool, batch, length, lengths, seconds, &best, &median);
			printf("RESULT engine %d %d %d %.6f %.6f %.1f %.1f\n", threads, length, batch, best, median,
				   embed_forward_flops(m, lengths, batch) / best / 1e9, peak);
			fflush(stdout);
		}
	}
	else
	{
		printf("model: %s shape, random weights, %.1f M parameters\n",
			   gpt2 ? "GPT-2-small (decoder)" : "all-MiniLM-L6-v2", embed_model_info(m)->params / 1e6);
		printf("OpenBLAS %s (kernel %s), engine threads: %d; sgemm peak (%d x single-threaded 1024x1024x1024 at once): %.1f GFLOP/s\n\n",
			   openblas_get_config(), openblas_get_corename(), threads, threads, peak);
		printf("| sentence length | batch | tokens | tokens/s | sentences/s | ms per batch (best) | ms (median) | GFLOP/s | of sgemm peak |\n");
		printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
		for (int i = 0; i < 3; i++)
		{
			static const int sizes[3] = {16, 128, 256};
			char		label[16];

			snprintf(label, sizeof(label), "%d", sizes[i]);
			for (int b = 0; b < 32; b++)
				lengths[b] = sizes[i];
			table_row(m, pool, label, 1, sizes[i], lengths, seconds, peak);
			table_row(m, pool, label, 32, sizes[i], lengths, seconds, peak);
		}
		for (int b = 0; b < 32; b++)
		{
			seed = seed * 1103515245u + 12345u;
			lengths[b] = 8 + (int) ((seed >> 16) % 121);	/* 8..128 */
		}
		lengths[0] = 128;
		table_row(m, pool, "8-128 mixed, padded to 128", 32, 128, lengths, seconds, peak);
	}

	embed_thread_pool_destroy(pool);
	embed_model_free(m);
	bw_remove_tree(dir);
	free(dir);
	free(header);
	free(cfg);
	return 0;
}
