/*
 * steps.h: the parallel steps shared by the forward passes (bert.c,
 * gpt2.c), internal to the engine.
 *
 * A step is cut into tasks whose list depends only on the shapes, never on
 * the number of threads, and each task computes the same values whichever
 * thread runs it, so the result is bit-identical for any pool (bert.h):
 *   - a dense step is up to 3 products C[tokens, N] (+)= A[tokens, K] W
 *     (W stored [N, K] as a linear layer's, or [K, N] as a Conv1D's), each
 *     cut into blocks of output columns whose width depends on N only
 *     (embed_column_block_width); a block is one single-threaded
 *     cblas_sgemm over all the rows, then its bias (and activation);
 *   - a LayerNorm step is ranges of EMBED_LAYERNORM_ROWS rows.
 * Blocks of about EMBED_COLUMN_BLOCK = 128 columns: narrower ones re-pack
 * the activations more often (single-threaded sgemm throughput drops by
 * 5-15% at 32-64 columns with 4096 rows), wider ones leave too few tasks to
 * balance the threads over the 384-wide products of a MiniLM-sized model.
 */
#ifndef EMBED_STEPS_H
#define EMBED_STEPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels.h"
#include "model.h"
#include "threadpool.h"

#define EMBED_COLUMN_BLOCK 128
#define EMBED_LAYERNORM_ROWS 32

/* One dense product of a step: C (+)= A W, then bias (and activation). */
typedef struct EmbedDenseProduct
{
	const float *A;				/* [tokens, K], rows lda floats apart (0: K) */
	int			lda;
	const float *W;				/* [N, K], or [K, N] when weight_kn */
	bool		weight_kn;
	const float *bias;			/* [N] or NULL */
	float	   *C;				/* [tokens, N], rows ldc floats apart (0: N) */
	int			ldc;
	int			N,
				K;
	bool		accumulate;		/* C += A W instead of C = A W */
	bool		activate;		/* apply the activation after the bias (bias required) */
} EmbedDenseProduct;

/* What the tasks of the steps of one forward call share. */
typedef struct EmbedSteps
{
	EmbedThreadPool *pool;
	int			tokens;			/* rows of every product and LayerNorm */
	EmbedActivation activation;
	float		eps;
	/* the current dense step */
	EmbedDenseProduct dense[3];
	int			ndense;
	/* the current LayerNorm step: dst = LN(src + bias) */
	const float *ln_src;
	float	   *ln_dst;
	int			ln_width;
	const float *ln_bias,
			   *ln_gamma,
			   *ln_beta;
} EmbedSteps;

/* Width of the column blocks of an N-wide product, a function of N only. */
int			embed_column_block_width(int N);

/* Run products[0..count) (count <= 3) as one step of column-block tasks. */
void		embed_steps_dense(EmbedSteps *s, const EmbedDenseProduct *products, int count);

/*
 * dst[tokens, width] = LN(src + bias) * gamma + beta as one step; src ==
 * dst works in place, bias may be NULL.
 */
void		embed_steps_layernorm(EmbedSteps *s, const float *src, float *dst, int width,
								  const float *bias, const float *gamma, const float *beta);

/* n rounded up to a multiple of 16 (floats: 64 bytes); false on overflow. */
bool		embed_round_up_16(size_t n, size_t *out);

/*
 * Where the parts of a forward call's workspace start, in floats: the
 * region holding q | k | v ([tokens, 3 hidden]) or the feed-forward
 * activations ([tokens, intermediate]), which are never live together; an
 * optional LayerNorm output h [tokens, hidden] (pre-LN models); one
 * [seq, seq] score matrix per thread; the sequence starts (int32 [batch + 1]).
 */
typedef struct EmbedForwardLayout
{
	size_t		region;
	size_t		h;				/* == scores when without h */
	size_t		scores;
	size_t		scores_stride;	/* floats between two threads' scores */
	size_t		starts;
	size_t		total;
} EmbedForwardLayout;

/*
 * The layout for tokens = batch * seq on `threads` threads; false when a
 * size is not positive, overflows, or the token or attention task count
 * does not fit an int.
 */
bool		embed_forward_layout(const EmbedModelInfo *info, int batch, int seq, int threads,
								 bool with_h, EmbedForwardLayout *l);

/*
 * Spread the packed rows of x ([tokens, hidden], sequence b's lengths[b]
 * rows after the previous ones) to the padded layout [batch, seq, hidden]
 * in place, zeroing the padding rows.
 */
void		embed_unpack_rows(int hidden, const int32_t *lengths, int batch, int seq, int tokens,
							  float *x);

/*
 * Check lengths (1 .. seq and the model's usable positions), ids and type
 * ids before any work; the message names the sequence and position.
 */
EmbedStatus embed_forward_check_inputs(const EmbedModelInfo *info, const int32_t *ids,
									   const int32_t *type_ids, const int32_t *lengths,
									   int batch, int seq, char *err, size_t errlen);

/*
 * The start of every forward call: check the inputs (as above), make the
 * kernels ready (embed_kernels_init) and fill starts[0..batch] with the
 * first packed row of each sequence (starts[batch] = real tokens).
 */
EmbedStatus embed_forward_prepare(const EmbedModelInfo *info, const int32_t *ids,
								  const int32_t *type_ids, const int32_t *lengths,
								  int batch, int seq, int32_t *starts, char *err, size_t errlen);

#endif
