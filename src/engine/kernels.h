/*
 * kernels.h: building blocks of the encoder forward pass.
 *
 * Small pure functions over caller-owned buffers: no allocation, no global
 * state, no error paths (callers validate shapes and ids first).  Matrices
 * are row-major float32; a linear layer's weight W is stored [out, in] as in
 * PyTorch, so y = x W^T + b.  Shapes are given in brackets in each comment.
 */
#ifndef EMBED_KERNELS_H
#define EMBED_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

typedef enum EmbedActivation
{
	EMBED_ACT_GELU_ERF,			/* "gelu": x/2 (1 + erf(x / sqrt 2)) */
	EMBED_ACT_GELU_TANH			/* "gelu_new", "gelu_pytorch_tanh": tanh approximation */
} EmbedActivation;

/*
 * Reference matmul, kept for tests: C[M,N] = A[M,K] W[N,K]^T (+ bias[N]
 * when not NULL), one double-precision dot product per element.
 */
void		embed_matmul_naive(int M, int N, int K, const float *A, const float *W,
							   const float *bias, float *C);

/*
 * Make the process ready for the engine: OpenBLAS's process-wide thread
 * count is forced to 1 (the engine runs its own threads, and a
 * multi-threaded sgemm's bits depend on its thread count), and the SIMD
 * choice below is made.  Cheap and idempotent; the forward pass and
 * embed_thread_pool users call it before any parallel work.
 */
void		embed_kernels_init(void);

/*
 * C[M,N] = A[M,K] W[N,K]^T via one cblas_sgemm; with accumulate, C += A W^T
 * instead (used to add a projection onto the residual stream in place).
 */
void		embed_linear(int M, int N, int K, const float *A, const float *W,
						 float *C, bool accumulate);

/*
 * The same product with explicit row strides (floats) of A, W and C, so
 * that a block of output columns (rows of W) can be computed alone.  The
 * result is a function of (M, N, K) and the data only when OpenBLAS runs
 * single-threaded (embed_kernels_init).
 */
void		embed_linear_strided(int M, int N, int K, const float *A, int lda,
								 const float *W, int ldw, float *C, int ldc, bool accumulate);

/*
 * C[M,N] = A[M,K] W[K,N] (or +=) with W stored [in, out], as GPT-2's Conv1D
 * weights are: a block of output columns is W + col with ldw = N.
 */
void		embed_linear_kn_strided(int M, int N, int K, const float *A, int lda,
									const float *W, int ldw, float *C, int ldc, bool accumulate);

/* C[M,N] += bias[N] on every row (rows ldc floats apart in the _strided form). */
void		embed_add_bias(int M, int N, float *C, const float *bias);
void		embed_add_bias_strided(int M, int N, float *C, int ldc, const float *bias);

/*
 * C[M,N] = act(C + bias[N]): the fused bias + activation of the FFN.  Each
 * element's value depends only on its input, not on its position.
 */
void		embed_add_bias_activation(int M, int N, float *C, const float *bias,
									  EmbedActivation act);
void		embed_add_bias_activation_strided(int M, int N, float *C, int ldc, const float *bias,
											  EmbedActivation act);

/* The activations on one value (portable libm formulas). */
float		embed_gelu_erf(float x);
float		embed_gelu_tanh(float x);

/*
 * GELU and softmax have AVX2+FMA versions, used by default when the CPU has
 * them.  embed_kernels_use_simd(false) forces the portable code (tests,
 * benchmarks); it returns whether the AVX2 path is now in use.
 */
bool		embed_kernels_simd_available(void);
bool		embed_kernels_use_simd(bool enable);

/*
 * Row-wise LayerNorm in place: x[M,N] = LN(x + bias) * gamma + beta, with
 * bias[N] optional (NULL) and mean/variance accumulated in double.
 */
void		embed_layernorm(int M, int N, float *x, const float *bias,
							const float *gamma, const float *beta, float eps);

/* Numerically stable softmax of x[n] in place (max subtracted first). */
void		embed_softmax(int n, float *x);

/*
 * Multi-head self-attention of one sequence of len tokens, no masking
 * (the caller passes only real tokens).  q, k and v are [len, heads *
 * head_dim] with row stride ld (floats); for each head h,
 * ctx_h = softmax(q_h k_h^T / sqrt(head_dim)) v_h, written over q_h (q
 * holds the context afterwards).  scores is scratch of len * len floats.
 */
void		embed_attention(int len, int heads, int head_dim, int ld,
							float *q, const float *k, const float *v, float *scores);

/*
 * One head of it: q, k and v point at the head's first column; its context
 * overwrites q.  Heads touch disjoint columns, so they may run in parallel,
 * each with its own scores.
 */
void		embed_attention_head(int len, int head_dim, int ld,
								 float *q, const float *k, const float *v, float *scores);

/* The same with a causal mask: position i attends to positions 0..i (GPT-2). */
void		embed_attention_head_causal(int len, int head_dim, int ld,
										float *q, const float *k, const float *v, float *scores);

/*
 * Input embeddings of one sequence, before any LayerNorm:
 * out[len, hidden] = word[ids[i]] + token_type[type_ids[i]] + position[p(i)].
 * token_type NULL: no token-type term (DistilBERT, GPT-2); type_ids NULL
 * means all 0.  position_pad_id < 0: p(i) = i.  position_pad_id >= 0
 * (RoBERTa): tokens other than the padding id take positions pad + 1,
 * pad + 2, ... in order and padding tokens take position pad, as Hugging
 * Face's create_position_ids_from_input_ids.  Ids, type ids and positions
 * must already be in range.
 */
void		embed_embedding_sum(int len, int hidden, const int32_t *ids, const int32_t *type_ids,
								const float *word, const float *position,
								const float *token_type, int position_pad_id, float *out);

/* Pooling of rows x[count, hidden] into out[hidden]; count <= 0 gives zeros. */
void		embed_pool_mean(int count, int hidden, const float *x, float *out);
void		embed_pool_cls(int count, int hidden, const float *x, float *out);
void		embed_pool_max(int count, int hidden, const float *x, float *out);

/* x[n] /= max(||x||_2, 1e-12), as torch.nn.functional.normalize. */
void		embed_l2_normalize(int n, float *x);

#endif
