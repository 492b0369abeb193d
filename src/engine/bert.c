/*
 * bert.c: the post-LayerNorm encoder forward pass of BERT, RoBERTa and
 * DistilBERT (absolute positions, token types when the model has them),
 * optionally spread over a thread pool.  The three differ only in their
 * input embeddings: RoBERTa's positions start after its padding id and
 * DistilBERT has no token types.
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
 * - Reproducibility whatever the thread count (see bert.h): the dense and
 *   LayerNorm steps are those of steps.h, whose task lists depend on the
 *   shapes only; attention is one task per (sequence, head), each with the
 *   scores scratch of the thread that runs it; the input embeddings are one
 *   task per sequence.
 * - Workspace: q, k, v [tokens, hidden] share one region with the FFN
 *   activations [tokens, intermediate] (they are never live together),
 *   then one [seq, seq] score matrix per thread and the sequence starts.
 *   Sized for tokens = batch * seq.
 */
#include "bert.h"

#include <stdio.h>
#include <string.h>

#include "steps.h"

/* Where the parts of the workspace start, in floats. */
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
	EmbedSteps	steps;			/* dense and LayerNorm steps */
} Forward;

/* Workspace bytes for a batch x seq forward call on `threads` threads; false on overflow. */
bool
embed_bert_workspace_size(const EmbedModel *m, int batch, int seq, int threads, size_t *bytes)
{
	EmbedForwardLayout l;

	if (!embed_forward_layout(embed_model_info(m), batch, seq, threads, false, &l))
		return false;
	return !__builtin_mul_overflow(l.total, sizeof(float), bytes);
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
						w->word_embeddings, w->position_embeddings, w->token_type_embeddings,
						fw->info->position_pad_id, rows);
	embed_layernorm(len, H, rows, NULL, w->emb_ln_gamma, w->emb_ln_beta,
					(float) fw->info->layer_norm_eps);
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

/* One encoder layer over the packed tokens (x is [tokens, hidden]). */
static void
encoder_layer(Forward *fw, EmbedThreadPool *pool, const EmbedBertLayerWeights *w, int batch,
			  float *ffn)
{
	int			H = fw->info->hidden;
	int			I = fw->info->intermediate;
	EmbedDenseProduct qkv[3] = {
		{.A = fw->x, .W = w->query_w, .bias = w->query_b, .C = fw->q, .N = H, .K = H},
		{.A = fw->x, .W = w->key_w, .bias = w->key_b, .C = fw->k, .N = H, .K = H},
		{.A = fw->x, .W = w->value_w, .bias = w->value_b, .C = fw->v, .N = H, .K = H},
	};
	EmbedDenseProduct attn_out = {.A = fw->q, .W = w->attn_out_w, .C = fw->x, .N = H, .K = H,
	.accumulate = true};
	EmbedDenseProduct ffn_in = {.A = fw->x, .W = w->ffn_in_w, .bias = w->ffn_in_b, .C = ffn, .N = I,
	.K = H, .activate = true};
	EmbedDenseProduct ffn_out = {.A = ffn, .W = w->ffn_out_w, .C = fw->x, .N = H, .K = I,
	.accumulate = true};

	embed_steps_dense(&fw->steps, qkv, 3);
	embed_thread_pool_run(pool, batch * fw->info->heads, attention_task, fw);
	/* x = LN(x + ctx Wo^T + bo); the context is in q */
	embed_steps_dense(&fw->steps, &attn_out, 1);
	embed_steps_layernorm(&fw->steps, fw->x, fw->x, H, w->attn_out_b, w->attn_ln_gamma, w->attn_ln_beta);
	/* x = LN(x + gelu(x W1^T + b1) W2^T + b2) */
	embed_steps_dense(&fw->steps, &ffn_in, 1);
	embed_steps_dense(&fw->steps, &ffn_out, 1);
	embed_steps_layernorm(&fw->steps, fw->x, fw->x, H, w->ffn_out_b, w->out_ln_gamma, w->out_ln_beta);
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
	EmbedForwardLayout layout;
	float	   *ws = workspace;
	int32_t    *starts;
	Forward		fw;
	EmbedStatus status;

	if (info->arch == EMBED_ARCH_GPT2)
	{
		snprintf(err, errlen, "embed_bert_forward called on a GPT-2 model");
		return EMBED_ERR_INPUT;
	}
	if (!embed_forward_layout(info, batch, seq, embed_thread_pool_threads(pool), false, &layout))
	{
		snprintf(err, errlen, "invalid batch shape %d x %d", batch, seq);
		return EMBED_ERR_INPUT;
	}
	starts = (int32_t *) (ws + layout.starts);
	status = embed_forward_prepare(info, ids, type_ids, lengths, batch, seq, starts, err, errlen);
	if (status != EMBED_OK)
		return status;

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
	fw.steps.pool = pool;
	fw.steps.tokens = fw.tokens;
	fw.steps.activation = info->activation;
	fw.steps.eps = (float) info->layer_norm_eps;

	embed_thread_pool_run(pool, batch, embeddings_task, &fw);
	for (int l = 0; l < info->layers; l++)
	{
		if (between_layers)
			between_layers(arg);
		encoder_layer(&fw, pool, &fw.weights->layers[l], batch, ws + layout.region);
	}
	embed_unpack_rows(H, lengths, batch, seq, fw.tokens, hidden_out);
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
