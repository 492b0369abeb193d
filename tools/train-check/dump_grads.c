/*
 * dump_grads.c: writes a tiny trainable encoder, one batch and the
 * trainer's loss and gradients, for check_grads.py to compare with PyTorch.
 *
 *   dump_grads OUTDIR
 *
 * OUTDIR/params/model.safetensors   the parameters (BertModel names)
 * OUTDIR/grads/model.safetensors    the gradients, same names and layout
 * OUTDIR/batch.json                 ids, lengths, text hashes, B, nneg, scale, loss
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "train_model.h"
#include "train_rng.h"

int
main(int argc, char **argv)
{
	EmbedTrainConfig cfg = {.vocab = 23, .hidden = 12, .layers = 2, .heads = 3,
	.intermediate = 20, .max_positions = 10, .type_vocab = 2, .ln_eps = 1e-12f};
	enum {B = 4, NNEG = 2, NSEQ = 2 * B + NNEG};
	int32_t		lengths[NSEQ] = {3, 7, 2, 5, 4, 1, 6, 3, 8, 2};
	uint64_t	hashes[NSEQ] = {1, 2, 3, 4, 5, 6, 7, 8, 2, 9};	/* negative 0 repeats anchor 1 */
	int32_t		ids[64];
	int			ntok = 0;
	float		scale = 7.0f,
				d_emb[NSEQ * 12],
				loss;
	uint64_t	rng = 2024;
	EmbedTrainModel *m,
			   *g;
	EmbedTrainActs *a;
	char		dir[4096],
				err[512];
	FILE	   *f;

	if (argc != 2)
	{
		fprintf(stderr, "usage: dump_grads OUTDIR\n");
		return 2;
	}
	embed_kernels_use_simd(false);
	m = embed_train_model_new(&cfg);
	g = embed_train_model_new(&cfg);
	a = embed_train_acts_new(&cfg, 64, NSEQ, 10);
	embed_train_model_init(m, 3);
	for (size_t i = 0; i < m->nparams; i++)
		m->params[i] += (float) (0.2 * embed_rng_normal(&rng));
	for (int s = 0; s < NSEQ; s++)
		ntok += lengths[s];
	for (int i = 0; i < ntok; i++)
		ids[i] = (int32_t) embed_rng_below(&rng, cfg.vocab);

	embed_train_forward(m, a, ids, lengths, NSEQ);
	loss = embed_train_infonce(a->out, hashes, B, NNEG, cfg.hidden, scale, d_emb, NULL);
	embed_train_zero_grad(m);
	embed_train_backward(m, a, d_emb);
	memcpy(g->params, m->grads, sizeof(float) * m->nparams);

	snprintf(dir, sizeof(dir), "%s/params", argv[1]);
	if (!embed_train_export_weights(m, dir, err, sizeof(err)))
	{
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/grads", argv[1]);
	if (!embed_train_export_weights(g, dir, err, sizeof(err)))
	{
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/batch.json", argv[1]);
	f = fopen(dir, "w");
	fprintf(f, "{\"B\": %d, \"nneg\": %d, \"scale\": %.9g, \"loss\": %.9g, \"eps\": %.9g,\n \"ids\": [",
			B, NNEG, scale, loss, cfg.ln_eps);
	for (int i = 0; i < ntok; i++)
		fprintf(f, "%s%d", i ? ", " : "", ids[i]);
	fprintf(f, "],\n \"lengths\": [");
	for (int s = 0; s < NSEQ; s++)
		fprintf(f, "%s%d", s ? ", " : "", lengths[s]);
	fprintf(f, "],\n \"hashes\": [");
	for (int s = 0; s < NSEQ; s++)
		fprintf(f, "%s%llu", s ? ", " : "", (unsigned long long) hashes[s]);
	fprintf(f, "]}\n");
	fclose(f);
	printf("loss %.9g\n", loss);
	embed_train_acts_free(a, &cfg);
	embed_train_model_free(m);
	embed_train_model_free(g);
	return 0;
}
