/*
 * gpt2.h: the GPT-2 decoder forward pass over a loaded EmbedModel.
 *
 * The same contract as bert.h (padded batch, lengths, caller workspace,
 * optional pool, between_layers callback, reproducibility rules: up to 64
 * tokens in the batch, a sequence gives the same bits alone and inside the
 * batch), for a causal model: token i sees tokens 0..i of its own
 * sequence, so a token's hidden state does not depend on what follows it.
 * GPT-2 has no token types: type_ids must be NULL or all 0, and the result
 * is Hugging Face's without token_type_ids (given explicit type ids,
 * Hugging Face's GPT2Model would add their rows of wte; the engine never
 * does).  The output is the final hidden states after ln_f (Hugging Face's
 * last_hidden_state); the tied LM head's logits are hidden x wte^T.
 */
#ifndef EMBED_GPT2_H
#define EMBED_GPT2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "threadpool.h"

/* Workspace bytes for batch x seq on `threads` threads; false on bad shape or overflow. */
bool		embed_gpt2_workspace_size(const EmbedModel *m, int batch, int seq, int threads,
									  size_t *bytes);

/* Run the decoder (see bert.h's embed_bert_forward for the arguments). */
EmbedStatus embed_gpt2_forward(const EmbedModel *m, EmbedThreadPool *pool,
							   const int32_t *ids, const int32_t *type_ids,
							   const int32_t *lengths, int batch, int seq, float *hidden_out,
							   void *workspace, void (*between_layers) (void *), void *arg,
							   char *err, size_t errlen);

#endif
