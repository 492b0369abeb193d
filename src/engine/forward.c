/*
 * forward.c: dispatch to the forward pass of the model's architecture.
 */
#include "forward.h"

/* Workspace bytes for the model's architecture. */
bool
embed_forward_workspace_size(const EmbedModel *m, int batch, int seq, int threads, size_t *bytes)
{
	if (embed_model_info(m)->arch == EMBED_ARCH_GPT2)
		return embed_gpt2_workspace_size(m, batch, seq, threads, bytes);
	return embed_bert_workspace_size(m, batch, seq, threads, bytes);
}

/* Run the model's forward pass. */
EmbedStatus
embed_forward(const EmbedModel *m, EmbedThreadPool *pool,
			  const int32_t *ids, const int32_t *type_ids,
			  const int32_t *lengths, int batch, int seq, float *hidden_out,
			  void *workspace, void (*between_layers) (void *), void *arg,
			  char *err, size_t errlen)
{
	if (embed_model_info(m)->arch == EMBED_ARCH_GPT2)
		return embed_gpt2_forward(m, pool, ids, type_ids, lengths, batch, seq, hidden_out,
								  workspace, between_layers, arg, err, errlen);
	return embed_bert_forward(m, pool, ids, type_ids, lengths, batch, seq, hidden_out,
							  workspace, between_layers, arg, err, errlen);
}

/* Products and attention, the same count for both families. */
double
embed_forward_flops(const EmbedModel *m, const int32_t *lengths, int batch)
{
	return embed_bert_flops(m, lengths, batch);
}
