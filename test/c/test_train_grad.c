/*
 * test_train_grad.c: the trainer's analytic gradients against central
 * finite differences of the contrastive loss, on a tiny encoder, for every
 * parameter tensor (embeddings, every layer's attention, LayerNorms and
 * FFN), with sequences of different lengths packed in one batch, hard
 * negatives, and a duplicated text that the loss must mask.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "tap.h"
#include "train_model.h"
#include "train_rng.h"

#define B 3

static const int32_t lengths[3 * B] = {3, 5, 2, 4, 1, 6, 2, 3, 5};
static int32_t ids[64];
static uint64_t hashes[3 * B] = {11, 12, 13, 21, 22, 23, 31, 32, 12};	/* negative 2 copies anchor 1 */

static double
batch_loss(EmbedTrainModel *m, EmbedTrainActs *a, float *d_emb)
{
	embed_train_forward(m, a, ids, lengths, 3 * B);
	return embed_train_infonce(a->out, hashes, B, B, m->cfg.hidden, 5.0f, d_emb, NULL);
}

int
main(void)
{
	EmbedTrainConfig cfg = {.vocab = 17, .hidden = 8, .layers = 2, .heads = 2,
	.intermediate = 12, .max_positions = 8, .type_vocab = 2, .ln_eps = 1e-5f};
	EmbedTrainModel *m = embed_train_model_new(&cfg);
	EmbedTrainActs *a = embed_train_acts_new(&cfg, 64, 3 * B, 8);
	float	   *d_emb = malloc(sizeof(float) * 3 * B * cfg.hidden);
	float	   *analytic;
	uint64_t	rng = 7;
	int			ntok = 0;
	double		loss;

	embed_kernels_use_simd(false);
	ok(m != NULL && a != NULL, "tiny model and activations allocate");
	/* random parameters everywhere, LayerNorm gains around 1, so that no gradient is trivially 0 */
	for (size_t i = 0; i < m->nparams; i++)
		m->params[i] = (float) (0.3 * embed_rng_normal(&rng));
	for (int t = 0; t < m->ntensors; t++)
		if (strstr(m->tensors[t].name, "LayerNorm.weight"))
			for (int i = 0; i < m->tensors[t].rows; i++)
				m->params[m->tensors[t].offset + i] += 1.0f;
	for (int s = 0; s < 3 * B; s++)
		ntok += lengths[s];
	for (int i = 0; i < ntok; i++)
		ids[i] = (int32_t) embed_rng_below(&rng, cfg.vocab);

	loss = batch_loss(m, a, d_emb);
	ok(isfinite(loss) && loss > 0, "loss is finite and positive (%.4f)", loss);
	embed_train_zero_grad(m);
	embed_train_backward(m, a, d_emb);
	analytic = malloc(sizeof(float) * m->nparams);
	memcpy(analytic, m->grads, sizeof(float) * m->nparams);

	/* every tensor: the largest error over up to 12 elements, relative to the tensor's scale */
	for (int t = 0; t < m->ntensors; t++)
	{
		const EmbedTrainTensor *T = &m->tensors[t];
		size_t		n = (size_t) T->rows * (T->cols > 0 ? T->cols : 1);
		double		worst = 0,
					scale = 1e-3;
		int			checked = 0;

		for (size_t i = 0; i < n; i++)
			scale = fmax(scale, fabs(analytic[T->offset + i]));
		for (int k = 0; k < 12 && k < (int) n; k++)
		{
			size_t		i = T->offset + (n <= 12 ? (size_t) k : embed_rng_below(&rng, n));
			float		saved = m->params[i];
			double		h = 1e-2,
						lp,
						lm,
						numeric;

			m->params[i] = saved + (float) h;
			lp = batch_loss(m, a, d_emb);
			m->params[i] = saved - (float) h;
			lm = batch_loss(m, a, d_emb);
			m->params[i] = saved;
			numeric = (lp - lm) / (2 * h);
			worst = fmax(worst, fabs(numeric - analytic[i]) / scale);
			checked++;
		}
		if (!ok(worst < 2e-2, "gradient of %s (%d elements, max error %.2e of scale %.2e)",
				T->name, checked, worst, scale))
			diag("analytic and finite-difference gradients disagree");
	}

	/* the whole gradient is not zero, and the masked duplicate changes the loss */
	{
		double		norm = 0,
					masked,
					unmasked;

		for (size_t i = 0; i < m->nparams; i++)
			norm += (double) analytic[i] * analytic[i];
		ok(norm > 1e-6, "gradient norm is non-zero (%.3g)", sqrt(norm));
		masked = batch_loss(m, a, d_emb);
		hashes[8] = 33;
		unmasked = batch_loss(m, a, d_emb);
		hashes[8] = 12;
		ok(fabs(masked - unmasked) > 1e-6, "a duplicated text is masked out of the candidates");
	}

	free(analytic);
	free(d_emb);
	embed_train_acts_free(a, &cfg);
	embed_train_model_free(m);
	return tap_done();
}
