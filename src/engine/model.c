/*
 * model.c: model folder -> config + bound weights + pooling configuration.
 *
 * Design notes:
 * - One loader for four architectures.  config.json's model_type picks the
 *   key names of the hyper-parameters (BERT's hidden_size, DistilBERT's dim,
 *   GPT-2's n_embd, ...) and the tensor-name table; everything after that
 *   (shape checks, dtype conversion, pooling, limits) is shared.  BERT,
 *   RoBERTa and DistilBERT bind into EmbedBertWeights (DistilBERT without
 *   token types), GPT-2 into EmbedGpt2Weights.
 * - config.json is read strictly: every size is an integer in a sane range
 *   (see the EMBED_MODEL_MAX_* limits), hidden_size must divide by
 *   num_attention_heads, the activation and position-embedding type must be
 *   ones the forward pass implements.  Anything else is refused with a
 *   message naming the key, before the weights are touched.
 * - Defaults of absent keys are those of the Hugging Face config classes
 *   (RoBERTa's type_vocab_size 2 and pad_token_id 1, GPT-2's n_inner
 *   4 x n_embd, ...); options that would change the computation in ways the
 *   forward passes do not implement (an encoder's is_decoder, GPT-2's
 *   attention scaling variants) are refused, never ignored.
 * - Weights are bound by name, bare (the base model class, as
 *   sentence-transformers saves it) or with the prefix of the task classes
 *   ("bert.", "roberta.", "distilbert.", "transformer."), and every required
 *   tensor's dtype and shape is checked against the config; unknown extra
 *   tensors (pooler, MLM or LM head, position_ids, GPT-2's attn.bias mask
 *   buffers) are ignored.
 * - Aligned F32 tensors are used in place from the shared read-only mapping.
 *   F16 and BF16 tensors, and F32 tensors whose address is not 4-byte
 *   aligned, are converted once into malloc'd float32 copies owned by the
 *   model (reported as private_bytes); other dtypes are refused.
 * - The sentence-transformers files decide pooling and normalisation the way
 *   sentence-transformers itself does; a pipeline with modules this engine
 *   cannot run (Dense, ...) is refused rather than silently embedded
 *   differently.
 */
#include "model.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json.h"

/* Config files are small; anything bigger than this is not a config. */
#define CONFIG_FILE_MAX_BYTES (4 * 1024 * 1024)

#define lengthof(a) (sizeof(a) / sizeof((a)[0]))

struct EmbedModel
{
	EmbedModelInfo info;
	EmbedBertWeights weights;	/* encoders */
	EmbedBertLayerWeights *layers;
	EmbedGpt2Weights gpt2;		/* GPT-2 */
	EmbedGpt2LayerWeights *gpt2_layers;
	EmbedSafetensors *st;
	void	  **owned;			/* malloc'd float32 copies of converted tensors */
	int			owned_count;
	int			owned_capacity;
};

typedef struct Loader
{
	const char *dir;
	EmbedModel *m;
	const char *prefix;			/* "" or the model class's prefix ("bert.", "transformer.", ...) */
	const char *hidden_key;		/* config.json's name of the hidden size */
	char	   *err;
	size_t		errlen;
} Loader;

/* dir + "/" + rel into buf; false (with an IO error message) if too long. */
static bool
join_path(Loader *ld, const char *rel, char *buf, size_t buflen)
{
	int			n = snprintf(buf, buflen, "%s/%s", ld->dir, rel);

	if (n < 0 || (size_t) n >= buflen)
	{
		snprintf(ld->err, ld->errlen, "model path \"%s/%s\" is too long", ld->dir, rel);
		return false;
	}
	return true;
}

/*
 * Read and parse the JSON file dir/rel.  When the file does not exist and
 * required is false, returns EMBED_OK with *out = NULL.
 */
static EmbedStatus
read_json(Loader *ld, const char *rel, bool required, EmbedJson **out)
{
	char		path[PATH_MAX];
	char		msg[256];
	struct stat sb;
	char	   *text;
	size_t		len;

	*out = NULL;
	if (!join_path(ld, rel, path, sizeof(path)))
		return EMBED_ERR_IO;
	if (stat(path, &sb) != 0)
	{
		if (errno == ENOENT && !required)
			return EMBED_OK;
		snprintf(ld->err, ld->errlen, "could not open \"%s\": %s", path, strerror(errno));
		return EMBED_ERR_IO;
	}
	text = embed_read_file(path, CONFIG_FILE_MAX_BYTES, &len, msg, sizeof(msg));
	if (text == NULL)
	{
		snprintf(ld->err, ld->errlen, "%s", msg);
		return EMBED_ERR_IO;
	}
	*out = embed_json_parse(text, len, msg, sizeof(msg));
	free(text);
	if (*out == NULL)
	{
		snprintf(ld->err, ld->errlen, "\"%s\" is not valid JSON: %s", path, msg);
		return EMBED_ERR_CONFIG;
	}
	if ((*out)->type != EMBED_JSON_OBJECT && (*out)->type != EMBED_JSON_ARRAY)
	{
		snprintf(ld->err, ld->errlen, "\"%s\" does not hold a JSON object", path);
		embed_json_free(*out);
		*out = NULL;
		return EMBED_ERR_CONFIG;
	}
	return EMBED_OK;
}

/*
 * config.json integer `key` in [min, max] into *out; def (>= 0) is used
 * when the key is absent, a negative def makes the key required.
 */
static EmbedStatus
config_int(Loader *ld, const EmbedJson *cfg, const char *key, int64_t min, int64_t max,
		   int64_t def, int *out)
{
	const EmbedJson *v = embed_json_get(cfg, key);

	if (v == NULL)
	{
		if (def < 0)
		{
			snprintf(ld->err, ld->errlen, "%s/config.json: required key \"%s\" is missing", ld->dir, key);
			return EMBED_ERR_CONFIG;
		}
		*out = (int) def;
		return EMBED_OK;
	}
	if (v->type != EMBED_JSON_NUMBER || !v->is_integer)
	{
		snprintf(ld->err, ld->errlen, "%s/config.json: \"%s\" must be an integer", ld->dir, key);
		return EMBED_ERR_CONFIG;
	}
	if (v->integer < min || v->integer > max)
	{
		snprintf(ld->err, ld->errlen, "%s/config.json: \"%s\" = %lld is out of range (%lld to %lld)",
				 ld->dir, key, (long long) v->integer, (long long) min, (long long) max);
		return EMBED_ERR_CONFIG;
	}
	*out = (int) v->integer;
	return EMBED_OK;
}

/* Config key names of the hyper-parameters, which differ by architecture. */
typedef struct ConfigKeys
{
	const char *hidden,
			   *layers,
			   *heads,
			   *intermediate,
			   *positions,
			   *activation,
			   *eps;
	double		default_eps;
} ConfigKeys;

static const ConfigKeys bert_keys = {"hidden_size", "num_hidden_layers", "num_attention_heads",
	"intermediate_size", "max_position_embeddings", "hidden_act", "layer_norm_eps", 1e-12};
static const ConfigKeys distilbert_keys = {"dim", "n_layers", "n_heads", "hidden_dim",
	"max_position_embeddings", "activation", NULL, 1e-12};
static const ConfigKeys gpt2_keys = {"n_embd", "n_layer", "n_head", "n_inner", "n_positions",
	"activation_function", "layer_norm_epsilon", 1e-5};

/* config.json boolean `key` into *out (def when absent); error when not a boolean. */
static EmbedStatus
config_bool(Loader *ld, const EmbedJson *cfg, const char *key, bool def, bool *out)
{
	if (!embed_json_get_flag(cfg, key, def, out))
	{
		snprintf(ld->err, ld->errlen, "%s/config.json: \"%s\" must be true or false", ld->dir, key);
		return EMBED_ERR_CONFIG;
	}
	return EMBED_OK;
}

/* The architecture named by model_type (absent: BERT). */
static EmbedStatus
parse_model_type(Loader *ld, const EmbedJson *cfg)
{
	const EmbedJson *v = embed_json_get(cfg, "model_type");
	const char *s = embed_json_get_string(cfg, "model_type");
	EmbedModelInfo *info = &ld->m->info;

	if (v != NULL && s == NULL)
	{
		snprintf(ld->err, ld->errlen, "%s/config.json: \"model_type\" must be a string", ld->dir);
		return EMBED_ERR_CONFIG;
	}
	if (s == NULL || strcmp(s, "bert") == 0)
		info->arch = EMBED_ARCH_BERT;
	else if (strcmp(s, "roberta") == 0 || strcmp(s, "xlm-roberta") == 0)
		info->arch = EMBED_ARCH_ROBERTA;
	else if (strcmp(s, "distilbert") == 0)
		info->arch = EMBED_ARCH_DISTILBERT;
	else if (strcmp(s, "gpt2") == 0)
		info->arch = EMBED_ARCH_GPT2;
	else
	{
		snprintf(ld->err, ld->errlen, "%s/config.json: model_type \"%.64s\" is not supported "
				 "(supported: \"bert\", \"roberta\", \"xlm-roberta\", \"distilbert\", \"gpt2\")",
				 ld->dir, s);
		return EMBED_ERR_UNSUPPORTED;
	}
	return EMBED_OK;
}

/* A boolean option that changes the computation, and the value implemented. */
typedef struct ConfigOption
{
	const char *key;
	bool		supported;		/* the only value implemented */
	bool		def;			/* Hugging Face's default */
} ConfigOption;

/* GPT-2's attention variants and cross-attention. */
static const ConfigOption gpt2_options[] = {
	{"scale_attn_weights", true, true},
	{"scale_attn_by_inverse_layer_idx", false, false},
	{"add_cross_attention", false, false},
};

/* BERT and RoBERTa: as a decoder, Hugging Face's encoder attends causally. */
static const ConfigOption encoder_options[] = {
	{"is_decoder", false, false},
};

/* Refuse an option set to a value the forward pass does not implement. */
static EmbedStatus
check_options(Loader *ld, const EmbedJson *cfg, const ConfigOption *options, size_t count)
{
	EmbedStatus status;
	bool		value;

	for (size_t i = 0; i < count; i++)
	{
		if ((status = config_bool(ld, cfg, options[i].key, options[i].def, &value)) != EMBED_OK)
			return status;
		if (value != options[i].supported)
		{
			snprintf(ld->err, ld->errlen, "%s/config.json: %s = %s is not supported",
					 ld->dir, options[i].key, value ? "true" : "false");
			return EMBED_ERR_UNSUPPORTED;
		}
	}
	return EMBED_OK;
}

/*
 * RoBERTa's padding id indexes the word and position tables, and positions
 * start after it: it must leave at least one position.
 */
static EmbedStatus
check_roberta_padding(Loader *ld)
{
	const EmbedModelInfo *info = &ld->m->info;

	if (info->position_pad_id >= info->vocab_size)
	{
		snprintf(ld->err, ld->errlen, "%s/config.json: pad_token_id %d is not below vocab_size %d",
				 ld->dir, info->position_pad_id, info->vocab_size);
		return EMBED_ERR_CONFIG;
	}
	if (info->position_pad_id + 1 >= info->max_positions)
	{
		snprintf(ld->err, ld->errlen, "%s/config.json: pad_token_id %d leaves no position "
				 "(positions start at pad_token_id + 1; max_position_embeddings is %d)",
				 ld->dir, info->position_pad_id, info->max_positions);
		return EMBED_ERR_CONFIG;
	}
	return EMBED_OK;
}

/* Fill the architecture fields of info from config.json. */
static EmbedStatus
parse_config(Loader *ld, const EmbedJson *cfg)
{
	EmbedModelInfo *info = &ld->m->info;
	const ConfigKeys *keys;
	const char *s;
	const EmbedJson *eps;
	const EmbedJson *inner;
	EmbedStatus status;

	if (cfg->type != EMBED_JSON_OBJECT)
	{
		snprintf(ld->err, ld->errlen, "%s/config.json does not hold a JSON object", ld->dir);
		return EMBED_ERR_CONFIG;
	}
	if ((status = parse_model_type(ld, cfg)) != EMBED_OK)
		return status;
	keys = info->arch == EMBED_ARCH_DISTILBERT ? &distilbert_keys
		: info->arch == EMBED_ARCH_GPT2 ? &gpt2_keys : &bert_keys;
	ld->hidden_key = keys->hidden;
	info->causal = info->arch == EMBED_ARCH_GPT2;
	info->position_pad_id = -1;

	if ((status = config_int(ld, cfg, keys->hidden, 1, EMBED_MODEL_MAX_HIDDEN, -1, &info->hidden)) ||
		(status = config_int(ld, cfg, keys->layers, 1, EMBED_MODEL_MAX_LAYERS, -1, &info->layers)) ||
		(status = config_int(ld, cfg, keys->heads, 1, EMBED_MODEL_MAX_HIDDEN, -1, &info->heads)) ||
		(status = config_int(ld, cfg, "vocab_size", 1, EMBED_MODEL_MAX_VOCAB, -1, &info->vocab_size)))
		return status;
	/*
	 * GPT-2: n_inner null or absent means 4 * n_embd (at most 64000, within
	 * the limit); n_ctx is n_positions' old name, used when only it is given.
	 */
	inner = embed_json_get(cfg, keys->intermediate);
	if (info->arch == EMBED_ARCH_GPT2 && (inner == NULL || inner->type == EMBED_JSON_NULL))
		info->intermediate = 4 * info->hidden;
	else if ((status = config_int(ld, cfg, keys->intermediate, 1, EMBED_MODEL_MAX_INTERMEDIATE, -1,
								  &info->intermediate)))
		return status;
	if (info->arch == EMBED_ARCH_GPT2 && embed_json_get(cfg, keys->positions) == NULL &&
		embed_json_get(cfg, "n_ctx") != NULL)
		status = config_int(ld, cfg, "n_ctx", 1, EMBED_MODEL_MAX_POSITIONS, -1, &info->max_positions);
	else
		status = config_int(ld, cfg, keys->positions, 1, EMBED_MODEL_MAX_POSITIONS, -1, &info->max_positions);
	if (status != EMBED_OK)
		return status;

	switch (info->arch)
	{
		case EMBED_ARCH_BERT:
			if ((status = config_int(ld, cfg, "type_vocab_size", 1, EMBED_MODEL_MAX_TYPE_VOCAB, 2,
									 &info->type_vocab_size)) == EMBED_OK)
				status = check_options(ld, cfg, encoder_options, lengthof(encoder_options));
			break;
		case EMBED_ARCH_ROBERTA:
			if ((status = config_int(ld, cfg, "type_vocab_size", 1, EMBED_MODEL_MAX_TYPE_VOCAB, 2,
									 &info->type_vocab_size)) ||
				(status = config_int(ld, cfg, "pad_token_id", 0, EMBED_MODEL_MAX_POSITIONS, 1,
									 &info->position_pad_id)) ||
				(status = check_options(ld, cfg, encoder_options, lengthof(encoder_options))))
				break;
			status = check_roberta_padding(ld);
			break;
		case EMBED_ARCH_DISTILBERT:
			info->type_vocab_size = 0;
			break;
		case EMBED_ARCH_GPT2:
			info->type_vocab_size = 0;
			status = check_options(ld, cfg, gpt2_options, lengthof(gpt2_options));
			break;
	}
	if (status != EMBED_OK)
		return status;
	if (info->hidden % info->heads != 0)
	{
		snprintf(ld->err, ld->errlen, "%s/config.json: %s %d is not a multiple of %s %d",
				 ld->dir, keys->hidden, info->hidden, keys->heads, info->heads);
		return EMBED_ERR_CONFIG;
	}
	info->head_dim = info->hidden / info->heads;

	s = embed_json_get_string(cfg, keys->activation);
	if (s == NULL && embed_json_get(cfg, keys->activation) != NULL)
	{
		snprintf(ld->err, ld->errlen, "%s/config.json: \"%s\" must be a string", ld->dir, keys->activation);
		return EMBED_ERR_CONFIG;
	}
	if (s == NULL)
		info->activation = info->arch == EMBED_ARCH_GPT2 ? EMBED_ACT_GELU_TANH : EMBED_ACT_GELU_ERF;
	else if (strcmp(s, "gelu") == 0)
		info->activation = EMBED_ACT_GELU_ERF;
	else if (strcmp(s, "gelu_new") == 0 || strcmp(s, "gelu_pytorch_tanh") == 0)
		info->activation = EMBED_ACT_GELU_TANH;
	else
	{
		snprintf(ld->err, ld->errlen, "%s/config.json: %s \"%.64s\" is not supported "
				 "(supported: \"gelu\", \"gelu_new\", \"gelu_pytorch_tanh\")", ld->dir, keys->activation, s);
		return EMBED_ERR_UNSUPPORTED;
	}

	s = embed_json_get_string(cfg, "position_embedding_type");
	if (s != NULL && strcmp(s, "absolute") != 0)
	{
		snprintf(ld->err, ld->errlen, "%s/config.json: position_embedding_type \"%.64s\" is not supported "
				 "(only \"absolute\")", ld->dir, s);
		return EMBED_ERR_UNSUPPORTED;
	}

	info->layer_norm_eps = keys->default_eps;
	eps = keys->eps ? embed_json_get(cfg, keys->eps) : NULL;
	if (eps != NULL)
	{
		if (eps->type != EMBED_JSON_NUMBER || !isfinite(eps->number) ||
			eps->number <= 0.0 || eps->number >= 1.0)
		{
			snprintf(ld->err, ld->errlen, "%s/config.json: \"%s\" must be a number between 0 and 1",
					 ld->dir, keys->eps);
			return EMBED_ERR_CONFIG;
		}
		info->layer_norm_eps = eps->number;
	}
	/* RoBERTa's positions start after the padding id */
	info->max_tokens = embed_model_usable_positions(info);
	return EMBED_OK;
}

/* A module path from modules.json must stay inside the model folder. */
static bool
safe_relative_path(const char *p)
{
	if (p[0] == '/')
		return false;
	for (const char *c = p; *c; c++)
		if (c[0] == '.' && c[1] == '.' && (c == p || c[-1] == '/') && (c[2] == '\0' || c[2] == '/'))
			return false;
	return true;
}

/* Read <pooling dir>/config.json and set info->pooling. */
static EmbedStatus
parse_pooling(Loader *ld, const char *pool_dir)
{
	static const char *const unsupported[] = {
		"pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"
	};
	EmbedModelInfo *info = &ld->m->info;
	char		rel[PATH_MAX];
	EmbedJson  *cfg;
	EmbedStatus status;
	bool		mean = false,
				cls = false,
				max = false,
				flag;
	int64_t		dim;
	int			enabled;

	if (snprintf(rel, sizeof(rel), "%s/config.json", pool_dir) >= (int) sizeof(rel))
	{
		snprintf(ld->err, ld->errlen, "pooling path \"%s\" is too long", pool_dir);
		return EMBED_ERR_CONFIG;
	}
	status = read_json(ld, rel, true, &cfg);
	if (status != EMBED_OK)
		return status == EMBED_ERR_IO ? EMBED_ERR_CONFIG : status;
	if (cfg->type != EMBED_JSON_OBJECT)
	{
		snprintf(ld->err, ld->errlen, "%s/%s does not hold a JSON object", ld->dir, rel);
		embed_json_free(cfg);
		return EMBED_ERR_CONFIG;
	}
	for (size_t i = 0; i < lengthof(unsupported); i++)
		if (embed_json_get_bool(cfg, unsupported[i], &flag) && flag)
		{
			snprintf(ld->err, ld->errlen, "%s/%s: %s is not supported (supported: mean, cls, max)",
					 ld->dir, rel, unsupported[i]);
			embed_json_free(cfg);
			return EMBED_ERR_UNSUPPORTED;
		}
	embed_json_get_bool(cfg, "pooling_mode_mean_tokens", &mean);
	embed_json_get_bool(cfg, "pooling_mode_cls_token", &cls);
	embed_json_get_bool(cfg, "pooling_mode_max_tokens", &max);
	enabled = (int) mean + (int) cls + (int) max;
	if (enabled != 1)
	{
		snprintf(ld->err, ld->errlen, enabled == 0
				 ? "%s/%s: no pooling mode is enabled (pooling_mode_mean_tokens, pooling_mode_cls_token or pooling_mode_max_tokens)"
				 : "%s/%s: several pooling modes are enabled; concatenated pooling is not supported",
				 ld->dir, rel);
		embed_json_free(cfg);
		return enabled == 0 ? EMBED_ERR_CONFIG : EMBED_ERR_UNSUPPORTED;
	}
	info->pooling = mean ? EMBED_POOL_MEAN : cls ? EMBED_POOL_CLS : EMBED_POOL_MAX;
	if (embed_json_get_int(cfg, "word_embedding_dimension", &dim) && dim != info->hidden)
	{
		snprintf(ld->err, ld->errlen, "%s/%s: word_embedding_dimension %lld differs from %s %d",
				 ld->dir, rel, (long long) dim, ld->hidden_key, info->hidden);
		embed_json_free(cfg);
		return EMBED_ERR_CONFIG;
	}
	embed_json_free(cfg);
	return EMBED_OK;
}

/* Apply modules.json (pipeline) and sentence_bert_config.json, if present. */
static EmbedStatus
parse_sentence_transformers(Loader *ld)
{
	EmbedModelInfo *info = &ld->m->info;
	EmbedJson  *modules;
	EmbedJson  *sbert;
	EmbedStatus status;
	const char *pool_dir = NULL;
	bool		have_transformer = false;

	info->pooling = EMBED_POOL_MEAN;
	info->normalize = false;

	status = read_json(ld, "modules.json", false, &modules);
	if (status != EMBED_OK)
		return status;
	if (modules != NULL)
	{
		info->sentence_transformers = true;
		if (modules->type != EMBED_JSON_ARRAY)
		{
			snprintf(ld->err, ld->errlen, "%s/modules.json does not hold a JSON array", ld->dir);
			embed_json_free(modules);
			return EMBED_ERR_CONFIG;
		}
		for (size_t i = 0; i < modules->len && status == EMBED_OK; i++)
		{
			const EmbedJson *mod = &modules->items[i];
			const char *type = embed_json_get_string(mod, "type");
			const char *path = embed_json_get_string(mod, "path");

			if (type == NULL || path == NULL)
			{
				snprintf(ld->err, ld->errlen, "%s/modules.json: entry %zu lacks a \"type\" or \"path\" string",
						 ld->dir, i);
				status = EMBED_ERR_CONFIG;
			}
			else if (!safe_relative_path(path))
			{
				snprintf(ld->err, ld->errlen, "%s/modules.json: module path \"%.128s\" leaves the model folder",
						 ld->dir, path);
				status = EMBED_ERR_CONFIG;
			}
			else if (strcmp(type, "sentence_transformers.models.Transformer") == 0)
			{
				if (path[0] != '\0')
				{
					snprintf(ld->err, ld->errlen, "%s/modules.json: the Transformer module is in sub-folder \"%.128s\"; "
							 "only models stored at the top of the folder are supported", ld->dir, path);
					status = EMBED_ERR_UNSUPPORTED;
				}
				have_transformer = true;
			}
			else if (strcmp(type, "sentence_transformers.models.Pooling") == 0)
				pool_dir = path;
			else if (strcmp(type, "sentence_transformers.models.Normalize") == 0)
				info->normalize = true;
			else
			{
				snprintf(ld->err, ld->errlen, "%s/modules.json: module type \"%.128s\" is not supported "
						 "(supported: Transformer, Pooling, Normalize)", ld->dir, type);
				status = EMBED_ERR_UNSUPPORTED;
			}
		}
		if (status == EMBED_OK && (!have_transformer || pool_dir == NULL))
		{
			snprintf(ld->err, ld->errlen, "%s/modules.json must list a Transformer and a Pooling module", ld->dir);
			status = EMBED_ERR_CONFIG;
		}
		if (status == EMBED_OK)
			status = parse_pooling(ld, pool_dir);
		embed_json_free(modules);
		if (status != EMBED_OK)
			return status;
	}

	status = read_json(ld, "sentence_bert_config.json", false, &sbert);
	if (status != EMBED_OK)
		return status;
	if (sbert != NULL)
	{
		const EmbedJson *v = embed_json_get(sbert, "max_seq_length");

		if (v != NULL && v->type != EMBED_JSON_NULL)
		{
			if (v->type != EMBED_JSON_NUMBER || !v->is_integer || v->integer < 1)
			{
				snprintf(ld->err, ld->errlen, "%s/sentence_bert_config.json: \"max_seq_length\" must be a positive integer",
						 ld->dir);
				embed_json_free(sbert);
				return EMBED_ERR_CONFIG;
			}
			if (v->integer < info->max_tokens)
				info->max_tokens = (int) v->integer;
		}
		embed_json_free(sbert);
	}
	return EMBED_OK;
}

/* Remember a malloc'd buffer for embed_model_free. */
static bool
own_buffer(EmbedModel *m, void *p)
{
	if (m->owned_count == m->owned_capacity)
	{
		int			cap = m->owned_capacity ? m->owned_capacity * 2 : 16;
		void	  **grown = realloc(m->owned, sizeof(void *) * cap);

		if (grown == NULL)
			return false;
		m->owned = grown;
		m->owned_capacity = cap;
	}
	m->owned[m->owned_count++] = p;
	return true;
}

/* IEEE half -> float, subnormals, infinities and NaN included. */
static float
half_to_float(uint16_t h)
{
	uint32_t	sign = (uint32_t) (h & 0x8000) << 16;
	uint32_t	exp = (h >> 10) & 0x1f;
	uint32_t	mant = h & 0x3ff;
	uint32_t	bits;
	float		f;

	if (exp == 0x1f)
		bits = sign | 0x7f800000 | (mant << 13);
	else if (exp != 0)
		bits = sign | ((exp + 112) << 23) | (mant << 13);
	else if (mant == 0)
		bits = sign;
	else
	{
		/* subnormal: mant * 2^-24 */
		f = (float) mant * (1.0f / 16777216.0f);
		return sign ? -f : f;
	}
	memcpy(&f, &bits, sizeof(f));
	return f;
}

/* A float32 copy of tensor t (F32 at any alignment, F16 or BF16). */
static float *
convert_tensor(const EmbedTensor *t)
{
	float	   *out = malloc(sizeof(float) * (size_t) (t->numel ? t->numel : 1));
	const uint8_t *src = t->data;

	if (out == NULL)
		return NULL;
	for (int64_t i = 0; i < t->numel; i++)
	{
		if (t->dtype == EMBED_DTYPE_F32)
			memcpy(&out[i], src + 4 * i, 4);
		else
		{
			uint16_t	v;

			memcpy(&v, src + 2 * i, 2);
			if (t->dtype == EMBED_DTYPE_F16)
				out[i] = half_to_float(v);
			else
			{
				uint32_t	bits = (uint32_t) v << 16;

				memcpy(&out[i], &bits, 4);
			}
		}
	}
	return out;
}

/*
 * Bind the float32 data of tensor prefix+name, checking its shape against
 * [d0] (d1 = 0) or [d0, d1].
 */
static EmbedStatus
bind_tensor(Loader *ld, const char *name, int64_t d0, int64_t d1, const float **out)
{
	EmbedModel *m = ld->m;
	char		full[256];
	const EmbedTensor *t;
	int64_t		want[2] = {d0, d1};
	int			want_ndim = d1 > 0 ? 2 : 1;
	bool		shape_ok;

	snprintf(full, sizeof(full), "%s%s", ld->prefix, name);
	t = embed_safetensors_find(m->st, full);
	if (t == NULL)
	{
		snprintf(ld->err, ld->errlen, "%s/model.safetensors: required tensor \"%s\" is missing", ld->dir, full);
		return EMBED_ERR_CONFIG;
	}
	shape_ok = t->ndim == want_ndim && t->shape[0] == d0 && (want_ndim == 1 || t->shape[1] == d1);
	if (!shape_ok)
	{
		char		got_s[128],
					want_s[64];

		embed_format_shape(t->shape, t->ndim, got_s, sizeof(got_s));
		embed_format_shape(want, want_ndim, want_s, sizeof(want_s));
		snprintf(ld->err, ld->errlen, "%s/model.safetensors: tensor \"%s\" has shape %s, expected %s from config.json",
				 ld->dir, full, got_s, want_s);
		return EMBED_ERR_CONFIG;
	}
	if (t->dtype != EMBED_DTYPE_F32 && t->dtype != EMBED_DTYPE_F16 && t->dtype != EMBED_DTYPE_BF16)
	{
		snprintf(ld->err, ld->errlen, "%s/model.safetensors: tensor \"%s\" has dtype %s; supported weight dtypes are F32, F16 and BF16",
				 ld->dir, full, embed_dtype_name(t->dtype));
		return EMBED_ERR_UNSUPPORTED;
	}
	m->info.params += t->numel;
	m->info.weights_bytes += t->numel * (int64_t) sizeof(float);
	if (t->dtype == EMBED_DTYPE_F32 && embed_tensor_is_aligned(t))
		*out = t->data;
	else
	{
		float	   *copy = convert_tensor(t);

		if (copy == NULL || !own_buffer(m, copy))
		{
			free(copy);
			snprintf(ld->err, ld->errlen, "out of memory converting tensor \"%s\" to float32", full);
			return EMBED_ERR_NOMEM;
		}
		m->info.private_bytes += t->numel * (int64_t) sizeof(float);
		*out = copy;
	}
	return EMBED_OK;
}

/*
 * A tensor of a layer: name after the layer prefix, shape as dimension codes
 * ('H' hidden, 'I' intermediate, '3' 3 x hidden, 0 none: a vector) and
 * where its pointer goes in the layer's weight struct.
 */
typedef struct LayerTensor
{
	const char *suffix;
	char		rows;
	char		cols;
	size_t		offset;
} LayerTensor;

#define BERT_LAYER(s, r, c, f) {s, r, c, offsetof(EmbedBertLayerWeights, f)}
static const LayerTensor bert_layer_tensors[] = {
	BERT_LAYER("attention.self.query.weight", 'H', 'H', query_w),
	BERT_LAYER("attention.self.query.bias", 'H', 0, query_b),
	BERT_LAYER("attention.self.key.weight", 'H', 'H', key_w),
	BERT_LAYER("attention.self.key.bias", 'H', 0, key_b),
	BERT_LAYER("attention.self.value.weight", 'H', 'H', value_w),
	BERT_LAYER("attention.self.value.bias", 'H', 0, value_b),
	BERT_LAYER("attention.output.dense.weight", 'H', 'H', attn_out_w),
	BERT_LAYER("attention.output.dense.bias", 'H', 0, attn_out_b),
	BERT_LAYER("attention.output.LayerNorm.weight", 'H', 0, attn_ln_gamma),
	BERT_LAYER("attention.output.LayerNorm.bias", 'H', 0, attn_ln_beta),
	BERT_LAYER("intermediate.dense.weight", 'I', 'H', ffn_in_w),
	BERT_LAYER("intermediate.dense.bias", 'I', 0, ffn_in_b),
	BERT_LAYER("output.dense.weight", 'H', 'I', ffn_out_w),
	BERT_LAYER("output.dense.bias", 'H', 0, ffn_out_b),
	BERT_LAYER("output.LayerNorm.weight", 'H', 0, out_ln_gamma),
	BERT_LAYER("output.LayerNorm.bias", 'H', 0, out_ln_beta),
};

/* DistilBERT's names for the same post-LN layer. */
static const LayerTensor distilbert_layer_tensors[] = {
	BERT_LAYER("attention.q_lin.weight", 'H', 'H', query_w),
	BERT_LAYER("attention.q_lin.bias", 'H', 0, query_b),
	BERT_LAYER("attention.k_lin.weight", 'H', 'H', key_w),
	BERT_LAYER("attention.k_lin.bias", 'H', 0, key_b),
	BERT_LAYER("attention.v_lin.weight", 'H', 'H', value_w),
	BERT_LAYER("attention.v_lin.bias", 'H', 0, value_b),
	BERT_LAYER("attention.out_lin.weight", 'H', 'H', attn_out_w),
	BERT_LAYER("attention.out_lin.bias", 'H', 0, attn_out_b),
	BERT_LAYER("sa_layer_norm.weight", 'H', 0, attn_ln_gamma),
	BERT_LAYER("sa_layer_norm.bias", 'H', 0, attn_ln_beta),
	BERT_LAYER("ffn.lin1.weight", 'I', 'H', ffn_in_w),
	BERT_LAYER("ffn.lin1.bias", 'I', 0, ffn_in_b),
	BERT_LAYER("ffn.lin2.weight", 'H', 'I', ffn_out_w),
	BERT_LAYER("ffn.lin2.bias", 'H', 0, ffn_out_b),
	BERT_LAYER("output_layer_norm.weight", 'H', 0, out_ln_gamma),
	BERT_LAYER("output_layer_norm.bias", 'H', 0, out_ln_beta),
};
#undef BERT_LAYER

/* GPT-2's block; Conv1D weights are [in, out]. */
#define GPT2_LAYER(s, r, c, f) {s, r, c, offsetof(EmbedGpt2LayerWeights, f)}
static const LayerTensor gpt2_layer_tensors[] = {
	GPT2_LAYER("ln_1.weight", 'H', 0, ln1_gamma),
	GPT2_LAYER("ln_1.bias", 'H', 0, ln1_beta),
	GPT2_LAYER("attn.c_attn.weight", 'H', '3', attn_w),
	GPT2_LAYER("attn.c_attn.bias", '3', 0, attn_b),
	GPT2_LAYER("attn.c_proj.weight", 'H', 'H', attn_proj_w),
	GPT2_LAYER("attn.c_proj.bias", 'H', 0, attn_proj_b),
	GPT2_LAYER("ln_2.weight", 'H', 0, ln2_gamma),
	GPT2_LAYER("ln_2.bias", 'H', 0, ln2_beta),
	GPT2_LAYER("mlp.c_fc.weight", 'H', 'I', fc_w),
	GPT2_LAYER("mlp.c_fc.bias", 'I', 0, fc_b),
	GPT2_LAYER("mlp.c_proj.weight", 'I', 'H', fc_proj_w),
	GPT2_LAYER("mlp.c_proj.bias", 'H', 0, fc_proj_b),
};
#undef GPT2_LAYER

/* The size a dimension code stands for. */
static int64_t
dimension(const EmbedModelInfo *info, char code)
{
	switch (code)
	{
		case 'H':
			return info->hidden;
		case 'I':
			return info->intermediate;
		case '3':
			return 3 * (int64_t) info->hidden;
		default:
			return 0;
	}
}

/*
 * Pick the tensor-name prefix: the first of candidates ("" included) under
 * which probe exists; "" when none does (the missing tensor is then named
 * by bind_tensor).
 */
static void
choose_prefix(Loader *ld, const char *probe, const char *const *candidates, int count)
{
	char		name[256];

	ld->prefix = "";
	for (int i = 0; i < count; i++)
	{
		snprintf(name, sizeof(name), "%s%s", candidates[i], probe);
		if (embed_safetensors_find(ld->m->st, name) != NULL)
		{
			ld->prefix = candidates[i];
			return;
		}
	}
}

/* Bind the tensors of `layers` layers named layer_fmt (with %d) + table suffixes. */
static EmbedStatus
bind_layers(Loader *ld, const char *layer_fmt, const LayerTensor *table, size_t count,
			void *layers, size_t layer_size)
{
	const EmbedModelInfo *info = &ld->m->info;

	for (int l = 0; l < info->layers; l++)
	{
		char	   *lw = (char *) layers + (size_t) l * layer_size;
		char		prefix[64];

		snprintf(prefix, sizeof(prefix), layer_fmt, l);
		for (size_t i = 0; i < count; i++)
		{
			char		name[160];
			EmbedStatus status;

			snprintf(name, sizeof(name), "%s%s", prefix, table[i].suffix);
			status = bind_tensor(ld, name, dimension(info, table[i].rows), dimension(info, table[i].cols),
								 (const float **) (lw + table[i].offset));
			if (status != EMBED_OK)
				return status;
		}
	}
	return EMBED_OK;
}

/* Bind the encoder (BERT, RoBERTa, DistilBERT) weights. */
static EmbedStatus
bind_encoder_weights(Loader *ld)
{
	static const char *const bert_prefixes[] = {"", "bert.", "roberta."};
	static const char *const distilbert_prefixes[] = {"", "distilbert."};
	EmbedModel *m = ld->m;
	const EmbedModelInfo *info = &m->info;
	EmbedBertWeights *w = &m->weights;
	bool		distil = info->arch == EMBED_ARCH_DISTILBERT;
	int64_t		H = info->hidden;
	EmbedStatus status;

	if (distil)
		choose_prefix(ld, "embeddings.word_embeddings.weight", distilbert_prefixes,
					  lengthof(distilbert_prefixes));
	else
		choose_prefix(ld, "embeddings.word_embeddings.weight", bert_prefixes, lengthof(bert_prefixes));
	if ((status = bind_tensor(ld, "embeddings.word_embeddings.weight", info->vocab_size, H, &w->word_embeddings)) ||
		(status = bind_tensor(ld, "embeddings.position_embeddings.weight", info->max_positions, H, &w->position_embeddings)) ||
		(!distil && (status = bind_tensor(ld, "embeddings.token_type_embeddings.weight", info->type_vocab_size, H, &w->token_type_embeddings))) ||
		(status = bind_tensor(ld, "embeddings.LayerNorm.weight", H, 0, &w->emb_ln_gamma)) ||
		(status = bind_tensor(ld, "embeddings.LayerNorm.bias", H, 0, &w->emb_ln_beta)))
		return status;

	m->layers = calloc(info->layers, sizeof(EmbedBertLayerWeights));
	if (m->layers == NULL)
	{
		snprintf(ld->err, ld->errlen, "out of memory loading \"%s\"", ld->dir);
		return EMBED_ERR_NOMEM;
	}
	w->layers = m->layers;
	if (distil)
		return bind_layers(ld, "transformer.layer.%d.", distilbert_layer_tensors,
						   lengthof(distilbert_layer_tensors), m->layers, sizeof(EmbedBertLayerWeights));
	return bind_layers(ld, "encoder.layer.%d.", bert_layer_tensors, lengthof(bert_layer_tensors),
					   m->layers, sizeof(EmbedBertLayerWeights));
}

/* Bind GPT-2's weights (GPT2Model's bare names or GPT2LMHeadModel's "transformer."). */
static EmbedStatus
bind_gpt2_weights(Loader *ld)
{
	static const char *const prefixes[] = {"", "transformer."};
	EmbedModel *m = ld->m;
	const EmbedModelInfo *info = &m->info;
	EmbedGpt2Weights *w = &m->gpt2;
	int64_t		H = info->hidden;
	EmbedStatus status;

	choose_prefix(ld, "wte.weight", prefixes, lengthof(prefixes));
	if ((status = bind_tensor(ld, "wte.weight", info->vocab_size, H, &w->token_embeddings)) ||
		(status = bind_tensor(ld, "wpe.weight", info->max_positions, H, &w->position_embeddings)) ||
		(status = bind_tensor(ld, "ln_f.weight", H, 0, &w->lnf_gamma)) ||
		(status = bind_tensor(ld, "ln_f.bias", H, 0, &w->lnf_beta)))
		return status;
	m->gpt2_layers = calloc(info->layers, sizeof(EmbedGpt2LayerWeights));
	if (m->gpt2_layers == NULL)
	{
		snprintf(ld->err, ld->errlen, "out of memory loading \"%s\"", ld->dir);
		return EMBED_ERR_NOMEM;
	}
	w->layers = m->gpt2_layers;
	return bind_layers(ld, "h.%d.", gpt2_layer_tensors, lengthof(gpt2_layer_tensors),
					   m->gpt2_layers, sizeof(EmbedGpt2LayerWeights));
}

/* Bind every tensor the forward pass needs. */
static EmbedStatus
bind_weights(Loader *ld)
{
	if (ld->m->info.arch == EMBED_ARCH_GPT2)
		return bind_gpt2_weights(ld);
	return bind_encoder_weights(ld);
}

/* Load config, sentence-transformers files and weights of the model in model_dir. */
EmbedStatus
embed_model_load(const char *model_dir, EmbedModel **out, char *err, size_t errlen)
{
	Loader		ld = {0};
	EmbedJson  *cfg = NULL;
	char		path[PATH_MAX];
	size_t		file_len;
	EmbedStatus status;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	ld.dir = model_dir;
	ld.err = err;
	ld.errlen = errlen;
	ld.m = calloc(1, sizeof(EmbedModel));
	if (ld.m == NULL)
	{
		snprintf(err, errlen, "out of memory loading \"%s\"", model_dir);
		return EMBED_ERR_NOMEM;
	}

	status = read_json(&ld, "config.json", true, &cfg);
	if (status == EMBED_OK)
		status = parse_config(&ld, cfg);
	embed_json_free(cfg);
	if (status == EMBED_OK)
		status = parse_sentence_transformers(&ld);
	if (status == EMBED_OK && join_path(&ld, "model.safetensors", path, sizeof(path)))
		status = embed_safetensors_open(path, &ld.m->st, err, errlen);
	else if (status == EMBED_OK)
		status = EMBED_ERR_IO;
	if (status == EMBED_OK)
		status = bind_weights(&ld);
	if (status != EMBED_OK)
	{
		embed_model_free(ld.m);
		return status;
	}
	embed_safetensors_file_data(ld.m->st, &file_len);
	ld.m->info.file_bytes = (int64_t) file_len;
	*out = ld.m;
	return EMBED_OK;
}

/* Free a model: converted tensors, tables, the mapping. */
void
embed_model_free(EmbedModel *m)
{
	if (m == NULL)
		return;
	for (int i = 0; i < m->owned_count; i++)
		free(m->owned[i]);
	free(m->owned);
	free(m->layers);
	free(m->gpt2_layers);
	embed_safetensors_close(m->st);
	free(m);
}

/* The model's hyper-parameters and sizes. */
const EmbedModelInfo *
embed_model_info(const EmbedModel *m)
{
	return &m->info;
}

/* The bound encoder weights, or NULL for GPT-2. */
const EmbedBertWeights *
embed_model_weights(const EmbedModel *m)
{
	return m->info.arch == EMBED_ARCH_GPT2 ? NULL : &m->weights;
}

/* The bound GPT-2 weights, or NULL for an encoder. */
const EmbedGpt2Weights *
embed_model_gpt2_weights(const EmbedModel *m)
{
	return m->info.arch == EMBED_ARCH_GPT2 ? &m->gpt2 : NULL;
}

/* Lower-case name of an architecture. */
const char *
embed_architecture_name(EmbedArchitecture arch)
{
	switch (arch)
	{
		case EMBED_ARCH_BERT:
			return "bert";
		case EMBED_ARCH_ROBERTA:
			return "roberta";
		case EMBED_ARCH_DISTILBERT:
			return "distilbert";
		case EMBED_ARCH_GPT2:
			return "gpt2";
	}
	return "unknown";
}

/* Pool each row over its first lengths[b] positions, then normalise if configured. */
void
embed_model_pool(const EmbedModel *m, const float *hidden, const int32_t *lengths,
				 int batch, int seq, float *pooled_out)
{
	int			H = m->info.hidden;

	for (int b = 0; b < batch; b++)
	{
		const float *rows = hidden + (size_t) b * seq * H;
		float	   *out = pooled_out + (size_t) b * H;
		int			count = lengths[b] < seq ? lengths[b] : seq;

		switch (m->info.pooling)
		{
			case EMBED_POOL_MEAN:
				embed_pool_mean(count, H, rows, out);
				break;
			case EMBED_POOL_CLS:
				embed_pool_cls(count, H, rows, out);
				break;
			case EMBED_POOL_MAX:
				embed_pool_max(count, H, rows, out);
				break;
		}
		if (m->info.normalize)
			embed_l2_normalize(H, out);
	}
}

/* SHA-256 of the whole weights file, from the mapping. */
void
embed_model_sha256(const EmbedModel *m, char hex[EMBED_SHA256_HEX_LEN])
{
	size_t		len;
	const void *data = embed_safetensors_file_data(m->st, &len);

	embed_sha256_hex(data, len, hex);
}
