/*
 * train_data.c: loading and tokenising pairs files, and the per-source
 * batch sampler described in train_data.h.
 */
#include "train_data.h"
#include "train_rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

EmbedTrainData *
embed_train_data_new(int max_len, uint64_t seed)
{
	EmbedTrainData *d = calloc(1, sizeof(EmbedTrainData));

	if (d == NULL)
		return NULL;
	d->max_len = max_len;
	d->seed = seed;
	d->rng = seed ^ UINT64_C(0xD1B54A32D192ED03);
	return d;
}

void
embed_train_data_free(EmbedTrainData *d)
{
	if (d == NULL)
		return;
	for (int s = 0; s < d->nsources; s++)
	{
		free(d->sources[s].anchor);
		free(d->sources[s].positive);
		free(d->sources[s].negative);
		free(d->sources[s].order);
	}
	free(d->text_off);
	free(d->text_len);
	free(d->text_hash);
	free(d->ids);
	free(d);
}

/*
 * Make room for need elements in up to three parallel arrays sharing one
 * capacity (*cap, doubled as needed); p2 and p3 may be NULL.
 */
static bool
grow(void **p1, size_t e1, void **p2, size_t e2, void **p3, size_t e3, int64_t *cap, int64_t need)
{
	int64_t		ncap = *cap > 0 ? *cap : 4096;
	void	  **arr[3] = {p1, p2, p3};
	size_t		elem[3] = {e1, e2, e3};

	if (need <= *cap)
		return true;
	while (ncap < need)
		ncap *= 2;
	for (int i = 0; i < 3; i++)
	{
		void	   *n;

		if (arr[i] == NULL)
			continue;
		if ((n = realloc(*arr[i], elem[i] * ncap)) == NULL)
			return false;
		*arr[i] = n;
	}
	*cap = ncap;
	return true;
}

int64_t
embed_train_data_add_text(EmbedTrainData *d, const EmbedTokenizer *tok, const char *text, size_t len)
{
	int32_t		buf[1024];
	char		err[256];
	int			n;
	uint64_t	h = UINT64_C(0xCBF29CE484222325);

	n = embed_tokenizer_encode(tok, text, len, buf, d->max_len < 1024 ? d->max_len : 1024,
							   NULL, err, sizeof(err));
	if (n < 1)
		return -2;
	if (!grow((void **) &d->text_off, sizeof(int64_t), (void **) &d->text_len, sizeof(int32_t),
			  (void **) &d->text_hash, sizeof(uint64_t), &d->cap_texts, d->ntexts + 1) ||
		!grow((void **) &d->ids, sizeof(int32_t), NULL, 0, NULL, 0, &d->cap_ids, d->nids + n))
		return -1;
	memcpy(d->ids + d->nids, buf, sizeof(int32_t) * n);
	for (int i = 0; i < n; i++)
	{
		h ^= (uint32_t) buf[i];
		h *= UINT64_C(0x100000001B3);
	}
	d->text_off[d->ntexts] = d->nids;
	d->text_len[d->ntexts] = n;
	d->text_hash[d->ntexts] = h;
	d->nids += n;
	return d->ntexts++;
}

bool
embed_train_data_add_source(EmbedTrainData *d, const EmbedTokenizer *tok, const char *path,
							const char *name, double weight, char *err, size_t errlen)
{
	FILE	   *f;
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	EmbedTrainSource *s;
	int64_t		cap_pairs = 0;

	if (d->nsources >= EMBED_TRAIN_MAX_SOURCES)
	{
		snprintf(err, errlen, "too many sources (at most %d)", EMBED_TRAIN_MAX_SOURCES);
		return false;
	}
	if ((f = fopen(path, "r")) == NULL)
	{
		snprintf(err, errlen, "could not open \"%s\"", path);
		return false;
	}
	s = &d->sources[d->nsources];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->weight = weight;
	while ((len = getline(&line, &cap, f)) >= 0)
	{
		char	   *field[3];
		int			nf = 0;
		char	   *p = line;
		int64_t		t[3] = {-1, -1, -1};

		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		field[nf++] = p;
		while (nf < 3 && (p = strchr(p, '\t')) != NULL)
		{
			*p++ = '\0';
			field[nf++] = p;
		}
		if (nf < 2 || field[0][0] == '\0' || field[1][0] == '\0')
			continue;
		for (int k = 0; k < nf; k++)
			if (k < 2 || field[k][0] != '\0')
				t[k] = embed_train_data_add_text(d, tok, field[k], strlen(field[k]));
		if (t[0] == -2 || t[1] == -2)
			continue;			/* a text the tokenizer refused: skip the pair */
		if (t[2] == -2)
			t[2] = -1;
		if (t[0] < 0 || t[1] < 0 || t[2] < -1 ||
			!grow((void **) &s->anchor, sizeof(int32_t), (void **) &s->positive, sizeof(int32_t),
				  (void **) &s->negative, sizeof(int32_t), &cap_pairs, s->npairs + 1))
		{
			snprintf(err, errlen, "out of memory reading \"%s\"", path);
			fclose(f);
			free(line);
			return false;
		}
		s->anchor[s->npairs] = (int32_t) t[0];
		s->positive[s->npairs] = (int32_t) t[1];
		s->negative[s->npairs] = (int32_t) t[2];
		s->npairs++;
	}
	free(line);
	fclose(f);
	if ((s->order = malloc(sizeof(int32_t) * (s->npairs > 0 ? s->npairs : 1))) == NULL)
	{
		snprintf(err, errlen, "out of memory reading \"%s\"", path);
		return false;
	}
	d->nsources++;
	embed_train_data_reset_orders(d);
	return true;
}

/* Fisher-Yates shuffle of source s for its current epoch, seeded by (seed, s, epoch). */
static void
shuffle_source(const EmbedTrainData *d, int s)
{
	EmbedTrainSource *src = (EmbedTrainSource *) &d->sources[s];
	uint64_t	rng = d->seed ^ (UINT64_C(0x9E3779B97F4A7C15) * (uint64_t) (s + 1)) ^
		(UINT64_C(0xC2B2AE3D27D4EB4F) * (uint64_t) (src->epoch + 1));

	for (int i = 0; i < src->npairs; i++)
		src->order[i] = i;
	for (int i = src->npairs - 1; i > 0; i--)
	{
		int			j = (int) embed_rng_below(&rng, (uint64_t) i + 1);
		int32_t		t = src->order[i];

		src->order[i] = src->order[j];
		src->order[j] = t;
	}
}

void
embed_train_data_reset_orders(EmbedTrainData *d)
{
	for (int s = 0; s < d->nsources; s++)
		shuffle_source(d, s);
}

/* Append text t to the batch's packed arrays. */
static void
push_text(const EmbedTrainData *d, EmbedTrainBatch *b, int32_t t)
{
	memcpy(b->ids + b->ntok, d->ids + d->text_off[t], sizeof(int32_t) * d->text_len[t]);
	b->lengths[b->nseq] = d->text_len[t];
	b->hashes[b->nseq] = d->text_hash[t];
	b->ntok += d->text_len[t];
	b->nseq++;
}

void
embed_train_data_next(EmbedTrainData *d, int B, EmbedTrainBatch *b)
{
	double		total = 0,
				r;
	int			s = 0;
	EmbedTrainSource *src;
	int32_t		picked[4096];

	for (int i = 0; i < d->nsources; i++)
		if (d->sources[i].npairs >= B)
			total += d->sources[i].weight;
	r = embed_rng_uniform(&d->rng) * total;
	for (s = 0; s < d->nsources; s++)
	{
		if (d->sources[s].npairs < B || d->sources[s].weight <= 0)
			continue;
		if (r < d->sources[s].weight)
			break;
		r -= d->sources[s].weight;
	}
	if (s == d->nsources)		/* rounding at the top end: the last eligible source */
		for (s = d->nsources - 1; s > 0; s--)
			if (d->sources[s].npairs >= B && d->sources[s].weight > 0)
				break;
	src = &d->sources[s];
	if (src->cursor + B > src->npairs)
	{
		src->epoch++;
		src->cursor = 0;
		shuffle_source(d, s);
	}
	for (int i = 0; i < B && i < 4096; i++)
		picked[i] = src->order[src->cursor + i];
	src->cursor += B;

	b->source = s;
	b->B = B;
	b->nneg = 0;
	b->nseq = 0;
	b->ntok = 0;
	for (int i = 0; i < B; i++)
		push_text(d, b, src->anchor[picked[i]]);
	for (int i = 0; i < B; i++)
		push_text(d, b, src->positive[picked[i]]);
	for (int i = 0; i < B; i++)
		if (src->negative[picked[i]] >= 0)
		{
			push_text(d, b, src->negative[picked[i]]);
			b->nneg++;
		}
}

EmbedTrainBatch *
embed_train_batch_new(int B, int max_len)
{
	EmbedTrainBatch *b = calloc(1, sizeof(EmbedTrainBatch));

	if (b == NULL)
		return NULL;
	b->ids = malloc(sizeof(int32_t) * 3 * (size_t) B * max_len);
	b->lengths = malloc(sizeof(int32_t) * 3 * B);
	b->hashes = malloc(sizeof(uint64_t) * 3 * B);
	if (!b->ids || !b->lengths || !b->hashes)
	{
		embed_train_batch_free(b);
		return NULL;
	}
	return b;
}

void
embed_train_batch_free(EmbedTrainBatch *b)
{
	if (b == NULL)
		return;
	free(b->ids);
	free(b->lengths);
	free(b->hashes);
	free(b);
}
