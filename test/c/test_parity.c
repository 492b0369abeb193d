/*
 * test_parity.c: the forward pass against float64 PyTorch references on
 * random-weight models (fixtures from tools/parity/bert_parity.py): BERT
 * shapes, and the real shapes of GPT-2 small, a DistilBERT and a RoBERTa
 * sentence encoder.
 *
 * For each fixture in test/fixtures/parity/, the model folder is rebuilt in
 * a temporary directory (removed after the fixture): the config files come
 * from the fixture, the weights from the seeded generator shared with the
 * Python tool (bert_writer.h, laid out as the fixture's "writer" says), and
 * the safetensors header is the exact header of the published
 * all-MiniLM-L6-v2 file when the fixture names it and ../shared holds it,
 * otherwise one built from the spec.  Checked: per-token hidden states,
 * pooled embeddings and (GPT-2) logits of the tied LM head within 1e-4
 * absolute and cosine >= 0.99999; a sequence gives the same result alone as
 * inside a padded batch; repeated runs are bit-identical, and so are runs
 * on a 2-thread pool.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cblas.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "forward.h"
#include "json.h"
#include "model.h"
#include "tap.h"

#include "bert_writer.h"

#define ABS_TOL 1e-4
#define COS_MIN 0.99999

/* Read a whole file (bails out on failure unless optional). */
static char *
slurp(const char *path, size_t *len, bool optional)
{
	char		err[256];
	char	   *text = embed_read_file(path, 64 << 20, len, err, sizeof(err));

	if (text == NULL && !optional)
	{
		printf("Bail out! %s\n", err);
		exit(1);
	}
	return text;
}

/* Max absolute difference and cosine similarity of float32 vs double rows. */
static void
compare_row(const float *got, const EmbedJson *want, int n, double *max_diff, double *cosine)
{
	double		dot = 0.0,
				ng = 0.0,
				nw = 0.0;

	*max_diff = 0.0;
	for (int j = 0; j < n; j++)
	{
		double		w = want->items[j].number;
		double		d = fabs(got[j] - w);

		if (d > *max_diff)
			*max_diff = d;
		dot += got[j] * w;
		ng += (double) got[j] * got[j];
		nw += w * w;
	}
	*cosine = dot / (sqrt(ng) * sqrt(nw) + 1e-300);
}

/* Integer member of an object (bails out when absent). */
static int
get_int(const EmbedJson *obj, const char *key)
{
	int64_t		v;

	if (!embed_json_get_int(obj, key, &v))
	{
		printf("Bail out! fixture lacks integer \"%s\"\n", key);
		exit(1);
	}
	return (int) v;
}

/* The writer's spec of the fixture's safetensors file (bails out when malformed). */
static BertSpec
writer_spec(const EmbedJson *fx)
{
	static const char *const arch_names[] = {"bert", "roberta", "distilbert", "gpt2"};	/* BwArch order */
	const EmbedJson *w = embed_json_get(fx, "writer");
	const char *arch = w ? embed_json_get_string(w, "arch") : NULL;
	BertSpec	spec = {0};
	bool		b;
	size_t		i;

	for (i = 0; arch && i < sizeof(arch_names) / sizeof(arch_names[0]); i++)
		if (strcmp(arch, arch_names[i]) == 0)
			break;
	if (arch == NULL || i == sizeof(arch_names) / sizeof(arch_names[0]))
	{
		printf("Bail out! fixture lacks a known \"writer\".\"arch\"\n");
		exit(1);
	}
	spec.arch = (BwArch) i;
	spec.hidden = get_int(w, "hidden");
	spec.layers = get_int(w, "layers");
	spec.heads = get_int(w, "heads");
	spec.intermediate = get_int(w, "intermediate");
	spec.vocab = get_int(w, "vocab");
	spec.max_positions = get_int(w, "max_positions");
	spec.type_vocab = get_int(w, "type_vocab");
	spec.prefix = embed_json_get_string(w, "prefix");
	spec.with_pooler = embed_json_get_bool(w, "with_pooler", &b) && b;
	spec.with_position_ids = embed_json_get_bool(w, "with_position_ids", &b) && b;
	spec.dtype = "F32";
	return spec;
}

/* Write the fixture's model folder into dir; returns false on failure. */
static bool
build_model(const EmbedJson *fx, const char *dir, const char *shared)
{
	const EmbedJson *files = embed_json_get(fx, "files");
	const char *header_name = embed_json_get_string(fx, "header");
	char		path[4200];
	BertSpec	spec = writer_spec(fx);
	char	   *header = NULL;
	size_t		hlen = 0;
	int64_t		seed;
	bool		okay;

	for (size_t i = 0; i < files->len; i++)
		if (!bw_write_text(dir, files->keys[i], files->items[i].str))
			return false;

	if (header_name != NULL && shared != NULL)
	{
		snprintf(path, sizeof(path), "%s/models/%s/model.safetensors.header.json", shared, header_name);
		header = slurp(path, &hlen, true);
		if (header)
			diag("%s: using the exact safetensors header of %s (%zu bytes)",
				 embed_json_get_string(fx, "name"), header_name, hlen);
	}
	if (header == NULL)
		header = bw_header(&spec, 0, &hlen);
	if (!embed_json_get_int(fx, "seed", &seed))
		return false;
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	okay = bw_write_safetensors(path, header, hlen, (uint64_t) seed, NULL);
	free(header);
	return okay;
}

/* The batch of the fixture as flat arrays. */
typedef struct Batch
{
	int			batch,
				seq;
	int32_t    *ids,
			   *types,
			   *lengths;
} Batch;

static Batch
read_batch(const EmbedJson *fx)
{
	Batch		in;
	const EmbedJson *ids = embed_json_get(fx, "ids");
	const EmbedJson *types = embed_json_get(fx, "type_ids");
	const EmbedJson *lengths = embed_json_get(fx, "lengths");

	in.batch = get_int(fx, "batch");
	in.seq = get_int(fx, "seq");
	in.ids = calloc((size_t) in.batch * in.seq, sizeof(int32_t));
	in.types = calloc((size_t) in.batch * in.seq, sizeof(int32_t));
	in.lengths = calloc(in.batch, sizeof(int32_t));
	for (int b = 0; b < in.batch; b++)
	{
		in.lengths[b] = (int32_t) lengths->items[b].integer;
		for (int i = 0; i < in.seq; i++)
		{
			in.ids[b * in.seq + i] = (int32_t) ids->items[b].items[i].integer;
			in.types[b * in.seq + i] = (int32_t) types->items[b].items[i].integer;
		}
	}
	return in;
}

/* Forward on a pool (NULL: the calling thread) with a fresh workspace; false on error. */
static bool
forward_on(EmbedThreadPool *pool, const EmbedModel *m, const int32_t *ids, const int32_t *types,
		   const int32_t *lengths, int batch, int seq, float *out)
{
	size_t		bytes;
	void	   *ws;
	char		err[256];
	EmbedStatus st;

	if (!embed_forward_workspace_size(m, batch, seq, embed_thread_pool_threads(pool), &bytes))
		return false;
	ws = malloc(bytes);
	st = embed_forward(m, pool, ids, types, lengths, batch, seq, out, ws, NULL, NULL, err, sizeof(err));
	free(ws);
	if (st != EMBED_OK)
		diag("forward: %s", err);
	return st == EMBED_OK;
}

/* Forward on the calling thread. */
static bool
forward(const EmbedModel *m, const int32_t *ids, const int32_t *types, const int32_t *lengths,
		int batch, int seq, float *out)
{
	return forward_on(NULL, m, ids, types, lengths, batch, seq, out);
}

/*
 * GPT-2: logits of the tied LM head (hidden x wte^T) for the fixture's
 * vocabulary ids at every checked token, against the reference's.
 */
static void
check_logits(const EmbedModel *m, const EmbedJson *fx, const float *hidden, int seq, const char *name)
{
	const EmbedJson *ids = embed_json_get(fx, "logit_ids");
	const EmbedJson *want = embed_json_get(fx, "logits");
	const EmbedJson *check = embed_json_get(fx, "check_tokens");
	const float *wte = embed_model_gpt2_weights(m)->token_embeddings;
	int			H = embed_model_info(m)->hidden;
	double		worst = 0.0;
	bool		all_ok = true;

	for (size_t r = 0; r < check->len; r++)
	{
		const float *row = hidden + ((size_t) check->items[r].items[0].integer * seq +
									 (size_t) check->items[r].items[1].integer) * H;

		for (size_t j = 0; j < ids->len; j++)
		{
			float		logit;
			double		d;

			embed_matmul_naive(1, 1, H, row, wte + (size_t) ids->items[j].integer * H, NULL, &logit);
			d = fabs(logit - want->items[r].items[j].number);
			worst = fmax(worst, d);
			all_ok = all_ok && d <= ABS_TOL;
		}
	}
	ok(all_ok, "%s: %zu logits of the tied LM head within %g", name, check->len * ids->len, ABS_TOL);
	diag("%s logits: max abs diff %.3g", name, worst);
}

static void
run_fixture(const char *file, const char *shared, const char *root)
{
	size_t		len;
	char	   *text = slurp(file, &len, false);
	char		err[512];
	EmbedJson  *fx = embed_json_parse(text, len, err, sizeof(err));
	const char *name;
	char		dir[2048];
	EmbedModel *m;
	const EmbedModelInfo *info;
	Batch		in;
	float	   *hidden,
			   *pooled,
			   *again;
	int			H;
	const EmbedJson *check,
			   *want_hidden,
			   *want_pooled;
	double		worst = 0.0,
				worst_cos = 1.0;
	bool		all_ok = true;
	bool		b;
	EmbedStatus st;

	free(text);
	if (fx == NULL)
	{
		printf("Bail out! %s: %s\n", file, err);
		exit(1);
	}
	name = embed_json_get_string(fx, "name");
	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	mkdir(dir, 0700);
	if (!ok(build_model(fx, dir, shared), "%s: model folder written", name))
		return;
	st = embed_model_load(dir, &m, err, sizeof(err));
	if (!ok(st == EMBED_OK, "%s: model loads", name))
	{
		diag("%s", err);
		return;
	}
	info = embed_model_info(m);
	H = info->hidden;
	ok(info->pooling == (strcmp(embed_json_get_string(fx, "pooling"), "mean") == 0 ? EMBED_POOL_MEAN :
						 strcmp(embed_json_get_string(fx, "pooling"), "cls") == 0 ? EMBED_POOL_CLS : EMBED_POOL_MAX) &&
	   info->normalize == (embed_json_get_bool(fx, "normalize", &b) && b),
	   "%s: pooling and normalisation read from the sentence-transformers files", name);

	in = read_batch(fx);
	hidden = malloc(sizeof(float) * in.batch * in.seq * H);
	again = malloc(sizeof(float) * in.batch * in.seq * H);
	pooled = malloc(sizeof(float) * in.batch * H);
	if (!ok(forward(m, in.ids, in.types, in.lengths, in.batch, in.seq, hidden),
			"%s: forward over a padded batch of %d x %d", name, in.batch, in.seq))
		return;

	check = embed_json_get(fx, "check_tokens");
	want_hidden = embed_json_get(fx, "hidden");
	for (size_t r = 0; r < check->len; r++)
	{
		int			bi = (int) check->items[r].items[0].integer;
		int			ti = (int) check->items[r].items[1].integer;
		double		d,
					c;

		compare_row(hidden + ((size_t) bi * in.seq + ti) * H, &want_hidden->items[r], H, &d, &c);
		worst = fmax(worst, d);
		worst_cos = fmin(worst_cos, c);
		if (d > ABS_TOL || c < COS_MIN)
		{
			all_ok = false;
			diag("sequence %d token %d: max abs diff %.3g, cosine %.9f", bi, ti, d, c);
		}
	}
	ok(all_ok, "%s: %zu per-token hidden states within %g (cosine >= %g)", name, check->len, ABS_TOL, COS_MIN);
	diag("%s hidden: max abs diff %.3g, min cosine %.9f", name, worst, worst_cos);
	if (embed_json_get(fx, "logit_ids") != NULL)
		check_logits(m, fx, hidden, in.seq, name);

	embed_model_pool(m, hidden, in.lengths, in.batch, in.seq, pooled);
	want_pooled = embed_json_get(fx, "pooled");
	all_ok = true;
	worst = 0.0;
	worst_cos = 1.0;
	for (int bi = 0; bi < in.batch; bi++)
	{
		double		d,
					c;

		compare_row(pooled + (size_t) bi * H, &want_pooled->items[bi], H, &d, &c);
		worst = fmax(worst, d);
		worst_cos = fmin(worst_cos, c);
		if (d > ABS_TOL || c < COS_MIN)
			all_ok = false;
	}
	ok(all_ok, "%s: %d pooled embeddings within %g (cosine >= %g)", name, in.batch, ABS_TOL, COS_MIN);
	diag("%s pooled: max abs diff %.3g, min cosine %.9f", name, worst, worst_cos);

	/* the portable (non-AVX2) kernels must meet the same tolerance */
	if (embed_kernels_simd_available())
	{
		embed_kernels_use_simd(false);
		forward(m, in.ids, in.types, in.lengths, in.batch, in.seq, again);
		embed_kernels_use_simd(true);
		all_ok = true;
		worst = 0.0;
		for (size_t r = 0; r < check->len; r++)
		{
			int			bi = (int) check->items[r].items[0].integer;
			int			ti = (int) check->items[r].items[1].integer;
			double		d,
						c;

			compare_row(again + ((size_t) bi * in.seq + ti) * H, &want_hidden->items[r], H, &d, &c);
			worst = fmax(worst, d);
			all_ok = all_ok && d <= ABS_TOL && c >= COS_MIN;
		}
		ok(all_ok, "%s: portable kernels: hidden states within %g too (max diff %.3g)", name, ABS_TOL, worst);
	}

	/* each sequence alone, unpadded */
	{
		bool		identical = true;
		double		max_diff = 0.0;

		for (int bi = 0; bi < in.batch; bi++)
		{
			int			n = in.lengths[bi];
			float	   *alone = malloc(sizeof(float) * n * H);
			const float *inside = hidden + (size_t) bi * in.seq * H;

			forward(m, in.ids + bi * in.seq, in.types + bi * in.seq, &in.lengths[bi], 1, n, alone);
			identical = identical && memcmp(alone, inside, sizeof(float) * n * H) == 0;
			for (size_t k = 0; k < (size_t) n * H; k++)
				max_diff = fmax(max_diff, fabs(alone[k] - inside[k]));
			free(alone);
		}
		ok(max_diff <= 1e-5, "%s: each sequence run alone matches its row of the padded batch (max diff %.3g)",
		   name, max_diff);
		diag("%s: alone vs in batch: %s", name, identical ? "bit-identical" : "not bit-identical");
	}

	/* repeated run: bit-identical */
	forward(m, in.ids, in.types, in.lengths, in.batch, in.seq, again);
	ok(memcmp(hidden, again, sizeof(float) * in.batch * in.seq * H) == 0,
	   "%s: a second run with the same batch and thread count is bit-identical", name);

	/* thread count: a 2-thread pool gives the same bits (even if OpenBLAS was set to 2) */
	{
		EmbedThreadPool *pool = embed_thread_pool_create(2);

		openblas_set_num_threads(2);
		memset(again, 0, sizeof(float) * in.batch * in.seq * H);
		ok(pool != NULL && forward_on(pool, m, in.ids, in.types, in.lengths, in.batch, in.seq, again) &&
		   memcmp(hidden, again, sizeof(float) * in.batch * in.seq * H) == 0,
		   "%s: a 2-thread pool gives bit-identical results", name);
		ok(openblas_get_num_threads() == 1, "%s: the forward pass set OpenBLAS to one thread", name);
		embed_thread_pool_destroy(pool);
	}

	free(hidden);
	free(again);
	free(pooled);
	free(in.ids);
	free(in.types);
	free(in.lengths);
	embed_model_free(m);
	embed_json_free(fx);
	bw_remove_tree(dir);		/* the weights take up to 500 MB */
}

int
main(void)
{
	static const char *const fixtures[] = {"minilm", "cls256", "tanh-max", "distilbert", "distilroberta",
	"gpt2-small"};
	const char *env = getenv("EMBED_SHARED_DIR");
	char		shared[4096];
	const char *shared_or_null = NULL;
	struct stat sb;
	char	   *root = bw_tempdir();

	snprintf(shared, sizeof(shared), "%s", env && *env ? env : "../shared");
	if (stat(shared, &sb) == 0 && S_ISDIR(sb.st_mode))
		shared_or_null = shared;
	else
		diag("../shared not found: building safetensors headers from the configs");
	if (root == NULL)
	{
		printf("Bail out! cannot create a temporary directory\n");
		return 1;
	}
	diag("OpenBLAS: %s", openblas_get_config());
	openblas_set_num_threads(1);
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
	{
		char		file[256];

		snprintf(file, sizeof(file), "test/fixtures/parity/%s.json", fixtures[i]);
		run_fixture(file, shared_or_null, root);
	}
	bw_remove_tree(root);
	free(root);
	return tap_done();
}
