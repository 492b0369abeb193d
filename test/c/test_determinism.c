/*
 * test_determinism.c: the thread pool, and bit-reproducibility of the
 * forward pass whatever the number of threads.
 *
 * 1. The pool: every task of a step runs exactly once, with a thread index
 *    in range; many short steps in a row (races between steps); workers run
 *    with every signal blocked and the caller's mask is left as it was;
 *    invalid sizes are refused.
 * 2. The strided kernels the column blocks use.
 * 3. The forward pass on an all-MiniLM-L6-v2-shaped model (6 layers, 384
 *    hidden, 12 heads, 1536 FFN; random weights from bert_writer.h), for
 *    several batches: the output bits are identical on the calling thread
 *    (no pool) and on pools of 1, 2, 3 and 4 threads, with the AVX2 and the
 *    portable kernels, even when OpenBLAS had been set to 2 threads; a
 *    repeated call and a call with more padding are bit-identical; each
 *    sequence run alone agrees with its row of the batch within 1e-5; the
 *    between-layers callback runs on the calling thread only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cblas.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert.h"
#include "model.h"
#include "tap.h"
#include "threadpool.h"

#include "bert_writer.h"

#define MAX_POOL_THREADS 4

/* ---------- the pool ---------- */

typedef struct CountTasks
{
	atomic_int *runs;			/* per task: how many times it ran */
	atomic_int	bad_thread;		/* tasks that saw a thread index out of range */
	atomic_int	unblocked;		/* worker tasks that found SIGINT/SIGTERM/SIGUSR1 deliverable */
	atomic_int	on_workers;		/* tasks run by a worker (thread > 0) */
	int			threads;
	int			spin;			/* busy work per task, to let workers take some */
} CountTasks;

/* Task: count the run, check the thread index and (on workers) the signal mask. */
static void
count_task(void *arg, int task, int thread)
{
	CountTasks *c = arg;
	volatile double sink = 0.0;

	atomic_fetch_add(&c->runs[task], 1);
	if (thread < 0 || thread >= c->threads)
		atomic_fetch_add(&c->bad_thread, 1);
	if (thread > 0)
	{
		sigset_t	cur;

		atomic_fetch_add(&c->on_workers, 1);
		pthread_sigmask(SIG_BLOCK, NULL, &cur);
		if (!sigismember(&cur, SIGINT) || !sigismember(&cur, SIGTERM) || !sigismember(&cur, SIGUSR1))
			atomic_fetch_add(&c->unblocked, 1);
	}
	for (int i = 0; i < c->spin; i++)
		sink += i * 0.5;
}

/* Run `steps` steps of ntasks tasks on a pool of `threads`; true when each task ran once per step. */
static bool
run_counted(EmbedThreadPool *pool, int threads, int ntasks, int steps, int spin, CountTasks *c)
{
	bool		all_once = true;

	c->runs = calloc(ntasks, sizeof(atomic_int));
	c->threads = threads;
	c->spin = spin;
	atomic_init(&c->bad_thread, 0);
	atomic_init(&c->unblocked, 0);
	atomic_init(&c->on_workers, 0);
	for (int s = 0; s < steps; s++)
	{
		for (int t = 0; t < ntasks; t++)
			atomic_store(&c->runs[t], 0);
		embed_thread_pool_run(pool, ntasks, count_task, c);
		for (int t = 0; t < ntasks; t++)
			all_once = all_once && atomic_load(&c->runs[t]) == 1;
	}
	free(c->runs);
	return all_once;
}

static void
test_pool(void)
{
	sigset_t	before,
				after;
	CountTasks	c;
	EmbedThreadPool *pool;

	errno = 0;
	ok(embed_thread_pool_create(0) == NULL && errno == EINVAL, "pool of 0 threads refused");
	ok(embed_thread_pool_create(EMBED_THREAD_POOL_MAX + 1) == NULL, "pool above the maximum refused");
	ok(embed_thread_pool_threads(NULL) == 1, "no pool counts as one thread");

	ok(run_counted(NULL, 1, 50, 3, 0, &c) && atomic_load(&c.bad_thread) == 0,
	   "no pool: every task runs once on thread 0");

	/* the caller's signal mask survives pool creation */
	sigemptyset(&before);
	sigaddset(&before, SIGUSR2);
	pthread_sigmask(SIG_SETMASK, &before, NULL);
	pool = embed_thread_pool_create(3);
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	ok(pool != NULL && embed_thread_pool_threads(pool) == 3, "pool of 3 threads");
	ok(sigismember(&after, SIGUSR2) && !sigismember(&after, SIGINT),
	   "the caller's signal mask is unchanged by pool creation");
	sigemptyset(&before);
	pthread_sigmask(SIG_SETMASK, &before, NULL);

	ok(run_counted(pool, 3, 97, 20, 20000, &c) && atomic_load(&c.bad_thread) == 0,
	   "3 threads: every task of 20 steps of 97 runs exactly once, thread index in range");
	ok(atomic_load(&c.on_workers) > 0, "workers took part (%d tasks)", atomic_load(&c.on_workers));
	ok(atomic_load(&c.unblocked) == 0, "workers run with SIGINT, SIGTERM and SIGUSR1 blocked");
	ok(run_counted(pool, 3, 5, 20000, 0, &c), "20000 steps of 5 tiny tasks: each task once per step");
	ok(run_counted(pool, 3, 1, 100, 0, &c) && run_counted(pool, 3, 2, 1000, 10, &c),
	   "steps of 1 and 2 tasks");
	embed_thread_pool_run(pool, 0, count_task, &c);
	ok(true, "a step of 0 tasks returns");
	embed_thread_pool_destroy(pool);

	pool = embed_thread_pool_create(1);
	ok(pool != NULL && run_counted(pool, 1, 40, 5, 0, &c) && atomic_load(&c.on_workers) == 0,
	   "pool of 1 thread: everything on the caller");
	embed_thread_pool_destroy(pool);
	embed_thread_pool_destroy(NULL);
}

/* ---------- strided kernels ---------- */

/* Column blocks through the strided kernels: values as the naive product, bias/GELU position-independent. */
static void
test_strided_kernels(void)
{
	enum
	{
		M = 5, N = 40, K = 24, COL = 13, WIDTH = 19
	};
	float		A[M * K],
				W[N * K],
				bias[N],
				full[M * N],
				want[M * N],
				block[M * WIDTH];
	double		max_diff = 0.0;
	bool		same = true;

	for (int i = 0; i < M * K; i++)
		A[i] = (float) ((i * 37) % 23) / 11.0f - 1.0f;
	for (int i = 0; i < N * K; i++)
		W[i] = (float) ((i * 53) % 29) / 14.0f - 1.0f;
	for (int j = 0; j < N; j++)
		bias[j] = (float) (j % 7) / 8.0f - 0.4f;

	/* columns [COL, COL + WIDTH) of C = A W^T, computed in place in a wider C */
	memset(full, 0, sizeof(full));
	embed_linear_strided(M, WIDTH, K, A, K, W + COL * K, K, full + COL, N, false);
	embed_matmul_naive(M, N, K, A, W, NULL, want);
	for (int i = 0; i < M; i++)
		for (int j = COL; j < COL + WIDTH; j++)
			max_diff = fmax(max_diff, fabs(full[i * N + j] - want[i * N + j]));
	ok(max_diff < 1e-5 && full[0] == 0.0f && full[COL + WIDTH] == 0.0f,
	   "embed_linear_strided: a column block, within 1e-5 of the naive product, nothing else written");

	/* bias + GELU on a block in place equals the same on a contiguous copy */
	for (int i = 0; i < M; i++)
		memcpy(block + i * WIDTH, full + i * N + COL, sizeof(float) * WIDTH);
	embed_add_bias_activation_strided(M, WIDTH, full + COL, N, bias + COL, EMBED_ACT_GELU_ERF);
	embed_add_bias_activation(M, WIDTH, block, bias + COL, EMBED_ACT_GELU_ERF);
	for (int i = 0; i < M; i++)
		same = same && memcmp(block + i * WIDTH, full + i * N + COL, sizeof(float) * WIDTH) == 0;
	embed_add_bias_strided(M, WIDTH, full + COL, N, bias);
	embed_add_bias(M, WIDTH, block, bias);
	for (int i = 0; i < M; i++)
		same = same && memcmp(block + i * WIDTH, full + i * N + COL, sizeof(float) * WIDTH) == 0;
	ok(same, "strided bias and bias + GELU: bit-identical to the contiguous kernels");
}

/* ---------- the forward pass ---------- */

/* A batch to check. */
typedef struct Case
{
	const char *name;
	int			batch;
	int			seq;
	int32_t		lengths[32];
} Case;

/* The calling thread, for the between-layers check. */
static pthread_t caller_thread;
static atomic_int callbacks_elsewhere;

/* between_layers: must run on the calling thread. */
static void
check_caller(void *arg)
{
	(*(int *) arg)++;
	if (!pthread_equal(pthread_self(), caller_thread))
		atomic_fetch_add(&callbacks_elsewhere, 1);
}

/* Forward on a pool with a fresh workspace; exits on error (test setup). */
static void
forward(const EmbedModel *m, EmbedThreadPool *pool, const int32_t *ids, const int32_t *lengths,
		int batch, int seq, float *out, int *layers_seen)
{
	size_t		bytes;
	void	   *ws;
	char		err[256];
	int			seen = 0;

	if (!embed_bert_workspace_size(m, batch, seq, embed_thread_pool_threads(pool), &bytes))
	{
		printf("Bail out! workspace size for %d x %d\n", batch, seq);
		exit(1);
	}
	ws = malloc(bytes);
	if (embed_bert_forward(m, pool, ids, NULL, lengths, batch, seq, out, ws, check_caller, &seen,
						   err, sizeof(err)) != EMBED_OK)
	{
		printf("Bail out! forward: %s\n", err);
		exit(1);
	}
	free(ws);
	if (layers_seen)
		*layers_seen = seen;
}

/* Token ids of a case: a fixed pseudo-random sequence per row, [CLS] ... [SEP]. */
static int32_t *
case_ids(const Case *c, int seq, int vocab)
{
	int32_t    *ids = calloc((size_t) c->batch * seq, sizeof(int32_t));
	uint32_t	state = 12345;

	for (int b = 0; b < c->batch; b++)
		for (int i = 0; i < c->lengths[b]; i++)
		{
			state = state * 1103515245u + 12345u;
			ids[(size_t) b * seq + i] = i == 0 ? 101 : i == c->lengths[b] - 1 ? 102 :
				1000 + (int32_t) ((state >> 8) % (uint32_t) (vocab - 1000));
		}
	return ids;
}

static void
check_case(const EmbedModel *m, EmbedThreadPool *const *pools, const Case *c)
{
	int			H = embed_model_info(m)->hidden;
	size_t		n = (size_t) c->batch * c->seq * H;
	int32_t    *ids = case_ids(c, c->seq, embed_model_info(m)->vocab_size);
	float	   *ref = malloc(sizeof(float) * n);
	float	   *got = malloc(sizeof(float) * n);
	bool		same_pools = true;
	int			layers_seen = 0;
	int			tokens = 0;
	double		max_diff = 0.0;

	for (int b = 0; b < c->batch; b++)
		tokens += c->lengths[b];
	atomic_store(&callbacks_elsewhere, 0);
	forward(m, NULL, ids, c->lengths, c->batch, c->seq, ref, &layers_seen);

	/* pools of 1 .. MAX_POOL_THREADS threads */
	for (int t = 1; t <= MAX_POOL_THREADS; t++)
	{
		bool		same;

		memset(got, 0xff, sizeof(float) * n);
		forward(m, pools[t], ids, c->lengths, c->batch, c->seq, got, NULL);
		same = memcmp(ref, got, sizeof(float) * n) == 0;
		if (!same)
			diag("%s: %d thread(s) differ from no pool", c->name, t);
		same_pools = same_pools && same;
	}
	ok(same_pools, "%s (%d tokens): bit-identical with no pool and pools of 1-%d threads",
	   c->name, tokens, MAX_POOL_THREADS);
	ok(atomic_load(&callbacks_elsewhere) == 0 && layers_seen == embed_model_info(m)->layers,
	   "%s: between_layers called once per layer, always on the calling thread", c->name);

	/* the same batch again, after OpenBLAS was asked for 2 threads */
	openblas_set_num_threads(2);
	forward(m, pools[2], ids, c->lengths, c->batch, c->seq, got, NULL);
	ok(memcmp(ref, got, sizeof(float) * n) == 0 && openblas_get_num_threads() == 1,
	   "%s: repeated call bit-identical, OpenBLAS set back to one thread", c->name);

	/* more padding: only real tokens are computed */
	{
		int			seq2 = c->seq + 5;
		int32_t    *ids2 = case_ids(c, seq2, embed_model_info(m)->vocab_size);
		float	   *padded = malloc(sizeof(float) * c->batch * seq2 * H);
		bool		same = true;

		forward(m, pools[3], ids2, c->lengths, c->batch, seq2, padded, NULL);
		for (int b = 0; b < c->batch; b++)
			same = same && memcmp(ref + (size_t) b * c->seq * H, padded + (size_t) b * seq2 * H,
								  sizeof(float) * c->lengths[b] * H) == 0;
		ok(same, "%s: padded to %d instead of %d: bit-identical", c->name, seq2, c->seq);
		free(ids2);
		free(padded);
	}

	/* each sequence alone: within 1e-5 of its row in the batch */
	if (c->batch > 1)
	{
		for (int b = 0; b < c->batch; b++)
		{
			int			len = c->lengths[b];
			float	   *alone = malloc(sizeof(float) * len * H);

			forward(m, pools[2], ids + (size_t) b * c->seq, &c->lengths[b], 1, len, alone, NULL);
			for (size_t k = 0; k < (size_t) len * H; k++)
				max_diff = fmax(max_diff, fabs(alone[k] - ref[(size_t) b * c->seq * H + k]));
			free(alone);
		}
		ok(max_diff <= 1e-5, "%s: each sequence alone within 1e-5 of its row in the batch (max %.3g)",
		   c->name, max_diff);
		/* up to 64 tokens the engine's own product kernel rounds every row alike */
		if (tokens <= 64 && embed_kernels_simd_available())
			ok(max_diff == 0.0, "%s (%d tokens): each sequence alone bit-identical to its row in the batch",
			   c->name, tokens);
	}

	/* the portable kernels: also independent of the thread count */
	if (embed_kernels_simd_available())
	{
		float	   *portable = malloc(sizeof(float) * n);

		embed_kernels_use_simd(false);
		forward(m, NULL, ids, c->lengths, c->batch, c->seq, portable, NULL);
		forward(m, pools[MAX_POOL_THREADS], ids, c->lengths, c->batch, c->seq, got, NULL);
		embed_kernels_use_simd(true);
		ok(memcmp(portable, got, sizeof(float) * n) == 0,
		   "%s: portable kernels: no pool and %d threads bit-identical", c->name, MAX_POOL_THREADS);
		free(portable);
	}

	free(ids);
	free(ref);
	free(got);
}

static void
test_forward(void)
{
	BertSpec	spec = {.hidden = 384, .layers = 6, .heads = 12, .intermediate = 1536, .vocab = 30522,
	.max_positions = 512, .type_vocab = 2, .prefix = "", .dtype = "F32"};
	char	   *dir = bw_tempdir();
	char		path[4200];
	size_t		hlen;
	char	   *header = bw_header(&spec, 0, &hlen);
	char	   *cfg = bw_config_json(&spec, "gelu", 1e-12);
	EmbedThreadPool *pools[MAX_POOL_THREADS + 1] = {NULL};
	EmbedModel *m;
	char		err[512];
	Case		cases[] = {
		{"one token", 1, 1, {1}},
		{"short query", 1, 9, {9}},
		{"one sentence of 128", 1, 128, {128}},
		{"mixed batch", 5, 200, {7, 200, 1, 37, 128}},
		{"batch of 32 short", 32, 24, {0}},
		{"small batch", 4, 20, {9, 20, 1, 17}},
	};

	if (dir == NULL)
	{
		printf("Bail out! cannot create a temporary directory\n");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	if (!bw_write_safetensors(path, header, hlen, 424242, NULL) || !bw_write_text(dir, "config.json", cfg))
	{
		printf("Bail out! cannot write the model\n");
		exit(1);
	}
	if (embed_model_load(dir, &m, err, sizeof(err)) != EMBED_OK)
	{
		printf("Bail out! %s\n", err);
		exit(1);
	}
	for (int b = 0; b < 32; b++)
		cases[4].lengths[b] = 3 + (b * 7) % 22;
	for (int t = 1; t <= MAX_POOL_THREADS; t++)
		pools[t] = embed_thread_pool_create(t);
	caller_thread = pthread_self();

	{
		size_t		one,
					four;

		ok(embed_bert_workspace_size(m, 2, 16, 1, &one) && embed_bert_workspace_size(m, 2, 16, 4, &four) &&
		   four >= one + 3 * 16 * 16 * sizeof(float), "the workspace grows with the thread count");
		ok(!embed_bert_workspace_size(m, 2, 16, 0, &one), "workspace for 0 threads refused");
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(m, pools, &cases[i]);

	for (int t = 1; t <= MAX_POOL_THREADS; t++)
		embed_thread_pool_destroy(pools[t]);
	embed_model_free(m);
	bw_remove_tree(dir);
	free(dir);
	free(header);
	free(cfg);
}

int
main(void)
{
	test_pool();
	test_strided_kernels();
	test_forward();
	return tap_done();
}
