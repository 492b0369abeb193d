/*
 * bert.c: BERT encoder forward pass (post-LayerNorm layers, absolute
 * positions, token types).
 *
 * Design notes:
 * - Real tokens are packed: row b's tokens occupy rows [start_b, start_b +
 *   lengths[b]) of a [tokens, hidden] activation matrix, so the dense layers
 *   run one GEMM over the real tokens of the whole batch and padding costs
 *   nothing.  hidden_out itself holds the activations (the residual stream);
 *   at the end the rows are spread out in place to the padded layout.
 * - Per layer, with x the residual stream [tokens, hidden]:
 *     q, k, v = x Wq^T + bq, x Wk^T + bk, x Wv^T + bv      (3 sgemms)
 *     per sequence, per head: ctx = softmax(q k^T / sqrt(d)) v   (over q)
 *     x = LN(x + ctx Wo^T + bo)     (sgemm accumulating into x, then LN)
 *     f = gelu(x W1^T + b1)
 *     x = LN(x + f W2^T + b2)
 *   Accumulating the projections into x (beta = 1) makes the residual add
 *   free and needs no extra buffer.
 * - Workspace: q, k, v [tokens, hidden] share one region with the FFN
 *   activations [tokens, intermediate] (they are never live together),
 *   plus one [seq, seq] score matrix.  Sized for tokens = batch * seq.
 */
#include "bert.h"

#include <stdio.h>
#include <string.h>

/* Round a float count up to a multiple of 16 (64 bytes). */
static bool
round_up_16(size_t n, size_t *out)
{
	if (n > SIZE_MAX - 15)
		return false;
	*out = (n + 15) & ~(size_t) 15;
	return true;
}

/*
 * Floats in the shared q/k/v | FFN region and in the score matrix; false
 * when a size overflows or the token count does not fit a BLAS int.
 */
static bool
workspace_floats(const EmbedModelInfo *info, int batch, int seq,
				 size_t *region, size_t *scores)
{
	size_t		tokens,
				qkv,
				ffn;

	if (batch <= 0 || seq <= 0)
		return false;
	if (__builtin_mul_overflow((size_t) batch, (size_t) seq, &tokens) || tokens > INT32_MAX ||
		__builtin_mul_overflow(tokens, (size_t) info->hidden * 3, &qkv) ||
		__builtin_mul_overflow(tokens, (size_t) info->intermediate, &ffn) ||
		__builtin_mul_overflow((size_t) seq, (size_t) seq, scores))
		return false;
	return round_up_16(qkv > ffn ? qkv : ffn, region) && round_up_16(*scores, scores);
}

/* Workspace bytes for a batch x seq forward call; false on overflow. */
bool
embed_bert_workspace_size(const EmbedModel *m, int batch, int seq, size_t *bytes)
{
	size_t		region,
				scores,
				floats;

	if (!workspace_floats(embed_model_info(m), batch, seq, &region, &scores))
		return false;
	if (__builtin_add_overflow(region, scores, &floats) ||
		__builtin_mul_overflow(floats, sizeof(float), bytes))
		return false;
	return true;
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

/* One encoder layer over the packed tokens; x is [tokens, hidden]. */
static void
encoder_layer(const EmbedModelInfo *info, const EmbedBertLayerWeights *w,
			  const int32_t *lengths, int batch, int tokens,
			  float *x, float *region, float *scores)
{
	int			H = info->hidden;
	int			I = info->intermediate;
	float		eps = (float) info->layer_norm_eps;
	float	   *q = region;
	float	   *k = region + (size_t) tokens * H;
	float	   *v = region + (size_t) tokens * H * 2;
	float	   *ffn = region;
	size_t		start = 0;

	embed_linear(tokens, H, H, x, w->query_w, q, false);
	embed_add_bias(tokens, H, q, w->query_b);
	embed_linear(tokens, H, H, x, w->key_w, k, false);
	embed_add_bias(tokens, H, k, w->key_b);
	embed_linear(tokens, H, H, x, w->value_w, v, false);
	embed_add_bias(tokens, H, v, w->value_b);

	for (int b = 0; b < batch; b++)
	{
		size_t		off = start * H;

		embed_attention(lengths[b], info->heads, info->head_dim, H,
						q + off, k + off, v + off, scores);
		start += lengths[b];
	}

	/* x = LN(x + ctx Wo^T + bo); the context is in q */
	embed_linear(tokens, H, H, q, w->attn_out_w, x, true);
	embed_layernorm(tokens, H, x, w->attn_out_b, w->attn_ln_gamma, w->attn_ln_beta, eps);

	/* x = LN(x + gelu(x W1^T + b1) W2^T + b2) */
	embed_linear(tokens, I, H, x, w->ffn_in_w, ffn, false);
	embed_add_bias_activation(tokens, I, ffn, w->ffn_in_b, info->activation);
	embed_linear(tokens, H, I, ffn, w->ffn_out_w, x, true);
	embed_layernorm(tokens, H, x, w->ffn_out_b, w->out_ln_gamma, w->out_ln_beta, eps);
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
embed_bert_forward(const EmbedModel *m, const int32_t *ids, const int32_t *type_ids,
				   const int32_t *lengths, int batch, int seq, float *hidden_out,
				   void *workspace, void (*between_layers) (void *), void *arg,
				   char *err, size_t errlen)
{
	const EmbedModelInfo *info = embed_model_info(m);
	const EmbedBertWeights *w = embed_model_weights(m);
	int			H = info->hidden;
	size_t		region_floats,
				scores_floats;
	float	   *region = workspace;
	float	   *scores;
	int			tokens = 0;
	EmbedStatus status;

	if (!workspace_floats(info, batch, seq, &region_floats, &scores_floats))
	{
		snprintf(err, errlen, "invalid batch shape %d x %d", batch, seq);
		return EMBED_ERR_INPUT;
	}
	scores = region + region_floats;
	status = check_inputs(info, ids, type_ids, lengths, batch, seq, err, errlen);
	if (status != EMBED_OK)
		return status;

	for (int b = 0; b < batch; b++)
	{
		size_t		at = (size_t) b * seq;

		embed_embedding_sum(lengths[b], H, ids + at, type_ids ? type_ids + at : NULL,
							w->word_embeddings, w->position_embeddings,
							w->token_type_embeddings, hidden_out + (size_t) tokens * H);
		tokens += lengths[b];
	}
	embed_layernorm(tokens, H, hidden_out, NULL, w->emb_ln_gamma, w->emb_ln_beta,
					(float) info->layer_norm_eps);

	for (int l = 0; l < info->layers; l++)
	{
		if (between_layers)
			between_layers(arg);
		encoder_layer(info, &w->layers[l], lengths, batch, tokens, hidden_out, region, scores);
	}
	unpack_rows(H, lengths, batch, seq, tokens, hidden_out);
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
