/*
 * test_families.c: the forward passes of GPT-2, DistilBERT and RoBERTa.
 *
 * 1. Golden values: the tiny checkpoints in ../shared/models against the
 *    outputs Hugging Face (or, for pico-gpt2-stdlib, a stand-alone GPT-2)
 *    computed (../shared/data/reference-outputs, see its SOURCES.md), to
 *    1e-5 absolute: GPT-2 logits through the tied LM head (hidden x wte^T),
 *    loractl-tiny-gpt2's hidden states after the embeddings, after block 0
 *    and after ln_f, DistilBERT's and (XLM-)RoBERTa's last_hidden_state.
 *    The references run without an attention mask, so every sequence is
 *    passed whole.  Skipped with a message when ../shared is absent (set
 *    EMBED_SHARED_DIR to point elsewhere).
 * 2. Properties, on tiny random-weight folders written by bert_writer.h:
 *    GPT-2 is causal (a token's state does not depend on later tokens); a
 *    sequence gives the same states alone as inside a padded batch; a
 *    thread pool of 2 or 3 gives the same bits as none; RoBERTa numbers
 *    positions as Hugging Face does when the pad id occurs inside a
 *    sequence (checked against BERT folders whose position table holds the
 *    expected rows); inputs beyond the usable positions or the vocabulary
 *    are refused with EMBED_ERR_INPUT.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
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

#define GOLDEN_TOL 1e-5
#define BATCH_TOL 1e-6			/* relative to the largest state (float32 rounding) */
#define SEED UINT64_C(31337)

/* The shared data folder, or NULL when absent. */
static const char *
shared_dir(void)
{
	static char path[4096];
	const char *env = getenv("EMBED_SHARED_DIR");
	char		probe[4200];
	struct stat sb;

	snprintf(path, sizeof(path), "%s", env && *env ? env : "../shared");
	snprintf(probe, sizeof(probe), "%s/data/reference-outputs", path);
	if (stat(probe, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return NULL;
	return path;
}

/* A TAP test line that was not run, with the reason. */
static void
skip_test(const char *model, const char *why)
{
	printf("ok %d # skip %s: %s\n", ++tap_count, model, why);
	fflush(stdout);
}

/* Does path exist? */
static bool
exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* Parse a whole JSON file (aborts the program on failure). */
static EmbedJson *
load_json(const char *path)
{
	char		err[256];
	size_t		len;
	char	   *text = embed_read_file(path, 64 << 20, &len, err, sizeof(err));
	EmbedJson  *doc;

	if (text == NULL)
	{
		printf("Bail out! %s\n", err);
		exit(1);
	}
	doc = embed_json_parse(text, len, err, sizeof(err));
	free(text);
	if (doc == NULL)
	{
		printf("Bail out! %s: %s\n", path, err);
		exit(1);
	}
	return doc;
}

/* Load a model folder (aborts the program on failure). */
static EmbedModel *
must_load(const char *dir)
{
	char		err[512];
	EmbedModel *m;

	if (embed_model_load(dir, &m, err, sizeof(err)) != EMBED_OK)
	{
		printf("Bail out! %s\n", err);
		exit(1);
	}
	return m;
}

/* One forward call with its own workspace; the status, with err filled on failure. */
static EmbedStatus
run_forward(const EmbedModel *m, EmbedThreadPool *pool, const int32_t *ids, const int32_t *types,
			const int32_t *lengths, int batch, int seq, float *hidden, char *err, size_t errlen,
			void (*between_layers) (void *), void *arg)
{
	size_t		bytes;
	void	   *ws;
	EmbedStatus st;

	if (!embed_forward_workspace_size(m, batch, seq, embed_thread_pool_threads(pool), &bytes))
	{
		snprintf(err, errlen, "invalid batch shape %d x %d", batch, seq);
		return EMBED_ERR_INPUT;
	}
	ws = malloc(bytes);
	st = embed_forward(m, pool, ids, types, lengths, batch, seq, hidden, ws, between_layers, arg,
					   err, errlen);
	free(ws);
	return st;
}

/* Forward that must succeed (reports a failed test and returns false otherwise). */
static bool
forward_ok(const EmbedModel *m, EmbedThreadPool *pool, const int32_t *ids, const int32_t *types,
		   const int32_t *lengths, int batch, int seq, float *hidden)
{
	char		err[512];

	if (run_forward(m, pool, ids, types, lengths, batch, seq, hidden, err, sizeof(err), NULL, NULL) == EMBED_OK)
		return true;
	ok(0, "forward: %s", err);
	return false;
}

/* Largest |got[i] - want[i]| over n floats of got against a flat JSON list of numbers. */
static double
max_diff_json(const float *got, const EmbedJson *want, size_t n)
{
	double		worst = want->len == n ? 0.0 : INFINITY;

	for (size_t i = 0; i < n && i < want->len; i++)
		worst = fmax(worst, fabs(got[i] - want->items[i].number));
	return worst;
}

/* Largest difference of two float arrays. */
static double
max_diff(const float *a, const float *b, size_t n)
{
	double		worst = 0.0;

	for (size_t i = 0; i < n; i++)
		worst = fmax(worst, fabs((double) a[i] - b[i]));
	return worst;
}

/*
 * The tolerance between two float32 runs whose matrix products differ in
 * shape only: BATCH_TOL times the largest magnitude in a (at least 1).
 * OpenBLAS rounds the rows of a product's last partial tile differently,
 * so a row's bits depend on the row count; the difference is a few ulps.
 */
static double
batch_tolerance(const float *a, size_t n)
{
	double		largest = 1.0;

	for (size_t i = 0; i < n; i++)
		largest = fmax(largest, fabs(a[i]));
	return BATCH_TOL * largest;
}

/* Flatten a nested JSON array of numbers (any depth) into out; returns the count. */
static size_t
flatten(const EmbedJson *v, double *out, size_t cap)
{
	size_t		n = 0;

	if (v->type == EMBED_JSON_NUMBER)
	{
		if (cap > 0)
			out[0] = v->number;
		return 1;
	}
	for (size_t i = 0; i < v->len; i++)
		n += flatten(&v->items[i], out + n, cap > n ? cap - n : 0);
	return n;
}

/* logits [rows, vocab] = hidden [rows, H] x wte^T, the tied LM head of GPT-2. */
static float *
tied_logits(const EmbedModel *m, const float *hidden, int rows)
{
	const EmbedModelInfo *info = embed_model_info(m);
	float	   *logits = malloc(sizeof(float) * (size_t) rows * info->vocab_size);

	embed_matmul_naive(rows, info->vocab_size, info->hidden, hidden,
					   embed_model_gpt2_weights(m)->token_embeddings, NULL, logits);
	return logits;
}

/* ---------- 1. golden values ---------- */

typedef struct Golden
{
	const char *model;			/* folder under ../shared/models */
	const char *reference;		/* file under ../shared/data/reference-outputs */
	EmbedArchitecture arch;
	bool		logits;			/* the file holds logits (else hidden states) */
} Golden;

/*
 * A reference file with "sequences" [B, L] and "logits" [B, L, V] or
 * "hidden" [B, L, H]: every sequence whole (no mask), compared per sequence.
 */
static void
test_golden(const char *shared, const Golden *g)
{
	char		path[4200],
				dir[4200],
				err[512];
	EmbedJson  *ref;
	const EmbedJson *seqs;
	EmbedModel *m;
	const EmbedModelInfo *info;
	int			B,
				L,
				width;
	int32_t    *ids,
			   *lengths;
	float	   *hidden,
			   *out;
	double	   *want;
	size_t		nwant;

	snprintf(path, sizeof(path), "%s/data/reference-outputs/%s", shared, g->reference);
	snprintf(dir, sizeof(dir), "%s/models/%s", shared, g->model);
	if (!exists(path) || !exists(dir))
	{
		skip_test(g->model, "its model folder or reference file is not in ../shared");
		return;
	}
	ref = load_json(path);
	seqs = embed_json_get(ref, "sequences");
	m = must_load(dir);
	info = embed_model_info(m);
	ok(info->arch == g->arch, "%s: loaded as %s", g->model, embed_architecture_name(info->arch));

	B = (int) seqs->len;
	L = (int) seqs->items[0].len;
	ids = malloc(sizeof(int32_t) * B * L);
	lengths = malloc(sizeof(int32_t) * B);
	for (int b = 0; b < B; b++)
	{
		lengths[b] = L;
		for (int i = 0; i < L; i++)
			ids[b * L + i] = (int32_t) seqs->items[b].items[i].integer;
	}
	hidden = malloc(sizeof(float) * B * L * info->hidden);
	if (run_forward(m, NULL, ids, NULL, lengths, B, L, hidden, err, sizeof(err), NULL, NULL) != EMBED_OK)
	{
		ok(0, "%s: forward: %s", g->model, err);
		goto done;
	}
	out = g->logits ? tied_logits(m, hidden, B * L) : hidden;
	width = g->logits ? info->vocab_size : info->hidden;
	want = malloc(sizeof(double) * B * L * width);
	nwant = flatten(embed_json_get(ref, g->logits ? "logits" : "hidden"), want, (size_t) B * L * width);
	if (!ok(nwant == (size_t) B * L * width, "%s: reference holds %d x %d x %d values",
			g->model, B, L, width))
		diag("found %zu", nwant);
	else
		for (int b = 0; b < B; b++)
		{
			double		worst = 0.0;

			for (size_t i = 0; i < (size_t) L * width; i++)
				worst = fmax(worst, fabs(out[(size_t) b * L * width + i] - want[(size_t) b * L * width + i]));
			ok(worst <= GOLDEN_TOL, "%s: sequence %d %s match the reference to %g (max diff %.3g)",
			   g->model, b, g->logits ? "logits" : "hidden states", GOLDEN_TOL, worst);
		}
	free(want);
	if (out != hidden)
		free(out);
done:
	free(ids);
	free(lengths);
	free(hidden);
	embed_model_free(m);
	embed_json_free(ref);
}

/* Copies of the residual stream taken before the first layers (one sequence). */
typedef struct Snapshots
{
	const float *stream;		/* hidden_out: the residual stream during the pass */
	size_t		floats;
	int			taken;
	float	   *before_layer[2];
} Snapshots;

/* between_layers callback: copy the residual stream before layers 0 and 1. */
static void
take_snapshot(void *arg)
{
	Snapshots  *s = arg;

	if (s->taken < 2)
		memcpy(s->before_layer[s->taken], s->stream, sizeof(float) * s->floats);
	s->taken++;
}

/*
 * loractl-tiny-gpt2 (float32 GPT2LMHeadModel): logits and the hidden
 * states after ln_f, and through the between_layers callback those after
 * the embeddings and after block 0 (gpt2.c keeps the residual stream in
 * hidden_out, packed; with one sequence packed rows are the padded rows).
 */
static void
test_loractl(const char *shared)
{
	char		path[4200],
				dir[4200],
				err[512];
	EmbedJson  *ref;
	const EmbedJson *input;
	EmbedModel *m;
	const EmbedModelInfo *info;
	int32_t		ids[16],
				len;
	float	   *hidden,
			   *logits;
	Snapshots	snap = {0};
	size_t		floats;

	snprintf(path, sizeof(path), "%s/data/reference-outputs/gpt2_tiny_golden.json", shared);
	snprintf(dir, sizeof(dir), "%s/models/loractl-tiny-gpt2", shared);
	if (!exists(path) || !exists(dir))
	{
		skip_test("loractl-tiny-gpt2", "its model folder or reference file is not in ../shared");
		return;
	}
	ref = load_json(path);
	input = embed_json_get(ref, "input_ids");
	len = (int32_t) input->len;
	for (int i = 0; i < len && i < 16; i++)
		ids[i] = (int32_t) input->items[i].integer;
	m = must_load(dir);
	info = embed_model_info(m);
	ok(info->arch == EMBED_ARCH_GPT2 && info->intermediate == 64 && info->max_positions == 16 &&
	   info->activation == EMBED_ACT_GELU_TANH && info->vocab_size == 61,
	   "loractl-tiny-gpt2: config read (n_inner 64, 16 positions, gelu_new, vocab 61)");

	floats = (size_t) len * info->hidden;
	hidden = malloc(sizeof(float) * floats);
	snap.stream = hidden;
	snap.floats = floats;
	snap.before_layer[0] = malloc(sizeof(float) * floats);
	snap.before_layer[1] = malloc(sizeof(float) * floats);
	if (!ok(run_forward(m, NULL, ids, NULL, &len, 1, len, hidden, err, sizeof(err), take_snapshot, &snap) == EMBED_OK &&
			snap.taken == info->layers, "loractl-tiny-gpt2: forward runs, callback before each of %d blocks",
			info->layers))
		diag("%s", err);
	else
	{
		double		d_embed = max_diff_json(snap.before_layer[0], embed_json_get(ref, "hidden_after_embed"), floats);
		double		d_block0 = max_diff_json(snap.before_layer[1], embed_json_get(ref, "hidden_after_block0"), floats);
		double		d_lnf = max_diff_json(hidden, embed_json_get(ref, "hidden_after_lnf"), floats);
		double		d_logits;

		logits = tied_logits(m, hidden, len);
		d_logits = max_diff_json(logits, embed_json_get(ref, "logits"), (size_t) len * info->vocab_size);
		ok(d_embed <= GOLDEN_TOL, "loractl-tiny-gpt2: hidden states after the embeddings to %g (max diff %.3g)",
		   GOLDEN_TOL, d_embed);
		ok(d_block0 <= GOLDEN_TOL, "loractl-tiny-gpt2: hidden states after block 0 to %g (max diff %.3g)",
		   GOLDEN_TOL, d_block0);
		ok(d_lnf <= GOLDEN_TOL, "loractl-tiny-gpt2: hidden states after ln_f to %g (max diff %.3g)",
		   GOLDEN_TOL, d_lnf);
		ok(d_logits <= GOLDEN_TOL, "loractl-tiny-gpt2: logits of the tied head to %g (max diff %.3g)",
		   GOLDEN_TOL, d_logits);
		is_close(logits[(size_t) (len - 1) * info->vocab_size], 0.10046099, GOLDEN_TOL,
				 "loractl-tiny-gpt2: last-token logit 0 spot value (SOURCES.md)");
		free(logits);
	}
	free(snap.before_layer[0]);
	free(snap.before_layer[1]);
	free(hidden);
	embed_model_free(m);
	embed_json_free(ref);
}

/* The pico GPT-2 configs: n_inner null (4 x n_embd) or given, n_ctx, the activation. */
static void
test_gpt2_configs(const char *shared)
{
	static const struct
	{
		const char *model;
		int			intermediate;
		EmbedActivation act;
	}			cases[] = {
		{"pico-distilgpt2", 32, EMBED_ACT_GELU_TANH},	/* n_inner null */
		{"pico-cerebras-gpt", 32, EMBED_ACT_GELU_ERF},	/* "gelu" */
		{"pico-gpt2-stdlib", 32, EMBED_ACT_GELU_TANH},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char		dir[4200];
		EmbedModel *m;
		const EmbedModelInfo *info;

		snprintf(dir, sizeof(dir), "%s/models/%s", shared, cases[i].model);
		if (!exists(dir))
		{
			skip_test(cases[i].model, "not in ../shared");
			continue;
		}
		m = must_load(dir);
		info = embed_model_info(m);
		ok(info->intermediate == cases[i].intermediate && info->activation == cases[i].act &&
		   info->causal && info->max_tokens == 16 && info->type_vocab_size == 0,
		   "%s: intermediate %d, activation, causal, 16 positions, no token types", cases[i].model,
		   info->intermediate);
		embed_model_free(m);
	}
}

static void
test_golden_all(const char *shared)
{
	static const Golden cases[] = {
		{"pico-distilgpt2", "tiny_distilgpt2_logits.json", EMBED_ARCH_GPT2, true},
		{"pico-cerebras-gpt", "tiny_cerebras_gpt_logits.json", EMBED_ARCH_GPT2, true},
		{"pico-gpt2-stdlib", "tiny_gpt2_logits.json", EMBED_ARCH_GPT2, true},
		{"pico-distilbert", "tiny_distilbert_hidden.json", EMBED_ARCH_DISTILBERT, false},
		{"pico-roberta", "tiny_roberta_hidden.json", EMBED_ARCH_ROBERTA, false},
		{"pico-xlmroberta", "tiny_xlmroberta_hidden.json", EMBED_ARCH_ROBERTA, false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		test_golden(shared, &cases[i]);
	test_loractl(shared);
	test_gpt2_configs(shared);
}

/* ---------- 2. properties on random-weight folders ---------- */

typedef struct Family
{
	const char *name;
	EmbedArchitecture arch;		/* what the loader must make of the folder */
	BertSpec	spec;
	const char *act;
	double		eps;
	EmbedModel *model;
} Family;

/* Write a model folder for spec under root/name; false on I/O failure. */
static bool
write_folder(const char *root, const char *name, const BertSpec *spec, const char *act, double eps,
			 char *dir, size_t dirlen)
{
	char		path[4400];
	size_t		hlen;
	char	   *header = bw_header(spec, 0, &hlen);
	char	   *cfg = bw_config_json(spec, act, eps);
	bool		okay;

	snprintf(dir, dirlen, "%s/%s", root, name);
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	okay = mkdir(dir, 0700) == 0 &&
		bw_write_safetensors(path, header, hlen, SEED, NULL) &&
		bw_write_text(dir, "config.json", cfg);
	free(header);
	free(cfg);
	return okay;
}

/* Deterministic test ids in [lo, vocab). */
static void
fill_ids(int32_t *ids, int n, int salt, int lo, int vocab)
{
	for (int i = 0; i < n; i++)
		ids[i] = lo + (int32_t) ((uint32_t) (i * 7919 + salt * 104729 + 17) % (uint32_t) (vocab - lo));
}

/*
 * GPT-2 is causal: two sequences of the same length sharing their first
 * `prefix` tokens have bit-identical states there (the same shapes run the
 * same arithmetic, and what follows is masked out), and the prefix run
 * alone agrees with them to 1e-6.  The bidirectional DistilBERT, given the
 * same inputs, must differ: the test can tell the two apart.
 */
static void
test_causality(const Family *gpt2, const Family *encoder)
{
	enum
	{
		N = 30, PREFIX = 17
	};
	int			H = gpt2->spec.hidden;
	int32_t		a[N],
				b[N],
				n = N,
				p = PREFIX;
	float	   *ha = malloc(sizeof(float) * N * H),
			   *hb = malloc(sizeof(float) * N * H),
			   *hp = malloc(sizeof(float) * N * H);
	double		tail_diff,
				alone_diff,
				encoder_diff;

	fill_ids(a, N, 1, 0, gpt2->spec.vocab);
	memcpy(b, a, sizeof(a));
	fill_ids(b + PREFIX, N - PREFIX, 2, 0, gpt2->spec.vocab);
	if (forward_ok(gpt2->model, NULL, a, NULL, &n, 1, N, ha) &&
		forward_ok(gpt2->model, NULL, b, NULL, &n, 1, N, hb) &&
		forward_ok(gpt2->model, NULL, a, NULL, &p, 1, PREFIX, hp))
	{
		tail_diff = max_diff(ha + PREFIX * H, hb + PREFIX * H, (size_t) (N - PREFIX) * H);
		alone_diff = max_diff(ha, hp, (size_t) PREFIX * H);
		ok(memcmp(ha, hb, sizeof(float) * PREFIX * H) == 0 && tail_diff > 1e-3,
		   "gpt2: the first %d states are bit-identical whatever the %d tokens after them (which differ by %.3g)",
		   PREFIX, N - PREFIX, tail_diff);
		ok(alone_diff <= batch_tolerance(ha, (size_t) PREFIX * H),
		   "gpt2: the prefix run alone gives the same states to %.2g (max diff %.3g, %s)",
		   batch_tolerance(ha, (size_t) PREFIX * H), alone_diff,
		   memcmp(ha, hp, sizeof(float) * PREFIX * H) == 0 ? "bit-identical" : "not bit-identical");
	}

	H = encoder->spec.hidden;
	ha = realloc(ha, sizeof(float) * N * H);
	hb = realloc(hb, sizeof(float) * N * H);
	if (forward_ok(encoder->model, NULL, a, NULL, &n, 1, N, ha) &&
		forward_ok(encoder->model, NULL, b, NULL, &n, 1, N, hb))
	{
		encoder_diff = max_diff(ha, hb, (size_t) PREFIX * H);
		ok(encoder_diff > 1e-3, "%s (bidirectional): the same prefix states change with the tokens after them (%.3g)",
		   encoder->name, encoder_diff);
	}
	free(ha);
	free(hb);
	free(hp);
}

/* A padded batch of three sequences for the batch and pool tests. */
enum
{
	BATCH = 3, SEQ = 37
};
static const int32_t batch_lengths[BATCH] = {SEQ, 9, 1};

/* The batch's ids (valid for every family: ids from 3 up, no RoBERTa pad id). */
static void
batch_ids(int32_t *ids, int vocab)
{
	for (int s = 0; s < BATCH; s++)
	{
		fill_ids(ids + s * SEQ, batch_lengths[s], 10 + s, 3, vocab);
		for (int i = batch_lengths[s]; i < SEQ; i++)
			ids[s * SEQ + i] = 0;
	}
}

/*
 * Each sequence alone matches its rows of the padded batch to 1e-6, the
 * padding rows are zero, and pools of 2 and 3 threads give the batch's bits.
 */
static void
test_batch_and_pools(const Family *f)
{
	int			H = f->spec.hidden;
	size_t		floats = (size_t) BATCH * SEQ * H;
	int32_t		ids[BATCH * SEQ];
	float	   *batch = malloc(sizeof(float) * floats),
			   *other = malloc(sizeof(float) * floats);
	double		worst = 0.0;
	bool		padding_zero = true;

	batch_ids(ids, f->spec.vocab);
	if (!forward_ok(f->model, NULL, ids, NULL, batch_lengths, BATCH, SEQ, batch))
		goto done;
	for (int s = 0; s < BATCH; s++)
	{
		int32_t		n = batch_lengths[s];

		if (!forward_ok(f->model, NULL, ids + s * SEQ, NULL, &n, 1, n, other))
			goto done;
		worst = fmax(worst, max_diff(other, batch + (size_t) s * SEQ * H, (size_t) n * H));
		for (size_t k = (size_t) (s * SEQ + n) * H; k < (size_t) (s + 1) * SEQ * H; k++)
			padding_zero = padding_zero && batch[k] == 0.0f;
	}
	ok(worst <= batch_tolerance(batch, floats),
	   "%s: each sequence alone matches its rows of the padded batch to %.2g (max diff %.3g)",
	   f->name, batch_tolerance(batch, floats), worst);
	ok(padding_zero, "%s: padding rows of the output are zero", f->name);

	for (int threads = 2; threads <= 3; threads++)
	{
		EmbedThreadPool *pool = embed_thread_pool_create(threads);

		memset(other, 0xff, sizeof(float) * floats);
		ok(pool != NULL && forward_ok(f->model, pool, ids, NULL, batch_lengths, BATCH, SEQ, other) &&
		   memcmp(batch, other, sizeof(float) * floats) == 0,
		   "%s: a %d-thread pool gives the bits of no pool", f->name, threads);
		embed_thread_pool_destroy(pool);
	}
done:
	free(batch);
	free(other);
}

/*
 * Overwrite the first `count` rows of dir's position table with the rows
 * rows[i] of the table in source (a model file with the same tensor names).
 */
static bool
patch_positions(const char *dir, const char *source, const int *rows, int count, int hidden)
{
	const char *name = "embeddings.position_embeddings.weight";
	char		path[4400],
				err[256];
	EmbedSafetensors *src = NULL,
			   *dst = NULL;
	const EmbedTensor *from,
			   *to;
	size_t		len;
	off_t		at;
	int			fd;
	bool		okay = true;

	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	if (embed_safetensors_open(source, &src, err, sizeof(err)) != EMBED_OK ||
		embed_safetensors_open(path, &dst, err, sizeof(err)) != EMBED_OK ||
		(from = embed_safetensors_find(src, name)) == NULL || (to = embed_safetensors_find(dst, name)) == NULL)
	{
		embed_safetensors_close(src);
		embed_safetensors_close(dst);
		return false;
	}
	at = (const char *) to->data - (const char *) embed_safetensors_file_data(dst, &len);
	fd = open(path, O_WRONLY);
	for (int i = 0; i < count && okay; i++)
		okay = fd >= 0 && pwrite(fd, (const float *) from->data + (size_t) rows[i] * hidden,
								 sizeof(float) * hidden, at + (off_t) i * hidden * sizeof(float)) ==
			(ssize_t) (sizeof(float) * hidden);
	okay = fd >= 0 && close(fd) == 0 && okay;
	embed_safetensors_close(src);
	embed_safetensors_close(dst);
	return okay;
}

/*
 * RoBERTa's positions (Hugging Face's create_position_ids_from_input_ids):
 * a pad id sits at position pad_token_id and does not advance the count,
 * other tokens sit at pad_token_id + their rank among non-pad tokens.  A
 * BERT folder with the same weights, whose position table row i holds the
 * RoBERTa row that token i should get, must give the same bits.
 */
static void
test_roberta_positions(const char *root)
{
	enum
	{
		N = 9, PAD = 1
	};
	BertSpec	roberta = {.arch = BW_ARCH_ROBERTA, .hidden = 64, .layers = 2, .heads = 4, .intermediate = 128,
		.vocab = 120, .max_positions = 24, .type_vocab = 1, .pad_id = PAD, .prefix = "", .dtype = "F32"};
	BertSpec	bert = roberta;
	const int32_t plain[N] = {0, 17, 5, 23, 45, 9, 11, 88, 2};
	const int32_t padded[N] = {0, 17, PAD, 23, 45, PAD, PAD, 88, 2};
	const int	offset_rows[N] = {2, 3, 4, 5, 6, 7, 8, 9, 10};	/* pad + 1 + i */
	const int	hf_rows[N] = {2, 3, 1, 4, 5, 1, 1, 6, 7};	/* pads at pad, others count on */
	char		rdir[4200],
				offset_dir[4200],
				hf_dir[4200],
				source[4400];
	EmbedModel *r,
			   *b_offset,
			   *b_hf;
	int32_t		n = N;
	float		got[N * 64],
				want[N * 64];

	bert.arch = BW_ARCH_BERT;
	snprintf(source, sizeof(source), "%s/roberta-rule/model.safetensors", root);
	if (!ok(write_folder(root, "roberta-rule", &roberta, "gelu", 1e-5, rdir, sizeof(rdir)) &&
			write_folder(root, "bert-offset", &bert, "gelu", 1e-5, offset_dir, sizeof(offset_dir)) &&
			write_folder(root, "bert-hf", &bert, "gelu", 1e-5, hf_dir, sizeof(hf_dir)) &&
			patch_positions(offset_dir, source, offset_rows, N, bert.hidden) &&
			patch_positions(hf_dir, source, hf_rows, N, bert.hidden),
			"roberta: model folders for the position rule written"))
		return;
	r = must_load(rdir);
	b_offset = must_load(offset_dir);
	b_hf = must_load(hf_dir);

	if (forward_ok(r, NULL, plain, NULL, &n, 1, N, got) && forward_ok(b_offset, NULL, plain, NULL, &n, 1, N, want))
		ok(memcmp(got, want, sizeof(got)) == 0,
		   "roberta: without pad ids, token i sits at position pad_token_id + 1 + i");
	if (forward_ok(r, NULL, padded, NULL, &n, 1, N, got) && forward_ok(b_hf, NULL, padded, NULL, &n, 1, N, want))
		ok(memcmp(got, want, sizeof(got)) == 0,
		   "roberta: pad ids inside the sequence sit at pad_token_id and do not advance the positions");
	if (forward_ok(b_offset, NULL, padded, NULL, &n, 1, N, want))
		ok(max_diff(got, want, N * 64) > 1e-3,
		   "roberta: numbering the same sequence 2, 3, 4, ... instead gives other states (%.3g apart)",
		   max_diff(got, want, N * 64));
	embed_model_free(r);
	embed_model_free(b_offset);
	embed_model_free(b_hf);
}

/* A forward call that must fail with EMBED_ERR_INPUT, a message containing `needle`, and no output. */
static void
expect_input_error(const Family *f, const int32_t *ids, const int32_t *types, int32_t length,
				   const char *needle, const char *what)
{
	size_t		floats = (size_t) length * f->spec.hidden;
	float	   *out = malloc(sizeof(float) * floats);
	char		err[512] = "";
	EmbedStatus st;
	bool		untouched = true;

	memset(out, 0x7f, sizeof(float) * floats);
	st = run_forward(f->model, NULL, ids, types, &length, 1, length, out, err, sizeof(err), NULL, NULL);
	for (size_t k = 0; k < floats; k++)
		untouched = untouched && memcmp(&out[k], "\x7f\x7f\x7f\x7f", 4) == 0;
	if (!ok(st == EMBED_ERR_INPUT && strstr(err, needle) != NULL && untouched,
			"%s: %s is refused (\"%s\")", f->name, what, err))
		diag("status %s, wanted a message containing \"%s\"", embed_status_name(st), needle);
	free(out);
}

/* Lengths beyond the usable positions, ids outside the vocabulary, token types GPT-2 lacks. */
static void
test_input_errors(const Family *f)
{
	const EmbedModelInfo *info = embed_model_info(f->model);
	int			usable = embed_model_usable_positions(info);
	int32_t    *ids = calloc(usable + 1, sizeof(int32_t));
	int32_t    *types = calloc(usable + 1, sizeof(int32_t));
	float	   *out = malloc(sizeof(float) * (usable + 1) * f->spec.hidden);
	int32_t		n = usable;
	char		needle[64];

	fill_ids(ids, usable + 1, 5, 3, f->spec.vocab);
	ok(forward_ok(f->model, NULL, ids, NULL, &n, 1, n, out),
	   "%s: a sequence of %d tokens (every usable position) runs", f->name, usable);
	snprintf(needle, sizeof(needle), "at most %d", usable);
	expect_input_error(f, ids, NULL, usable + 1, needle, "one token more than the usable positions");

	ids[4] = f->spec.vocab;
	expect_input_error(f, ids, NULL, 8, "out of range (vocabulary size", "a token id equal to the vocabulary size");
	ids[4] = -1;
	expect_input_error(f, ids, NULL, 8, "token id -1", "a negative token id");
	ids[4] = 3;
	if (info->type_vocab_size <= 1)
	{
		types[2] = 1;
		expect_input_error(f, ids, types, 8, "token type 1", "token type 1 (the model has one type or none)");
	}
	free(ids);
	free(types);
	free(out);
}

int
main(void)
{
	const char *shared = shared_dir();
	char	   *root = bw_tempdir();
	char		dir[4200];
	/* GPT-2 with n_inner null (4 x 128); each folder under a model-class tensor prefix */
	Family		families[] = {
		{"gpt2", EMBED_ARCH_GPT2,
			{.arch = BW_ARCH_GPT2, .hidden = 128, .layers = 2, .heads = 4, .intermediate = 512, .vocab = 300,
			.max_positions = 48, .prefix = "transformer.", .dtype = "F32"},
		"gelu_new", 1e-5, NULL},
		{"distilbert", EMBED_ARCH_DISTILBERT,
			{.arch = BW_ARCH_DISTILBERT, .hidden = 128, .layers = 2, .heads = 4, .intermediate = 320, .vocab = 300,
			.max_positions = 48, .prefix = "distilbert.", .dtype = "F32"},
		"gelu", 1e-12, NULL},
		{"roberta", EMBED_ARCH_ROBERTA,
			{.arch = BW_ARCH_ROBERTA, .hidden = 128, .layers = 2, .heads = 4, .intermediate = 320, .vocab = 300,
				.max_positions = 48, .type_vocab = 1, .pad_id = 1, .prefix = "roberta.", .with_pooler = true,
			.with_position_ids = true, .dtype = "F32"},
		"gelu", 1e-5, NULL},
	};
	const int	nfamilies = sizeof(families) / sizeof(families[0]);

	if (shared)
		test_golden_all(shared);
	else
		diag("SKIP golden Hugging Face tests: ../shared not found (set EMBED_SHARED_DIR)");

	if (root == NULL)
	{
		printf("Bail out! cannot create a temporary directory\n");
		return 1;
	}
	for (int i = 0; i < nfamilies; i++)
	{
		Family	   *f = &families[i];

		if (!write_folder(root, f->name, &f->spec, f->act, f->eps, dir, sizeof(dir)))
		{
			printf("Bail out! cannot write the %s folder under %s\n", f->name, root);
			return 1;
		}
		f->model = must_load(dir);
		ok(embed_model_info(f->model)->arch == f->arch,
		   "%s: random-weight folder (tensor prefix \"%s\") loads as %s", f->name, f->spec.prefix,
		   embed_architecture_name(embed_model_info(f->model)->arch));
	}
	test_causality(&families[0], &families[1]);
	for (int i = 0; i < nfamilies; i++)
		test_batch_and_pools(&families[i]);
	test_roberta_positions(root);
	for (int i = 0; i < nfamilies; i++)
		test_input_errors(&families[i]);

	for (int i = 0; i < nfamilies; i++)
		embed_model_free(families[i].model);
	bw_remove_tree(root);
	free(root);
	return tap_done();
}
