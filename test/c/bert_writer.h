/*
 * bert_writer.h: writes model folders (BERT, RoBERTa, DistilBERT, GPT-2)
 * with deterministic pseudo-random weights, for the loader and parity tests.
 *
 * The weights are a pure function of (seed, tensor name, element index),
 * so they do not depend on the header's tensor order or byte layout; the
 * generator in tools/parity/bert_parity.py implements the same rule:
 *
 *   tensor_seed = seed XOR fnv1a64(name without a leading "bert.")
 *   r_i = splitmix64_mix(tensor_seed + (i + 1) * 0x9E3779B97F4A7C15)   (mod 2^64)
 *   u_i = ((r_i >> 40) - 2^23) / 2^23                 (exact float in [-1, 1))
 *   LayerNorm weights:       1 + u/8   (one float32 addition)
 *   LayerNorm biases:            u/8
 *   embedding tables:            u/2
 *   other "*.bias":              u/16
 *   other tensors:               u/8
 *   I64 tensors (position_ids): the element index
 *
 * LayerNorm tensors are those whose module name ends in "LayerNorm" or
 * "layer_norm" (DistilBERT's sa_layer_norm, output_layer_norm) or is GPT-2's
 * ln_1, ln_2 or ln_f; embedding tables are the "*embeddings.*" tensors and
 * GPT-2's wte and wpe.
 *
 * Only functions used by a given test get compiled in (all are static and
 * marked unused).
 */
#ifndef EMBED_TEST_BERT_WRITER_H
#define EMBED_TEST_BERT_WRITER_H

#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json.h"

#define BW_UNUSED __attribute__((unused))

/* The architecture of a written folder: tensor names and config.json keys. */
typedef enum BwArch
{
	BW_ARCH_BERT = 0,
	BW_ARCH_ROBERTA,
	BW_ARCH_DISTILBERT,
	BW_ARCH_GPT2
} BwArch;

typedef struct BertSpec
{
	int			hidden,
				layers,
				heads,
				intermediate,	/* GPT-2: written as n_inner null when 4 x hidden */
				vocab,
				max_positions,
				type_vocab;		/* BERT, RoBERTa only */
	const char *prefix;			/* "" or the model class's: "bert.", "roberta.", "distilbert.", "transformer." */
	bool		with_pooler;	/* BERT, RoBERTa: pooler.dense.* (unused by the engine) */
	bool		with_position_ids;	/* BERT, RoBERTa: embeddings.position_ids (I64) */
	const char *dtype;			/* weight dtype: "F32", "F16" or "BF16" */
	BwArch		arch;			/* zero: BERT */
	int			pad_id;			/* RoBERTa: pad_token_id */
} BertSpec;

/* The finalizer of splitmix64. */
static inline uint64_t
bw_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* FNV-1a, 64-bit, of a NUL-terminated string. */
static inline uint64_t
bw_fnv1a64(const char *s)
{
	uint64_t	h = UINT64_C(0xcbf29ce484222325);

	for (; *s; s++)
	{
		h ^= (uint8_t) *s;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static bool
bw_ends_with(const char *s, const char *suffix)
{
	size_t		n = strlen(s),
				m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Is `name` the weight or bias of a LayerNorm (see the rule above)? */
static bool
bw_is_layernorm(const char *name, const char *param)
{
	static const char *const modules[] = {"LayerNorm", "layer_norm", ".ln_1", ".ln_2", "ln_f"};
	char		suffix[32];

	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++)
	{
		snprintf(suffix, sizeof(suffix), "%s.%s", modules[i], param);
		if (bw_ends_with(name, suffix))
			return true;
	}
	return false;
}

/* Fill out[numel] with the weights of tensor `name`. */
static BW_UNUSED void
bw_fill(uint64_t seed, const char *name, int64_t numel, float *out)
{
	uint64_t	ts = seed ^ bw_fnv1a64(strncmp(name, "bert.", 5) == 0 ? name + 5 : name);
	float		scale;
	bool		ln_weight = bw_is_layernorm(name, "weight");

	if (ln_weight || bw_is_layernorm(name, "bias"))
		scale = 0.125f;
	else if (strstr(name, "embeddings.") != NULL || bw_ends_with(name, "wte.weight") ||
			 bw_ends_with(name, "wpe.weight"))
		scale = 0.5f;
	else if (bw_ends_with(name, ".bias"))
		scale = 0.0625f;
	else
		scale = 0.125f;
	for (int64_t i = 0; i < numel; i++)
	{
		uint64_t	r = bw_mix(ts + (uint64_t) (i + 1) * UINT64_C(0x9E3779B97F4A7C15));
		float		u = (float) ((int64_t) (r >> 40) - (1 << 23)) * (1.0f / 8388608.0f);
		float		v = u * scale;	/* exact: a power-of-two scale */

		out[i] = ln_weight ? 1.0f + v : v;	/* the only rounding, FMA or not */
	}
}

/* float -> IEEE half, round to nearest even (no overflow handling needed here). */
static BW_UNUSED uint16_t
bw_float_to_half(float f)
{
	uint32_t	x;
	uint32_t	sign,
				mant;
	int			exp;

	memcpy(&x, &f, 4);
	sign = (x >> 16) & 0x8000;
	exp = (int) ((x >> 23) & 0xff) - 127 + 15;
	mant = x & 0x7fffff;
	if (exp >= 31)
		return (uint16_t) (sign | 0x7c00);
	if (exp <= 0)
	{
		/* subnormal half: shift the implicit bit in, round to nearest even */
		uint32_t	m = mant | 0x800000;
		int			shift = 14 - exp;
		uint32_t	h,
					rem,
					half;

		if (shift > 24)
			return (uint16_t) sign;
		h = m >> shift;
		rem = m & ((1u << shift) - 1);
		half = 1u << (shift - 1);
		if (rem > half || (rem == half && (h & 1)))
			h++;
		return (uint16_t) (sign | h);
	}
	{
		uint32_t	h = ((uint32_t) exp << 10) | (mant >> 13);
		uint32_t	rem = mant & 0x1fff;

		if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
			h++;				/* may carry into the exponent: still correct */
		return (uint16_t) (sign | h);
	}
}

/* IEEE half -> float (normal and subnormal values). */
static BW_UNUSED float
bw_half_to_float(uint16_t h)
{
	uint32_t	sign = (uint32_t) (h & 0x8000) << 16;
	int			exp = (h >> 10) & 0x1f;
	uint32_t	mant = h & 0x3ff;
	uint32_t	bits;
	float		f;

	if (exp == 0)
	{
		f = (float) mant / 16777216.0f;
		return sign ? -f : f;
	}
	bits = sign | ((uint32_t) (exp + 112) << 23) | (mant << 13);
	memcpy(&f, &bits, 4);
	return f;
}

/* float -> bfloat16, round to nearest even. */
static BW_UNUSED uint16_t
bw_float_to_bf16(float f)
{
	uint32_t	x;

	memcpy(&x, &f, 4);
	return (uint16_t) ((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

/* A growable string. */
typedef struct BwBuf
{
	char	   *s;
	size_t		len,
				cap;
} BwBuf;

static BW_UNUSED void
bw_printf(BwBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static BW_UNUSED void
bw_printf(BwBuf *b, const char *fmt, ...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (b->len + n + 1 > b->cap)
	{
		b->cap = (b->len + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
}

/* Bytes per element of the dtypes the writer knows. */
static size_t
bw_dtype_size(const char *dtype)
{
	if (strcmp(dtype, "F64") == 0 || strcmp(dtype, "I64") == 0)
		return 8;
	if (strcmp(dtype, "F32") == 0 || strcmp(dtype, "I32") == 0)
		return 4;
	return 2;
}

/* Append one header entry; *offset advances by the tensor's byte size. */
static void
bw_entry(BwBuf *b, const char *prefix, const char *name, const char *dtype,
		 int64_t d0, int64_t d1, uint64_t *offset)
{
	size_t		esize = bw_dtype_size(dtype);
	uint64_t	bytes = (uint64_t) d0 * (d1 > 0 ? d1 : 1) * esize;

	if (d1 > 0)
		bw_printf(b, "%s\"%s%s\":{\"dtype\":\"%s\",\"shape\":[%lld,%lld],\"data_offsets\":[%llu,%llu]}",
				  b->len > 1 ? "," : "", prefix, name, dtype, (long long) d0, (long long) d1,
				  (unsigned long long) *offset, (unsigned long long) (*offset + bytes));
	else
		bw_printf(b, "%s\"%s%s\":{\"dtype\":\"%s\",\"shape\":[%lld],\"data_offsets\":[%llu,%llu]}",
				  b->len > 1 ? "," : "", prefix, name, dtype, (long long) d0,
				  (unsigned long long) *offset, (unsigned long long) (*offset + bytes));
	*offset += bytes;
}

/* BERT's and RoBERTa's tensors (the same names). */
static void
bw_bert_entries(BwBuf *b, const BertSpec *s, const char *dt, uint64_t *off)
{
	int64_t		H = s->hidden,
				FF = s->intermediate;

	if (s->with_position_ids)
		bw_entry(b, s->prefix, "embeddings.position_ids", "I64", s->max_positions, 0, off);
	bw_entry(b, s->prefix, "embeddings.LayerNorm.bias", dt, H, 0, off);
	bw_entry(b, s->prefix, "embeddings.LayerNorm.weight", dt, H, 0, off);
	bw_entry(b, s->prefix, "embeddings.position_embeddings.weight", dt, s->max_positions, H, off);
	bw_entry(b, s->prefix, "embeddings.token_type_embeddings.weight", dt, s->type_vocab, H, off);
	bw_entry(b, s->prefix, "embeddings.word_embeddings.weight", dt, s->vocab, H, off);
	for (int l = 0; l < s->layers; l++)
	{
		char		n[128];

#define BW_LAYER(suffix, d0, d1) \
		do { snprintf(n, sizeof(n), "encoder.layer.%d.%s", l, suffix); \
			 bw_entry(b, s->prefix, n, dt, d0, d1, off); } while (0)
		BW_LAYER("attention.output.LayerNorm.bias", H, 0);
		BW_LAYER("attention.output.LayerNorm.weight", H, 0);
		BW_LAYER("attention.output.dense.bias", H, 0);
		BW_LAYER("attention.output.dense.weight", H, H);
		BW_LAYER("attention.self.key.bias", H, 0);
		BW_LAYER("attention.self.key.weight", H, H);
		BW_LAYER("attention.self.query.bias", H, 0);
		BW_LAYER("attention.self.query.weight", H, H);
		BW_LAYER("attention.self.value.bias", H, 0);
		BW_LAYER("attention.self.value.weight", H, H);
		BW_LAYER("intermediate.dense.bias", FF, 0);
		BW_LAYER("intermediate.dense.weight", FF, H);
		BW_LAYER("output.LayerNorm.bias", H, 0);
		BW_LAYER("output.LayerNorm.weight", H, 0);
		BW_LAYER("output.dense.bias", H, 0);
		BW_LAYER("output.dense.weight", H, FF);
#undef BW_LAYER
	}
	if (s->with_pooler)
	{
		bw_entry(b, s->prefix, "pooler.dense.bias", dt, H, 0, off);
		bw_entry(b, s->prefix, "pooler.dense.weight", dt, H, H, off);
	}
}

/* DistilBERT's tensors: no token types, transformer.layer.N with its own names. */
static void
bw_distilbert_entries(BwBuf *b, const BertSpec *s, const char *dt, uint64_t *off)
{
	int64_t		H = s->hidden,
				FF = s->intermediate;

	bw_entry(b, s->prefix, "embeddings.LayerNorm.bias", dt, H, 0, off);
	bw_entry(b, s->prefix, "embeddings.LayerNorm.weight", dt, H, 0, off);
	bw_entry(b, s->prefix, "embeddings.position_embeddings.weight", dt, s->max_positions, H, off);
	bw_entry(b, s->prefix, "embeddings.word_embeddings.weight", dt, s->vocab, H, off);
	for (int l = 0; l < s->layers; l++)
	{
		char		n[128];

#define BW_LAYER(suffix, d0, d1) \
		do { snprintf(n, sizeof(n), "transformer.layer.%d.%s", l, suffix); \
			 bw_entry(b, s->prefix, n, dt, d0, d1, off); } while (0)
		BW_LAYER("attention.k_lin.bias", H, 0);
		BW_LAYER("attention.k_lin.weight", H, H);
		BW_LAYER("attention.out_lin.bias", H, 0);
		BW_LAYER("attention.out_lin.weight", H, H);
		BW_LAYER("attention.q_lin.bias", H, 0);
		BW_LAYER("attention.q_lin.weight", H, H);
		BW_LAYER("attention.v_lin.bias", H, 0);
		BW_LAYER("attention.v_lin.weight", H, H);
		BW_LAYER("ffn.lin1.bias", FF, 0);
		BW_LAYER("ffn.lin1.weight", FF, H);
		BW_LAYER("ffn.lin2.bias", H, 0);
		BW_LAYER("ffn.lin2.weight", H, FF);
		BW_LAYER("output_layer_norm.bias", H, 0);
		BW_LAYER("output_layer_norm.weight", H, 0);
		BW_LAYER("sa_layer_norm.bias", H, 0);
		BW_LAYER("sa_layer_norm.weight", H, 0);
#undef BW_LAYER
	}
}

/* GPT-2's tensors: Conv1D weights stored [in, out], no LM head (tied to wte). */
static void
bw_gpt2_entries(BwBuf *b, const BertSpec *s, const char *dt, uint64_t *off)
{
	int64_t		H = s->hidden,
				FF = s->intermediate;

	for (int l = 0; l < s->layers; l++)
	{
		char		n[128];

#define BW_LAYER(suffix, d0, d1) \
		do { snprintf(n, sizeof(n), "h.%d.%s", l, suffix); \
			 bw_entry(b, s->prefix, n, dt, d0, d1, off); } while (0)
		BW_LAYER("attn.c_attn.bias", 3 * H, 0);
		BW_LAYER("attn.c_attn.weight", H, 3 * H);
		BW_LAYER("attn.c_proj.bias", H, 0);
		BW_LAYER("attn.c_proj.weight", H, H);
		BW_LAYER("ln_1.bias", H, 0);
		BW_LAYER("ln_1.weight", H, 0);
		BW_LAYER("ln_2.bias", H, 0);
		BW_LAYER("ln_2.weight", H, 0);
		BW_LAYER("mlp.c_fc.bias", FF, 0);
		BW_LAYER("mlp.c_fc.weight", H, FF);
		BW_LAYER("mlp.c_proj.bias", H, 0);
		BW_LAYER("mlp.c_proj.weight", FF, H);
#undef BW_LAYER
	}
	bw_entry(b, s->prefix, "ln_f.bias", dt, H, 0, off);
	bw_entry(b, s->prefix, "ln_f.weight", dt, H, 0, off);
	bw_entry(b, s->prefix, "wpe.weight", dt, s->max_positions, H, off);
	bw_entry(b, s->prefix, "wte.weight", dt, s->vocab, H, off);
}

/*
 * The safetensors JSON header of the spec's model, padded with spaces so
 * that 8 + length is a multiple of 8, plus `misalign` extra spaces (to test
 * unaligned data).  Returns a malloc'd string.
 */
static BW_UNUSED char *
bw_header(const BertSpec *s, int misalign, size_t *len)
{
	BwBuf		b = {0};
	uint64_t	off = 0;
	const char *dt = s->dtype ? s->dtype : "F32";

	bw_printf(&b, "{");
	bw_printf(&b, "\"__metadata__\":{\"format\":\"pt\"}");
	switch (s->arch)
	{
		case BW_ARCH_BERT:
		case BW_ARCH_ROBERTA:
			bw_bert_entries(&b, s, dt, &off);
			break;
		case BW_ARCH_DISTILBERT:
			bw_distilbert_entries(&b, s, dt, &off);
			break;
		case BW_ARCH_GPT2:
			bw_gpt2_entries(&b, s, dt, &off);
			break;
	}
	bw_printf(&b, "}");
	while ((8 + b.len) % 8 != 0)
		bw_printf(&b, " ");
	for (int i = 0; i < misalign; i++)
		bw_printf(&b, " ");
	*len = b.len;
	return b.s;
}

/*
 * Write a safetensors file: the given header verbatim, then every tensor's
 * data at its offsets, generated from seed.  F32 tensors can be rounded
 * through "F16" or "BF16" (round_through) so that a file of that dtype holds
 * the same values.  Returns false on I/O or header errors.
 */
static BW_UNUSED bool
bw_write_safetensors(const char *path, const char *header, size_t header_len,
					 uint64_t seed, const char *round_through)
{
	char		err[256];
	EmbedJson  *root = embed_json_parse(header, header_len, err, sizeof(err));
	uint64_t	data_len = 0;
	uint8_t    *data;
	FILE	   *f;
	uint8_t		len_bytes[8];
	bool		okay = true;

	if (root == NULL || root->type != EMBED_JSON_OBJECT)
	{
		fprintf(stderr, "bw_write_safetensors: bad header: %s\n", err);
		embed_json_free(root);
		return false;
	}
	for (size_t i = 0; i < root->len; i++)
	{
		const EmbedJson *off = embed_json_get(&root->items[i], "data_offsets");

		if (off && off->len == 2 && (uint64_t) off->items[1].integer > data_len)
			data_len = (uint64_t) off->items[1].integer;
	}
	data = calloc(1, data_len ? data_len : 1);
	for (size_t i = 0; i < root->len; i++)
	{
		const EmbedJson *e = &root->items[i];
		const char *dtype = embed_json_get_string(e, "dtype");
		const EmbedJson *off = embed_json_get(e, "data_offsets");
		const char *name = root->keys[i];
		uint64_t	begin,
					end;
		int64_t		numel;
		float	   *vals;

		if (dtype == NULL || off == NULL)
			continue;			/* __metadata__ */
		begin = (uint64_t) off->items[0].integer;
		end = (uint64_t) off->items[1].integer;
		if (strcmp(dtype, "I64") == 0)
		{
			for (uint64_t k = 0; k < (end - begin) / 8; k++)
			{
				int64_t		v = (int64_t) k;

				memcpy(data + begin + 8 * k, &v, 8);
			}
			continue;
		}
		if (strcmp(dtype, "F32") != 0 && strcmp(dtype, "F16") != 0 && strcmp(dtype, "BF16") != 0)
			continue;			/* other dtypes stay zero */
		numel = (int64_t) ((end - begin) / bw_dtype_size(dtype));
		vals = malloc(sizeof(float) * (numel ? numel : 1));
		bw_fill(seed, name, numel, vals);
		if (strcmp(dtype, "F32") == 0 && round_through == NULL)
		{
			memcpy(data + begin, vals, sizeof(float) * numel);
			free(vals);
			continue;
		}
		for (int64_t k = 0; k < numel; k++)
		{
			float		v = vals[k];

			if (strcmp(dtype, "F32") == 0)
			{
				if (round_through && strcmp(round_through, "F16") == 0)
					v = bw_half_to_float(bw_float_to_half(v));
				else if (round_through && strcmp(round_through, "BF16") == 0)
				{
					uint32_t	bits = (uint32_t) bw_float_to_bf16(v) << 16;

					memcpy(&v, &bits, 4);
				}
				memcpy(data + begin + 4 * k, &v, 4);
			}
			else
			{
				uint16_t	h = strcmp(dtype, "F16") == 0 ? bw_float_to_half(v) : bw_float_to_bf16(v);

				memcpy(data + begin + 2 * k, &h, 2);
			}
		}
		free(vals);
	}
	embed_json_free(root);

	for (int i = 0; i < 8; i++)
		len_bytes[i] = (uint8_t) ((uint64_t) header_len >> (8 * i));
	f = fopen(path, "wb");
	if (f == NULL)
		okay = false;
	else
	{
		okay = fwrite(len_bytes, 1, 8, f) == 8 &&
			fwrite(header, 1, header_len, f) == header_len &&
			(data_len == 0 || fwrite(data, 1, data_len, f) == data_len);
		okay = (fclose(f) == 0) && okay;
	}
	free(data);
	return okay;
}

/* Write text to dir/rel (creating the sub-folder of rel if it has one). */
static BW_UNUSED bool
bw_write_text(const char *dir, const char *rel, const char *text)
{
	char		path[8192];
	const char *slash = strrchr(rel, '/');
	FILE	   *f;
	bool		okay;

	if (slash)
	{
		snprintf(path, sizeof(path), "%s/%.*s", dir, (int) (slash - rel), rel);
		mkdir(path, 0700);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	if (f == NULL)
		return false;
	okay = fputs(text, f) >= 0;
	return (fclose(f) == 0) && okay;
}

/*
 * config.json text for a spec, with each architecture's key names (as
 * Hugging Face writes them); DistilBERT has no LayerNorm epsilon key.
 */
static BW_UNUSED char *
bw_config_json(const BertSpec *s, const char *hidden_act, double eps)
{
	BwBuf		b = {0};

	switch (s->arch)
	{
		case BW_ARCH_BERT:
		case BW_ARCH_ROBERTA:
			bw_printf(&b, "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"%s\",\n",
					  s->arch == BW_ARCH_BERT ? "BertModel" : "RobertaModel",
					  s->arch == BW_ARCH_BERT ? "bert" : "roberta");
			bw_printf(&b, "  \"hidden_size\": %d,\n  \"num_hidden_layers\": %d,\n  \"num_attention_heads\": %d,\n"
					  "  \"intermediate_size\": %d,\n  \"vocab_size\": %d,\n  \"max_position_embeddings\": %d,\n"
					  "  \"type_vocab_size\": %d,\n",
					  s->hidden, s->layers, s->heads, s->intermediate, s->vocab, s->max_positions,
					  s->type_vocab);
			if (s->arch == BW_ARCH_ROBERTA)
				bw_printf(&b, "  \"pad_token_id\": %d,\n", s->pad_id);
			bw_printf(&b, "  \"hidden_act\": \"%s\",\n  \"layer_norm_eps\": %.17g\n}\n", hidden_act, eps);
			break;
		case BW_ARCH_DISTILBERT:
			bw_printf(&b, "{\n  \"architectures\": [\"DistilBertModel\"],\n  \"model_type\": \"distilbert\",\n"
					  "  \"dim\": %d,\n  \"n_layers\": %d,\n  \"n_heads\": %d,\n  \"hidden_dim\": %d,\n"
					  "  \"vocab_size\": %d,\n  \"max_position_embeddings\": %d,\n"
					  "  \"activation\": \"%s\",\n  \"sinusoidal_pos_embds\": false\n}\n",
					  s->hidden, s->layers, s->heads, s->intermediate, s->vocab, s->max_positions,
					  hidden_act);
			break;
		case BW_ARCH_GPT2:
			bw_printf(&b, "{\n  \"architectures\": [\"GPT2LMHeadModel\"],\n  \"model_type\": \"gpt2\",\n"
					  "  \"n_embd\": %d,\n  \"n_layer\": %d,\n  \"n_head\": %d,\n",
					  s->hidden, s->layers, s->heads);
			if (s->intermediate == 4 * s->hidden)
				bw_printf(&b, "  \"n_inner\": null,\n");
			else
				bw_printf(&b, "  \"n_inner\": %d,\n", s->intermediate);
			bw_printf(&b, "  \"vocab_size\": %d,\n  \"n_positions\": %d,\n  \"activation_function\": \"%s\",\n"
					  "  \"layer_norm_epsilon\": %.17g,\n  \"tie_word_embeddings\": true\n}\n",
					  s->vocab, s->max_positions, hidden_act, eps);
			break;
	}
	return b.s;
}

/* A fresh temporary directory (under $TMPDIR or /tmp); malloc'd path. */
static BW_UNUSED char *
bw_tempdir(void)
{
	const char *base = getenv("TMPDIR");
	char	   *path = malloc(4096);

	snprintf(path, 4096, "%s/embed-test-XXXXXX", base && *base ? base : "/tmp");
	if (mkdtemp(path) == NULL)
	{
		free(path);
		return NULL;
	}
	return path;
}

/* nftw callback: remove one entry. */
static int
bw_remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Remove a temporary directory tree made by bw_tempdir. */
static BW_UNUSED void
bw_remove_tree(const char *dir)
{
	if (dir == NULL || strstr(dir, "/embed-test-") == NULL)
		return;
	if (nftw(dir, bw_remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

#endif
