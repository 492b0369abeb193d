/*
 * bert.h: the BERT encoder forward pass over a loaded EmbedModel.
 *
 * A batch is `batch` sequences padded to `seq` positions, row-major;
 * lengths[b] (1..seq) is the number of real tokens of row b.  Padding is
 * neither attended to nor computed: each row behaves as if it were run
 * alone with an attention mask over its real tokens.  To reproduce a
 * reference that ran over padding *without* a mask, pass lengths[b] = seq
 * and pool over the real tokens with embed_model_pool.
 *
 * The forward pass allocates nothing: all scratch memory is the caller's
 * workspace, sized by embed_bert_workspace_size for the thread count of the
 * pool that will run it.  The optional between_layers(arg) callback is
 * called on the calling thread before each encoder layer, when no worker
 * thread is busy and no resource is held, so it may longjmp out (e.g. to
 * abort a query).
 *
 * Threads: the optional pool (threadpool.h) runs the independent pieces of
 * each step: column blocks of the matrix products, (sequence, head) pairs
 * of the attention, row ranges of LayerNorm.  OpenBLAS itself is forced to
 * one thread, process-wide (embed_kernels_init).
 *
 * Reproducibility.  With the same model file, the same CPU type and
 * OpenBLAS build (same OpenBLAS kernel, e.g. the same OPENBLAS_CORETYPE)
 * and the same SIMD setting (embed_kernels_use_simd), the output is a pure
 * function of the real tokens of the batch (ids, type ids, lengths):
 *   - bit-identical whatever the pool: NULL, or any number of threads;
 *   - bit-identical from one call to the next;
 *   - bit-identical whatever `seq` (the padding) is, since only the real
 *     tokens are computed.
 * The matrix products run over the packed real tokens of the whole batch.
 * Up to 64 tokens on AVX2 CPUs they use the engine's own kernel, which
 * rounds each row the same way whatever the row count: a sequence gives
 * the same bits alone and inside such a batch.  Larger products go to
 * OpenBLAS, whose blocking (hence the rounding of a row) depends on the
 * row count: there a sequence run alone and inside a batch agree to about
 * 1e-6, not bitwise.  Attention, LayerNorm and the activations are
 * computed per sequence or per element and do not depend on the batch.
 * Different CPUs, OpenBLAS kernels or the portable kernels give results
 * that agree to about 1e-6 but not bitwise.
 */
#ifndef EMBED_BERT_H
#define EMBED_BERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "threadpool.h"

/*
 * Bytes of workspace for a forward call with this batch and seq, run by a
 * pool of `threads` threads (embed_thread_pool_threads; 1 for no pool);
 * false when batch, seq or threads is not positive or the size overflows.
 */
bool		embed_bert_workspace_size(const EmbedModel *m, int batch, int seq, int threads,
									  size_t *bytes);

/*
 * Run the encoder.  ids and type_ids (NULL = all 0) are [batch * seq];
 * hidden_out is [batch * seq * hidden] and receives the final hidden
 * states (padding rows are set to 0).  workspace must hold
 * embed_bert_workspace_size(m, batch, seq, embed_thread_pool_threads(pool))
 * bytes, aligned for float.  pool NULL runs everything on the calling
 * thread.  Returns EMBED_ERR_INPUT (with a message) when a length, id or
 * type id is out of range; nothing is computed then.
 */
EmbedStatus embed_bert_forward(const EmbedModel *m, EmbedThreadPool *pool,
							   const int32_t *ids, const int32_t *type_ids,
							   const int32_t *lengths, int batch, int seq, float *hidden_out,
							   void *workspace, void (*between_layers) (void *), void *arg,
							   char *err, size_t errlen);

/* Floating-point operations of one forward call (for benchmarks). */
double		embed_bert_flops(const EmbedModel *m, const int32_t *lengths, int batch);

#endif
