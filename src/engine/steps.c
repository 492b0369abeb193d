/*
 * steps.c: dense and LayerNorm steps of a forward pass as thread-pool
 * tasks (see steps.h for why the task list depends on shapes only).
 */
#include "steps.h"

#include <stdio.h>
#include <string.h>

/*
 * About EMBED_COLUMN_BLOCK columns, a multiple of 16, and (from 4 x 64
 * columns up) a number of blocks that is a multiple of 4 so that 2 or 4
 * threads share a product evenly (384 columns: 4 blocks of 96; 1536: 12 of
 * 128).
 */
int
embed_column_block_width(int N)
{
	int			blocks = (N + EMBED_COLUMN_BLOCK - 1) / EMBED_COLUMN_BLOCK;
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
	int			width = embed_column_block_width(N);

	return (N + width - 1) / width;
}

/* Task: one column block of one product of the current dense step. */
static void
dense_task(void *arg, int task, int thread)
{
	EmbedSteps *s = arg;
	const EmbedDenseProduct *d = s->dense;
	int			col,
				width,
				lda,
				ldc;

	while (task >= column_blocks(d->N))
	{
		task -= column_blocks(d->N);
		d++;
	}
	width = embed_column_block_width(d->N);
	col = task * width;
	if (d->N - col < width)
		width = d->N - col;
	lda = d->lda ? d->lda : d->K;
	ldc = d->ldc ? d->ldc : d->N;
	if (d->weight_kn)
		embed_linear_kn_strided(s->tokens, width, d->K, d->A, lda, d->W + col, d->N,
								d->C + col, ldc, d->accumulate);
	else
		embed_linear_strided(s->tokens, width, d->K, d->A, lda, d->W + (size_t) col * d->K, d->K,
							 d->C + col, ldc, d->accumulate);
	if (d->activate)
		embed_add_bias_activation_strided(s->tokens, width, d->C + col, ldc, d->bias + col,
										  s->activation);
	else if (d->bias)
		embed_add_bias_strided(s->tokens, width, d->C + col, ldc, d->bias + col);
}

/* One step of column-block tasks over every product. */
void
embed_steps_dense(EmbedSteps *s, const EmbedDenseProduct *products, int count)
{
	int			ntasks = 0;

	for (int i = 0; i < count; i++)
	{
		s->dense[i] = products[i];
		ntasks += column_blocks(products[i].N);
	}
	s->ndense = count;
	embed_thread_pool_run(s->pool, ntasks, dense_task, s);
}

/* Task: LayerNorm of one range of rows. */
static void
layernorm_task(void *arg, int task, int thread)
{
	EmbedSteps *s = arg;
	int			first = task * EMBED_LAYERNORM_ROWS;
	int			rows = s->tokens - first < EMBED_LAYERNORM_ROWS ? s->tokens - first : EMBED_LAYERNORM_ROWS;
	size_t		at = (size_t) first * s->ln_width;

	if (s->ln_dst != s->ln_src)
		memcpy(s->ln_dst + at, s->ln_src + at, sizeof(float) * (size_t) rows * s->ln_width);
	embed_layernorm(rows, s->ln_width, s->ln_dst + at, s->ln_bias, s->ln_gamma, s->ln_beta, s->eps);
}

/* dst = LN(src + bias) over all rows, as one step. */
void
embed_steps_layernorm(EmbedSteps *s, const float *src, float *dst, int width,
					  const float *bias, const float *gamma, const float *beta)
{
	s->ln_src = src;
	s->ln_dst = dst;
	s->ln_width = width;
	s->ln_bias = bias;
	s->ln_gamma = gamma;
	s->ln_beta = beta;
	embed_thread_pool_run(s->pool, (s->tokens + EMBED_LAYERNORM_ROWS - 1) / EMBED_LAYERNORM_ROWS,
						  layernorm_task, s);
}

/* Round a float count up to a multiple of 16. */
bool
embed_round_up_16(size_t n, size_t *out)
{
	if (n > SIZE_MAX - 15)
		return false;
	*out = (n + 15) & ~(size_t) 15;
	return true;
}

/* Lay out the workspace (see steps.h), with overflow checks. */
bool
embed_forward_layout(const EmbedModelInfo *info, int batch, int seq, int threads, bool with_h,
					 EmbedForwardLayout *l)
{
	size_t		tokens,
				qkv,
				ffn,
				region_size,
				h_size = 0,
				square,
				scores_size,
				starts_size;

	if (batch <= 0 || seq <= 0 || threads <= 0 || (size_t) batch * info->heads > INT32_MAX)
		return false;
	if (__builtin_mul_overflow((size_t) batch, (size_t) seq, &tokens) || tokens > INT32_MAX ||
		__builtin_mul_overflow(tokens, (size_t) info->hidden * 3, &qkv) ||
		__builtin_mul_overflow(tokens, (size_t) info->intermediate, &ffn) ||
		!embed_round_up_16(qkv > ffn ? qkv : ffn, &region_size) ||
		(with_h && (__builtin_mul_overflow(tokens, (size_t) info->hidden, &h_size) ||
					!embed_round_up_16(h_size, &h_size))) ||
		__builtin_mul_overflow((size_t) seq, (size_t) seq, &square) ||
		!embed_round_up_16(square, &l->scores_stride) ||
		__builtin_mul_overflow(l->scores_stride, (size_t) threads, &scores_size) ||
		!embed_round_up_16((size_t) batch + 1, &starts_size))
		return false;
	l->region = 0;
	l->h = region_size;
	if (__builtin_add_overflow(l->h, h_size, &l->scores) ||
		__builtin_add_overflow(l->scores, scores_size, &l->starts) ||
		__builtin_add_overflow(l->starts, starts_size, &l->total))
		return false;
	return true;
}

/* Move packed rows to their padded places (back to front) and zero the padding. */
void
embed_unpack_rows(int hidden, const int32_t *lengths, int batch, int seq, int tokens, float *x)
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

/* Check lengths, ids and type ids before any work; message names the position. */
EmbedStatus
embed_forward_check_inputs(const EmbedModelInfo *info, const int32_t *ids, const int32_t *type_ids,
			 const int32_t *lengths, int batch, int seq, char *err, size_t errlen)
{
	for (int b = 0; b < batch; b++)
	{
		if (lengths[b] < 1 || lengths[b] > seq)
		{
			snprintf(err, errlen, "sequence %d has length %d (must be 1 to %d)", b, lengths[b], seq);
			return EMBED_ERR_INPUT;
		}
		if (lengths[b] > embed_model_usable_positions(info))
		{
			snprintf(err, errlen, "sequence %d has %d tokens; the model accepts at most %d",
					 b, lengths[b], embed_model_usable_positions(info));
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
			if (type_ids && info->type_vocab_size == 0 && type_ids[at] != 0)
			{
				snprintf(err, errlen, "token type %d at sequence %d position %d: the model has no token types",
						 type_ids[at], b, i);
				return EMBED_ERR_INPUT;
			}
			if (type_ids && info->type_vocab_size > 0 &&
				(type_ids[at] < 0 || type_ids[at] >= info->type_vocab_size))
			{
				snprintf(err, errlen, "token type %d at sequence %d position %d is out of range (type_vocab_size %d)",
						 type_ids[at], b, i, info->type_vocab_size);
				return EMBED_ERR_INPUT;
			}
		}
	}
	return EMBED_OK;
}

/* Check the inputs, initialise the kernels, compute the packed row starts. */
EmbedStatus
embed_forward_prepare(const EmbedModelInfo *info, const int32_t *ids, const int32_t *type_ids,
					  const int32_t *lengths, int batch, int seq, int32_t *starts,
					  char *err, size_t errlen)
{
	EmbedStatus status = embed_forward_check_inputs(info, ids, type_ids, lengths, batch, seq,
													err, errlen);

	if (status != EMBED_OK)
		return status;
	embed_kernels_init();
	starts[0] = 0;
	for (int b = 0; b < batch; b++)
		starts[b + 1] = starts[b] + lengths[b];
	return EMBED_OK;
}
