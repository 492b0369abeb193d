/*
 * bert.c: BERT encoder forward pass (post-LayerNorm layers, absolute
 * positions, token types), optionally spread over a thread pool.
 *
 * Design notes:
 * - Real tokens are packed: row b's tokens occupy rows [starts[b],
 *   starts[b + 1]) of a [tokens, hidden] activation matrix, so the dense
 *   layers run over the real tokens of the whole batch and padding costs
 *   nothing.  hidden_out itself holds the activations (the residual stream);
 *   at the end the rows are spread out in place to the padded layout.
 * - Per layer, with x the residual stream [tokens, hidden]:
 *     q, k, v = x Wq^T + bq, x Wk^T + bk, x Wv^T + bv
 *     per sequence, per head: ctx = softmax(q k^T / sqrt(d)) v   (over q)
 *     x = LN(x + ctx Wo^T + bo)     (product accumulated into x, then LN)
 *     f = gelu(x W1^T + b1)
 *     x = LN(x + f W2^T + b2)
 *   Accumulating the projections into x (beta = 1) makes the residual add
 *   free and needs no extra buffer.
 * - Reproducibility whatever the thread count (see bert.h).  Every step is
 *   cut into tasks whose list depends only on the shapes, never on the
 *   number of threads, and each task computes the same values whichever
 *   thread runs it:
 *     * a dense product [tokens, K] x [N, K]^T is cut into blocks of
 *       output columns whose width depends on N only (column_block_width);
 *       each block is one single-threaded cblas_sgemm over all the rows,
 *       followed by its bias (and activation) on those columns.  The calls
 *       are a function of (tokens, N, K) only.  The three projections q, k,
 *       v form one step of 3 x blocks tasks;
 *     * attention: one task per (sequence, head), each with the scores
 *       scratch of the thread that runs it;
 *     * LayerNorm: ranges of LAYERNORM_ROWS rows; the input embeddings:
 *       one task per sequence.
 *   OpenBLAS is kept at one thread (embed_kernels_init), so nothing below
 *   depends on how the tasks are spread.  Blocks of about COLUMN_BLOCK =
 *   128 columns: narrower ones re-pack the activations more often
 *   (single-threaded sgemm throughput drops by 5-15% at 32-64 columns with
 *   4096 rows), wider ones leave too few tasks to balance the threads over
 *   the 384-wide products of a MiniLM-sized model.
 * - Workspace: q, k, v [tokens, hidden] share one region with the FFN
 *   activations [tokens, intermediate] (they are never live together),
 *   then one [seq, seq] score matrix per thread and the sequence starts.
 *   Sized for tokens = batch * seq.
 */
#include "bert.h"

#include <stdio.h>
#include <string.h>

#define COLUMN_BLOCK 128
#define LAYERNORM_ROWS 32

/* Where the parts of the workspace start, in floats. */
typedef struct WorkspaceLayout
{
	size_t		region;			/* q | k | v, or the FFN activations */
	size_t		scores;			/* per thread: [seq, seq] */
	size_t		scores_stride;	/* floats between two threads' scores */
	size_t		starts;			/* int32 [batch + 1] */
	size_t		total;
} WorkspaceLayout;

/* One dense product of a step: C[tokens, N] (+)= A[tokens, K] W[N, K]^T, then bias (and act). */
typedef struct DenseProduct
{
	const float *A;
	const float *W;
	const float *bias;			/* NULL: none */
	float	   *C;
	int			N,
				K;
	bool		accumulate;		/* C += A W^T instead of C = A W^T */
	bool		activate;		/* apply the model's activation after the bias */
} DenseProduct;

/* Everything the tasks of a forward call need. */
typedef struct Forward
{
	const EmbedModelInfo *info;
	const EmbedBertWeights *weights;
	const int32_t *ids;
	const int32_t *type_ids;
	const int32_t *starts;		/* [batch + 1] first packed row of each sequence */
	int			seq;
	int			tokens;
	float	   *x;				/* residual stream [tokens, hidden] */
	float	   *q,
			   *k,
			   *v;
	float	   *scores;			/* thread t's scores at scores + t * scores_stride */
	size_t		scores_stride;
	/* the current dense step */
	DenseProduct dense[3];
	int			ndense;
	/* the current LayerNorm step */
	const float *ln_bias,
			   *ln_gamma,
			   *ln_beta;
} Forward;

/* Round a float count up to a multiple of 16 (64 bytes); false on overflow. */
static bool
round_up_16(size_t n, size_t *out)
{
	if (n > SIZE_MAX - 15)
		return false;
	*out = (n + 15) & ~(size_t) 15;
	return true;
}

/*
 * The workspace layout for this batch shape and thread count; false when a
 * size is not positive, overflows, or the token or attention task count
 * does not fit an int.
 */
static bool
workspace_layout(const EmbedModelInfo *info, int batch, int seq, int threads, WorkspaceLayout *l)
{
	size_t		tokens,
				qkv,
				ffn,
				region_size,
				square,
				scores_size,
				starts_size;

	if (batch <= 0 || seq <= 0 || threads <= 0 || (size_t) batch * info->heads > INT32_MAX)
		return false;
	if (__builtin_mul_overflow((size_t) batch, (size_t) seq, &tokens) || tokens > INT32_MAX ||
		__builtin_mul_overflow(tokens, (size_t) info->hidden * 3, &qkv) ||
		__builtin_mul_overflow(tokens, (size_t) info->intermediate, &ffn) ||
		!round_up_16(qkv > ffn ? qkv : ffn, &region_size) ||
		__builtin_mul_overflow((size_t) seq, (size_t) seq, &square) ||
		!round_up_16(square, &l->scores_stride) ||
		__builtin_mul_overflow(l->scores_stride, (size_t) threads, &scores_size) ||
		!round_up_16((size_t) batch + 1, &starts_size))
		return false;
	l->region = 0;
	l->scores = region_size;
	if (__builtin_add_overflow(l->scores, scores_size, &l->starts) ||
		__builtin_add_overflow(l->starts, starts_size, &l->total))
		return false;
	return true;
}

/* Workspace bytes for a batch x seq forward call on `threads` threads; false on overflow. */
bool
embed_bert_workspace_size(const EmbedModel *m, int batch, int seq, int threads, size_t *bytes)
{
	WorkspaceLayout l;

	if (!workspace_layout(embed_model_info(m), batch, seq, threads, &l))
		return false;
	return !__builtin_mul_overflow(l.total, sizeof(float), bytes);
}

/* Check lengths, ids and type ids before any work; message names the position. */
static EmbedStatus
check_inputs(const EmbedModelInfo *info, const int32_t *ids, const int32_t *type_ids,
			 const int32_t *lengths, int batch, int seq, char *err, size_t errlen)
{
	for (int b = 0; b < batch; b++)
	{
		if (lengths[b] < 1 || lengths[b] > seq)
		{
			snprintf(err, errlen, "sequence %d has length %d (must be 1 to %d)", b, lengths[b], seq);
			return EMBED_ERR_INPUT;
		}
		if (lengths[b] > info->max_positions)
		{
			snprintf(err, errlen, "sequence %d has %d tokens; the model accepts at most %d",
					 b, lengths[b], info->max_positions);
			return EMBED_ERR_INPUT;
		}
		for (int i = 0; i < lengths[b]; i++)
		{
			size_t		at = (size_t) b * seq + i;

			if (ids[at] < 0 || ids[at] >= info->vocab_size)
			{
				snprintf(err, errlen, "token id %d at sequence %d position %d is out of range (vocabulary size %d)",
						 ids[at], b, i, info->vocab_size);
				return EMBED_ERR_INPUT;
			}
			if (type_ids && (type_ids[at] < 0 || type_ids[at] >= info->type_vocab_size))
			{
				snprintf(err, errlen, "token type %d at sequence %d position %d is out of range (type_vocab_size %d)",
						 type_ids[at], b, i, info->type_vocab_size);
				return EMBED_ERR_INPUT;
			}
		}
	}
	return EMBED_OK;
}

/*
 * Width of the column blocks of an N-wide product, a function of N only:
 * about COLUMN_BLOCK columns, a multiple of 16, and (from 4 x 64 columns
 * up) a number of blocks that is a multiple of 4 so that 2 or 4 threads
 * share a product evenly (384 columns: 4 blocks of 96; 1536: 12 of 128).
 */
static inline int
column_block_width(int N)
{
	int			blocks = (N + COLUMN_BLOCK - 1) / COLUMN_BLOCK;
	int			width;

	if (N >= 4 * 64)
		blocks = (blocks + 3) & ~3;
	width = (N + blocks - 1) / blocks;
	return (width + 15) & ~15;
}

/* Column blocks of an N-wide product. */
static inline int
column_blocks(int N)
{
	int			width = column_block_width(N);

	return (N + width - 1) / width;
}

/* Task: input embeddings and their LayerNorm for sequence `task`. */
static void
embeddings_task(void *arg, int task, int thread)
{
	Forward    *fw = arg;
	const EmbedBertWeights *w = fw->weights;
	int			H = fw->info->hidden;
	int			len = fw->starts[task + 1] - fw->starts[task];
	size_t		at = (size_t) task * fw->seq;
	float	   *rows = fw->x + (size_t) fw->starts[task] * H;

	embed_embedding_sum(len, H, fw->ids + at, fw->type_ids ? fw->type_ids + at : NULL,
						w->word_embeddings, w->position_embeddings, w->token_type_embeddings, rows);
	embed_layernorm(len, H, rows, NULL, w->emb_ln_gamma, w->emb_ln_beta,
					(float) fw->info->layer_norm_eps);
}

/* Task: one column block of one product of the current dense step. */
static void
dense_task(void *arg, int task, int thread)
{
	Forward    *fw = arg;
	const DenseProduct *d = fw->dense;
	int			col,
				width;

	while (task >= column_blocks(d->N))
	{
		task -= column_blocks(d->N);
		d++;
	}
	width = column_block_width(d->N);
	col = task * width;
	if (d->N - col < width)
		width = d->N - col;
	embed_linear_strided(fw->tokens, width, d->K, d->A, d->K, d->W + (size_t) col * d->K, d->K,
						 d->C + col, d->N, d->accumulate);
	if (d->bias && d->activate)
		embed_add_bias_activation_strided(fw->tokens, width, d->C + col, d->N, d->bias + col,
										  fw->info->activation);
	else if (d->bias)
		embed_add_bias_strided(fw->tokens, width, d->C + col, d->N, d->bias + col);
}

/* Run products[0..count) as one step of column-block tasks. */
static void
run_dense(Forward *fw, EmbedThreadPool *pool, const DenseProduct *products, int count)
{
	int			ntasks = 0;

	for (int i = 0; i < count; i++)
	{
		fw->dense[i] = products[i];
		ntasks += column_blocks(products[i].N);
	}
	fw->ndense = count;
	embed_thread_pool_run(pool, ntasks, dense_task, fw);
}

/* Task: attention of one (sequence, head) pair; context over q. */
static void
attention_task(void *arg, int task, int thread)
{
	Forward    *fw = arg;
	int			heads = fw->info->heads;
	int			hd = fw->info->head_dim;
	int			H = fw->info->hidden;
	int			b = task / heads;
	size_t		off = (size_t) fw->starts[b] * H + (size_t) (task % heads) * hd;

	embed_attention_head(fw->starts[b + 1] - fw->starts[b], hd, H,
						 fw->q + off, fw->k + off, fw->v + off,
						 fw->scores + (size_t) thread * fw->scores_stride);
}

/* Task: LayerNorm (with the step's bias) of one range of rows of x. */
static void
layernorm_task(void *arg, int task, int thread)
{
	Forward    *fw = arg;
	int			H = fw->info->hidden;
	int			first = task * LAYERNORM_ROWS;
	int			rows = fw->tokens - first < LAYERNORM_ROWS ? fw->tokens - first : LAYERNORM_ROWS;

	embed_layernorm(rows, H, fw->x + (size_t) first * H, fw->ln_bias, fw->ln_gamma, fw->ln_beta,
					(float) fw->info->layer_norm_eps);
}

/* x = LN(x + bias) over all rows, as one step. */
static void
run_layernorm(Forward *fw, EmbedThreadPool *pool, const float *bias, const float *gamma,
			  const float *beta)
{
	fw->ln_bias = bias;
	fw->ln_gamma = gamma;
	fw->ln_beta = beta;
	embed_thread_pool_run(pool, (fw->tokens + LAYERNORM_ROWS - 1) / LAYERNORM_ROWS, layernorm_task, fw);
}

/* One encoder layer over the packed tokens (x is [tokens, hidden]). */
static void
encoder_layer(Forward *fw, EmbedThreadPool *pool, const EmbedBertLayerWeights *w, int batch,
			  float *ffn)
{
	int			H = fw->info->hidden;
	int			I = fw->info->intermediate;
	DenseProduct qkv[3] = {
		{.A = fw->x, .W = w->query_w, .bias = w->query_b, .C = fw->q, .N = H, .K = H},
		{.A = fw->x, .W = w->key_w, .bias = w->key_b, .C = fw->k, .N = H, .K = H},
		{.A = fw->x, .W = w->value_w, .bias = w->value_b, .C = fw->v, .N = H, .K = H},
	};
	DenseProduct attn_out = {.A = fw->q, .W = w->attn_out_w, .C = fw->x, .N = H, .K = H,
	.accumulate = true};
	DenseProduct ffn_in = {.A = fw->x, .W = w->ffn_in_w, .bias = w->ffn_in_b, .C = ffn, .N = I,
	.K = H, .activate = true};
	DenseProduct ffn_out = {.A = ffn, .W = w->ffn_out_w, .C = fw->x, .N = H, .K = I,
	.accumulate = true};

	run_dense(fw, pool, qkv, 3);
	embed_thread_pool_run(pool, batch * fw->info->heads, attention_task, fw);
	/* x = LN(x + ctx Wo^T + bo); the context is in q */
	run_dense(fw, pool, &attn_out, 1);
	run_layernorm(fw, pool, w->attn_out_b, w->attn_ln_gamma, w->attn_ln_beta);
	/* x = LN(x + gelu(x W1^T + b1) W2^T + b2) */
	run_dense(fw, pool, &ffn_in, 1);
	run_dense(fw, pool, &ffn_out, 1);
	run_layernorm(fw, pool, w->ffn_out_b, w->out_ln_gamma, w->out_ln_beta);
}

/* Move packed rows to their padded places (back to front) and zero the padding. */
static void
unpack_rows(int hidden, const int32_t *lengths, int batch, int seq, int tokens, float *x)
{
	size_t		packed_end = (size_t) tokens;
	size_t		row = (size_t) hidden;

	for (int b = batch - 1; b >= 0; b--)
	{
		size_t		packed_start = packed_end - lengths[b];
		float	   *dst = x + (size_t) b * seq * row;

		memmove(dst, x + packed_start * row, sizeof(float) * lengths[b] * row);
		memset(dst + lengths[b] * row, 0, sizeof(float) * (seq - lengths[b]) * row);
		packed_end = packed_start;
	}
}

/* Run the encoder over a padded batch (see bert.h). */
EmbedStatus
embed_bert_forward(const EmbedModel *m, EmbedThreadPool *pool,
				   const int32_t *ids, const int32_t *type_ids,
				   const int32_t *lengths, int batch, int seq, float *hidden_out,
				   void *workspace, void (*between_layers) (void *), void *arg,
				   char *err, size_t errlen)
{
	const EmbedModelInfo *info = embed_model_info(m);
	int			H = info->hidden;
	WorkspaceLayout layout;
	float	   *ws = workspace;
	int32_t    *starts;
	Forward		fw;
	EmbedStatus status;

	if (!workspace_layout(info, batch, seq, embed_thread_pool_threads(pool), &layout))
	{
		snprintf(err, errlen, "invalid batch shape %d x %d", batch, seq);
		return EMBED_ERR_INPUT;
	}
	status = check_inputs(info, ids, type_ids, lengths, batch, seq, err, errlen);
	if (status != EMBED_OK)
		return status;
	embed_kernels_init();

	starts = (int32_t *) (ws + layout.starts);
	starts[0] = 0;
	for (int b = 0; b < batch; b++)
		starts[b + 1] = starts[b] + lengths[b];

	memset(&fw, 0, sizeof(fw));
	fw.info = info;
	fw.weights = embed_model_weights(m);
	fw.ids = ids;
	fw.type_ids = type_ids;
	fw.starts = starts;
	fw.seq = seq;
	fw.tokens = starts[batch];
	fw.x = hidden_out;
	fw.q = ws + layout.region;
	fw.k = fw.q + (size_t) fw.tokens * H;
	fw.v = fw.k + (size_t) fw.tokens * H;
	fw.scores = ws + layout.scores;
	fw.scores_stride = layout.scores_stride;

	embed_thread_pool_run(pool, batch, embeddings_task, &fw);
	for (int l = 0; l < info->layers; l++)
	{
		if (between_layers)
			between_layers(arg);
		encoder_layer(&fw, pool, &fw.weights->layers[l], batch, ws + layout.region);
	}
	unpack_rows(H, lengths, batch, seq, fw.tokens, hidden_out);
	return EMBED_OK;
}

/* Floating-point operations of the matrix products and attention. */
double
embed_bert_flops(const EmbedModel *m, const int32_t *lengths, int batch)
{
	const EmbedModelInfo *info = embed_model_info(m);
	double		H = info->hidden;
	double		I = info->intermediate;
	double		flops = 0.0;

	for (int b = 0; b < batch; b++)
	{
		double		len = lengths[b];

		/* q, k, v, output projections + FFN; scores + context */
		flops += len * (8.0 * H * H + 4.0 * H * I) + 4.0 * len * len * H;
	}
	return flops * info->layers;
}
