/*
 * bert.h: the BERT encoder forward pass over a loaded EmbedModel.
 *
 * A batch is `batch` sequences padded to `seq` positions, row-major;
 * lengths[b] (1..seq) is the number of real tokens of row b.  Padding is
 * neither attended to nor computed: each row behaves exactly as if it were
 * run alone with an attention mask over its real tokens.  To reproduce a
 * reference that ran over padding *without* a mask, pass lengths[b] = seq
 * and pool over the real tokens with embed_model_pool.
 *
 * The forward pass allocates nothing: all scratch memory is the caller's
 * workspace, sized by embed_bert_workspace_size.  The optional
 * between_layers(arg) callback is called before each encoder layer, at a
 * point where no resource is held, so it may longjmp out (e.g. to abort a
 * query).  Same model, input, batch shape and thread count give
 * bit-identical output.
 */
#ifndef EMBED_BERT_H
#define EMBED_BERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

/*
 * Bytes of workspace for a forward call with this batch and seq; false when
 * batch or seq is not positive or the size overflows.
 */
bool		embed_bert_workspace_size(const EmbedModel *m, int batch, int seq, size_t *bytes);

/*
 * Run the encoder.  ids and type_ids (NULL = all 0) are [batch * seq];
 * hidden_out is [batch * seq * hidden] and receives the final hidden
 * states (padding rows are set to 0).  workspace must hold
 * embed_bert_workspace_size(m, batch, seq) bytes, aligned for float.
 * Returns EMBED_ERR_INPUT (with a message) when a length, id or type id is
 * out of range; nothing is computed then.
 */
EmbedStatus embed_bert_forward(const EmbedModel *m, const int32_t *ids, const int32_t *type_ids,
							   const int32_t *lengths, int batch, int seq, float *hidden_out,
							   void *workspace, void (*between_layers) (void *), void *arg,
							   char *err, size_t errlen);

/* Floating-point operations of one forward call (for benchmarks). */
double		embed_bert_flops(const EmbedModel *m, const int32_t *lengths, int batch);

#endif
