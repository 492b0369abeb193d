/*
 * test_train_export.c: a model folder written by the trainer loads with the
 * engine's loader and tokenizer, and the engine computes the same sentence
 * embeddings as the trainer's own forward pass; a checkpoint restores
 * parameters, Adam moments, step and sampler state exactly.
 */
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bert.h"
#include "model.h"
#include "tap.h"
#include "tokenizer.h"
#include "train_data.h"
#include "train_io.h"
#include "train_model.h"
#include "train_rng.h"

static const char *const words[] = {"the", "cat", "dog", "sat", "on", "mat", "a", "ran", "fast", "slow",
"red", "blue", "##s", "##ed", "big", "small"};

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

int
main(void)
{
	char		tmpl[] = "/tmp/embed-train-export-XXXXXX";
	char	   *root = mkdtemp(tmpl);
	char		vocab_dir[512],
				out_dir[512],
				pairs[512],
				ckpt[512],
				err[1024];
	FILE	   *f;
	EmbedTrainConfig cfg = {.hidden = 16, .layers = 2, .heads = 4, .intermediate = 32,
	.max_positions = 32, .type_vocab = 2, .ln_eps = 1e-12f};
	EmbedTrainModel *m,
			   *m2;
	EmbedTrainActs *acts;
	EmbedTokenizer *tok;
	EmbedModel *em = NULL;
	const char *texts[3] = {"the cat sat on the mat", "a big dog ran fast", "red"};
	int32_t		ids[3 * 32],
				packed[3 * 32],
				lengths[3];
	int			ntok = 0,
				seq = 0;
	uint64_t	rng = 99;

	if (root == NULL)
		skip_all("cannot create a temporary directory");
	snprintf(vocab_dir, sizeof(vocab_dir), "%s/vocab", root);
	snprintf(out_dir, sizeof(out_dir), "%s/model", root);
	mkdir(vocab_dir, 0755);
	f = fopen(strcat(strcpy(err, vocab_dir), "/vocab.txt"), "w");
	fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", f);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		fprintf(f, "%s\n", words[i]);
	fclose(f);
	write_file(vocab_dir, "tokenizer_config.json",
			   "{\"tokenizer_class\": \"BertTokenizer\", \"do_lower_case\": true}\n");
	tok = embed_tokenizer_load(vocab_dir, err, sizeof(err));
	ok(tok != NULL, "tokenizer of the test vocabulary loads");
	if (tok == NULL)
		return tap_done();
	cfg.vocab = embed_tokenizer_vocab_size(tok);

	m = embed_train_model_new(&cfg);
	embed_train_model_init(m, 5);
	/* move every parameter away from its initial value so that a wrong tensor name shows */
	for (size_t i = 0; i < m->nparams; i++)
		m->params[i] += (float) (0.05 * embed_rng_normal(&rng));
	err[0] = '\0';
	if (!ok(embed_train_export_folder(m, vocab_dir, out_dir, 32, err, sizeof(err)), "export the model folder"))
		diag("%s", err);
	if (!ok(embed_model_load(out_dir, &em, err, sizeof(err)) == EMBED_OK, "the engine loads the folder"))
		diag("%s", err);
	if (em == NULL)
		return tap_done();
	{
		const EmbedModelInfo *info = embed_model_info(em);

		ok(info->hidden == 16 && info->layers == 2 && info->heads == 4 && info->intermediate == 32 &&
		   info->vocab_size == cfg.vocab && info->max_positions == 32,
		   "config.json round-trips the architecture");
		ok(info->pooling == EMBED_POOL_MEAN && info->normalize && info->sentence_transformers,
		   "modules.json: mean pooling then Normalize");
		ok(info->max_tokens == 32, "sentence_bert_config.json max_seq_length is used");
	}

	/* same texts through the trainer and through the engine */
	for (int i = 0; i < 3; i++)
	{
		lengths[i] = embed_tokenizer_encode(tok, texts[i], strlen(texts[i]), packed + ntok, 32,
											NULL, err, sizeof(err));
		ntok += lengths[i];
		if (lengths[i] > seq)
			seq = lengths[i];
	}
	acts = embed_train_acts_new(&cfg, 96, 3, 32);
	embed_train_forward(m, acts, packed, lengths, 3);
	{
		size_t		bytes;
		void	   *ws;
		float	   *hidden = calloc(3 * seq * 16, sizeof(float));
		float		pooled[3 * 16];
		double		worst = 0;
		int			off = 0;

		memset(ids, 0, sizeof(ids));
		for (int i = 0; i < 3; i++)
		{
			memcpy(ids + i * seq, packed + off, sizeof(int32_t) * lengths[i]);
			off += lengths[i];
		}
		embed_bert_workspace_size(em, 3, seq, 1, &bytes);
		ws = aligned_alloc(64, (bytes + 63) / 64 * 64);
		ok(embed_bert_forward(em, NULL, ids, NULL, lengths, 3, seq, hidden, ws, NULL, NULL,
							  err, sizeof(err)) == EMBED_OK, "engine forward runs");
		embed_model_pool(em, hidden, lengths, 3, seq, pooled);
		for (int i = 0; i < 3 * 16; i++)
			worst = fmax(worst, fabs(pooled[i] - acts->out[i]));
		ok(worst < 1e-4, "engine and trainer embeddings agree (max difference %.2e)", worst);
		free(ws);
		free(hidden);
	}

	/* checkpoint round trip, sampler state included */
	snprintf(pairs, sizeof(pairs), "%s/pairs.tsv", root);
	write_file(root, "pairs.tsv",
			   "the cat\ta cat\n" "the dog\ta dog\n" "red mat\tblue mat\tsmall mat\n"
			   "big cat ran\ta cat ran fast\n" "slow dog\tthe dog sat\n");
	snprintf(ckpt, sizeof(ckpt), "%s/checkpoint.bin", root);
	{
		EmbedTrainData *d = embed_train_data_new(16, 7),
				   *d2 = embed_train_data_new(16, 7);
		EmbedTrainBatch *b1 = embed_train_batch_new(2, 16),
				   *b2 = embed_train_batch_new(2, 16);
		int64_t		step = 0;
		bool		same;

		bool		loaded = embed_train_data_add_source(d, tok, pairs, "toy", 1, err, sizeof(err)) &&
			embed_train_data_add_source(d2, tok, pairs, "toy", 1, err, sizeof(err));

		ok(loaded && d->sources[0].npairs == 5 && d->sources[0].negative[2] >= 0 &&
		   d->sources[0].negative[0] < 0, "pairs file loads: 5 pairs, one hard negative");
		for (int i = 0; i < 5; i++)
			embed_train_data_next(d, 2, b1);
		for (size_t i = 0; i < m->nparams; i++)
		{
			m->adam_m[i] = (float) i;
			m->adam_v[i] = (float) (2 * i);
		}
		if (!ok(embed_train_checkpoint_save(ckpt, m, 1234, d, err, sizeof(err)), "checkpoint saved"))
			diag("%s", err);
		m2 = embed_train_model_new(&cfg);
		if (!ok(embed_train_checkpoint_load(ckpt, m2, &step, d2, err, sizeof(err)), "checkpoint loads"))
			diag("%s", err);
		ok(step == 1234 && memcmp(m->params, m2->params, sizeof(float) * m->nparams) == 0 &&
		   memcmp(m->adam_m, m2->adam_m, sizeof(float) * m->nparams) == 0 &&
		   memcmp(m->adam_v, m2->adam_v, sizeof(float) * m->nparams) == 0,
		   "step, parameters and Adam moments are restored exactly");
		embed_train_data_next(d, 2, b1);
		embed_train_data_next(d2, 2, b2);
		same = b1->ntok == b2->ntok && b1->nseq == b2->nseq &&
			memcmp(b1->ids, b2->ids, sizeof(int32_t) * b1->ntok) == 0;
		ok(same, "the restored sampler draws the same next batch");
		cfg.hidden = 32;
		embed_train_model_free(m2);
		m2 = embed_train_model_new(&cfg);
		ok(!embed_train_checkpoint_load(ckpt, m2, &step, d2, err, sizeof(err)) &&
		   strstr(err, "configuration") != NULL, "a checkpoint of another architecture is refused");
		embed_train_model_free(m2);
		embed_train_batch_free(b1);
		embed_train_batch_free(b2);
		embed_train_data_free(d);
		embed_train_data_free(d2);
	}

	embed_model_free(em);
	embed_train_acts_free(acts, &m->cfg);
	embed_train_model_free(m);
	embed_tokenizer_free(tok);
	nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
