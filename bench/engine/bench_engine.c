/*
 * bench_engine.c: throughput of the BERT forward pass on the
 * all-MiniLM-L6-v2 shape (6 layers, 384 hidden, 12 heads, 1536 FFN) with
 * random weights, against a plain sgemm measured in the same process.
 *
 * usage: bench_engine [threads [seconds]]     (defaults: 1 thread, 2 s per case)
 *
 * Prints a Markdown table: tokens/s, milliseconds per batch and GFLOP/s
 * (matrix products and attention, counted by embed_bert_flops) for 16- and
 * 128-token sentences in batches of 1 and 32, plus a batch of 32 sentences
 * of mixed lengths padded to 128.  Each figure is the best of the runs made
 * in `seconds` (the machine may be shared; the best run is the least
 * disturbed one).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bert.h"
#include "model.h"

#include "bert_writer.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* GFLOP/s of C[M,N] = A[M,K] W[N,K]^T, best of repeated runs over `seconds`. */
static double
sgemm_gflops(int M, int N, int K, double seconds)
{
	float	   *A = malloc(sizeof(float) * M * K);
	float	   *W = malloc(sizeof(float) * N * K);
	float	   *C = malloc(sizeof(float) * M * N);
	double		best = 1e30,
				start = now();

	for (size_t i = 0; i < (size_t) M * K; i++)
		A[i] = (float) (i % 17) * 0.01f;
	for (size_t i = 0; i < (size_t) N * K; i++)
		W[i] = (float) (i % 13) * 0.01f;
	do
	{
		double		t = now();

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, W, K, 0.0f, C, N);
		t = now() - t;
		if (t < best)
			best = t;
	} while (now() - start < seconds);
	free(A);
	free(W);
	free(C);
	return 2.0 * M * N * K / best / 1e9;
}

/* Run one case; prints a table row. */
static void
bench_case(const EmbedModel *m, const char *label, int batch, int seq, const int32_t *lengths,
		   double seconds, double peak)
{
	size_t		bytes;
	void	   *ws;
	int32_t    *ids = malloc(sizeof(int32_t) * batch * seq);
	float	   *hidden = malloc(sizeof(float) * batch * seq * embed_model_info(m)->hidden);
	char		err[256];
	double		start,
				best = 1e30;
	int			reps = 0;
	long		tokens = 0;
	double		flops = embed_bert_flops(m, lengths, batch);

	for (int i = 0; i < batch * seq; i++)
		ids[i] = 1000 + (i * 7919) % 20000;
	for (int b = 0; b < batch; b++)
		tokens += lengths[b];
	embed_bert_workspace_size(m, batch, seq, &bytes);
	ws = malloc(bytes);
	if (embed_bert_forward(m, ids, NULL, lengths, batch, seq, hidden, ws, NULL, NULL, err, sizeof(err)) != EMBED_OK)
	{
		fprintf(stderr, "forward failed: %s\n", err);
		exit(1);
	}
	start = now();
	do
	{
		double		t = now();

		embed_bert_forward(m, ids, NULL, lengths, batch, seq, hidden, ws, NULL, NULL, err, sizeof(err));
		t = now() - t;
		if (t < best)
			best = t;
		reps++;
	} while (now() - start < seconds || reps < 3);
	printf("| %s | %d | %ld | %.0f | %.2f | %.1f | %.0f%% |\n", label, batch, tokens,
		   tokens / best, best * 1e3, flops / best / 1e9, 100.0 * flops / best / 1e9 / peak);
	fflush(stdout);
	free(ws);
	free(ids);
	free(hidden);
}

int
main(int argc, char **argv)
{
	int			threads = argc > 1 ? atoi(argv[1]) : 1;
	double		seconds = argc > 2 ? atof(argv[2]) : 2.0;
	BertSpec	spec = {.hidden = 384, .layers = 6, .heads = 12, .intermediate = 1536, .vocab = 30522,
	.max_positions = 512, .type_vocab = 2, .prefix = "", .with_pooler = true,
	.with_position_ids = true, .dtype = "F32"};
	char	   *dir = bw_tempdir();
	char		path[4200];
	size_t		hlen;
	char	   *header = bw_header(&spec, 0, &hlen);
	char	   *cfg = bw_config_json(&spec, "gelu", 1e-12);
	EmbedModel *m;
	char		err[512];
	char		hex[EMBED_SHA256_HEX_LEN];
	double		t,
				peak_square,
				peak_model;
	int32_t		lengths[32];
	unsigned	seed = 12345;

	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	if (!bw_write_safetensors(path, header, hlen, 1, NULL) || !bw_write_text(dir, "config.json", cfg))
	{
		fprintf(stderr, "could not write the model\n");
		return 1;
	}
	openblas_set_num_threads(threads);

	t = now();
	if (embed_model_load(dir, &m, err, sizeof(err)) != EMBED_OK)
	{
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	t = now() - t;
	printf("model: all-MiniLM-L6-v2 shape, random weights, %.1f M parameters; load (mmap + validate, file in page cache) %.2f ms\n",
		   embed_model_info(m)->params / 1e6, t * 1e3);
	t = now();
	embed_model_sha256(m, hex);
	t = now() - t;
	printf("SHA-256 of the %.1f MB weights file: %.0f ms (%.0f MB/s)\n", embed_model_info(m)->file_bytes / 1e6,
		   t * 1e3, embed_model_info(m)->file_bytes / 1e6 / t);

	peak_square = sgemm_gflops(1024, 1024, 1024, seconds / 2);
	peak_model = sgemm_gflops(512, 1536, 384, seconds / 2);
	printf("OpenBLAS %s, %d thread(s): plain sgemm 1024x1024x1024 %.1f GFLOP/s; 512x1536x384 (FFN shape) %.1f GFLOP/s\n\n",
		   openblas_get_config(), threads, peak_square, peak_model);

	printf("| sentence length | batch | tokens | tokens/s | ms per batch | GFLOP/s | of sgemm peak |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|\n");
	for (int b = 0; b < 32; b++)
		lengths[b] = 16;
	bench_case(m, "16", 1, 16, lengths, seconds, peak_square);
	bench_case(m, "16", 32, 16, lengths, seconds, peak_square);
	for (int b = 0; b < 32; b++)
		lengths[b] = 128;
	bench_case(m, "128", 1, 128, lengths, seconds, peak_square);
	bench_case(m, "128", 32, 128, lengths, seconds, peak_square);
	for (int b = 0; b < 32; b++)
	{
		seed = seed * 1103515245u + 12345u;
		lengths[b] = 8 + (int) ((seed >> 16) % 121);	/* 8..128 */
	}
	lengths[0] = 128;
	bench_case(m, "8-128 mixed, padded to 128", 32, 128, lengths, seconds, peak_square);

	embed_model_free(m);
	bw_remove_tree(dir);
	free(dir);
	free(header);
	free(cfg);
	return 0;
}
