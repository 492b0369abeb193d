/*
 * train_model.h: a BERT sentence encoder that can be trained: parameters,
 * gradients and AdamW moments in flat arrays, a forward pass that keeps
 * the activations the backward pass needs, and the backward pass.
 *
 * Layout: all parameters live in one float array, tensor after tensor in
 * the order of embed_train_tensor(); gradients and the two Adam moments are
 * arrays of the same layout.  Per layer the query, key and value weights
 * are consecutive, so together they form one [3H, H] matrix (one GEMM),
 * and the three biases one [3H] vector.
 *
 * A batch is `nseq` token sequences packed back to back (no padding):
 * sequence s owns rows offsets[s] .. offsets[s] + lengths[s] - 1 of every
 * [ntok, *] activation.  Linear layers, LayerNorm and GELU run over all
 * rows at once; attention and pooling run per sequence, so no token ever
 * sees another sequence's tokens, exactly what an attention mask over
 * padding computes.  The output is one L2-normalised mean-pooled vector
 * per sequence, as the engine computes it.
 */
#ifndef EMBED_TRAIN_MODEL_H
#define EMBED_TRAIN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct EmbedTrainConfig
{
	int			vocab;
	int			hidden;			/* H */
	int			layers;
	int			heads;
	int			intermediate;	/* I */
	int			max_positions;
	int			type_vocab;
	float		ln_eps;
} EmbedTrainConfig;

/* Pointers into the flat parameter (or gradient) array for one layer. */
typedef struct EmbedTrainLayer
{
	float	   *qkv_w;			/* [3H, H]: query, key, value weights */
	float	   *qkv_b;			/* [3H] */
	float	   *attn_out_w;		/* [H, H] */
	float	   *attn_out_b;		/* [H] */
	float	   *ln1_g,
			   *ln1_b;			/* [H] attention.output.LayerNorm */
	float	   *ffn_in_w;		/* [I, H] */
	float	   *ffn_in_b;		/* [I] */
	float	   *ffn_out_w;		/* [H, I] */
	float	   *ffn_out_b;		/* [H] */
	float	   *ln2_g,
			   *ln2_b;			/* [H] output.LayerNorm */
} EmbedTrainLayer;

typedef struct EmbedTrainParams
{
	float	   *word;			/* [V, H] */
	float	   *position;		/* [P, H] */
	float	   *token_type;		/* [T, H] */
	float	   *emb_ln_g,
			   *emb_ln_b;		/* [H] */
	EmbedTrainLayer *layer;		/* [layers] */
} EmbedTrainParams;

/* One named tensor of the flat layout (Hugging Face BertModel names). */
typedef struct EmbedTrainTensor
{
	char		name[96];
	size_t		offset;			/* in floats */
	int			rows;
	int			cols;			/* 0 for a vector */
	bool		decay;			/* weight decay applies (matrices only) */
} EmbedTrainTensor;

/* Activations of one batch, sized for a maximum token and sequence count. */
typedef struct EmbedTrainActs
{
	int			cap_tok,
				cap_seq;
	size_t		cap_att;		/* floats of attention probabilities */
	int			ntok,
				nseq;
	const int32_t *ids;			/* [ntok] (the caller's) */
	const int32_t *lengths;		/* [nseq] */
	int32_t    *offsets;		/* [nseq + 1] */
	size_t	   *att_offsets;	/* [nseq]: start of each sequence's probabilities */
	float	   *emb_sum;		/* [ntok, H] word + position + type, before LayerNorm */
	float	   *emb_mean,
			   *emb_rstd;		/* [ntok] */
	float	  **x;				/* [layers + 1][ntok, H]: input of each layer; x[L] = output */
	float	  **qkv;			/* [layers][ntok, 3H] */
	float	  **att;			/* [layers][heads * sum len^2] softmax probabilities */
	float	  **ctx;			/* [layers][ntok, H] attention context */
	float	  **res1;			/* [layers][ntok, H] x + attention output (before LN1) */
	float	  **ln1_mean,
			  **ln1_rstd;		/* [layers][ntok] */
	float	  **h1;				/* [layers][ntok, H] LN1 output */
	float	  **ffn_pre;		/* [layers][ntok, I] before GELU */
	float	  **ffn_act;		/* [layers][ntok, I] after GELU */
	float	  **res2;			/* [layers][ntok, H] h1 + FFN output (before LN2) */
	float	  **ln2_mean,
			  **ln2_rstd;		/* [layers][ntok] */
	float	   *pooled;			/* [nseq, H] mean of the last layer, before normalising */
	float	   *out;			/* [nseq, H] L2-normalised sentence embeddings */
	/* backward scratch */
	float	   *d_x,
			   *d_h1,
			   *d_res,
			   *d_ctx;			/* [ntok, H] */
	float	   *d_qkv;			/* [ntok, 3H] */
	float	   *d_ffn;			/* [ntok, I] */
	float	   *d_att;			/* [max len^2] */
} EmbedTrainActs;

typedef struct EmbedTrainModel
{
	EmbedTrainConfig cfg;
	size_t		nparams;
	float	   *params,
			   *grads,
			   *adam_m,
			   *adam_v;
	EmbedTrainParams p,
				g;				/* views of params and grads */
	EmbedTrainTensor *tensors;
	int			ntensors;
} EmbedTrainModel;

/* Allocate a model (parameters zeroed); NULL on out-of-memory or bad config. */
EmbedTrainModel *embed_train_model_new(const EmbedTrainConfig *cfg);
void		embed_train_model_free(EmbedTrainModel *m);

/*
 * BERT initialisation: normal(0, 0.02) matrices and embeddings, zero
 * biases, LayerNorm gains 1; the output projections of attention and FFN
 * are scaled down by 1/sqrt(2 * layers) so the encoder starts close to
 * the identity around its embeddings.
 */
void		embed_train_model_init(EmbedTrainModel *m, uint64_t seed);

/* Activations for at most cap_tok tokens in cap_seq sequences of at most max_len. */
EmbedTrainActs *embed_train_acts_new(const EmbedTrainConfig *cfg, int cap_tok, int cap_seq, int max_len);
void		embed_train_acts_free(EmbedTrainActs *a, const EmbedTrainConfig *cfg);

/*
 * Forward pass over packed sequences: ids[ntok], lengths[nseq] (each 1 ..
 * max_positions, summing to ntok; positions restart at 0 in every
 * sequence, token types are 0).  Leaves sentence embeddings in a->out.
 */
void		embed_train_forward(EmbedTrainModel *m, EmbedTrainActs *a,
								const int32_t *ids, const int32_t *lengths, int nseq);

/*
 * Backward pass of the last forward call: d_out[nseq, H] is the gradient of
 * the loss with respect to a->out; gradients are added to m->grads.
 */
void		embed_train_backward(EmbedTrainModel *m, EmbedTrainActs *a, const float *d_out);

/* Zero m->grads. */
void		embed_train_zero_grad(EmbedTrainModel *m);

/*
 * Contrastive loss (InfoNCE with in-batch negatives, symmetric).  emb holds
 * 2B + nneg rows: anchors [0, B), positives [B, 2B) and hard negatives
 * [2B, 2B + nneg) (the hard negatives of some of the pairs, in any order).  Anchor i is scored against every positive and
 * hard negative with scale * cosine, the target being positive i; positive
 * i is scored against every anchor, the target being anchor i.  The loss is
 * the mean of the two cross-entropies.  A candidate whose text hash equals
 * the target's (another copy of the same text) is left out.  Writes the
 * gradient with respect to emb into d_emb (same shape) and returns the
 * loss; *accuracy (may be NULL) gets the fraction of anchors whose top
 * candidate is their positive.
 */
float		embed_train_infonce(const float *emb, const uint64_t *hashes, int B, int nneg,
								int H, float scale, float *d_emb, float *accuracy);

/*
 * One AdamW step on every parameter with the gradients in m->grads:
 * bias-corrected moments (beta1, beta2, eps), decoupled weight decay on
 * matrices only, and the gradient clipped to a global L2 norm of clip
 * (clip <= 0: no clipping).  step counts from 1.  Returns the gradient norm
 * before clipping.
 */
float		embed_train_adamw(EmbedTrainModel *m, int64_t step, float lr, float beta1, float beta2,
							  float eps, float weight_decay, float clip);

/*
 * Write the model as a Hugging Face BertModel: dir/model.safetensors (F32)
 * and dir/config.json.  Returns false with a message in err.
 */
bool		embed_train_export_weights(const EmbedTrainModel *m, const char *dir, char *err, size_t errlen);

#endif
