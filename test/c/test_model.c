/*
 * test_model.c: the model loader and the forward pass.
 *
 * 1. Golden values: the pico BERT checkpoints in ../shared/models against
 *    the outputs Hugging Face computed (../shared/data/reference-outputs),
 *    to 1e-5.  Skipped with a message when ../shared is absent (set
 *    EMBED_SHARED_DIR to point elsewhere).
 * 2. Corrupt and mismatched files: each must give a clean error of the
 *    right category whose message names the tensor or key.
 * 3. Loader features: "bert." prefix, unaligned data, F16/BF16 weights,
 *    sentence-transformers pooling/normalisation files, input checks.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bert.h"
#include "json.h"
#include "model.h"
#include "safetensors.h"
#include "tap.h"

#include "bert_writer.h"

#define SEED UINT64_C(20240601)

static const BertSpec small_spec = {
	.hidden = 8, .layers = 2, .heads = 2, .intermediate = 16, .vocab = 11,
	.max_positions = 16, .type_vocab = 2, .prefix = "", .dtype = "F32"
};

/* The shared data folder, or NULL. */
static const char *
shared_dir(void)
{
	static char path[4096];
	const char *env = getenv("EMBED_SHARED_DIR");
	struct stat sb;

	snprintf(path, sizeof(path), "%s", env && *env ? env : "../shared");
	strcat(path, "/models");
	if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return NULL;
	path[strlen(path) - strlen("/models")] = '\0';
	return path;
}

/* Parse a whole JSON file (test helper: aborts the program on failure). */
static EmbedJson *
load_json(const char *path)
{
	char		err[256];
	size_t		len;
	char	   *text = embed_read_file(path, 64 << 20, &len, err, sizeof(err));
	EmbedJson  *root;

	if (text == NULL)
	{
		printf("Bail out! %s\n", err);
		exit(1);
	}
	root = embed_json_parse(text, len, err, sizeof(err));
	free(text);
	if (root == NULL)
	{
		printf("Bail out! %s: %s\n", path, err);
		exit(1);
	}
	return root;
}

/* Load a model, bailing out on failure. */
static EmbedModel *
must_load(const char *dir)
{
	EmbedModel *m;
	char		err[512];
	EmbedStatus st = embed_model_load(dir, &m, err, sizeof(err));

	if (st != EMBED_OK)
	{
		printf("Bail out! loading %s: %s (%s)\n", dir, err, embed_status_name(st));
		exit(1);
	}
	return m;
}

/* Forward a batch with a fresh workspace; returns the status. */
static EmbedStatus
run_forward(const EmbedModel *m, const int32_t *ids, const int32_t *types, const int32_t *lengths,
			int batch, int seq, float *hidden, char *err, size_t errlen)
{
	size_t		bytes;
	void	   *ws;
	EmbedStatus st;

	if (!embed_bert_workspace_size(m, batch, seq, 1, &bytes))
	{
		snprintf(err, errlen, "workspace size overflow");
		return EMBED_ERR_INPUT;
	}
	ws = malloc(bytes);
	st = embed_bert_forward(m, NULL, ids, types, lengths, batch, seq, hidden, ws, NULL, NULL, err, errlen);
	free(ws);
	return st;
}

/* ---------- golden values ---------- */

/* pico-bert: last_hidden_state for 3 x 16 ids with token types, no mask. */
static void
test_pico_bert(const char *shared)
{
	char		path[4200];
	EmbedJson  *ref;
	const EmbedJson *seqs,
			   *types,
			   *hidden;
	EmbedModel *m;
	const EmbedModelInfo *info;
	int32_t		ids[3 * 16],
				tt[3 * 16],
				lengths[3] = {16, 16, 16};
	float		out[3 * 16 * 8];
	char		err[256];
	char		hex[EMBED_SHA256_HEX_LEN];

	snprintf(path, sizeof(path), "%s/data/reference-outputs/tiny_bert_hidden.json", shared);
	ref = load_json(path);
	seqs = embed_json_get(ref, "sequences");
	types = embed_json_get(ref, "token_types");
	hidden = embed_json_get(ref, "hidden");
	for (int s = 0; s < 3; s++)
		for (int i = 0; i < 16; i++)
		{
			ids[s * 16 + i] = (int32_t) seqs->items[s].items[i].integer;
			tt[s * 16 + i] = (int32_t) types->items[s].items[i].integer;
		}

	snprintf(path, sizeof(path), "%s/models/pico-bert", shared);
	m = must_load(path);
	info = embed_model_info(m);
	ok(info->hidden == 8 && info->layers == 2 && info->heads == 2 && info->intermediate == 16 &&
	   info->vocab_size == 11 && info->max_positions == 16 && info->type_vocab_size == 2,
	   "pico-bert: config read (8 hidden, 2 layers, 2 heads, 16 FFN, 11 vocab, 16 positions)");
	ok(info->pooling == EMBED_POOL_MEAN && !info->normalize && !info->sentence_transformers &&
	   info->max_tokens == 16, "pico-bert: bare model defaults to mean pooling, no normalisation");
	/* 5 embedding tensors + 16 per layer; the pooler is ignored */
	ok(info->params == 11 * 8 + 16 * 8 + 2 * 8 + 8 + 8 + 2 * (4 * (64 + 8) + 2 * 8 + 16 * 8 + 16 + 8 * 16 + 8 + 2 * 8),
	   "pico-bert: parameter count excludes the pooler (%lld)", (long long) info->params);
	ok(info->private_bytes == 0, "pico-bert: aligned F32 weights are used in place (no private copy)");
	ok(info->file_bytes == 9888, "pico-bert: file size reported");

	ok(run_forward(m, ids, tt, lengths, 3, 16, out, err, sizeof(err)) == EMBED_OK, "pico-bert: forward runs");
	for (int s = 0; s < 3; s++)
	{
		double		max_diff = 0.0;

		for (int i = 0; i < 16; i++)
			for (int j = 0; j < 8; j++)
			{
				double		want = hidden->items[s].items[i].items[j].number;
				double		d = fabs(out[(s * 16 + i) * 8 + j] - want);

				if (d > max_diff)
					max_diff = d;
			}
		ok(max_diff <= 1e-5, "pico-bert: sequence %d hidden states match Hugging Face to 1e-5", s);
		diag("max abs difference %.3g", max_diff);
	}
	is_close(out[0], 0.4486373258914798, 1e-5, "pico-bert: hidden[0][0][0] spot value");

	embed_model_sha256(m, hex);
	ok(strcmp(hex, "63021af0f78061a3a8c335b0c87bae3a9cc4c534641fd69f354f48f6039a88d1") == 0,
	   "pico-bert: SHA-256 of model.safetensors matches the published digest");
	embed_model_free(m);
	embed_json_free(ref);
}

/* pico-e5: mean over the real tokens of an unmasked run, L2-normalised. */
static void
test_pico_e5(const char *shared)
{
	char		path[4200];
	EmbedJson  *ref;
	const EmbedJson *seqs,
			   *real,
			   *emb;
	EmbedModel *m;
	int32_t		ids[3 * 16],
				all[3] = {16, 16, 16},
				counts[3];
	float		out[3 * 16 * 8],
				pooled[3 * 8];
	char		err[256];

	snprintf(path, sizeof(path), "%s/data/reference-outputs/tiny_e5_embed.json", shared);
	ref = load_json(path);
	seqs = embed_json_get(ref, "sequences");
	real = embed_json_get(ref, "real_tokens");
	emb = embed_json_get(ref, "embeddings");
	for (int s = 0; s < 3; s++)
	{
		counts[s] = (int32_t) real->items[s].integer;
		for (int i = 0; i < 16; i++)
			ids[s * 16 + i] = (int32_t) seqs->items[s].items[i].integer;
	}
	snprintf(path, sizeof(path), "%s/models/pico-e5", shared);
	m = must_load(path);
	ok(run_forward(m, ids, NULL, all, 3, 16, out, err, sizeof(err)) == EMBED_OK,
	   "pico-e5: forward over all 16 positions (no mask)");
	embed_model_pool(m, out, counts, 3, 16, pooled);
	for (int s = 0; s < 3; s++)
		embed_l2_normalize(8, pooled + s * 8);
	for (int s = 0; s < 3; s++)
	{
		double		max_diff = 0.0;

		for (int j = 0; j < 8; j++)
		{
			double		d = fabs(pooled[s * 8 + j] - emb->items[s].items[j].number);

			if (d > max_diff)
				max_diff = d;
		}
		ok(max_diff <= 1e-5, "pico-e5: embedding %d (mean over %d real tokens, normalised) matches to 1e-5",
		   s, counts[s]);
		diag("max abs difference %.3g", max_diff);
	}
	is_close(pooled[0], -0.4522722129639159, 1e-5, "pico-e5: embedding[0][0] spot value");
	embed_model_free(m);
	embed_json_free(ref);
}

/* ---------- safetensors-level corruption ---------- */

/* Write 8-byte length (given, or the header's own), header text, data_len zero bytes. */
static void
write_raw(const char *path, const char *header, uint64_t claimed_len, size_t data_len)
{
	FILE	   *f = fopen(path, "wb");
	size_t		hlen = strlen(header);
	uint64_t	len = claimed_len ? claimed_len : hlen;
	char	   *zeros = calloc(1, data_len + 1);

	for (int i = 0; i < 8; i++)
		fputc((int) ((len >> (8 * i)) & 0xff), f);
	fwrite(header, 1, hlen, f);
	fwrite(zeros, 1, data_len, f);
	fclose(f);
	free(zeros);
}

/* Open path and expect a given status and a substring of the message. */
static void
expect_open(const char *path, EmbedStatus want, const char *needle, const char *what)
{
	EmbedSafetensors *st = NULL;
	char		err[512] = "";
	EmbedStatus got = embed_safetensors_open(path, &st, err, sizeof(err));

	if (!ok(got == want && (want == EMBED_OK) == (st != NULL) && strstr(err, needle) != NULL,
			"safetensors: %s -> %s", what, embed_status_name(want)))
		diag("got %s: \"%s\" (wanted a message containing \"%s\")", embed_status_name(got), err, needle);
	embed_safetensors_close(st);
}

static void
test_safetensors_corruption(const char *dir)
{
	char		path[4200];
	char		deep[2100];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/t.safetensors", dir);

	f = fopen(path, "wb");
	fwrite("abc", 1, 3, f);
	fclose(f);
	expect_open(path, EMBED_ERR_CORRUPT, "too short", "3-byte file");

	write_raw(path, "{}", UINT64_C(1) << 40, 0);
	expect_open(path, EMBED_ERR_CORRUPT, "exceeds", "header length 2^40");

	write_raw(path, "{}", 4096, 0);
	expect_open(path, EMBED_ERR_CORRUPT, "runs past the end", "header length past end of file");

	write_raw(path, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_of", 0, 8);
	expect_open(path, EMBED_ERR_CORRUPT, "not valid JSON", "header cut short (not JSON)");

	write_raw(path, "\x01\x02garbage\xff", 0, 8);
	expect_open(path, EMBED_ERR_CORRUPT, "not valid JSON", "binary garbage header");

	write_raw(path, "[1, 2]", 0, 8);
	expect_open(path, EMBED_ERR_CORRUPT, "not a JSON object", "header is an array");

	memset(deep, '[', 1000);
	memset(deep + 1000, ']', 1000);
	deep[2000] = '\0';
	write_raw(path, deep, 0, 0);
	expect_open(path, EMBED_ERR_CORRUPT, "not valid JSON", "header nested 1000 deep");

	write_raw(path, "{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", 0, 8);
	expect_open(path, EMBED_ERR_CORRUPT, "\"w\": data_offsets [0, 16] run past the end", "offsets past EOF");

	write_raw(path, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 4]}}", 0, 8);
	expect_open(path, EMBED_ERR_CORRUPT, "begin after end", "begin > end");

	write_raw(path, "{\"w\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", 0, 8);
	expect_open(path, EMBED_ERR_CORRUPT, "\"w\": data_offsets span 8 bytes but F32 [3] needs 12", "size != shape x dtype");

	write_raw(path, "{\"w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 4294967296], \"data_offsets\": [0, 8]}}", 0, 8);
	expect_open(path, EMBED_ERR_CORRUPT, "overflows", "dimensions whose product overflows");

	write_raw(path, "{\"w\": {\"dtype\": \"F64\", \"shape\": [4611686018427387904], \"data_offsets\": [0, 8]}}", 0, 8);
	expect_open(path, EMBED_ERR_CORRUPT, "byte size overflows", "element count fits but byte size overflows");

	write_raw(path, "{\"w\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", 0, 8);
	expect_open(path, EMBED_ERR_CORRUPT, "shape entry 0", "negative dimension");

	write_raw(path, "{\"w\": {\"dtype\": \"F32\", \"shape\": [2.5], \"data_offsets\": [0, 8]}}", 0, 8);
	expect_open(path, EMBED_ERR_CORRUPT, "shape entry 0", "fractional dimension");

	write_raw(path, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}", 0, 8);
	expect_open(path, EMBED_ERR_CORRUPT, "9 dimensions", "nine dimensions");

	write_raw(path, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [-4, 0]}}", 0, 8);
	expect_open(path, EMBED_ERR_CORRUPT, "pair of non-negative integers", "negative offset");

	write_raw(path, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4, 8]}}", 0, 8);
	expect_open(path, EMBED_ERR_CORRUPT, "pair of non-negative integers", "three offsets");

	write_raw(path, "{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 0, 8);
	expect_open(path, EMBED_ERR_CORRUPT, "\"w\" has no \"dtype\"", "missing dtype");

	write_raw(path, "{\"w\": {\"dtype\": \"F7\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 0, 8);
	expect_open(path, EMBED_ERR_UNSUPPORTED, "unknown dtype \"F7\"", "unknown dtype");

	write_raw(path, "{\"w\": 7}", 0, 8);
	expect_open(path, EMBED_ERR_CORRUPT, "\"w\" is not a JSON object", "entry is not an object");

	write_raw(path, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
			  " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 0, 16);
	expect_open(path, EMBED_ERR_CORRUPT, "\"a\" and \"b\" overlap", "overlapping tensors");

	write_raw(path, "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
			  " \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 0, 8);
	expect_open(path, EMBED_ERR_CORRUPT, "\"a\" appears twice", "duplicate tensor name");

	write_raw(path, "{\"a\\u0000b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 0, 8);
	expect_open(path, EMBED_ERR_CORRUPT, "NUL", "tensor name with an embedded NUL");

	write_raw(path, "{\"__metadata__\": [1]}", 0, 0);
	expect_open(path, EMBED_ERR_CORRUPT, "__metadata__", "__metadata__ not an object");

	write_raw(path, "", 0, 0);
	expect_open(path, EMBED_ERR_CORRUPT, "not valid JSON", "zero-length header");

	snprintf(path, sizeof(path), "%s/does-not-exist.safetensors", dir);
	expect_open(path, EMBED_ERR_IO, "could not open", "missing file");
	expect_open(dir, EMBED_ERR_IO, "not a regular file", "a directory");

	/* A valid file with metadata, an empty tensor, an I64 and an unaligned F32. */
	snprintf(path, sizeof(path), "%s/t.safetensors", dir);
	write_raw(path, "{\"__metadata__\": {\"format\": \"pt\"},"
			  " \"z\": {\"dtype\": \"F32\", \"shape\": [0, 3], \"data_offsets\": [0, 0]},"
			  " \"ids\": {\"dtype\": \"I64\", \"shape\": [2], \"data_offsets\": [0, 16]},"
			  " \"odd\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [17, 21]}}", 0, 21);
	{
		EmbedSafetensors *st = NULL;
		char		err[256];
		const EmbedTensor *t;
		size_t		hlen = strlen("{\"__metadata__\": {\"format\": \"pt\"},"
								  " \"z\": {\"dtype\": \"F32\", \"shape\": [0, 3], \"data_offsets\": [0, 0]},"
								  " \"ids\": {\"dtype\": \"I64\", \"shape\": [2], \"data_offsets\": [0, 16]},"
								  " \"odd\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [17, 21]}}");
		EmbedStatus s = embed_safetensors_open(path, &st, err, sizeof(err));

		ok(s == EMBED_OK && embed_safetensors_count(st) == 3, "safetensors: valid file with metadata, empty and I64 tensors opens");
		if (s == EMBED_OK)
		{
			t = embed_safetensors_find(st, "ids");
			ok(t && t->dtype == EMBED_DTYPE_I64 && t->numel == 2 && t->begin == 0 && t->end == 16,
			   "safetensors: tensor found by name with dtype, shape and range");
			t = embed_safetensors_find(st, "z");
			ok(t && t->numel == 0 && t->ndim == 2, "safetensors: empty tensor [0, 3] accepted");
			t = embed_safetensors_find(st, "odd");
			ok(t && embed_tensor_is_aligned(t) == ((8 + hlen + 17) % 4 == 0),
			   "safetensors: alignment of a tensor at an odd offset is detected");
			ok(embed_safetensors_find(st, "nope") == NULL, "safetensors: unknown name -> NULL");
		}
		else
			diag("%s", err);
		embed_safetensors_close(st);
	}
}

/* ---------- model folders ---------- */

/* Write a model folder: config from cfg_spec, weights from file_spec. */
static void
make_model(const char *dir, const BertSpec *cfg_spec, const BertSpec *file_spec,
		   const char *act, int misalign, const char *round_through)
{
	char		path[4200];
	size_t		hlen;
	char	   *header = bw_header(file_spec, misalign, &hlen);
	char	   *cfg = bw_config_json(cfg_spec, act, 1e-12);

	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	if (!bw_write_safetensors(path, header, hlen, SEED, round_through) ||
		!bw_write_text(dir, "config.json", cfg))
	{
		printf("Bail out! could not write model folder %s\n", dir);
		exit(1);
	}
	free(header);
	free(cfg);
}

/* Expect embed_model_load(dir) to fail with `want` and a message containing needle. */
static void
expect_load(const char *dir, EmbedStatus want, const char *needle, const char *what)
{
	EmbedModel *m = NULL;
	char		err[512] = "";
	EmbedStatus got = embed_model_load(dir, &m, err, sizeof(err));

	if (!ok(got == want && (want == EMBED_OK) == (m != NULL) && strstr(err, needle) != NULL,
			"load: %s -> %s", what, embed_status_name(want)))
		diag("got %s: \"%s\" (wanted a message containing \"%s\")", embed_status_name(got), err, needle);
	embed_model_free(m);
}

/* Replace config.json of dir with text. */
static void
set_config(const char *dir, const char *text)
{
	bw_write_text(dir, "config.json", text);
}

/* config.json text for small_spec with one key's value replaced (raw JSON). */
static char *
config_with(const char *key, const char *value)
{
	static char buf[2048];
	char	   *base = bw_config_json(&small_spec, "gelu", 1e-12);
	char		pat[128];
	char	   *at,
			   *end;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	at = strstr(base, pat);
	if (at == NULL)
	{
		/* add the key at the front */
		snprintf(buf, sizeof(buf), "{\"%s\": %s, %s", key, value, base + 1);
		free(base);
		return buf;
	}
	at += strlen(pat);
	end = at + strcspn(at, ",\n");
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int) (at - base), base, value, end);
	free(base);
	return buf;
}

/* config.json text for small_spec without one key. */
static char *
config_without(const char *key)
{
	static char buf[2048];
	char	   *base = bw_config_json(&small_spec, "gelu", 1e-12);
	char		pat[128];
	char	   *at,
			   *end;

	snprintf(pat, sizeof(pat), "  \"%s\": ", key);
	at = strstr(base, pat);
	end = strchr(at, '\n') + 1;
	snprintf(buf, sizeof(buf), "%.*s%s", (int) (at - base), base, end);
	free(base);
	return buf;
}

static void
test_config_errors(const char *root)
{
	char		dir[2048];
	char		path[4300];

	snprintf(dir, sizeof(dir), "%s/cfg", root);
	make_model(dir, &small_spec, &small_spec, "gelu", 0, NULL);
	expect_load(dir, EMBED_OK, "", "valid small model");

	set_config(dir, "{\"hidden_size\": 8,");
	expect_load(dir, EMBED_ERR_CONFIG, "config.json\" is not valid JSON", "config.json not JSON");
	set_config(dir, config_without("hidden_size"));
	expect_load(dir, EMBED_ERR_CONFIG, "required key \"hidden_size\" is missing", "hidden_size missing");
	set_config(dir, config_with("num_attention_heads", "3"));
	expect_load(dir, EMBED_ERR_CONFIG, "hidden_size 8 is not a multiple of num_attention_heads 3", "hidden % heads != 0");
	set_config(dir, config_with("num_hidden_layers", "0"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"num_hidden_layers\" = 0 is out of range", "zero layers");
	set_config(dir, config_with("hidden_size", "-8"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"hidden_size\" = -8 is out of range", "negative hidden size");
	set_config(dir, config_with("intermediate_size", "0"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"intermediate_size\" = 0", "zero intermediate size");
	set_config(dir, config_with("vocab_size", "1000000000000"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"vocab_size\" = 1000000000000 is out of range", "absurdly large vocab");
	set_config(dir, config_with("max_position_embeddings", "99999999"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"max_position_embeddings\"", "absurd position count");
	set_config(dir, config_with("hidden_size", "8.0"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"hidden_size\" must be an integer", "hidden_size as a float");
	set_config(dir, config_with("hidden_size", "\"8\""));
	expect_load(dir, EMBED_ERR_CONFIG, "\"hidden_size\" must be an integer", "hidden_size as a string");
	set_config(dir, config_with("layer_norm_eps", "-1"));
	expect_load(dir, EMBED_ERR_CONFIG, "layer_norm_eps", "negative layer_norm_eps");
	set_config(dir, config_with("hidden_act", "\"relu\""));
	expect_load(dir, EMBED_ERR_UNSUPPORTED, "hidden_act \"relu\" is not supported", "relu activation");
	set_config(dir, config_with("hidden_act", "7"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"hidden_act\" must be a string", "hidden_act not a string");
	set_config(dir, config_with("model_type", "\"t5\""));
	expect_load(dir, EMBED_ERR_UNSUPPORTED, "model_type \"t5\"", "model_type t5");
	set_config(dir, config_with("position_embedding_type", "\"relative_key\""));
	expect_load(dir, EMBED_ERR_UNSUPPORTED, "position_embedding_type \"relative_key\"", "relative position embeddings");
	set_config(dir, config_with("type_vocab_size", "0"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"type_vocab_size\" = 0", "zero token types");

	/* config and file disagree */
	set_config(dir, config_with("vocab_size", "12"));
	expect_load(dir, EMBED_ERR_CONFIG, "tensor \"embeddings.word_embeddings.weight\" has shape [11, 8], expected [12, 8]",
				"vocab_size differs from the embedding table");
	set_config(dir, config_with("intermediate_size", "32"));
	expect_load(dir, EMBED_ERR_CONFIG, "tensor \"encoder.layer.0.intermediate.dense.weight\" has shape [16, 8], expected [32, 8]",
				"intermediate_size differs from the FFN weights");
	set_config(dir, config_with("num_hidden_layers", "3"));
	expect_load(dir, EMBED_ERR_CONFIG, "required tensor \"encoder.layer.2.attention.self.query.weight\" is missing",
				"config has more layers than the file");

	/* no config.json at all, no weights, no folder */
	snprintf(path, sizeof(path), "%s/config.json", dir);
	unlink(path);
	expect_load(dir, EMBED_ERR_IO, "config.json", "config.json missing");
	set_config(dir, config_with("hidden_act", "\"gelu\""));
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	unlink(path);
	expect_load(dir, EMBED_ERR_IO, "model.safetensors", "model.safetensors missing");
	snprintf(path, sizeof(path), "%s/no-such-model", root);
	expect_load(path, EMBED_ERR_IO, "no-such-model", "model folder missing");

	/* weights of unsupported dtypes */
	{
		BertSpec	f64 = small_spec;

		f64.dtype = "F64";
		make_model(dir, &small_spec, &f64, "gelu", 0, NULL);
		expect_load(dir, EMBED_ERR_UNSUPPORTED, "tensor \"embeddings.word_embeddings.weight\" has dtype F64",
					"F64 weights (dtype mismatch)");
		f64.dtype = "I32";
		make_model(dir, &small_spec, &f64, "gelu", 0, NULL);
		expect_load(dir, EMBED_ERR_UNSUPPORTED, "has dtype I32", "I32 weights");
	}

	/* truncated weights file */
	make_model(dir, &small_spec, &small_spec, "gelu", 0, NULL);
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	{
		struct stat sb;

		stat(path, &sb);
		if (truncate(path, sb.st_size - 100) != 0)
			diag("truncate failed");
	}
	expect_load(dir, EMBED_ERR_CORRUPT, "run past the end of the file", "truncated model.safetensors");
	if (truncate(path, 5) != 0)
		diag("truncate failed");
	expect_load(dir, EMBED_ERR_CORRUPT, "too short", "model.safetensors of 5 bytes");
}

/* Forward small_spec-shaped inputs through the model in dir. */
static void
forward_small(const char *dir, float *out)
{
	EmbedModel *m = must_load(dir);
	int32_t		ids[2 * 6] = {1, 5, 9, 3, 2, 10, 4, 4, 7, 0, 0, 0};
	int32_t		tt[2 * 6] = {0, 0, 0, 1, 1, 1, 0, 1, 1, 0, 0, 0};
	int32_t		lengths[2] = {6, 3};
	char		err[256];

	if (run_forward(m, ids, tt, lengths, 2, 6, out, err, sizeof(err)) != EMBED_OK)
		diag("forward failed: %s", err);
	embed_model_free(m);
}

static void
test_weight_formats(const char *root)
{
	char		dir[2048];
	float		base[2 * 6 * 8],
				got[2 * 6 * 8],
				rounded[2 * 6 * 8];
	EmbedModel *m;
	BertSpec	spec = small_spec;

	snprintf(dir, sizeof(dir), "%s/fmt", root);
	make_model(dir, &small_spec, &small_spec, "gelu", 0, NULL);
	forward_small(dir, base);

	for (int mis = 1; mis <= 3; mis++)
	{
		make_model(dir, &small_spec, &small_spec, "gelu", mis, NULL);
		m = must_load(dir);
		ok(embed_model_info(m)->private_bytes == embed_model_info(m)->weights_bytes,
		   "unaligned data (header + %d): every tensor copied to aligned memory", mis);
		embed_model_free(m);
		forward_small(dir, got);
		ok(memcmp(base, got, sizeof(base)) == 0, "unaligned data (header + %d): output bit-identical", mis);
	}

	spec.prefix = "bert.";
	spec.with_pooler = true;
	spec.with_position_ids = true;
	make_model(dir, &small_spec, &spec, "gelu", 0, NULL);
	forward_small(dir, got);
	ok(memcmp(base, got, sizeof(base)) == 0, "\"bert.\" prefix, pooler and position_ids: same output");

	for (int half = 0; half < 2; half++)
	{
		const char *dt = half ? "BF16" : "F16";

		spec = small_spec;
		make_model(dir, &small_spec, &spec, "gelu", 0, dt);
		forward_small(dir, rounded);
		spec.dtype = dt;
		make_model(dir, &small_spec, &spec, "gelu", 0, NULL);
		m = must_load(dir);
		ok(embed_model_info(m)->private_bytes == embed_model_info(m)->weights_bytes &&
		   embed_model_info(m)->weights_bytes == embed_model_info(m)->params * 4,
		   "%s weights converted once to private float32", dt);
		embed_model_free(m);
		forward_small(dir, got);
		ok(memcmp(rounded, got, sizeof(got)) == 0, "%s file == F32 file holding the same values (bit-identical)", dt);
	}

	/* gelu_new selects the tanh approximation, which changes the output slightly */
	make_model(dir, &small_spec, &small_spec, "gelu_new", 0, NULL);
	m = must_load(dir);
	ok(embed_model_info(m)->activation == EMBED_ACT_GELU_TANH, "hidden_act gelu_new -> tanh GELU");
	embed_model_free(m);
	forward_small(dir, got);
	{
		double		max_diff = 0.0;

		for (size_t i = 0; i < 2 * 6 * 8; i++)
			max_diff = fmax(max_diff, fabs(got[i] - base[i]));
		ok(max_diff > 0.0 && max_diff < 1e-2, "tanh GELU output close to but not equal to erf GELU (max diff %.2g)", max_diff);
	}
}

static void
test_sentence_transformers(const char *root)
{
	char		dir[2048];
	char		path[4300];
	EmbedModel *m;
	static const char *modules_full =
		"[{\"idx\": 0, \"name\": \"0\", \"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
		" {\"idx\": 1, \"name\": \"1\", \"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"},"
		" {\"idx\": 2, \"name\": \"2\", \"path\": \"2_Normalize\", \"type\": \"sentence_transformers.models.Normalize\"}]";
	static const char *modules_plain =
		"[{\"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
		" {\"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"}]";
	char		pool[512];

	snprintf(dir, sizeof(dir), "%s/st", root);
	make_model(dir, &small_spec, &small_spec, "gelu", 0, NULL);

#define POOL_CFG(mean, cls, max) \
	(snprintf(pool, sizeof(pool), "{\"word_embedding_dimension\": 8, \"pooling_mode_cls_token\": %s," \
			  " \"pooling_mode_mean_tokens\": %s, \"pooling_mode_max_tokens\": %s," \
			  " \"pooling_mode_mean_sqrt_len_tokens\": false}", cls, mean, max), pool)

	bw_write_text(dir, "modules.json", modules_full);
	bw_write_text(dir, "1_Pooling/config.json", POOL_CFG("true", "false", "false"));
	bw_write_text(dir, "sentence_bert_config.json", "{\"max_seq_length\": 8, \"do_lower_case\": false}");
	m = must_load(dir);
	ok(embed_model_info(m)->pooling == EMBED_POOL_MEAN && embed_model_info(m)->normalize &&
	   embed_model_info(m)->sentence_transformers && embed_model_info(m)->max_tokens == 8,
	   "sentence-transformers folder: mean pooling, Normalize, max_seq_length 8");
	embed_model_free(m);

	bw_write_text(dir, "sentence_bert_config.json", "{\"max_seq_length\": 512}");
	bw_write_text(dir, "1_Pooling/config.json", POOL_CFG("false", "true", "false"));
	bw_write_text(dir, "modules.json", modules_plain);
	m = must_load(dir);
	ok(embed_model_info(m)->pooling == EMBED_POOL_CLS && !embed_model_info(m)->normalize &&
	   embed_model_info(m)->max_tokens == 16,
	   "CLS pooling, no Normalize module, max_seq_length capped at max_position_embeddings");
	embed_model_free(m);

	bw_write_text(dir, "1_Pooling/config.json", POOL_CFG("false", "false", "true"));
	m = must_load(dir);
	ok(embed_model_info(m)->pooling == EMBED_POOL_MAX, "max pooling");
	embed_model_free(m);

	bw_write_text(dir, "1_Pooling/config.json", POOL_CFG("true", "true", "false"));
	expect_load(dir, EMBED_ERR_UNSUPPORTED, "several pooling modes", "mean + cls (concatenation)");
	bw_write_text(dir, "1_Pooling/config.json", POOL_CFG("false", "false", "false"));
	expect_load(dir, EMBED_ERR_CONFIG, "no pooling mode is enabled", "no pooling mode");
	bw_write_text(dir, "1_Pooling/config.json", "{\"pooling_mode_mean_sqrt_len_tokens\": true}");
	expect_load(dir, EMBED_ERR_UNSUPPORTED, "pooling_mode_mean_sqrt_len_tokens", "sqrt-length mean pooling");
	bw_write_text(dir, "1_Pooling/config.json", "{\"word_embedding_dimension\": 9, \"pooling_mode_mean_tokens\": true}");
	expect_load(dir, EMBED_ERR_CONFIG, "word_embedding_dimension 9", "pooling dimension differs from hidden_size");
	snprintf(path, sizeof(path), "%s/1_Pooling/config.json", dir);
	unlink(path);
	expect_load(dir, EMBED_ERR_CONFIG, "1_Pooling/config.json", "pooling config missing");
	bw_write_text(dir, "1_Pooling/config.json", POOL_CFG("true", "false", "false"));

	bw_write_text(dir, "modules.json",
				  "[{\"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
				  " {\"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"},"
				  " {\"path\": \"2_Dense\", \"type\": \"sentence_transformers.models.Dense\"}]");
	expect_load(dir, EMBED_ERR_UNSUPPORTED, "sentence_transformers.models.Dense", "Dense module");
	bw_write_text(dir, "modules.json",
				  "[{\"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
				  " {\"path\": \"../../etc\", \"type\": \"sentence_transformers.models.Pooling\"}]");
	expect_load(dir, EMBED_ERR_CONFIG, "leaves the model folder", "module path with ..");
	bw_write_text(dir, "modules.json", "[{\"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"}]");
	expect_load(dir, EMBED_ERR_CONFIG, "must list a Transformer and a Pooling module", "no Pooling module");
	bw_write_text(dir, "modules.json", "{\"path\": \"\"}");
	expect_load(dir, EMBED_ERR_CONFIG, "modules.json does not hold a JSON array", "modules.json not an array");
	bw_write_text(dir, "modules.json", modules_plain);
	bw_write_text(dir, "sentence_bert_config.json", "{\"max_seq_length\": 0}");
	expect_load(dir, EMBED_ERR_CONFIG, "max_seq_length", "max_seq_length 0");
	bw_write_text(dir, "sentence_bert_config.json", "{\"max_seq_length\": 8}");
	expect_load(dir, EMBED_OK, "", "valid again after the bad variants");
#undef POOL_CFG
}

/* Count callback invocations. */
static void
count_calls(void *arg)
{
	(*(int *) arg)++;
}

static void
test_forward_inputs(const char *root)
{
	char		dir[2048];
	EmbedModel *m;
	int32_t		ids[2 * 4] = {1, 2, 3, 4, 5, 6, 0, 0};
	int32_t		tt[2 * 4] = {0};
	int32_t		lengths[2] = {4, 2};
	float		out[2 * 4 * 8];
	float		single[4 * 8];
	float		pooled[2 * 8];
	char		err[256];
	size_t		bytes;
	void	   *ws;
	int			calls = 0;

	snprintf(dir, sizeof(dir), "%s/fwd", root);
	make_model(dir, &small_spec, &small_spec, "gelu", 0, NULL);
	m = must_load(dir);

	ok(!embed_bert_workspace_size(m, INT_MAX, INT_MAX, 1, &bytes), "workspace size: overflow reported");
	ok(!embed_bert_workspace_size(m, 0, 4, 1, &bytes) && !embed_bert_workspace_size(m, 2, -1, 1, &bytes),
	   "workspace size: non-positive batch or seq refused");
	ok(embed_bert_workspace_size(m, 2, 4, 1, &bytes) && bytes > 0, "workspace size for 2 x 4");
	ws = malloc(bytes);

	ok(embed_bert_forward(m, NULL, ids, tt, lengths, 2, 4, out, ws, count_calls, &calls, err, sizeof(err)) == EMBED_OK &&
	   calls == 2, "forward calls between_layers once per layer (%d)", calls);
	{
		bool		pad_zero = true;

		for (int i = 2 * 8; i < 4 * 8; i++)
			pad_zero = pad_zero && out[4 * 8 + i] == 0.0f;
		ok(pad_zero, "padding rows of hidden_out are zero");
	}
	{
		int32_t		one = 2;

		run_forward(m, ids + 4, tt + 4, &one, 1, 2, single, err, sizeof(err));
		if (!ok(fabs(single[0] - out[4 * 8]) < 1e-6 && fabs(single[15] - out[4 * 8 + 15]) < 1e-6,
				"a padded row equals the same sequence run alone"))
			diag("%g vs %g", single[0], out[32]);
	}
	embed_model_pool(m, out, lengths, 2, 4, pooled);
	{
		float		want[8];

		embed_pool_mean(2, 8, single, want);
		ok(memcmp(want, pooled + 8, sizeof(want)) == 0, "embed_model_pool: mean over the real tokens of row 1");
	}

	ids[1] = 11;
	ok(embed_bert_forward(m, NULL, ids, tt, lengths, 2, 4, out, ws, NULL, NULL, err, sizeof(err)) == EMBED_ERR_INPUT &&
	   strstr(err, "token id 11 at sequence 0 position 1") != NULL, "token id == vocab size refused (%s)", err);
	ids[1] = -1;
	ok(embed_bert_forward(m, NULL, ids, tt, lengths, 2, 4, out, ws, NULL, NULL, err, sizeof(err)) == EMBED_ERR_INPUT,
	   "negative token id refused");
	ids[1] = 2;
	ids[7] = 99;				/* padding: never read */
	ok(embed_bert_forward(m, NULL, ids, tt, lengths, 2, 4, out, ws, NULL, NULL, err, sizeof(err)) == EMBED_OK,
	   "ids in the padding are ignored");
	tt[5] = 2;
	ok(embed_bert_forward(m, NULL, ids, tt, lengths, 2, 4, out, ws, NULL, NULL, err, sizeof(err)) == EMBED_ERR_INPUT &&
	   strstr(err, "token type 2") != NULL, "token type >= type_vocab_size refused");
	tt[5] = 0;
	lengths[1] = 0;
	ok(embed_bert_forward(m, NULL, ids, tt, lengths, 2, 4, out, ws, NULL, NULL, err, sizeof(err)) == EMBED_ERR_INPUT,
	   "length 0 refused");
	lengths[1] = 5;
	ok(embed_bert_forward(m, NULL, ids, tt, lengths, 2, 4, out, ws, NULL, NULL, err, sizeof(err)) == EMBED_ERR_INPUT,
	   "length > seq refused");
	free(ws);

	{
		int32_t		long_ids[17] = {0};
		int32_t		len17 = 17;
		float	   *big = malloc(sizeof(float) * 17 * 8);

		ok(run_forward(m, long_ids, NULL, &len17, 1, 17, big, err, sizeof(err)) == EMBED_ERR_INPUT &&
		   strstr(err, "at most 16") != NULL, "sequence longer than max_position_embeddings refused");
		free(big);
	}
	embed_model_free(m);
}

/*
 * Robustness: every truncation of a valid file, and random byte changes in
 * its header, must give OK or a clean error -- never a crash (run this
 * program under valgrind to check for invalid reads as well).
 */
static void
test_mutations(const char *root)
{
	char		dir[2048];
	char		path[2100];
	FILE	   *f;
	uint8_t    *orig;
	long		size;
	uint64_t	hlen = 0;
	uint64_t	state = 12345;
	int			truncated_ok = 0,
				truncations = 0;
	int			mutated_clean = 0,
				mutated_loaded = 0;
	bool		bad_status = false;

	snprintf(dir, sizeof(dir), "%s/mut", root);
	make_model(dir, &small_spec, &small_spec, "gelu", 0, NULL);
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	f = fopen(path, "rb");
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	orig = malloc(size);
	if (fread(orig, 1, size, f) != (size_t) size)
		diag("short read");
	fclose(f);
	for (int i = 7; i >= 0; i--)
		hlen = (hlen << 8) | orig[i];

	/* every length through the header, then every 61st byte of the data */
	for (long len = 0; len < size; len += (len < (long) (8 + hlen + 64) ? 1 : 61))
	{
		EmbedModel *m = NULL;
		char		err[512];
		EmbedStatus st;

		f = fopen(path, "wb");
		fwrite(orig, 1, len, f);
		fclose(f);
		st = embed_model_load(dir, &m, err, sizeof(err));
		truncations++;
		if (st == EMBED_ERR_CORRUPT && m == NULL && err[0] != '\0')
			truncated_ok++;
		else
			diag("truncated to %ld bytes: %s: %s", len, embed_status_name(st), err);
		embed_model_free(m);
	}
	ok(truncated_ok == truncations, "all %d truncations of model.safetensors are clean corrupt-file errors", truncations);

	for (int round = 0; round < 300; round++)
	{
		uint8_t    *copy = malloc(size);
		EmbedModel *m = NULL;
		char		err[512] = "";
		EmbedStatus st;
		int			changes;

		memcpy(copy, orig, size);
		state = state * 6364136223846793005u + 1442695040888963407u;
		changes = 1 + (int) ((state >> 33) % 3);
		for (int c = 0; c < changes; c++)
		{
			static const char alphabet[] = "0123456789[]{},:\"\\ -.eEFIU";

			state = state * 6364136223846793005u + 1442695040888963407u;
			copy[8 + (state >> 33) % hlen] = (uint8_t) alphabet[(state >> 13) % (sizeof(alphabet) - 1)];
		}
		if (round % 50 == 0)	/* sometimes corrupt the length prefix too */
			copy[(state >> 7) % 8] ^= (uint8_t) (1 + (state >> 40) % 255);
		f = fopen(path, "wb");
		fwrite(copy, 1, size, f);
		fclose(f);
		st = embed_model_load(dir, &m, err, sizeof(err));
		if (st == EMBED_OK)
		{
			int32_t		ids[4] = {1, 2, 3, 4},
						len = 4;
			float		out[4 * 8];

			mutated_loaded++;
			if (run_forward(m, ids, NULL, &len, 1, 4, out, err, sizeof(err)) != EMBED_OK)
				bad_status = true;
		}
		else if (st >= EMBED_ERR_IO && st <= EMBED_ERR_INPUT && m == NULL && err[0] != '\0')
			mutated_clean++;
		else
			bad_status = true;
		embed_model_free(m);
		free(copy);
	}
	ok(!bad_status && mutated_clean + mutated_loaded == 300,
	   "300 random header mutations: %d clean errors, %d still-valid files that run", mutated_clean, mutated_loaded);
	free(orig);
}

int
main(void)
{
	const char *shared = shared_dir();
	char	   *root = bw_tempdir();

	if (root == NULL)
	{
		printf("Bail out! cannot create a temporary directory\n");
		return 1;
	}
	if (shared)
	{
		test_pico_bert(shared);
		test_pico_e5(shared);
	}
	else
		diag("SKIP golden Hugging Face tests: ../shared not found (set EMBED_SHARED_DIR)");

	test_safetensors_corruption(root);
	test_config_errors(root);
	test_weight_formats(root);
	test_sentence_transformers(root);
	test_forward_inputs(root);
	test_mutations(root);

	bw_remove_tree(root);
	free(root);
	return tap_done();
}
