/*
 * test_default_model.c: the shipped default model weights/embed-small-en
 * loads with the engine (loader, tokenizer, forward pass, pooling) and its
 * embeddings mean something: a paraphrase is closer than an unrelated
 * sentence, for a few hand-picked triplets.  Skipped when the folder is
 * absent (run from the top of the source tree).
 */
#include <math.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "bert.h"
#include "model.h"
#include "tap.h"
#include "tokenizer.h"

#define MODEL_DIR "weights/embed-small-en"

static const char *const triplets[][3] = {
	{"I love ice cream", "I enjoy eating ice cream", "The stock market fell sharply"},
	{"A man is playing a guitar", "Someone plays the guitar", "The weather is cold today"},
	{"How do I reset my password?", "I forgot my password", "A dog is running in the park"},
	{"The server ran out of memory", "The machine exhausted its RAM", "She sang a song at the wedding"},
};

/* Embed n texts into out[n, hidden] with the engine; false on error. */
static bool
embed_texts(EmbedModel *m, EmbedTokenizer *tok, const char *const *texts, int n, float *out)
{
	const EmbedModelInfo *info = embed_model_info(m);
	int			seq = info->max_tokens;
	int32_t    *ids = calloc((size_t) n * seq, sizeof(int32_t));
	int32_t		lengths[8];
	float	   *hidden = calloc((size_t) n * seq * info->hidden, sizeof(float));
	size_t		bytes;
	void	   *ws;
	char		err[512];
	bool		good = true;

	for (int i = 0; i < n; i++)
		lengths[i] = embed_tokenizer_encode(tok, texts[i], strlen(texts[i]), ids + (size_t) i * seq, seq,
											NULL, err, sizeof(err));
	embed_bert_workspace_size(m, n, seq, 1, &bytes);
	ws = aligned_alloc(64, (bytes + 63) / 64 * 64);
	if (embed_bert_forward(m, NULL, ids, NULL, lengths, n, seq, hidden, ws, NULL, NULL,
						   err, sizeof(err)) != EMBED_OK)
	{
		diag("%s", err);
		good = false;
	}
	else
		embed_model_pool(m, hidden, lengths, n, seq, out);
	free(ws);
	free(ids);
	free(hidden);
	return good;
}

static double
dot(const float *a, const float *b, int n)
{
	double		s = 0;

	for (int i = 0; i < n; i++)
		s += (double) a[i] * b[i];
	return s;
}

int
main(void)
{
	EmbedModel *m = NULL;
	EmbedTokenizer *tok;
	char		err[1024];
	const EmbedModelInfo *info;

	if (access(MODEL_DIR "/config.json", R_OK) != 0)
		skip_all("no " MODEL_DIR " here (run from the top of the source tree)");
	if (!ok(embed_model_load(MODEL_DIR, &m, err, sizeof(err)) == EMBED_OK, "the default model loads"))
	{
		diag("%s", err);
		return tap_done();
	}
	tok = embed_tokenizer_load(MODEL_DIR, err, sizeof(err));
	if (!ok(tok != NULL, "its tokenizer loads"))
	{
		diag("%s", err);
		return tap_done();
	}
	info = embed_model_info(m);
	ok(info->pooling == EMBED_POOL_MEAN && info->normalize, "mean pooling and L2 normalisation");
	ok(info->file_bytes <= 32 * 1024 * 1024, "weights fit in 32 MB (%lld bytes)", (long long) info->file_bytes);
	ok(embed_tokenizer_vocab_size(tok) == info->vocab_size, "tokenizer and model agree on the vocabulary size");

	for (size_t t = 0; t < sizeof(triplets) / sizeof(triplets[0]); t++)
	{
		float	   *v = malloc(sizeof(float) * 3 * info->hidden);
		double		near,
					far;

		if (!embed_texts(m, tok, triplets[t], 3, v))
		{
			ok(0, "embedding \"%s\"", triplets[t][0]);
			free(v);
			continue;
		}
		is_close(dot(v, v, info->hidden), 1.0, 1e-4, "embeddings have unit norm");
		near = dot(v, v + info->hidden, info->hidden);
		far = dot(v, v + 2 * info->hidden, info->hidden);
		ok(near > far, "\"%s\": \"%s\" (%.3f) is closer than \"%s\" (%.3f)", triplets[t][0],
		   triplets[t][1], near, triplets[t][2], far);
		free(v);
	}
	embed_tokenizer_free(tok);
	embed_model_free(m);
	return tap_done();
}
