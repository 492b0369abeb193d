/*
 * forward.h: the forward pass of any loaded model, whatever its
 * architecture: BERT, RoBERTa and DistilBERT run bert.c's encoder, GPT-2
 * runs gpt2.c's decoder.  Arguments, workspace and reproducibility are as
 * described in bert.h; the output is always the final hidden states
 * [batch, seq, hidden], pooled by embed_model_pool.
 */
#ifndef EMBED_FORWARD_H
#define EMBED_FORWARD_H

#include "bert.h"
#include "gpt2.h"

/* Workspace bytes for the model's forward pass (see embed_bert_workspace_size). */
bool		embed_forward_workspace_size(const EmbedModel *m, int batch, int seq, int threads,
										 size_t *bytes);

/* The model's forward pass (see embed_bert_forward). */
EmbedStatus embed_forward(const EmbedModel *m, EmbedThreadPool *pool,
						  const int32_t *ids, const int32_t *type_ids,
						  const int32_t *lengths, int batch, int seq, float *hidden_out,
						  void *workspace, void (*between_layers) (void *), void *arg,
						  char *err, size_t errlen);

/*
 * Floating-point operations of the matrix products and attention of one
 * call (for benchmarks; causal attention is counted whole, as computed).
 */
double		embed_forward_flops(const EmbedModel *m, const int32_t *lengths, int batch);

#endif
