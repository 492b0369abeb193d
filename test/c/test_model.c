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
 * 4. RoBERTa, DistilBERT and GPT-2 checkpoints written here tensor by
 *    tensor: their config keys and defaults, refused options, tensor-name
 *    prefixes, shapes and dtypes (each error naming the key or tensor), and
 *    the properties of the GPT-2 forward pass (causal, padding-independent).
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

#include "forward.h"
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

/*
 * A config.json text (one key per line, as bw_config_json writes it) with
 * key's value replaced by value (raw JSON), added at the front when absent,
 * or its line removed when value is NULL.  The result is in one of two
 * static buffers used in turn, so edits can be nested.
 */
static const char *
json_edit(const char *base, const char *key, const char *value)
{
	static char bufs[2][4096];
	static int	next;
	char	   *buf = bufs[next];
	char		pat[128];
	const char *at,
			   *end;

	next = 1 - next;
	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	at = strstr(base, pat);
	if (at == NULL && value != NULL)
		snprintf(buf, sizeof(bufs[0]), "{\"%s\": %s, %s", key, value, base + 1);
	else if (at == NULL)
		snprintf(buf, sizeof(bufs[0]), "%s", base);
	else if (value == NULL)
	{
		while (at > base && at[-1] != '\n')
			at--;
		end = strchr(at, '\n') + 1;
		snprintf(buf, sizeof(bufs[0]), "%.*s%s", (int) (at - base), base, end);
	}
	else
	{
		at += strlen(pat);
		end = at + strcspn(at, ",\n");
		snprintf(buf, sizeof(bufs[0]), "%.*s%s%s", (int) (at - base), base, value, end);
	}
	return buf;
}

/* config.json text for small_spec with one key's value replaced (raw JSON). */
static const char *
config_with(const char *key, const char *value)
{
	char	   *base = bw_config_json(&small_spec, "gelu", 1e-12);
	const char *text = json_edit(base, key, value);

	free(base);
	return text;
}

/* config.json text for small_spec without one key. */
static const char *
config_without(const char *key)
{
	char	   *base = bw_config_json(&small_spec, "gelu", 1e-12);
	const char *text = json_edit(base, key, NULL);

	free(base);
	return text;
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

/* ---------- RoBERTa, DistilBERT and GPT-2 checkpoints ---------- */

/*
 * Every synthetic checkpoint of this section has 8 hidden units, 2 layers
 * of 2 heads, 16 tokens and 16 positions; the MLP width varies.
 */
#define CK_H 8
#define CK_LAYERS 2
#define CK_VOCAB 16
#define CK_POSITIONS 16
#define CK_MAX_TENSORS 96

/* One tensor of a synthetic checkpoint (up to 4 dimensions). */
typedef struct CkptTensor
{
	char		name[128];
	const char *dtype;
	int			ndim;
	int64_t		shape[4];
} CkptTensor;

/* A checkpoint's tensor list, edited by a test before it is written. */
typedef struct Checkpoint
{
	CkptTensor	t[CK_MAX_TENSORS];
	int			count;
} Checkpoint;

/* Append tensor prefix + name of shape [d0] (d1 = 0) or [d0, d1], F32. */
static CkptTensor *
ckpt_add(Checkpoint *c, const char *prefix, const char *name, int64_t d0, int64_t d1)
{
	CkptTensor *t = &c->t[c->count++];

	if (c->count > CK_MAX_TENSORS)
	{
		printf("Bail out! too many tensors in a test checkpoint\n");
		exit(1);
	}
	snprintf(t->name, sizeof(t->name), "%s%s", prefix, name);
	t->dtype = "F32";
	t->ndim = d1 > 0 ? 2 : 1;
	t->shape[0] = d0;
	t->shape[1] = d1;
	return t;
}

/* Append the tensors of layer l: format (with %d) + suffix, shape [d0] or [d0, d1]. */
static void
ckpt_add_layer(Checkpoint *c, const char *prefix, const char *format, int l, const char *suffix,
			   int64_t d0, int64_t d1)
{
	char		name[128];
	int			n = snprintf(name, sizeof(name), format, l);

	snprintf(name + n, sizeof(name) - n, "%s", suffix);
	ckpt_add(c, prefix, name, d0, d1);
}

/* The tensor called name; bails out when there is none (a broken test). */
static CkptTensor *
ckpt_find(Checkpoint *c, const char *name)
{
	for (int i = 0; i < c->count; i++)
		if (strcmp(c->t[i].name, name) == 0)
			return &c->t[i];
	printf("Bail out! no tensor \"%s\" in the test checkpoint\n", name);
	exit(1);
}

/* Remove the tensor called name. */
static void
ckpt_drop(Checkpoint *c, const char *name)
{
	CkptTensor *t = ckpt_find(c, name);

	memmove(t, t + 1, sizeof(*t) * (c->count - (t - c->t) - 1));
	c->count--;
}

/* Give the tensor called name the 2-D shape [d0, d1] (d1 = 0: [d0]). */
static void
ckpt_reshape(Checkpoint *c, const char *name, int64_t d0, int64_t d1)
{
	CkptTensor *t = ckpt_find(c, name);

	t->ndim = d1 > 0 ? 2 : 1;
	t->shape[0] = d0;
	t->shape[1] = d1;
}

/* BERT / RoBERTa names: embeddings, encoder.layer.N, pooler. */
static void
ckpt_encoder(Checkpoint *c, const char *prefix, int type_vocab)
{
	static const struct
	{
		const char *suffix;
		char		rows,
					cols;		/* 'H' hidden, 'I' intermediate, 0 none */
	}			layer[] = {
		{"attention.self.query.weight", 'H', 'H'}, {"attention.self.query.bias", 'H', 0},
		{"attention.self.key.weight", 'H', 'H'}, {"attention.self.key.bias", 'H', 0},
		{"attention.self.value.weight", 'H', 'H'}, {"attention.self.value.bias", 'H', 0},
		{"attention.output.dense.weight", 'H', 'H'}, {"attention.output.dense.bias", 'H', 0},
		{"attention.output.LayerNorm.weight", 'H', 0}, {"attention.output.LayerNorm.bias", 'H', 0},
		{"intermediate.dense.weight", 'I', 'H'}, {"intermediate.dense.bias", 'I', 0},
		{"output.dense.weight", 'H', 'I'}, {"output.dense.bias", 'H', 0},
		{"output.LayerNorm.weight", 'H', 0}, {"output.LayerNorm.bias", 'H', 0},
	};

	c->count = 0;
	ckpt_add(c, prefix, "embeddings.word_embeddings.weight", CK_VOCAB, CK_H);
	ckpt_add(c, prefix, "embeddings.position_embeddings.weight", CK_POSITIONS, CK_H);
	ckpt_add(c, prefix, "embeddings.token_type_embeddings.weight", type_vocab, CK_H);
	ckpt_add(c, prefix, "embeddings.LayerNorm.weight", CK_H, 0);
	ckpt_add(c, prefix, "embeddings.LayerNorm.bias", CK_H, 0);
	for (int l = 0; l < CK_LAYERS; l++)
		for (size_t i = 0; i < sizeof(layer) / sizeof(layer[0]); i++)
			ckpt_add_layer(c, prefix, "encoder.layer.%d.", l, layer[i].suffix,
						   layer[i].rows == 'H' ? CK_H : 16,
						   layer[i].cols == 0 ? 0 : layer[i].cols == 'H' ? CK_H : 16);
	ckpt_add(c, prefix, "pooler.dense.weight", CK_H, CK_H);
	ckpt_add(c, prefix, "pooler.dense.bias", CK_H, 0);
}

/* DistilBERT names: embeddings (no token types), transformer.layer.N. */
static void
ckpt_distilbert(Checkpoint *c, const char *prefix)
{
	c->count = 0;
	ckpt_add(c, prefix, "embeddings.word_embeddings.weight", CK_VOCAB, CK_H);
	ckpt_add(c, prefix, "embeddings.position_embeddings.weight", CK_POSITIONS, CK_H);
	ckpt_add(c, prefix, "embeddings.LayerNorm.weight", CK_H, 0);
	ckpt_add(c, prefix, "embeddings.LayerNorm.bias", CK_H, 0);
	for (int l = 0; l < CK_LAYERS; l++)
	{
		static const char *const square[] = {"q_lin", "k_lin", "v_lin", "out_lin"};

		for (int i = 0; i < 4; i++)
		{
			char		name[64];

			snprintf(name, sizeof(name), "attention.%s.weight", square[i]);
			ckpt_add_layer(c, prefix, "transformer.layer.%d.", l, name, CK_H, CK_H);
			snprintf(name, sizeof(name), "attention.%s.bias", square[i]);
			ckpt_add_layer(c, prefix, "transformer.layer.%d.", l, name, CK_H, 0);
		}
		ckpt_add_layer(c, prefix, "transformer.layer.%d.", l, "sa_layer_norm.weight", CK_H, 0);
		ckpt_add_layer(c, prefix, "transformer.layer.%d.", l, "sa_layer_norm.bias", CK_H, 0);
		ckpt_add_layer(c, prefix, "transformer.layer.%d.", l, "ffn.lin1.weight", 16, CK_H);
		ckpt_add_layer(c, prefix, "transformer.layer.%d.", l, "ffn.lin1.bias", 16, 0);
		ckpt_add_layer(c, prefix, "transformer.layer.%d.", l, "ffn.lin2.weight", CK_H, 16);
		ckpt_add_layer(c, prefix, "transformer.layer.%d.", l, "ffn.lin2.bias", CK_H, 0);
		ckpt_add_layer(c, prefix, "transformer.layer.%d.", l, "output_layer_norm.weight", CK_H, 0);
		ckpt_add_layer(c, prefix, "transformer.layer.%d.", l, "output_layer_norm.bias", CK_H, 0);
	}
}

/*
 * GPT-2 names: wte, wpe, h.N (Conv1D weights [in, out], MLP `inner` wide),
 * ln_f; with mask_buffers, the attn.bias [1, 1, P, P] and scalar
 * attn.masked_bias buffers older versions saved in every block.
 */
static void
ckpt_gpt2(Checkpoint *c, const char *prefix, int inner, bool mask_buffers)
{
	c->count = 0;
	ckpt_add(c, prefix, "wte.weight", CK_VOCAB, CK_H);
	ckpt_add(c, prefix, "wpe.weight", CK_POSITIONS, CK_H);
	for (int l = 0; l < CK_LAYERS; l++)
	{
		ckpt_add_layer(c, prefix, "h.%d.", l, "ln_1.weight", CK_H, 0);
		ckpt_add_layer(c, prefix, "h.%d.", l, "ln_1.bias", CK_H, 0);
		ckpt_add_layer(c, prefix, "h.%d.", l, "attn.c_attn.weight", CK_H, 3 * CK_H);
		ckpt_add_layer(c, prefix, "h.%d.", l, "attn.c_attn.bias", 3 * CK_H, 0);
		ckpt_add_layer(c, prefix, "h.%d.", l, "attn.c_proj.weight", CK_H, CK_H);
		ckpt_add_layer(c, prefix, "h.%d.", l, "attn.c_proj.bias", CK_H, 0);
		ckpt_add_layer(c, prefix, "h.%d.", l, "ln_2.weight", CK_H, 0);
		ckpt_add_layer(c, prefix, "h.%d.", l, "ln_2.bias", CK_H, 0);
		ckpt_add_layer(c, prefix, "h.%d.", l, "mlp.c_fc.weight", CK_H, inner);
		ckpt_add_layer(c, prefix, "h.%d.", l, "mlp.c_fc.bias", inner, 0);
		ckpt_add_layer(c, prefix, "h.%d.", l, "mlp.c_proj.weight", inner, CK_H);
		ckpt_add_layer(c, prefix, "h.%d.", l, "mlp.c_proj.bias", CK_H, 0);
		if (mask_buffers)
		{
			CkptTensor *t;

			ckpt_add_layer(c, prefix, "h.%d.", l, "attn.bias", 1, 0);
			t = &c->t[c->count - 1];
			t->ndim = 4;
			t->shape[1] = 1;
			t->shape[2] = t->shape[3] = CK_POSITIONS;
			ckpt_add_layer(c, prefix, "h.%d.", l, "attn.masked_bias", 1, 0);
			c->t[c->count - 1].ndim = 0;
		}
	}
	ckpt_add(c, prefix, "ln_f.weight", CK_H, 0);
	ckpt_add(c, prefix, "ln_f.bias", CK_H, 0);
}

/* Write dir/model.safetensors (values from bw_fill by full name) and dir/config.json. */
static void
ckpt_write(const char *dir, const Checkpoint *c, const char *config)
{
	BwBuf		b = {0};
	uint64_t	offset = 0;
	char		path[4200];

	bw_printf(&b, "{\"__metadata__\":{\"format\":\"pt\"}");
	for (int i = 0; i < c->count; i++)
	{
		const CkptTensor *t = &c->t[i];
		uint64_t	bytes = bw_dtype_size(t->dtype);

		bw_printf(&b, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, t->dtype);
		for (int d = 0; d < t->ndim; d++)
		{
			bw_printf(&b, "%s%lld", d ? "," : "", (long long) t->shape[d]);
			bytes *= (uint64_t) t->shape[d];
		}
		bw_printf(&b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long) offset,
				  (unsigned long long) (offset + bytes));
		offset += bytes;
	}
	bw_printf(&b, "}");
	while ((8 + b.len) % 8 != 0)
		bw_printf(&b, " ");
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	if (!bw_write_safetensors(path, b.s, b.len, SEED, NULL) || !bw_write_text(dir, "config.json", config))
	{
		printf("Bail out! could not write model folder %s\n", dir);
		exit(1);
	}
	free(b.s);
}

/* Whether the n floats at p are the values bw_fill gives tensor `name`. */
static bool
holds_tensor(const float *p, const char *name, int64_t n)
{
	float	   *want = malloc(sizeof(float) * n);
	bool		same;

	bw_fill(SEED, name, n, want);
	same = p != NULL && memcmp(p, want, sizeof(float) * n) == 0;
	free(want);
	return same;
}

/* Forward a batch through any architecture with a fresh workspace. */
static EmbedStatus
forward_any(const EmbedModel *m, const int32_t *ids, const int32_t *types, const int32_t *lengths,
			int batch, int seq, float *hidden, char *err, size_t errlen)
{
	size_t		bytes;
	void	   *ws;
	EmbedStatus st;

	if (!embed_forward_workspace_size(m, batch, seq, 1, &bytes))
	{
		snprintf(err, errlen, "workspace size overflow");
		return EMBED_ERR_INPUT;
	}
	ws = malloc(bytes);
	st = embed_forward(m, NULL, ids, types, lengths, batch, seq, hidden, ws, NULL, NULL, err, errlen);
	free(ws);
	return st;
}

/* Largest absolute difference of n floats. */
static double
max_abs_diff(const float *a, const float *b, size_t n)
{
	double		d = 0.0;

	for (size_t i = 0; i < n; i++)
		d = fmax(d, fabs((double) a[i] - b[i]));
	return d;
}

static const char gpt2_config[] =
	"{\n  \"architectures\": [\"GPT2LMHeadModel\"],\n  \"model_type\": \"gpt2\",\n"
	"  \"vocab_size\": 16,\n  \"n_positions\": 16,\n  \"n_embd\": 8,\n  \"n_layer\": 2,\n"
	"  \"n_head\": 2,\n  \"n_inner\": 16,\n  \"activation_function\": \"gelu_new\",\n"
	"  \"layer_norm_epsilon\": 1e-05,\n  \"tie_word_embeddings\": true\n}\n";

/* GPT-2: config keys and defaults, refused options, tensor names, shapes, dtypes. */
static void
test_gpt2_loading(const char *root)
{
	char		dir[2048];
	Checkpoint *c = malloc(sizeof(Checkpoint));
	EmbedModel *m;
	const EmbedModelInfo *info;
	const EmbedGpt2Weights *w;
	int64_t		H = CK_H,
				I = 16,
				per_layer = 2 * H + H * 3 * H + 3 * H + H * H + H + 2 * H + H * I + I + I * H + H;

	snprintf(dir, sizeof(dir), "%s/gpt2", root);

	/* GPT2Model's bare names, with the legacy mask buffers of older saves */
	ckpt_gpt2(c, "", 16, true);
	ckpt_write(dir, c, gpt2_config);
	m = must_load(dir);
	info = embed_model_info(m);
	w = embed_model_gpt2_weights(m);
	ok(info->arch == EMBED_ARCH_GPT2 && info->causal && info->hidden == 8 && info->layers == 2 &&
	   info->heads == 2 && info->head_dim == 4 && info->intermediate == 16 && info->vocab_size == CK_VOCAB &&
	   info->max_positions == 16 && info->max_tokens == 16 && info->type_vocab_size == 0 &&
	   info->position_pad_id == -1 && info->activation == EMBED_ACT_GELU_TANH &&
	   fabs(info->layer_norm_eps - 1e-5) < 1e-15,
	   "gpt2: n_embd, n_layer, n_head, n_inner, n_positions, gelu_new, layer_norm_epsilon read");
	ok(w != NULL && embed_model_weights(m) == NULL && strcmp(embed_architecture_name(info->arch), "gpt2") == 0,
	   "gpt2: GPT-2 weights bound, no encoder weights");
	ok(info->params == CK_VOCAB * H + CK_POSITIONS * H + 2 * H + CK_LAYERS * per_layer,
	   "gpt2: h.N.attn.bias and attn.masked_bias buffers ignored (%lld parameters)", (long long) info->params);
	ok(w && holds_tensor(w->token_embeddings, "wte.weight", CK_VOCAB * H) &&
	   holds_tensor(w->position_embeddings, "wpe.weight", CK_POSITIONS * H) &&
	   holds_tensor(w->layers[1].attn_w, "h.1.attn.c_attn.weight", H * 3 * H) &&
	   holds_tensor(w->layers[1].attn_proj_b, "h.1.attn.c_proj.bias", H) &&
	   holds_tensor(w->layers[1].ln2_gamma, "h.1.ln_2.weight", H) &&
	   holds_tensor(w->layers[1].fc_w, "h.1.mlp.c_fc.weight", H * I) &&
	   holds_tensor(w->layers[1].fc_proj_w, "h.1.mlp.c_proj.weight", I * H) &&
	   holds_tensor(w->lnf_beta, "ln_f.bias", H),
	   "gpt2: bare names bound to the right fields");
	embed_model_free(m);

	/* GPT2LMHeadModel / GPT2ForSequenceClassification: "transformer." */
	ckpt_gpt2(c, "transformer.", 16, false);
	ckpt_add(c, "", "score.weight", 3, CK_H);
	ckpt_write(dir, c, gpt2_config);
	m = must_load(dir);
	w = embed_model_gpt2_weights(m);
	ok(w && holds_tensor(w->token_embeddings, "transformer.wte.weight", CK_VOCAB * H) &&
	   holds_tensor(w->layers[1].fc_proj_b, "transformer.h.1.mlp.c_proj.bias", H) &&
	   holds_tensor(w->lnf_gamma, "transformer.ln_f.weight", H),
	   "gpt2: \"transformer.\" prefix bound, classification head ignored");
	embed_model_free(m);
	ckpt_drop(c, "transformer.h.1.mlp.c_proj.bias");
	ckpt_write(dir, c, gpt2_config);
	expect_load(dir, EMBED_ERR_CONFIG, "required tensor \"transformer.h.1.mlp.c_proj.bias\" is missing",
				"gpt2: missing layer tensor named with its prefix");
	ckpt_gpt2(c, "transformer.", 16, false);
	ckpt_drop(c, "transformer.ln_f.weight");
	ckpt_write(dir, c, gpt2_config);
	expect_load(dir, EMBED_ERR_CONFIG, "required tensor \"transformer.ln_f.weight\" is missing",
				"gpt2: missing ln_f named with its prefix");
	ckpt_gpt2(c, "", 16, false);
	ckpt_drop(c, "wte.weight");
	ckpt_write(dir, c, gpt2_config);
	expect_load(dir, EMBED_ERR_CONFIG, "required tensor \"wte.weight\" is missing", "gpt2: no wte at all");

	/* shapes: fused q|k|v is [H, 3H]; Conv1D weights are [in, out], not transposed */
	ckpt_gpt2(c, "", 16, false);
	ckpt_reshape(c, "h.0.attn.c_attn.weight", H, 2 * H);
	ckpt_write(dir, c, gpt2_config);
	expect_load(dir, EMBED_ERR_CONFIG, "tensor \"h.0.attn.c_attn.weight\" has shape [8, 16], expected [8, 24]",
				"gpt2: c_attn [H, 2H]");
	ckpt_gpt2(c, "", 16, false);
	ckpt_reshape(c, "h.1.attn.c_attn.bias", 2 * H, 0);
	ckpt_write(dir, c, gpt2_config);
	expect_load(dir, EMBED_ERR_CONFIG, "tensor \"h.1.attn.c_attn.bias\" has shape [16], expected [24]",
				"gpt2: c_attn bias [2H]");
	ckpt_gpt2(c, "", 16, false);
	ckpt_reshape(c, "h.0.mlp.c_fc.weight", I, H);
	ckpt_write(dir, c, gpt2_config);
	expect_load(dir, EMBED_ERR_CONFIG, "tensor \"h.0.mlp.c_fc.weight\" has shape [16, 8], expected [8, 16]",
				"gpt2: c_fc stored [out, in] (a linear layer's layout)");
	ckpt_gpt2(c, "", 16, false);
	ckpt_reshape(c, "wpe.weight", 15, H);
	ckpt_write(dir, c, gpt2_config);
	expect_load(dir, EMBED_ERR_CONFIG, "tensor \"wpe.weight\" has shape [15, 8], expected [16, 8]",
				"gpt2: wpe rows differ from n_positions");

	/* dtypes */
	ckpt_gpt2(c, "", 16, false);
	ckpt_find(c, "h.1.attn.c_proj.weight")->dtype = "I32";
	ckpt_write(dir, c, gpt2_config);
	expect_load(dir, EMBED_ERR_UNSUPPORTED, "tensor \"h.1.attn.c_proj.weight\" has dtype I32",
				"gpt2: I32 weight refused by name");
	ckpt_gpt2(c, "", 16, false);
	ckpt_find(c, "ln_f.bias")->dtype = "F64";
	ckpt_write(dir, c, gpt2_config);
	expect_load(dir, EMBED_ERR_UNSUPPORTED, "tensor \"ln_f.bias\" has dtype F64", "gpt2: F64 weight refused by name");

	/* n_inner: null or absent is 4 x n_embd; 0, negative, fractional refused */
	ckpt_gpt2(c, "", 4 * CK_H, false);
	ckpt_write(dir, c, json_edit(gpt2_config, "n_inner", "null"));
	m = must_load(dir);
	ok(embed_model_info(m)->intermediate == 4 * CK_H, "gpt2: n_inner null -> 4 x n_embd (%d)",
	   embed_model_info(m)->intermediate);
	embed_model_free(m);
	set_config(dir, json_edit(gpt2_config, "n_inner", NULL));
	m = must_load(dir);
	ok(embed_model_info(m)->intermediate == 4 * CK_H, "gpt2: n_inner absent -> 4 x n_embd");
	embed_model_free(m);
	set_config(dir, gpt2_config);
	expect_load(dir, EMBED_ERR_CONFIG, "tensor \"h.0.mlp.c_fc.weight\" has shape [8, 32], expected [8, 16]",
				"gpt2: n_inner 16 against a 4 x n_embd file");
	ckpt_gpt2(c, "", 16, false);
	ckpt_write(dir, c, json_edit(gpt2_config, "n_inner", "null"));
	expect_load(dir, EMBED_ERR_CONFIG, "expected [8, 32]", "gpt2: n_inner null against a 16-wide file");
	set_config(dir, json_edit(gpt2_config, "n_inner", "0"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"n_inner\" = 0 is out of range", "gpt2: n_inner 0");
	set_config(dir, json_edit(gpt2_config, "n_inner", "-4"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"n_inner\" = -4 is out of range", "gpt2: negative n_inner");
	set_config(dir, json_edit(gpt2_config, "n_inner", "16.0"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"n_inner\" must be an integer", "gpt2: n_inner 16.0");
	set_config(dir, json_edit(gpt2_config, "n_inner", "\"16\""));
	expect_load(dir, EMBED_ERR_CONFIG, "\"n_inner\" must be an integer", "gpt2: n_inner as a string");

	/* n_positions, or its old name n_ctx when only that is given */
	set_config(dir, json_edit(json_edit(gpt2_config, "n_positions", NULL), "n_ctx", "16"));
	m = must_load(dir);
	ok(embed_model_info(m)->max_positions == 16 && embed_model_info(m)->max_tokens == 16,
	   "gpt2: n_ctx used when n_positions is absent");
	embed_model_free(m);
	set_config(dir, json_edit(json_edit(gpt2_config, "n_positions", NULL), "n_ctx", "12"));
	expect_load(dir, EMBED_ERR_CONFIG, "tensor \"wpe.weight\" has shape [16, 8], expected [12, 8]",
				"gpt2: the n_ctx fallback sizes wpe");
	set_config(dir, json_edit(gpt2_config, "n_ctx", "1024"));
	m = must_load(dir);
	ok(embed_model_info(m)->max_positions == 16, "gpt2: n_positions wins over n_ctx");
	embed_model_free(m);
	set_config(dir, json_edit(gpt2_config, "n_positions", NULL));
	expect_load(dir, EMBED_ERR_CONFIG, "required key \"n_positions\" is missing", "gpt2: neither n_positions nor n_ctx");
	set_config(dir, json_edit(gpt2_config, "n_positions", "0"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"n_positions\" = 0 is out of range", "gpt2: n_positions 0");

	/* options that change the computation */
	set_config(dir, json_edit(gpt2_config, "scale_attn_weights", "false"));
	expect_load(dir, EMBED_ERR_UNSUPPORTED, "scale_attn_weights = false is not supported",
				"gpt2: scale_attn_weights false refused");
	set_config(dir, json_edit(gpt2_config, "scale_attn_by_inverse_layer_idx", "true"));
	expect_load(dir, EMBED_ERR_UNSUPPORTED, "scale_attn_by_inverse_layer_idx = true is not supported",
				"gpt2: scale_attn_by_inverse_layer_idx refused");
	set_config(dir, json_edit(gpt2_config, "add_cross_attention", "true"));
	expect_load(dir, EMBED_ERR_UNSUPPORTED, "add_cross_attention = true is not supported",
				"gpt2: add_cross_attention refused");
	set_config(dir, json_edit(gpt2_config, "scale_attn_weights", "1"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"scale_attn_weights\" must be true or false",
				"gpt2: scale_attn_weights not a boolean");
	set_config(dir, json_edit(json_edit(json_edit(gpt2_config, "scale_attn_weights", "true"),
										"scale_attn_by_inverse_layer_idx", "false"),
							  "add_cross_attention", "null"));
	expect_load(dir, EMBED_OK, "", "gpt2: the implemented values spelled out");

	/* other keys */
	set_config(dir, json_edit(gpt2_config, "activation_function", "\"relu\""));
	expect_load(dir, EMBED_ERR_UNSUPPORTED, "activation_function \"relu\" is not supported", "gpt2: relu");
	set_config(dir, json_edit(gpt2_config, "activation_function", NULL));
	m = must_load(dir);
	ok(embed_model_info(m)->activation == EMBED_ACT_GELU_TANH, "gpt2: activation_function absent -> gelu_new");
	embed_model_free(m);
	set_config(dir, json_edit(gpt2_config, "activation_function", "\"gelu\""));
	m = must_load(dir);
	ok(embed_model_info(m)->activation == EMBED_ACT_GELU_ERF, "gpt2: activation_function gelu -> erf GELU");
	embed_model_free(m);
	set_config(dir, json_edit(gpt2_config, "n_head", "3"));
	expect_load(dir, EMBED_ERR_CONFIG, "n_embd 8 is not a multiple of n_head 3", "gpt2: n_embd % n_head");
	set_config(dir, json_edit(gpt2_config, "n_embd", "16001"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"n_embd\" = 16001 is out of range", "gpt2: huge n_embd");
	set_config(dir, json_edit(gpt2_config, "n_embd", NULL));
	expect_load(dir, EMBED_ERR_CONFIG, "required key \"n_embd\" is missing", "gpt2: n_embd missing");
	set_config(dir, json_edit(gpt2_config, "layer_norm_epsilon", "2"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"layer_norm_epsilon\" must be a number between 0 and 1",
				"gpt2: layer_norm_epsilon 2");
	set_config(dir, json_edit(gpt2_config, "model_type", "[\"gpt2\"]"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"model_type\" must be a string", "model_type not a string");
	set_config(dir, json_edit(gpt2_config, "model_type", "\"gpt_neo\""));
	expect_load(dir, EMBED_ERR_UNSUPPORTED, "model_type \"gpt_neo\" is not supported", "model_type gpt_neo");

	set_config(dir, gpt2_config);
	bw_write_text(dir, "modules.json",
				  "[{\"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
				  " {\"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"}]");
	bw_write_text(dir, "1_Pooling/config.json", "{\"word_embedding_dimension\": 9, \"pooling_mode_mean_tokens\": true}");
	expect_load(dir, EMBED_ERR_CONFIG, "word_embedding_dimension 9 differs from n_embd 8",
				"gpt2: pooling dimension check names n_embd");
	free(c);
}

/* GPT-2 forward: causal, padding-independent, input checks. */
static void
test_gpt2_forward(const char *root)
{
	char		dir[2048];
	char		err[256];
	Checkpoint *c = malloc(sizeof(Checkpoint));
	EmbedModel *m;
	int32_t		ids[2 * 5] = {3, 7, 1, 10, 4, 9, 2, 5, 0, 0};
	int32_t		types[2 * 5] = {0};
	int32_t		lengths[2] = {5, 3};
	float		batch[2 * 5 * CK_H],
				alone[5 * CK_H],
				again[2 * 5 * CK_H];
	bool		pad_zero = true;

	snprintf(dir, sizeof(dir), "%s/gpt2fwd", root);
	ckpt_gpt2(c, "", 16, false);
	ckpt_write(dir, c, gpt2_config);
	m = must_load(dir);

	ok(forward_any(m, ids, NULL, lengths, 2, 5, batch, err, sizeof(err)) == EMBED_OK, "gpt2 forward: batch of 5 + 3 runs");
	for (int i = 3 * CK_H; i < 5 * CK_H; i++)
		pad_zero = pad_zero && batch[5 * CK_H + i] == 0.0f;
	ok(pad_zero, "gpt2 forward: padding rows are zero");
	forward_any(m, ids + 5, NULL, &lengths[1], 1, 3, alone, err, sizeof(err));
	ok(max_abs_diff(alone, batch + 5 * CK_H, 3 * CK_H) < 1e-6, "gpt2 forward: a padded row equals the sequence run alone");
	{
		int32_t		two = 2;

		/* causal: the first two tokens' states do not depend on the three after them */
		forward_any(m, ids, NULL, &two, 1, 2, alone, err, sizeof(err));
		ok(max_abs_diff(alone, batch, 2 * CK_H) < 1e-6,
		   "gpt2 forward: a prefix's hidden states equal the first rows of the whole sequence's");
		ok(max_abs_diff(alone + CK_H, batch + 4 * CK_H, CK_H) > 1e-3,
		   "gpt2 forward: hidden states differ between positions (not a constant output)");
	}
	ok(forward_any(m, ids, types, lengths, 2, 5, again, err, sizeof(err)) == EMBED_OK &&
	   memcmp(again, batch, sizeof(batch)) == 0, "gpt2 forward: all-zero type ids are the same as none");
	types[2] = 1;
	ok(forward_any(m, ids, types, lengths, 2, 5, again, err, sizeof(err)) == EMBED_ERR_INPUT &&
	   strstr(err, "token type 1") != NULL, "gpt2 forward: token type 1 refused (no token types)");
	ids[4] = CK_VOCAB;
	ok(forward_any(m, ids, NULL, lengths, 2, 5, again, err, sizeof(err)) == EMBED_ERR_INPUT &&
	   strstr(err, "token id 16 at sequence 0 position 4") != NULL, "gpt2 forward: token id == vocab_size refused");
	{
		int32_t		long_ids[17] = {0};
		int32_t		len17 = 17;
		float	   *big = malloc(sizeof(float) * 17 * CK_H);
		size_t		bytes;

		ok(forward_any(m, long_ids, NULL, &len17, 1, 17, big, err, sizeof(err)) == EMBED_ERR_INPUT &&
		   strstr(err, "at most 16") != NULL, "gpt2 forward: more tokens than n_positions refused");
		ok(embed_forward_workspace_size(m, 1, 17, 1, &bytes) && embed_gpt2_workspace_size(m, 1, 17, 1, &bytes) &&
		   !embed_gpt2_workspace_size(m, INT_MAX, INT_MAX, 1, &bytes) && !embed_gpt2_workspace_size(m, 0, 4, 1, &bytes),
		   "gpt2 workspace: sized, overflow and empty batches refused");
		ok(embed_bert_forward(m, NULL, long_ids, NULL, &len17, 1, 1, big, big, NULL, NULL, err, sizeof(err)) == EMBED_ERR_INPUT,
		   "embed_bert_forward refuses a GPT-2 model");
		free(big);
	}
	embed_model_free(m);
	free(c);
}

static const char roberta_config[] =
	"{\n  \"architectures\": [\"RobertaModel\"],\n  \"model_type\": \"roberta\",\n"
	"  \"vocab_size\": 16,\n  \"hidden_size\": 8,\n  \"num_hidden_layers\": 2,\n"
	"  \"num_attention_heads\": 2,\n  \"intermediate_size\": 16,\n  \"max_position_embeddings\": 16,\n"
	"  \"type_vocab_size\": 1,\n  \"pad_token_id\": 1,\n  \"hidden_act\": \"gelu\",\n"
	"  \"layer_norm_eps\": 1e-05,\n  \"torch_dtype\": \"float32\"\n}\n";

/* RoBERTa / XLM-R: padding offset, usable positions, defaults, tensor names. */
static void
test_roberta_loading(const char *root)
{
	char		dir[2048];
	char		path[4200];
	char		err[256];
	Checkpoint *c = malloc(sizeof(Checkpoint));
	EmbedModel *m;
	const EmbedModelInfo *info;
	const EmbedBertWeights *w;

	snprintf(dir, sizeof(dir), "%s/roberta", root);
	ckpt_encoder(c, "", 1);
	ckpt_write(dir, c, roberta_config);
	m = must_load(dir);
	info = embed_model_info(m);
	ok(info->arch == EMBED_ARCH_ROBERTA && !info->causal && info->position_pad_id == 1 &&
	   info->max_positions == 16 && info->max_tokens == 14 && embed_model_usable_positions(info) == 14 &&
	   info->type_vocab_size == 1 && fabs(info->layer_norm_eps - 1e-5) < 1e-15 &&
	   embed_model_gpt2_weights(m) == NULL && embed_model_weights(m) != NULL,
	   "roberta: pad_token_id 1 leaves 16 - 2 = 14 usable positions");
	{
		int32_t		ids[15] = {0, 4, 5, 6, 7, 8, 9, 10, 4, 5, 6, 7, 8, 2, 3};
		int32_t		len = 14;
		float		out[15 * CK_H];

		ok(forward_any(m, ids, NULL, &len, 1, 15, out, err, sizeof(err)) == EMBED_OK,
		   "roberta forward: 14 tokens run");
		len = 15;
		ok(forward_any(m, ids, NULL, &len, 1, 15, out, err, sizeof(err)) == EMBED_ERR_INPUT &&
		   strstr(err, "at most 14") != NULL, "roberta forward: 15 tokens refused (the 16th position is taken by padding)");
	}
	embed_model_free(m);

	set_config(dir, json_edit(roberta_config, "model_type", "\"xlm-roberta\""));
	m = must_load(dir);
	ok(embed_model_info(m)->arch == EMBED_ARCH_ROBERTA && embed_model_info(m)->max_tokens == 14,
	   "xlm-roberta: the same architecture");
	embed_model_free(m);

	/* max_seq_length caps the usable positions, never raises them */
	set_config(dir, roberta_config);
	bw_write_text(dir, "sentence_bert_config.json", "{\"max_seq_length\": 10}");
	m = must_load(dir);
	ok(embed_model_info(m)->max_tokens == 10, "roberta: max_seq_length 10 caps max_tokens");
	embed_model_free(m);
	bw_write_text(dir, "sentence_bert_config.json", "{\"max_seq_length\": 512}");
	m = must_load(dir);
	ok(embed_model_info(m)->max_tokens == 14, "roberta: max_seq_length 512 capped at the 14 usable positions");
	embed_model_free(m);
	bw_write_text(dir, "sentence_bert_config.json", "{\"max_seq_length\": 15}");
	m = must_load(dir);
	ok(embed_model_info(m)->max_tokens == 14,
	   "roberta: max_seq_length 15 (below max_position_embeddings) still capped at 14");
	embed_model_free(m);
	snprintf(path, sizeof(path), "%s/sentence_bert_config.json", dir);
	unlink(path);

	/* pad_token_id */
	set_config(dir, json_edit(roberta_config, "pad_token_id", "0"));
	m = must_load(dir);
	ok(embed_model_info(m)->position_pad_id == 0 && embed_model_info(m)->max_tokens == 15,
	   "roberta: pad_token_id 0 leaves 15 positions");
	embed_model_free(m);
	set_config(dir, json_edit(roberta_config, "pad_token_id", "14"));
	m = must_load(dir);
	ok(embed_model_info(m)->max_tokens == 1, "roberta: pad_token_id 14 leaves one position");
	embed_model_free(m);
	set_config(dir, json_edit(roberta_config, "pad_token_id", NULL));
	m = must_load(dir);
	ok(embed_model_info(m)->position_pad_id == 1, "roberta: pad_token_id absent -> 1");
	embed_model_free(m);
	set_config(dir, json_edit(roberta_config, "pad_token_id", "15"));
	expect_load(dir, EMBED_ERR_CONFIG, "pad_token_id 15 leaves no position", "roberta: pad_token_id 15 of 16 positions");
	set_config(dir, json_edit(json_edit(roberta_config, "pad_token_id", "10"), "max_position_embeddings", "8"));
	expect_load(dir, EMBED_ERR_CONFIG, "pad_token_id 10 leaves no position", "roberta: pad_token_id beyond the positions");
	set_config(dir, json_edit(roberta_config, "pad_token_id", "16"));
	expect_load(dir, EMBED_ERR_CONFIG, "pad_token_id 16 is not below vocab_size 16", "roberta: pad_token_id == vocab_size");
	set_config(dir, json_edit(roberta_config, "pad_token_id", "-1"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"pad_token_id\" = -1 is out of range", "roberta: negative pad_token_id");
	set_config(dir, json_edit(roberta_config, "pad_token_id", "70000"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"pad_token_id\" = 70000 is out of range", "roberta: huge pad_token_id");
	set_config(dir, json_edit(roberta_config, "pad_token_id", "null"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"pad_token_id\" must be an integer", "roberta: pad_token_id null");

	/* type_vocab_size: Hugging Face's default is 2; 0 is no table at all */
	set_config(dir, json_edit(roberta_config, "type_vocab_size", NULL));
	expect_load(dir, EMBED_ERR_CONFIG, "tensor \"embeddings.token_type_embeddings.weight\" has shape [1, 8], expected [2, 8]",
				"roberta: type_vocab_size absent means 2");
	ckpt_encoder(c, "", 2);
	ckpt_write(dir, c, json_edit(roberta_config, "type_vocab_size", NULL));
	m = must_load(dir);
	ok(embed_model_info(m)->type_vocab_size == 2, "roberta: type_vocab_size absent, 2-row table loads");
	embed_model_free(m);
	set_config(dir, roberta_config);
	expect_load(dir, EMBED_ERR_CONFIG, "has shape [2, 8], expected [1, 8]", "roberta: type_vocab_size 1 against 2 rows");
	set_config(dir, json_edit(roberta_config, "type_vocab_size", "0"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"type_vocab_size\" = 0 is out of range", "roberta: type_vocab_size 0");

	/* a decoder configuration attends causally in Hugging Face */
	ckpt_encoder(c, "", 1);
	ckpt_write(dir, c, json_edit(roberta_config, "is_decoder", "true"));
	expect_load(dir, EMBED_ERR_UNSUPPORTED, "is_decoder = true is not supported", "roberta: is_decoder refused");
	set_config(dir, json_edit(roberta_config, "is_decoder", "false"));
	expect_load(dir, EMBED_OK, "", "roberta: is_decoder false accepted");

	/* RobertaForMaskedLM / XLMRobertaFor*: "roberta." prefix, lm_head ignored */
	ckpt_encoder(c, "roberta.", 1);
	ckpt_add(c, "", "lm_head.dense.weight", CK_H, CK_H);
	ckpt_add(c, "", "lm_head.layer_norm.weight", CK_H, 0);
	ckpt_add(c, "", "lm_head.decoder.weight", CK_VOCAB, CK_H);
	ckpt_add(c, "", "lm_head.bias", CK_VOCAB, 0);
	ckpt_write(dir, c, roberta_config);
	m = must_load(dir);
	w = embed_model_weights(m);
	ok(w && holds_tensor(w->word_embeddings, "roberta.embeddings.word_embeddings.weight", CK_VOCAB * CK_H) &&
	   holds_tensor(w->token_type_embeddings, "roberta.embeddings.token_type_embeddings.weight", CK_H) &&
	   holds_tensor(w->layers[1].value_w, "roberta.encoder.layer.1.attention.self.value.weight", CK_H * CK_H) &&
	   holds_tensor(w->layers[1].out_ln_beta, "roberta.encoder.layer.1.output.LayerNorm.bias", CK_H),
	   "roberta: \"roberta.\" prefix bound, lm_head ignored");
	embed_model_free(m);
	ckpt_drop(c, "roberta.encoder.layer.1.attention.self.value.bias");
	ckpt_write(dir, c, roberta_config);
	expect_load(dir, EMBED_ERR_CONFIG, "required tensor \"roberta.encoder.layer.1.attention.self.value.bias\" is missing",
				"roberta: missing tensor named with its prefix");

	/* shapes and dtypes */
	ckpt_encoder(c, "", 1);
	ckpt_reshape(c, "embeddings.position_embeddings.weight", 15, CK_H);
	ckpt_write(dir, c, roberta_config);
	expect_load(dir, EMBED_ERR_CONFIG, "tensor \"embeddings.position_embeddings.weight\" has shape [15, 8], expected [16, 8]",
				"roberta: position table shorter than max_position_embeddings");
	ckpt_encoder(c, "", 1);
	ckpt_find(c, "embeddings.word_embeddings.weight")->dtype = "I64";
	ckpt_write(dir, c, roberta_config);
	expect_load(dir, EMBED_ERR_UNSUPPORTED, "tensor \"embeddings.word_embeddings.weight\" has dtype I64",
				"roberta: I64 embeddings refused by name");
	free(c);
}

static const char distilbert_config[] =
	"{\n  \"architectures\": [\"DistilBertModel\"],\n  \"model_type\": \"distilbert\",\n"
	"  \"vocab_size\": 16,\n  \"dim\": 8,\n  \"n_layers\": 2,\n  \"n_heads\": 2,\n"
	"  \"hidden_dim\": 16,\n  \"max_position_embeddings\": 16,\n  \"activation\": \"gelu\",\n"
	"  \"sinusoidal_pos_embds\": false\n}\n";

/* DistilBERT: its key and tensor names, no token types. */
static void
test_distilbert_loading(const char *root)
{
	char		dir[2048];
	char		err[256];
	Checkpoint *c = malloc(sizeof(Checkpoint));
	EmbedModel *m;
	const EmbedModelInfo *info;
	const EmbedBertWeights *w;

	snprintf(dir, sizeof(dir), "%s/distilbert", root);
	ckpt_distilbert(c, "");
	ckpt_write(dir, c, distilbert_config);
	m = must_load(dir);
	info = embed_model_info(m);
	w = embed_model_weights(m);
	ok(info->arch == EMBED_ARCH_DISTILBERT && !info->causal && info->hidden == 8 && info->layers == 2 &&
	   info->heads == 2 && info->intermediate == 16 && info->max_tokens == 16 && info->position_pad_id == -1 &&
	   info->type_vocab_size == 0 && info->activation == EMBED_ACT_GELU_ERF &&
	   fabs(info->layer_norm_eps - 1e-12) < 1e-20,
	   "distilbert: dim, n_layers, n_heads, hidden_dim, activation read; LayerNorm eps 1e-12");
	ok(w && w->token_type_embeddings == NULL, "distilbert: no token-type table");
	ok(w && holds_tensor(w->layers[1].query_w, "transformer.layer.1.attention.q_lin.weight", CK_H * CK_H) &&
	   holds_tensor(w->layers[1].attn_out_b, "transformer.layer.1.attention.out_lin.bias", CK_H) &&
	   holds_tensor(w->layers[1].attn_ln_gamma, "transformer.layer.1.sa_layer_norm.weight", CK_H) &&
	   holds_tensor(w->layers[1].ffn_in_w, "transformer.layer.1.ffn.lin1.weight", 16 * CK_H) &&
	   holds_tensor(w->layers[1].ffn_out_w, "transformer.layer.1.ffn.lin2.weight", CK_H * 16) &&
	   holds_tensor(w->layers[1].out_ln_beta, "transformer.layer.1.output_layer_norm.bias", CK_H),
	   "distilbert: layer tensors bound to the right fields");
	{
		int32_t		ids[3] = {2, 5, 9};
		int32_t		types[3] = {0, 0, 0};
		int32_t		len = 3;
		float		a[3 * CK_H],
					b[3 * CK_H];

		ok(forward_any(m, ids, NULL, &len, 1, 3, a, err, sizeof(err)) == EMBED_OK &&
		   forward_any(m, ids, types, &len, 1, 3, b, err, sizeof(err)) == EMBED_OK &&
		   memcmp(a, b, sizeof(a)) == 0, "distilbert forward: all-zero type ids are the same as none");
		types[1] = 1;
		ok(forward_any(m, ids, types, &len, 1, 3, b, err, sizeof(err)) == EMBED_ERR_INPUT,
		   "distilbert forward: token type 1 refused");
	}
	embed_model_free(m);

	/* DistilBertFor*: "distilbert." prefix, heads ignored */
	ckpt_distilbert(c, "distilbert.");
	ckpt_add(c, "", "vocab_transform.weight", CK_H, CK_H);
	ckpt_add(c, "", "vocab_projector.bias", CK_VOCAB, 0);
	ckpt_add(c, "", "pre_classifier.weight", CK_H, CK_H);
	ckpt_write(dir, c, distilbert_config);
	m = must_load(dir);
	w = embed_model_weights(m);
	ok(w && holds_tensor(w->word_embeddings, "distilbert.embeddings.word_embeddings.weight", CK_VOCAB * CK_H) &&
	   holds_tensor(w->layers[0].key_b, "distilbert.transformer.layer.0.attention.k_lin.bias", CK_H),
	   "distilbert: \"distilbert.\" prefix bound, task heads ignored");
	embed_model_free(m);
	ckpt_drop(c, "distilbert.transformer.layer.1.output_layer_norm.weight");
	ckpt_write(dir, c, distilbert_config);
	expect_load(dir, EMBED_ERR_CONFIG, "required tensor \"distilbert.transformer.layer.1.output_layer_norm.weight\" is missing",
				"distilbert: missing tensor named with its prefix");

	/* shapes and dtypes */
	ckpt_distilbert(c, "");
	ckpt_reshape(c, "transformer.layer.0.attention.q_lin.weight", CK_H, 2 * CK_H);
	ckpt_write(dir, c, distilbert_config);
	expect_load(dir, EMBED_ERR_CONFIG, "tensor \"transformer.layer.0.attention.q_lin.weight\" has shape [8, 16], expected [8, 8]",
				"distilbert: q_lin [H, 2H]");
	ckpt_distilbert(c, "");
	ckpt_reshape(c, "transformer.layer.1.ffn.lin1.weight", CK_H, 16);
	ckpt_write(dir, c, distilbert_config);
	expect_load(dir, EMBED_ERR_CONFIG, "tensor \"transformer.layer.1.ffn.lin1.weight\" has shape [8, 16], expected [16, 8]",
				"distilbert: lin1 transposed");
	ckpt_distilbert(c, "");
	ckpt_find(c, "transformer.layer.0.ffn.lin1.bias")->dtype = "F64";
	ckpt_write(dir, c, distilbert_config);
	expect_load(dir, EMBED_ERR_UNSUPPORTED, "tensor \"transformer.layer.0.ffn.lin1.bias\" has dtype F64",
				"distilbert: F64 weight refused by name");

	/* config keys */
	ckpt_distilbert(c, "");
	ckpt_write(dir, c, json_edit(distilbert_config, "dim", NULL));
	expect_load(dir, EMBED_ERR_CONFIG, "required key \"dim\" is missing", "distilbert: dim missing");
	set_config(dir, json_edit(distilbert_config, "n_heads", "3"));
	expect_load(dir, EMBED_ERR_CONFIG, "dim 8 is not a multiple of n_heads 3", "distilbert: dim % n_heads");
	set_config(dir, json_edit(distilbert_config, "hidden_dim", "0"));
	expect_load(dir, EMBED_ERR_CONFIG, "\"hidden_dim\" = 0 is out of range", "distilbert: hidden_dim 0");
	set_config(dir, json_edit(distilbert_config, "activation", "\"relu\""));
	expect_load(dir, EMBED_ERR_UNSUPPORTED, "activation \"relu\" is not supported", "distilbert: relu");
	set_config(dir, json_edit(distilbert_config, "is_decoder", "true"));
	expect_load(dir, EMBED_OK, "", "distilbert: is_decoder ignored (DistilBertModel has no decoder mode)");
	free(c);
}

/* BertFor* checkpoints: "bert." prefix in the missing-tensor message; is_decoder. */
static void
test_bert_prefix_errors(const char *root)
{
	char		dir[2048];
	Checkpoint *c = malloc(sizeof(Checkpoint));
	char		config[2048];

	snprintf(config, sizeof(config), "%s", config_with("vocab_size", "16"));
	snprintf(dir, sizeof(dir), "%s/bertprefix", root);
	ckpt_encoder(c, "bert.", 2);
	ckpt_drop(c, "bert.encoder.layer.0.intermediate.dense.bias");
	ckpt_write(dir, c, config);
	expect_load(dir, EMBED_ERR_CONFIG, "required tensor \"bert.encoder.layer.0.intermediate.dense.bias\" is missing",
				"bert: missing tensor named with its prefix");
	ckpt_encoder(c, "bert.", 2);
	ckpt_write(dir, c, json_edit(config, "is_decoder", "true"));
	expect_load(dir, EMBED_ERR_UNSUPPORTED, "is_decoder = true is not supported", "bert: is_decoder refused");
	set_config(dir, config);
	expect_load(dir, EMBED_OK, "", "bert: the same checkpoint loads without is_decoder");
	free(c);
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
	test_gpt2_loading(root);
	test_gpt2_forward(root);
	test_roberta_loading(root);
	test_distilbert_loading(root);
	test_bert_prefix_errors(root);
	test_mutations(root);

	bw_remove_tree(root);
	free(root);
	return tap_done();
}
