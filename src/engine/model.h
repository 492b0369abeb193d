/*
 * model.h: loading a transformer from a folder in Hugging Face /
 * sentence-transformers layout.
 *
 * Architectures (config.json "model_type"): the post-LayerNorm encoders
 * BERT ("bert" or absent), RoBERTa ("roberta", "xlm-roberta": positions
 * offset by pad_token_id + 1) and DistilBERT ("distilbert": no token
 * types), and the pre-LayerNorm causal decoder GPT-2 ("gpt2": fused Conv1D
 * attention weights stored [in, out], final ln_f).
 *
 *   <dir>/config.json                 hyper-parameters (required)
 *   <dir>/model.safetensors           weights (required), memory-mapped
 *   <dir>/modules.json                sentence-transformers pipeline (optional)
 *   <dir>/<pooling path>/config.json  pooling mode (when modules.json lists Pooling)
 *   <dir>/sentence_bert_config.json   max_seq_length (optional)
 *
 * Without modules.json the model is used as sentence-transformers wraps a
 * bare transformer: mean pooling, no normalisation.  A loaded EmbedModel is
 * immutable: it can be shared by any number of forward calls (each with its
 * own workspace).
 */
#ifndef EMBED_MODEL_H
#define EMBED_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels.h"
#include "safetensors.h"
#include "sha256.h"

/* Limits on config.json values; anything larger is refused as EMBED_ERR_CONFIG. */
#define EMBED_MODEL_MAX_HIDDEN 16000	/* the widest vector the SQL type holds */
#define EMBED_MODEL_MAX_LAYERS 256
#define EMBED_MODEL_MAX_INTERMEDIATE (1 << 18)
#define EMBED_MODEL_MAX_VOCAB (1 << 22)
#define EMBED_MODEL_MAX_POSITIONS (1 << 16)
#define EMBED_MODEL_MAX_TYPE_VOCAB 1024

typedef enum EmbedPooling
{
	EMBED_POOL_MEAN,
	EMBED_POOL_CLS,
	EMBED_POOL_MAX
} EmbedPooling;

typedef enum EmbedArchitecture
{
	EMBED_ARCH_BERT,
	EMBED_ARCH_ROBERTA,
	EMBED_ARCH_DISTILBERT,
	EMBED_ARCH_GPT2
} EmbedArchitecture;

typedef struct EmbedModelInfo
{
	EmbedArchitecture arch;
	bool		causal;			/* decoder: each token attends to itself and earlier ones */
	int			position_pad_id;	/* RoBERTa: pad_token_id (positions start after it); else -1 */
	int			hidden;			/* hidden_size = embedding dimension */
	int			layers;			/* num_hidden_layers */
	int			heads;			/* num_attention_heads */
	int			head_dim;		/* hidden / heads */
	int			intermediate;	/* intermediate_size */
	int			vocab_size;
	int			max_positions;	/* max_position_embeddings */
	int			type_vocab_size;	/* 0: no token-type embeddings */
	int			max_tokens;		/* usable positions, capped by max_seq_length */
	EmbedPooling pooling;
	bool		normalize;		/* L2-normalise the pooled vector */
	EmbedActivation activation;
	double		layer_norm_eps;
	bool		sentence_transformers;	/* modules.json was present */
	int64_t		params;			/* parameters used by the forward pass */
	int64_t		weights_bytes;	/* their size as float32 */
	int64_t		private_bytes;	/* of which malloc'd (converted/realigned), not shared */
	int64_t		file_bytes;		/* size of model.safetensors */
} EmbedModelInfo;

/* Weights of one encoder layer: linear weights [out, in], vectors [out]. */
typedef struct EmbedBertLayerWeights
{
	const float *query_w,
			   *query_b,
			   *key_w,
			   *key_b,
			   *value_w,
			   *value_b;
	const float *attn_out_w,
			   *attn_out_b,
			   *attn_ln_gamma,
			   *attn_ln_beta;
	const float *ffn_in_w,		/* intermediate.dense [intermediate, hidden] */
			   *ffn_in_b,
			   *ffn_out_w,		/* output.dense [hidden, intermediate] */
			   *ffn_out_b,
			   *out_ln_gamma,
			   *out_ln_beta;
} EmbedBertLayerWeights;

typedef struct EmbedBertWeights
{
	const float *word_embeddings;	/* [vocab, hidden] */
	const float *position_embeddings;	/* [max_positions, hidden] */
	const float *token_type_embeddings; /* [type_vocab, hidden]; NULL for DistilBERT */
	const float *emb_ln_gamma,
			   *emb_ln_beta;
	const EmbedBertLayerWeights *layers;	/* [layers] */
} EmbedBertWeights;

/*
 * Weights of one GPT-2 block.  The Conv1D weights are stored [in, out]
 * (y = x W + b), the transpose of a linear layer's.
 */
typedef struct EmbedGpt2LayerWeights
{
	const float *ln1_gamma,
			   *ln1_beta;
	const float *attn_w,		/* c_attn [hidden, 3 * hidden]: q | k | v */
			   *attn_b,
			   *attn_proj_w,	/* c_proj [hidden, hidden] */
			   *attn_proj_b;
	const float *ln2_gamma,
			   *ln2_beta;
	const float *fc_w,			/* mlp.c_fc [hidden, intermediate] */
			   *fc_b,
			   *fc_proj_w,		/* mlp.c_proj [intermediate, hidden] */
			   *fc_proj_b;
} EmbedGpt2LayerWeights;

typedef struct EmbedGpt2Weights
{
	const float *token_embeddings;	/* wte [vocab, hidden] (also the tied LM head) */
	const float *position_embeddings;	/* wpe [max_positions, hidden] */
	const EmbedGpt2LayerWeights *layers;	/* [layers] */
	const float *lnf_gamma,
			   *lnf_beta;
} EmbedGpt2Weights;

typedef struct EmbedModel EmbedModel;

/*
 * Load the model in model_dir.  On failure returns the error category, a
 * message in err (naming the file, key or tensor) and *out = NULL.
 */
EmbedStatus embed_model_load(const char *model_dir, EmbedModel **out, char *err, size_t errlen);
/* Unmap and free everything (NULL is allowed). */
void		embed_model_free(EmbedModel *m);

const EmbedModelInfo *embed_model_info(const EmbedModel *m);
/* The bound weights: the encoder's (BERT, RoBERTa, DistilBERT) or GPT-2's; NULL for the other family. */
const EmbedBertWeights *embed_model_weights(const EmbedModel *m);
const EmbedGpt2Weights *embed_model_gpt2_weights(const EmbedModel *m);

/*
 * How many tokens a sequence may have: max_position_embeddings, less
 * RoBERTa's pad_token_id + 1 offset (max_tokens may be lower still).
 */
static inline int
embed_model_usable_positions(const EmbedModelInfo *info)
{
	return info->position_pad_id >= 0 ? info->max_positions - info->position_pad_id - 1
		: info->max_positions;
}

/* "bert", "roberta", "distilbert", "gpt2" */
const char *embed_architecture_name(EmbedArchitecture arch);

/*
 * Sentence embeddings from final hidden states.  hidden is [batch, seq,
 * hidden]; row b pools its first lengths[b] positions with the configured
 * mode, then L2-normalises when configured.  pooled_out is [batch, hidden].
 * lengths need not be those given to the forward pass (a forward pass run
 * over padding without a mask can be pooled over the real tokens only).
 */
void		embed_model_pool(const EmbedModel *m, const float *hidden, const int32_t *lengths,
							 int batch, int seq, float *pooled_out);

/*
 * SHA-256 of model.safetensors as 64 hex digits + NUL, computed on demand
 * from the mapping (reads the whole file: cache the result if needed often).
 */
void		embed_model_sha256(const EmbedModel *m, char hex[EMBED_SHA256_HEX_LEN]);

#endif
