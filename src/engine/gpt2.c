/*
 * gpt2.c: GPT-2 decoder forward pass (pre-LayerNorm blocks, learned
 * positions, causal self-attention, final ln_f), optionally spread over a
 * thread pool.
 *
 * Design notes:
 * - As in bert.c, real tokens are packed into a [tokens, hidden] residual
 *   stream x (hidden_out itself) and spread out to the padded layout at the
 *   end; dense and LayerNorm steps are those of steps.h, so the result is
 *   bit-identical for any thread count.
 * - Per block, with x the residual stream:
 *     h = LN1(x)
 *     qkv = h Wattn + battn                [tokens, 3 hidden]: q | k | v
 *     per sequence, per head: ctx = causal softmax(q k^T / sqrt(d)) v (over q)
 *     x = x + ctx Wproj + bproj            (accumulated into x)
 *     h = LN2(x)
 *     x = x + act(h Wfc + bfc) Wfc2 + bfc2
 *   and after the last block x = LN_f(x).  The Conv1D weights are stored
 *   [in, out] and used as they are (embed_linear_kn_strided): no transposed
 *   copy, so they stay in the shared mapping.
 * - Workspace: the fused qkv [tokens, 3 hidden] shares one region with the
 *   MLP activations [tokens, intermediate]; then h [tokens, hidden], one
 *   [seq, seq] score matrix per thread and the sequence starts.
 */
#include "gpt2.h"

#include <stdio.h>
#include <string.h>

#include "steps.h"

typedef struct Gpt2Forward
{
	const EmbedModelInfo *info;
	const EmbedGpt2Weights *weights;
	const int32_t *ids;
	const int32_t *starts;
	int			seq;
	float	   *x;				/* residual stream [tokens, hidden] */
	float	   *qkv;			/* [tokens, 3 hidden] */
	float	   *scores;
	size_t		scores_stride;
	EmbedSteps	steps;
} Gpt2Forward;

/* Workspace bytes for a batch x seq call on `threads` threads. */
bool
embed_gpt2_workspace_size(const EmbedModel *m, int batch, int seq, int threads, size_t *bytes)
{
	EmbedForwardLayout l;

	if (!embed_forward_layout(embed_model_info(m), batch, seq, threads, true, &l))
		return false;
	return !__builtin_mul_overflow(l.total, sizeof(float), bytes);
}

/* Task: token + position embeddings of sequence `task`. */
static void
embeddings_task(void *arg, int task, int thread)
{
	Gpt2Forward *fw = arg;
	int			H = fw->info->hidden;

	embed_embedding_sum(fw->starts[task + 1] - fw->starts[task], H, fw->ids + (size_t) task * fw->seq,
						NULL, fw->weights->token_embeddings, fw->weights->position_embeddings,
						NULL, -1, fw->x + (size_t) fw->starts[task] * H);
}

/* Task: causal attention of one (sequence, head) pair; context over q. */
static void
attention_task(void *arg, int task, int thread)
{
	Gpt2Forward *fw = arg;
	int			heads = fw->info->heads;
	int			hd = fw->info->head_dim;
	int			H = fw->info->hidden;
	int			b = task / heads;
	float	   *q = fw->qkv + (size_t) fw->starts[b] * 3 * H + (size_t) (task % heads) * hd;

	embed_attention_head_causal(fw->starts[b + 1] - fw->starts[b], hd, 3 * H, q, q + H, q + 2 * H,
								fw->scores + (size_t) thread * fw->scores_stride);
}

/* One pre-LN block over the packed tokens. */
static void
gpt2_block(Gpt2Forward *fw, EmbedThreadPool *pool, const EmbedGpt2LayerWeights *w, int batch,
		   float *h, float *mlp)
{
	int			H = fw->info->hidden;
	int			I = fw->info->intermediate;
	EmbedDenseProduct attn = {.A = h, .W = w->attn_w, .weight_kn = true, .bias = w->attn_b,
	.C = fw->qkv, .N = 3 * H, .K = H};
	EmbedDenseProduct attn_proj = {.A = fw->qkv, .lda = 3 * H, .W = w->attn_proj_w, .weight_kn = true,
	.bias = w->attn_proj_b, .C = fw->x, .N = H, .K = H, .accumulate = true};
	EmbedDenseProduct fc = {.A = h, .W = w->fc_w, .weight_kn = true, .bias = w->fc_b, .C = mlp,
	.N = I, .K = H, .activate = true};
	EmbedDenseProduct fc_proj = {.A = mlp, .W = w->fc_proj_w, .weight_kn = true, .bias = w->fc_proj_b,
	.C = fw->x, .N = H, .K = I, .accumulate = true};

	/* x = x + attn(LN1(x)) */
	embed_steps_layernorm(&fw->steps, fw->x, h, H, NULL, w->ln1_gamma, w->ln1_beta);
	embed_steps_dense(&fw->steps, &attn, 1);
	embed_thread_pool_run(pool, batch * fw->info->heads, attention_task, fw);
	embed_steps_dense(&fw->steps, &attn_proj, 1);
	/* x = x + mlp(LN2(x)) */
	embed_steps_layernorm(&fw->steps, fw->x, h, H, NULL, w->ln2_gamma, w->ln2_beta);
	embed_steps_dense(&fw->steps, &fc, 1);
	embed_steps_dense(&fw->steps, &fc_proj, 1);
}

/* Run the decoder over a padded batch. */
EmbedStatus
embed_gpt2_forward(const EmbedModel *m, EmbedThreadPool *pool,
				   const int32_t *ids, const int32_t *type_ids,
				   const int32_t *lengths, int batch, int seq, float *hidden_out,
				   void *workspace, void (*between_layers) (void *), void *arg,
				   char *err, size_t errlen)
{
	const EmbedModelInfo *info = embed_model_info(m);
	EmbedForwardLayout layout;
	float	   *ws = workspace;
	int32_t    *starts;
	Gpt2Forward fw;
	EmbedStatus status;

	if (info->arch != EMBED_ARCH_GPT2)
	{
		snprintf(err, errlen, "embed_gpt2_forward called on a %s model", embed_architecture_name(info->arch));
		return EMBED_ERR_INPUT;
	}
	if (!embed_forward_layout(info, batch, seq, embed_thread_pool_threads(pool), true, &layout))
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
	fw.weights = embed_model_gpt2_weights(m);
	fw.ids = ids;
	fw.starts = starts;
	fw.seq = seq;
	fw.x = hidden_out;
	fw.qkv = ws + layout.region;
	fw.scores = ws + layout.scores;
	fw.scores_stride = layout.scores_stride;
	fw.steps.pool = pool;
	fw.steps.tokens = starts[batch];
	fw.steps.activation = info->activation;
	fw.steps.eps = (float) info->layer_norm_eps;

	embed_thread_pool_run(pool, batch, embeddings_task, &fw);
	for (int l = 0; l < info->layers; l++)
	{
		if (between_layers)
			between_layers(arg);
		gpt2_block(&fw, pool, &fw.weights->layers[l], batch, ws + layout.h, ws + layout.region);
	}
	embed_steps_layernorm(&fw.steps, fw.x, fw.x, info->hidden, NULL, fw.weights->lnf_gamma,
						  fw.weights->lnf_beta);
	embed_unpack_rows(info->hidden, lengths, batch, seq, starts[batch], hidden_out);
	return EMBED_OK;
}
