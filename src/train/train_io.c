/*
 * train_io.c: checkpoint files and the exported sentence-transformers folder.
 *
 * Checkpoint layout (little-endian): "EMBCK001", the 8 configuration
 * fields, nparams, step, the sampler's seed and random state, the number
 * of sources, then per source its name[64], pair count, epoch and cursor,
 * then parameters, first and second Adam moments (nparams float32 each).
 */
#include "train_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CKPT_MAGIC "EMBCK001"

static bool
write_all(FILE *f, const void *p, size_t n)
{
	return fwrite(p, 1, n, f) == n;
}

static bool
read_all(FILE *f, void *p, size_t n)
{
	return fread(p, 1, n, f) == n;
}

static void
config_fields(const EmbedTrainConfig *c, int32_t out[8])
{
	out[0] = c->vocab;
	out[1] = c->hidden;
	out[2] = c->layers;
	out[3] = c->heads;
	out[4] = c->intermediate;
	out[5] = c->max_positions;
	out[6] = c->type_vocab;
	memcpy(&out[7], &c->ln_eps, sizeof(float));
}

bool
embed_train_checkpoint_save(const char *path, const EmbedTrainModel *m, int64_t step,
							const EmbedTrainData *d, char *err, size_t errlen)
{
	char		tmp[4200];
	FILE	   *f;
	int32_t		cfg[8];
	int64_t		np = (int64_t) m->nparams;
	int32_t		ns = d->nsources;
	bool		ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "wb")) == NULL)
	{
		snprintf(err, errlen, "could not create \"%s\": %s", tmp, strerror(errno));
		return false;
	}
	config_fields(&m->cfg, cfg);
	ok = write_all(f, CKPT_MAGIC, 8) && write_all(f, cfg, sizeof(cfg)) &&
		write_all(f, &np, 8) && write_all(f, &step, 8) &&
		write_all(f, &d->seed, 8) && write_all(f, &d->rng, 8) && write_all(f, &ns, 4);
	for (int s = 0; ok && s < d->nsources; s++)
	{
		const EmbedTrainSource *src = &d->sources[s];
		int64_t		n = src->npairs;

		ok = write_all(f, src->name, 64) && write_all(f, &n, 8) &&
			write_all(f, &src->epoch, 8) && write_all(f, &src->cursor, 8);
	}
	ok = ok && write_all(f, m->params, sizeof(float) * m->nparams) &&
		write_all(f, m->adam_m, sizeof(float) * m->nparams) &&
		write_all(f, m->adam_v, sizeof(float) * m->nparams);
	ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) != 0)
	{
		snprintf(err, errlen, "could not write checkpoint \"%s\": %s", path, strerror(errno));
		unlink(tmp);
		return false;
	}
	return true;
}

bool
embed_train_checkpoint_load(const char *path, EmbedTrainModel *m, int64_t *step,
							EmbedTrainData *d, char *err, size_t errlen)
{
	FILE	   *f = fopen(path, "rb");
	char		magic[8];
	int32_t		cfg[8],
				want[8],
				ns;
	int64_t		np;
	uint64_t	seed,
				rng;
	bool		ok;

	if (f == NULL)
	{
		snprintf(err, errlen, "could not open checkpoint \"%s\": %s", path, strerror(errno));
		return false;
	}
	config_fields(&m->cfg, want);
	ok = read_all(f, magic, 8) && memcmp(magic, CKPT_MAGIC, 8) == 0 &&
		read_all(f, cfg, sizeof(cfg)) && read_all(f, &np, 8) && read_all(f, step, 8) &&
		read_all(f, &seed, 8) && read_all(f, &rng, 8) && read_all(f, &ns, 4);
	if (!ok)
	{
		snprintf(err, errlen, "\"%s\" is not a checkpoint", path);
		fclose(f);
		return false;
	}
	if (memcmp(cfg, want, sizeof(cfg)) != 0 || np != (int64_t) m->nparams)
	{
		snprintf(err, errlen, "\"%s\": the model configuration differs from this run's", path);
		fclose(f);
		return false;
	}
	if (ns != d->nsources || seed != d->seed)
	{
		snprintf(err, errlen, "\"%s\": the data sources or the seed differ from this run's", path);
		fclose(f);
		return false;
	}
	d->rng = rng;
	for (int s = 0; s < ns; s++)
	{
		EmbedTrainSource *src = &d->sources[s];
		char		name[64];
		int64_t		n;

		if (!read_all(f, name, 64) || !read_all(f, &n, 8) ||
			!read_all(f, &src->epoch, 8) || !read_all(f, &src->cursor, 8) ||
			strncmp(name, src->name, 64) != 0 || n != src->npairs)
		{
			snprintf(err, errlen, "\"%s\": source %d differs from this run's (%.64s)", path, s, src->name);
			fclose(f);
			return false;
		}
	}
	ok = read_all(f, m->params, sizeof(float) * m->nparams) &&
		read_all(f, m->adam_m, sizeof(float) * m->nparams) &&
		read_all(f, m->adam_v, sizeof(float) * m->nparams);
	fclose(f);
	if (!ok)
	{
		snprintf(err, errlen, "\"%s\" is truncated", path);
		return false;
	}
	embed_train_data_reset_orders(d);
	return true;
}

/* Write text to dir/rel. */
static bool
write_text(const char *dir, const char *rel, const char *text, char *err, size_t errlen)
{
	char		path[4200];
	FILE	   *f;
	bool		ok;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if ((f = fopen(path, "w")) == NULL)
	{
		snprintf(err, errlen, "could not create \"%s\": %s", path, strerror(errno));
		return false;
	}
	ok = fputs(text, f) >= 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok)
		snprintf(err, errlen, "could not write \"%s\"", path);
	return ok;
}

/* Copy src_dir/name to dir/name. */
static bool
copy_file(const char *src_dir, const char *dir, const char *name, char *err, size_t errlen)
{
	char		from[4200],
				to[4200],
				buf[65536];
	FILE	   *in,
			   *out;
	size_t		n;
	bool		ok = true;

	snprintf(from, sizeof(from), "%s/%s", src_dir, name);
	snprintf(to, sizeof(to), "%s/%s", dir, name);
	if ((in = fopen(from, "rb")) == NULL)
	{
		snprintf(err, errlen, "could not open \"%s\": %s", from, strerror(errno));
		return false;
	}
	if ((out = fopen(to, "wb")) == NULL)
	{
		snprintf(err, errlen, "could not create \"%s\": %s", to, strerror(errno));
		fclose(in);
		return false;
	}
	while (ok && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		ok = fwrite(buf, 1, n, out) == n;
	fclose(in);
	ok = (fclose(out) == 0) && ok;
	if (!ok)
		snprintf(err, errlen, "could not write \"%s\"", to);
	return ok;
}

bool
embed_train_export_folder(const EmbedTrainModel *m, const char *vocab_dir, const char *dir,
						  int max_seq_length, char *err, size_t errlen)
{
	char		text[2048],
				sub[4200];

	mkdir(dir, 0755);
	snprintf(sub, sizeof(sub), "%s/1_Pooling", dir);
	mkdir(sub, 0755);
	snprintf(sub, sizeof(sub), "%s/2_Normalize", dir);
	mkdir(sub, 0755);
	if (!embed_train_export_weights(m, dir, err, errlen) ||
		!copy_file(vocab_dir, dir, "vocab.txt", err, errlen) ||
		!copy_file(vocab_dir, dir, "tokenizer_config.json", err, errlen))
		return false;
	if (!write_text(dir, "special_tokens_map.json",
					"{\n  \"cls_token\": \"[CLS]\",\n  \"mask_token\": \"[MASK]\",\n"
					"  \"pad_token\": \"[PAD]\",\n  \"sep_token\": \"[SEP]\",\n"
					"  \"unk_token\": \"[UNK]\"\n}\n", err, errlen) ||
		!write_text(dir, "modules.json",
					"[\n"
					"  {\"idx\": 0, \"name\": \"0\", \"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},\n"
					"  {\"idx\": 1, \"name\": \"1\", \"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"},\n"
					"  {\"idx\": 2, \"name\": \"2\", \"path\": \"2_Normalize\", \"type\": \"sentence_transformers.models.Normalize\"}\n"
					"]\n", err, errlen) ||
		!write_text(dir, "config_sentence_transformers.json",
					"{\n  \"__version__\": {\"sentence_transformers\": \"2.2.2\"},\n"
					"  \"prompts\": {},\n  \"default_prompt_name\": null,\n"
					"  \"similarity_fn_name\": \"cosine\"\n}\n", err, errlen))
		return false;
	snprintf(text, sizeof(text),
			 "{\n  \"word_embedding_dimension\": %d,\n  \"pooling_mode_cls_token\": false,\n"
			 "  \"pooling_mode_mean_tokens\": true,\n  \"pooling_mode_max_tokens\": false,\n"
			 "  \"pooling_mode_mean_sqrt_len_tokens\": false\n}\n", m->cfg.hidden);
	if (!write_text(dir, "1_Pooling/config.json", text, err, errlen))
		return false;
	snprintf(text, sizeof(text), "{\n  \"max_seq_length\": %d,\n  \"do_lower_case\": false\n}\n",
			 max_seq_length);
	return write_text(dir, "sentence_bert_config.json", text, err, errlen);
}
