/*
 * train_model.c: forward and backward passes of the trainable BERT encoder
 * (see train_model.h for the layout), AdamW and the contrastive loss.
 *
 * Each forward step is written next to its backward step, llm.c style,
 * with shapes in the comments: N = tokens in the batch, H = hidden,
 * I = intermediate, S = sequences.  GEMMs go through OpenBLAS (the
 * engine's embed_linear for the forward ones); everything else is plain
 * loops.  No dropout: a run is a deterministic function of its inputs and
 * the OpenBLAS thread count.
 */
#include "train_model.h"
#include "train_rng.h"
#include "kernels.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cblas.h pulls in <complex.h>, whose I would shadow the intermediate size below */
#undef I

/* ---------------------------------------------------------------- layout */

static void
add_tensor(EmbedTrainModel *m, size_t *off, const char *name, int rows, int cols, bool decay)
{
	EmbedTrainTensor *t = &m->tensors[m->ntensors++];

	snprintf(t->name, sizeof(t->name), "%s", name);
	t->offset = *off;
	t->rows = rows;
	t->cols = cols;
	t->decay = decay;
	*off += (size_t) rows * (cols > 0 ? cols : 1);
}

/* Fill the tensor table and return the parameter count. */
static size_t
build_layout(EmbedTrainModel *m)
{
	const EmbedTrainConfig *c = &m->cfg;
	int			H = c->hidden,
				I = c->intermediate;
	size_t		off = 0;
	char		name[96];
	static const char *const qkv[3] = {"query", "key", "value"};

	m->ntensors = 0;
	add_tensor(m, &off, "embeddings.word_embeddings.weight", c->vocab, H, true);
	add_tensor(m, &off, "embeddings.position_embeddings.weight", c->max_positions, H, true);
	add_tensor(m, &off, "embeddings.token_type_embeddings.weight", c->type_vocab, H, true);
	add_tensor(m, &off, "embeddings.LayerNorm.weight", H, 0, false);
	add_tensor(m, &off, "embeddings.LayerNorm.bias", H, 0, false);
	for (int l = 0; l < c->layers; l++)
	{
#define LAYER_TENSOR(suffix, r, cl, dec) \
		do { snprintf(name, sizeof(name), "encoder.layer.%d.%s", l, suffix); \
			 add_tensor(m, &off, name, r, cl, dec); } while (0)
		for (int k = 0; k < 3; k++)
		{
			char		s[64];

			snprintf(s, sizeof(s), "attention.self.%s.weight", qkv[k]);
			LAYER_TENSOR(s, H, H, true);
		}
		for (int k = 0; k < 3; k++)
		{
			char		s[64];

			snprintf(s, sizeof(s), "attention.self.%s.bias", qkv[k]);
			LAYER_TENSOR(s, H, 0, false);
		}
		LAYER_TENSOR("attention.output.dense.weight", H, H, true);
		LAYER_TENSOR("attention.output.dense.bias", H, 0, false);
		LAYER_TENSOR("attention.output.LayerNorm.weight", H, 0, false);
		LAYER_TENSOR("attention.output.LayerNorm.bias", H, 0, false);
		LAYER_TENSOR("intermediate.dense.weight", I, H, true);
		LAYER_TENSOR("intermediate.dense.bias", I, 0, false);
		LAYER_TENSOR("output.dense.weight", H, I, true);
		LAYER_TENSOR("output.dense.bias", H, 0, false);
		LAYER_TENSOR("output.LayerNorm.weight", H, 0, false);
		LAYER_TENSOR("output.LayerNorm.bias", H, 0, false);
#undef LAYER_TENSOR
	}
	return off;
}

/* Point the views of one flat array (params or grads) at their tensors. */
static void
bind_views(const EmbedTrainModel *m, float *base, EmbedTrainParams *v)
{
	const EmbedTrainTensor *t = m->tensors;

	v->word = base + t[0].offset;
	v->position = base + t[1].offset;
	v->token_type = base + t[2].offset;
	v->emb_ln_g = base + t[3].offset;
	v->emb_ln_b = base + t[4].offset;
	for (int l = 0; l < m->cfg.layers; l++)
	{
		const EmbedTrainTensor *lt = &t[5 + 16 * l];
		EmbedTrainLayer *L = &v->layer[l];

		L->qkv_w = base + lt[0].offset;
		L->qkv_b = base + lt[3].offset;
		L->attn_out_w = base + lt[6].offset;
		L->attn_out_b = base + lt[7].offset;
		L->ln1_g = base + lt[8].offset;
		L->ln1_b = base + lt[9].offset;
		L->ffn_in_w = base + lt[10].offset;
		L->ffn_in_b = base + lt[11].offset;
		L->ffn_out_w = base + lt[12].offset;
		L->ffn_out_b = base + lt[13].offset;
		L->ln2_g = base + lt[14].offset;
		L->ln2_b = base + lt[15].offset;
	}
}

EmbedTrainModel *
embed_train_model_new(const EmbedTrainConfig *cfg)
{
	EmbedTrainModel *m;

	if (cfg->vocab <= 0 || cfg->hidden <= 0 || cfg->layers <= 0 || cfg->heads <= 0 ||
		cfg->hidden % cfg->heads != 0 || cfg->intermediate <= 0 || cfg->max_positions <= 0 ||
		cfg->type_vocab <= 0 || cfg->layers > 256)
		return NULL;
	if ((m = calloc(1, sizeof(EmbedTrainModel))) == NULL)
		return NULL;
	m->cfg = *cfg;
	m->tensors = calloc(5 + 16 * cfg->layers, sizeof(EmbedTrainTensor));
	m->p.layer = calloc(cfg->layers, sizeof(EmbedTrainLayer));
	m->g.layer = calloc(cfg->layers, sizeof(EmbedTrainLayer));
	if (m->tensors == NULL || m->p.layer == NULL || m->g.layer == NULL)
	{
		embed_train_model_free(m);
		return NULL;
	}
	m->nparams = build_layout(m);
	m->params = calloc(m->nparams, sizeof(float));
	m->grads = calloc(m->nparams, sizeof(float));
	m->adam_m = calloc(m->nparams, sizeof(float));
	m->adam_v = calloc(m->nparams, sizeof(float));
	if (!m->params || !m->grads || !m->adam_m || !m->adam_v)
	{
		embed_train_model_free(m);
		return NULL;
	}
	bind_views(m, m->params, &m->p);
	bind_views(m, m->grads, &m->g);
	return m;
}

void
embed_train_model_free(EmbedTrainModel *m)
{
	if (m == NULL)
		return;
	free(m->params);
	free(m->grads);
	free(m->adam_m);
	free(m->adam_v);
	free(m->tensors);
	free(m->p.layer);
	free(m->g.layer);
	free(m);
}

void
embed_train_model_init(EmbedTrainModel *m, uint64_t seed)
{
	double		out_scale = 1.0 / sqrt(2.0 * m->cfg.layers);

	for (int t = 0; t < m->ntensors; t++)
	{
		const EmbedTrainTensor *T = &m->tensors[t];
		float	   *x = m->params + T->offset;
		size_t		n = (size_t) T->rows * (T->cols > 0 ? T->cols : 1);
		uint64_t	rng = seed ^ (UINT64_C(0x9E3779B97F4A7C15) * (uint64_t) (t + 1));

		if (T->cols == 0)
		{
			float		v = strstr(T->name, "LayerNorm.weight") ? 1.0f : 0.0f;

			for (size_t i = 0; i < n; i++)
				x[i] = v;
			continue;
		}
		for (size_t i = 0; i < n; i++)
		{
			double		r = 0.02 * embed_rng_normal(&rng);

			if (strstr(T->name, "output.dense.weight"))
				r *= out_scale;
			x[i] = (float) r;
		}
	}
}

void
embed_train_zero_grad(EmbedTrainModel *m)
{
	memset(m->grads, 0, sizeof(float) * m->nparams);
}

/* ----------------------------------------------------------- activations */

EmbedTrainActs *
embed_train_acts_new(const EmbedTrainConfig *cfg, int cap_tok, int cap_seq, int max_len)
{
	EmbedTrainActs *a = calloc(1, sizeof(EmbedTrainActs));
	int			L = cfg->layers,
				H = cfg->hidden,
				I = cfg->intermediate;
	size_t		N = (size_t) cap_tok;
	bool		ok;

	if (a == NULL)
		return NULL;
	a->cap_tok = cap_tok;
	a->cap_seq = cap_seq;
	a->cap_att = (size_t) cfg->heads * N * (size_t) max_len;
	a->offsets = malloc(sizeof(int32_t) * (cap_seq + 1));
	a->att_offsets = malloc(sizeof(size_t) * cap_seq);
	a->emb_sum = malloc(sizeof(float) * N * H);
	a->emb_mean = malloc(sizeof(float) * N);
	a->emb_rstd = malloc(sizeof(float) * N);
	a->x = calloc(L + 1, sizeof(float *));
	a->qkv = calloc(L, sizeof(float *));
	a->att = calloc(L, sizeof(float *));
	a->ctx = calloc(L, sizeof(float *));
	a->res1 = calloc(L, sizeof(float *));
	a->ln1_mean = calloc(L, sizeof(float *));
	a->ln1_rstd = calloc(L, sizeof(float *));
	a->h1 = calloc(L, sizeof(float *));
	a->ffn_pre = calloc(L, sizeof(float *));
	a->ffn_act = calloc(L, sizeof(float *));
	a->res2 = calloc(L, sizeof(float *));
	a->ln2_mean = calloc(L, sizeof(float *));
	a->ln2_rstd = calloc(L, sizeof(float *));
	a->pooled = malloc(sizeof(float) * cap_seq * H);
	a->out = malloc(sizeof(float) * cap_seq * H);
	a->d_x = malloc(sizeof(float) * N * H);
	a->d_h1 = malloc(sizeof(float) * N * H);
	a->d_res = malloc(sizeof(float) * N * H);
	a->d_ctx = malloc(sizeof(float) * N * H);
	a->d_qkv = malloc(sizeof(float) * N * 3 * H);
	a->d_ffn = malloc(sizeof(float) * N * I);
	a->d_att = malloc(sizeof(float) * (size_t) max_len);
	ok = a->offsets && a->att_offsets && a->emb_sum && a->emb_mean && a->emb_rstd && a->x &&
		a->qkv && a->att && a->ctx && a->res1 && a->ln1_mean && a->ln1_rstd && a->h1 &&
		a->ffn_pre && a->ffn_act && a->res2 && a->ln2_mean && a->ln2_rstd && a->pooled &&
		a->out && a->d_x && a->d_h1 && a->d_res && a->d_ctx && a->d_qkv && a->d_ffn && a->d_att;
	for (int l = 0; ok && l <= L; l++)
	{
		ok = (a->x[l] = malloc(sizeof(float) * N * H)) != NULL;
		if (!ok || l == L)
			break;
		ok = (a->qkv[l] = malloc(sizeof(float) * N * 3 * H)) &&
			(a->att[l] = malloc(sizeof(float) * a->cap_att)) &&
			(a->ctx[l] = malloc(sizeof(float) * N * H)) &&
			(a->res1[l] = malloc(sizeof(float) * N * H)) &&
			(a->ln1_mean[l] = malloc(sizeof(float) * N)) &&
			(a->ln1_rstd[l] = malloc(sizeof(float) * N)) &&
			(a->h1[l] = malloc(sizeof(float) * N * H)) &&
			(a->ffn_pre[l] = malloc(sizeof(float) * N * I)) &&
			(a->ffn_act[l] = malloc(sizeof(float) * N * I)) &&
			(a->res2[l] = malloc(sizeof(float) * N * H)) &&
			(a->ln2_mean[l] = malloc(sizeof(float) * N)) &&
			(a->ln2_rstd[l] = malloc(sizeof(float) * N));
	}
	if (!ok)
	{
		embed_train_acts_free(a, cfg);
		return NULL;
	}
	return a;
}

void
embed_train_acts_free(EmbedTrainActs *a, const EmbedTrainConfig *cfg)
{
	if (a == NULL)
		return;
	for (int l = 0; l <= cfg->layers; l++)
	{
		if (a->x)
			free(a->x[l]);
		if (l == cfg->layers)
			break;
#define FREE_L(f) do { if (a->f) free(a->f[l]); } while (0)
		FREE_L(qkv);
		FREE_L(att);
		FREE_L(ctx);
		FREE_L(res1);
		FREE_L(ln1_mean);
		FREE_L(ln1_rstd);
		FREE_L(h1);
		FREE_L(ffn_pre);
		FREE_L(ffn_act);
		FREE_L(res2);
		FREE_L(ln2_mean);
		FREE_L(ln2_rstd);
#undef FREE_L
	}
	free(a->x), free(a->qkv), free(a->att), free(a->ctx), free(a->res1);
	free(a->ln1_mean), free(a->ln1_rstd), free(a->h1), free(a->ffn_pre), free(a->ffn_act);
	free(a->res2), free(a->ln2_mean), free(a->ln2_rstd);
	free(a->offsets), free(a->att_offsets), free(a->emb_sum), free(a->emb_mean), free(a->emb_rstd);
	free(a->pooled), free(a->out), free(a->d_x), free(a->d_h1), free(a->d_res), free(a->d_ctx);
	free(a->d_qkv), free(a->d_ffn), free(a->d_att);
	free(a);
}

/* ------------------------------------------------------- building blocks */

/* out[N,O] = in[N,K] W[O,K]^T + b[O] (accumulate: out += ...). */
static void
linear_forward(int N, int O, int K, const float *in, const float *W, const float *b,
			   float *out, bool accumulate)
{
	embed_linear(N, O, K, in, W, out, accumulate);
	embed_add_bias(N, O, out, b);
}

/*
 * Backward of linear_forward: d_in[N,K] = d_out[N,O] W[O,K] (added to d_in
 * when accumulate; skipped when d_in is NULL), dW[O,K] += d_out^T in,
 * db[O] += column sums of d_out.
 */
static void
linear_backward(int N, int O, int K, const float *d_out, const float *in, const float *W,
				float *d_in, float *dW, float *db, bool accumulate)
{
	if (d_in != NULL)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, K, O,
					1.0f, d_out, O, W, K, accumulate ? 1.0f : 0.0f, d_in, K);
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, K, N,
				1.0f, d_out, O, in, K, 1.0f, dW, K);
	for (int i = 0; i < N; i++)
	{
		const float *row = d_out + (size_t) i * O;

		for (int o = 0; o < O; o++)
			db[o] += row[o];
	}
}

/* out[N,H] = (in - mean) * rstd * g + b per row, saving mean[N] and rstd[N]. */
static void
layernorm_forward(int N, int H, const float *in, const float *g, const float *b, float eps,
				  float *out, float *mean, float *rstd)
{
	for (int i = 0; i < N; i++)
	{
		const float *x = in + (size_t) i * H;
		float	   *y = out + (size_t) i * H;
		double		s = 0,
					ss = 0;
		float		mu,
					r;

		for (int h = 0; h < H; h++)
			s += x[h];
		mu = (float) (s / H);
		for (int h = 0; h < H; h++)
			ss += (double) (x[h] - mu) * (x[h] - mu);
		r = (float) (1.0 / sqrt(ss / H + eps));
		for (int h = 0; h < H; h++)
			y[h] = (x[h] - mu) * r * g[h] + b[h];
		mean[i] = mu;
		rstd[i] = r;
	}
}

/*
 * Backward of layernorm_forward: d_in[N,H] from d_out[N,H] (d_in may be
 * d_out), dg[H] and db[H] accumulated.
 */
static void
layernorm_backward(int N, int H, const float *d_out, const float *in, const float *mean,
				   const float *rstd, const float *g, float *d_in, float *dg, float *db)
{
	for (int i = 0; i < N; i++)
	{
		const float *dy = d_out + (size_t) i * H;
		const float *x = in + (size_t) i * H;
		float	   *dx = d_in + (size_t) i * H;
		float		mu = mean[i],
					r = rstd[i];
		double		m1 = 0,
					m2 = 0;

		for (int h = 0; h < H; h++)
		{
			float		norm = (x[h] - mu) * r;
			float		dnorm = dy[h] * g[h];

			m1 += dnorm;
			m2 += (double) dnorm * norm;
			dg[h] += dy[h] * norm;
			db[h] += dy[h];
		}
		m1 /= H;
		m2 /= H;
		for (int h = 0; h < H; h++)
		{
			float		norm = (x[h] - mu) * r;
			float		dnorm = dy[h] * g[h];

			dx[h] = r * (dnorm - (float) m1 - norm * (float) m2);
		}
	}
}

/*
 * Self-attention of one sequence of len rows.  qkv[len, 3H] holds q, k, v
 * side by side; for each head: P = softmax(q k^T / sqrt(d)) [len, len]
 * (saved in att[heads, len, len]), ctx = P v written to ctx[len, H].
 */
static void
attention_forward(int len, int H, int heads, const float *qkv, float *att, float *ctx)
{
	int			d = H / heads;
	float		scale = 1.0f / sqrtf((float) d);

	for (int h = 0; h < heads; h++)
	{
		float	   *P = att + (size_t) h * len * len;

		for (int i = 0; i < len; i++)
		{
			const float *q = qkv + (size_t) i * 3 * H + h * d;
			float	   *p = P + (size_t) i * len;
			float	   *c = ctx + (size_t) i * H + h * d;

			for (int j = 0; j < len; j++)
			{
				const float *k = qkv + (size_t) j * 3 * H + H + h * d;
				float		s = 0;

				for (int e = 0; e < d; e++)
					s += q[e] * k[e];
				p[j] = s * scale;
			}
			embed_softmax(len, p);
			memset(c, 0, sizeof(float) * d);
			for (int j = 0; j < len; j++)
			{
				const float *v = qkv + (size_t) j * 3 * H + 2 * H + h * d;

				for (int e = 0; e < d; e++)
					c[e] += p[j] * v[e];
			}
		}
	}
}

/*
 * Backward of attention_forward: d_qkv[len, 3H] (overwritten) from
 * d_ctx[len, H]; dP scratch [len].
 *   dP_ij = dctx_i . v_j        dv_j += P_ij dctx_i
 *   dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik)
 *   dq_i = scale sum_j dS_ij k_j    dk_j += scale dS_ij q_i
 */
static void
attention_backward(int len, int H, int heads, const float *qkv, const float *att,
				   const float *d_ctx, float *d_qkv, float *dP)
{
	int			d = H / heads;
	float		scale = 1.0f / sqrtf((float) d);

	memset(d_qkv, 0, sizeof(float) * (size_t) len * 3 * H);
	for (int h = 0; h < heads; h++)
	{
		const float *P = att + (size_t) h * len * len;

		for (int i = 0; i < len; i++)
		{
			const float *p = P + (size_t) i * len;
			const float *dc = d_ctx + (size_t) i * H + h * d;
			const float *q = qkv + (size_t) i * 3 * H + h * d;
			float	   *dq = d_qkv + (size_t) i * 3 * H + h * d;
			float		dot = 0;

			for (int j = 0; j < len; j++)
			{
				const float *v = qkv + (size_t) j * 3 * H + 2 * H + h * d;
				float	   *dv = d_qkv + (size_t) j * 3 * H + 2 * H + h * d;
				float		s = 0;

				for (int e = 0; e < d; e++)
				{
					s += dc[e] * v[e];
					dv[e] += p[j] * dc[e];
				}
				dP[j] = s;
				dot += p[j] * s;
			}
			for (int j = 0; j < len; j++)
			{
				const float *k = qkv + (size_t) j * 3 * H + H + h * d;
				float	   *dk = d_qkv + (size_t) j * 3 * H + H + h * d;
				float		ds = p[j] * (dP[j] - dot) * scale;

				for (int e = 0; e < d; e++)
				{
					dq[e] += ds * k[e];
					dk[e] += ds * q[e];
				}
			}
		}
	}
}

/* d_pre[n] = d_act[n] * gelu'(pre[n]), gelu(x) = x Phi(x) (erf form), in place. */
static void
gelu_backward(size_t n, const float *pre, float *d)
{
	const float inv_sqrt2 = 0.70710678118654752f;
	const float inv_sqrt2pi = 0.39894228040143268f;

	for (size_t i = 0; i < n; i++)
	{
		float		x = pre[i];
		float		cdf = 0.5f * (1.0f + erff(x * inv_sqrt2));
		float		pdf = inv_sqrt2pi * expf(-0.5f * x * x);

		d[i] *= cdf + x * pdf;
	}
}

/* ------------------------------------------------------- forward/backward */

void
embed_train_forward(EmbedTrainModel *m, EmbedTrainActs *a,
					const int32_t *ids, const int32_t *lengths, int nseq)
{
	const EmbedTrainConfig *c = &m->cfg;
	int			H = c->hidden,
				I = c->intermediate,
				N;
	size_t		att = 0;

	a->ids = ids;
	a->lengths = lengths;
	a->nseq = nseq;
	a->offsets[0] = 0;
	for (int s = 0; s < nseq; s++)
	{
		a->offsets[s + 1] = a->offsets[s] + lengths[s];
		a->att_offsets[s] = att;
		att += (size_t) c->heads * lengths[s] * lengths[s];
	}
	N = a->ntok = a->offsets[nseq];

	/* embeddings: emb_sum[N,H] = word[ids] + position[t] + type[0]; x0 = LN(emb_sum) */
	for (int s = 0; s < nseq; s++)
		for (int t = 0; t < lengths[s]; t++)
		{
			int			row = a->offsets[s] + t;
			const float *w = m->p.word + (size_t) ids[row] * H;
			const float *p = m->p.position + (size_t) t * H;
			float	   *e = a->emb_sum + (size_t) row * H;

			for (int h = 0; h < H; h++)
				e[h] = w[h] + p[h] + m->p.token_type[h];
		}
	layernorm_forward(N, H, a->emb_sum, m->p.emb_ln_g, m->p.emb_ln_b, c->ln_eps,
					  a->x[0], a->emb_mean, a->emb_rstd);

	for (int l = 0; l < c->layers; l++)
	{
		const EmbedTrainLayer *W = &m->p.layer[l];
		const float *x = a->x[l];

		/* qkv[N,3H] = x Wqkv^T + bqkv */
		linear_forward(N, 3 * H, H, x, W->qkv_w, W->qkv_b, a->qkv[l], false);
		/* ctx[N,H] = per sequence softmax(q k^T / sqrt d) v */
		for (int s = 0; s < nseq; s++)
		{
			size_t		r = a->offsets[s];

			attention_forward(lengths[s], H, c->heads, a->qkv[l] + r * 3 * H,
							  a->att[l] + a->att_offsets[s], a->ctx[l] + r * H);
		}
		/* res1[N,H] = x + ctx Wo^T + bo; h1 = LN1(res1) */
		memcpy(a->res1[l], x, sizeof(float) * N * H);
		linear_forward(N, H, H, a->ctx[l], W->attn_out_w, W->attn_out_b, a->res1[l], true);
		layernorm_forward(N, H, a->res1[l], W->ln1_g, W->ln1_b, c->ln_eps,
						  a->h1[l], a->ln1_mean[l], a->ln1_rstd[l]);
		/* ffn_pre[N,I] = h1 W1^T + b1; ffn_act = gelu(ffn_pre) */
		embed_linear(N, I, H, a->h1[l], W->ffn_in_w, a->ffn_act[l], false);
		memcpy(a->ffn_pre[l], a->ffn_act[l], sizeof(float) * N * I);
		embed_add_bias(N, I, a->ffn_pre[l], W->ffn_in_b);
		embed_add_bias_activation(N, I, a->ffn_act[l], W->ffn_in_b, EMBED_ACT_GELU_ERF);
		/* res2[N,H] = h1 + ffn_act W2^T + b2; x[l+1] = LN2(res2) */
		memcpy(a->res2[l], a->h1[l], sizeof(float) * N * H);
		linear_forward(N, H, I, a->ffn_act[l], W->ffn_out_w, W->ffn_out_b, a->res2[l], true);
		layernorm_forward(N, H, a->res2[l], W->ln2_g, W->ln2_b, c->ln_eps,
						  a->x[l + 1], a->ln2_mean[l], a->ln2_rstd[l]);
	}

	/* pooled[S,H] = mean of each sequence's rows; out = pooled / ||pooled|| */
	for (int s = 0; s < nseq; s++)
	{
		embed_pool_mean(lengths[s], H, a->x[c->layers] + (size_t) a->offsets[s] * H,
						a->pooled + (size_t) s * H);
		memcpy(a->out + (size_t) s * H, a->pooled + (size_t) s * H, sizeof(float) * H);
		embed_l2_normalize(H, a->out + (size_t) s * H);
	}
}

void
embed_train_backward(EmbedTrainModel *m, EmbedTrainActs *a, const float *d_out)
{
	const EmbedTrainConfig *c = &m->cfg;
	int			H = c->hidden,
				I = c->intermediate,
				N = a->ntok;

	/* normalise + mean pool: d_pooled = (d_out - out (out . d_out)) / ||pooled||; d_x[L] = d_pooled / len */
	for (int s = 0; s < a->nseq; s++)
	{
		const float *o = a->out + (size_t) s * H;
		const float *p = a->pooled + (size_t) s * H;
		const float *dy = d_out + (size_t) s * H;
		double		norm = 0,
					dot = 0;
		float		inv;

		for (int h = 0; h < H; h++)
		{
			norm += (double) p[h] * p[h];
			dot += (double) o[h] * dy[h];
		}
		norm = sqrt(norm);
		if (norm < 1e-12)
			norm = 1e-12;
		inv = (float) (1.0 / (norm * a->lengths[s]));
		for (int t = 0; t < a->lengths[s]; t++)
		{
			float	   *dx = a->d_x + (size_t) (a->offsets[s] + t) * H;

			for (int h = 0; h < H; h++)
				dx[h] = (dy[h] - o[h] * (float) dot) * inv;
		}
	}

	for (int l = c->layers - 1; l >= 0; l--)
	{
		const EmbedTrainLayer *W = &m->p.layer[l];
		EmbedTrainLayer *G = &m->g.layer[l];

		/* x[l+1] = LN2(res2): d_res = dres2 */
		layernorm_backward(N, H, a->d_x, a->res2[l], a->ln2_mean[l], a->ln2_rstd[l], W->ln2_g,
						   a->d_res, G->ln2_g, G->ln2_b);
		/* res2 = h1 + ffn_act W2^T + b2: d_ffn[N,I] = d_res W2 */
		linear_backward(N, H, I, a->d_res, a->ffn_act[l], W->ffn_out_w, a->d_ffn,
						G->ffn_out_w, G->ffn_out_b, false);
		/* ffn_act = gelu(ffn_pre) */
		gelu_backward((size_t) N * I, a->ffn_pre[l], a->d_ffn);
		/* ffn_pre = h1 W1^T + b1: d_h1 = d_res (residual) + d_ffn W1 */
		memcpy(a->d_h1, a->d_res, sizeof(float) * N * H);
		linear_backward(N, I, H, a->d_ffn, a->h1[l], W->ffn_in_w, a->d_h1,
						G->ffn_in_w, G->ffn_in_b, true);
		/* h1 = LN1(res1): d_res = dres1 */
		layernorm_backward(N, H, a->d_h1, a->res1[l], a->ln1_mean[l], a->ln1_rstd[l], W->ln1_g,
						   a->d_res, G->ln1_g, G->ln1_b);
		/* res1 = x + ctx Wo^T + bo: d_ctx = d_res Wo */
		linear_backward(N, H, H, a->d_res, a->ctx[l], W->attn_out_w, a->d_ctx,
						G->attn_out_w, G->attn_out_b, false);
		/* ctx = attention(qkv) */
		for (int s = 0; s < a->nseq; s++)
		{
			size_t		r = a->offsets[s];

			attention_backward(a->lengths[s], H, c->heads, a->qkv[l] + r * 3 * H,
							   a->att[l] + a->att_offsets[s], a->d_ctx + r * H,
							   a->d_qkv + r * 3 * H, a->d_att);
		}
		/* qkv = x Wqkv^T + b: d_x = d_res (residual) + d_qkv Wqkv */
		memcpy(a->d_x, a->d_res, sizeof(float) * N * H);
		linear_backward(N, 3 * H, H, a->d_qkv, a->x[l], W->qkv_w, a->d_x,
						G->qkv_w, G->qkv_b, true);
	}

	/* x0 = LN(emb_sum); emb_sum = word[ids] + position[t] + type[0] */
	layernorm_backward(N, H, a->d_x, a->emb_sum, a->emb_mean, a->emb_rstd, m->p.emb_ln_g,
					   a->d_x, m->g.emb_ln_g, m->g.emb_ln_b);
	for (int s = 0; s < a->nseq; s++)
		for (int t = 0; t < a->lengths[s]; t++)
		{
			int			row = a->offsets[s] + t;
			const float *d = a->d_x + (size_t) row * H;
			float	   *gw = m->g.word + (size_t) a->ids[row] * H;
			float	   *gp = m->g.position + (size_t) t * H;

			for (int h = 0; h < H; h++)
			{
				gw[h] += d[h];
				gp[h] += d[h];
				m->g.token_type[h] += d[h];
			}
		}
}

/* ------------------------------------------------------------------ loss */

/*
 * One direction of InfoNCE: rows q[B,H] against candidates c[C,H], target
 * of row i is candidate i; candidates j != i with hash equal to the
 * target's or the query's hash are masked.  Adds weight * loss gradients to
 * dq and dc; returns the mean loss, counts correct top-1 in *correct.
 */
static double
infonce_direction(const float *q, const uint64_t *qhash, const float *c, const uint64_t *chash,
				  int B, int C, int H, float scale, float weight, float *dq, float *dc, int *correct)
{
	double		total = 0;
	double	   *logit = malloc(sizeof(double) * C);

	for (int i = 0; i < B; i++)
	{
		const float *qi = q + (size_t) i * H;
		double		mx = -INFINITY,
					sum = 0;
		int			best = i;

		for (int j = 0; j < C; j++)
		{
			const float *cj = c + (size_t) j * H;
			double		s = 0;

			if (j != i && (chash[j] == chash[i] || chash[j] == qhash[i]))
			{
				logit[j] = -INFINITY;
				continue;
			}
			for (int h = 0; h < H; h++)
				s += (double) qi[h] * cj[h];
			logit[j] = scale * s;
			if (logit[j] > mx)
				mx = logit[j];
			if (logit[j] > logit[best])
				best = j;
		}
		if (best == i)
			(*correct)++;
		for (int j = 0; j < C; j++)
			sum += exp(logit[j] - mx);
		total += log(sum) + mx - logit[i];
		for (int j = 0; j < C; j++)
		{
			double		p = exp(logit[j] - mx) / sum;
			float		g = (float) ((p - (j == i ? 1.0 : 0.0)) * weight * scale);
			const float *cj = c + (size_t) j * H;
			float	   *dcj = dc + (size_t) j * H;
			float	   *dqi = dq + (size_t) i * H;

			if (p == 0 && j != i)
				continue;
			for (int h = 0; h < H; h++)
			{
				dqi[h] += g * cj[h];
				dcj[h] += g * qi[h];
			}
		}
	}
	free(logit);
	return total / B;
}

float
embed_train_infonce(const float *emb, const uint64_t *hashes, int B, int nneg,
					int H, float scale, float *d_emb, float *accuracy)
{
	int			C = B + nneg;
	int			correct = 0,
				ignored = 0;
	float		w = 0.5f / B;
	double		loss;

	memset(d_emb, 0, sizeof(float) * (size_t) (B + C) * H);
	/* anchors against positives (+ hard negatives) */
	loss = infonce_direction(emb, hashes, emb + (size_t) B * H, hashes + B, B, C, H, scale, w,
							 d_emb, d_emb + (size_t) B * H, &correct);
	/* positives against anchors */
	loss += infonce_direction(emb + (size_t) B * H, hashes + B, emb, hashes, B, B, H, scale, w,
							  d_emb + (size_t) B * H, d_emb, &ignored);
	if (accuracy)
		*accuracy = (float) correct / B;
	return (float) (loss / 2);
}

/* ----------------------------------------------------------------- AdamW */

float
embed_train_adamw(EmbedTrainModel *m, int64_t step, float lr, float beta1, float beta2,
				  float eps, float weight_decay, float clip)
{
	double		sq = 0,
				norm;
	float		gscale = 1.0f;
	float		bc1 = (float) (1.0 - pow(beta1, (double) step));
	float		bc2 = (float) (1.0 - pow(beta2, (double) step));

	for (size_t i = 0; i < m->nparams; i++)
		sq += (double) m->grads[i] * m->grads[i];
	norm = sqrt(sq);
	if (clip > 0 && norm > clip)
		gscale = (float) (clip / norm);
	for (int t = 0; t < m->ntensors; t++)
	{
		const EmbedTrainTensor *T = &m->tensors[t];
		size_t		n = (size_t) T->rows * (T->cols > 0 ? T->cols : 1);
		float	   *p = m->params + T->offset,
				   *g = m->grads + T->offset,
				   *mm = m->adam_m + T->offset,
				   *vv = m->adam_v + T->offset;
		float		wd = T->decay ? weight_decay : 0.0f;

		for (size_t i = 0; i < n; i++)
		{
			float		gi = g[i] * gscale;

			mm[i] = beta1 * mm[i] + (1 - beta1) * gi;
			vv[i] = beta2 * vv[i] + (1 - beta2) * gi * gi;
			p[i] -= lr * ((mm[i] / bc1) / (sqrtf(vv[i] / bc2) + eps) + wd * p[i]);
		}
	}
	return (float) norm;
}

/* ---------------------------------------------------------------- export */

/* Write path via path.tmp + rename; false with err on failure. */
static bool
write_file_atomic(const char *path, const void *data, size_t len, const void *data2, size_t len2,
				  char *err, size_t errlen)
{
	char		tmp[4200];
	FILE	   *f;
	bool		ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "wb")) == NULL)
	{
		snprintf(err, errlen, "could not create \"%s\": %s", tmp, strerror(errno));
		return false;
	}
	ok = fwrite(data, 1, len, f) == len && (len2 == 0 || fwrite(data2, 1, len2, f) == len2);
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) != 0)
	{
		snprintf(err, errlen, "could not write \"%s\": %s", path, strerror(errno));
		unlink(tmp);
		return false;
	}
	return true;
}

bool
embed_train_export_weights(const EmbedTrainModel *m, const char *dir, char *err, size_t errlen)
{
	const EmbedTrainConfig *c = &m->cfg;
	size_t		cap = 256 + (size_t) m->ntensors * 200,
				len = 0,
				data = 0;
	char	   *hdr = malloc(cap + 16);
	char		path[4096],
				config[2048];
	bool		ok;
	uint64_t	hlen;

	if (hdr == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return false;
	}
	mkdir(dir, 0755);
	len += snprintf(hdr + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
	for (int t = 0; t < m->ntensors; t++)
	{
		const EmbedTrainTensor *T = &m->tensors[t];
		size_t		bytes = sizeof(float) * T->rows * (T->cols > 0 ? T->cols : 1);

		if (T->cols > 0)
			len += snprintf(hdr + len, cap - len,
							",\"%s\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[%zu,%zu]}",
							T->name, T->rows, T->cols, data, data + bytes);
		else
			len += snprintf(hdr + len, cap - len,
							",\"%s\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%zu,%zu]}",
							T->name, T->rows, data, data + bytes);
		data += bytes;
	}
	len += snprintf(hdr + len, cap - len, "}");
	while ((8 + len) % 8 != 0)
		hdr[len++] = ' ';
	/* the tensors are laid out in table order, so the data area is m->params as is */
	hlen = len;
	{
		size_t		total = 8 + len;
		char	   *head = malloc(total);

		if (head == NULL)
		{
			free(hdr);
			snprintf(err, errlen, "out of memory");
			return false;
		}
		memcpy(head, &hlen, 8);
		memcpy(head + 8, hdr, len);
		snprintf(path, sizeof(path), "%s/model.safetensors", dir);
		ok = write_file_atomic(path, head, total, m->params, sizeof(float) * m->nparams, err, errlen);
		free(head);
	}
	free(hdr);
	if (!ok)
		return false;

	snprintf(config, sizeof(config),
			 "{\n"
			 "  \"architectures\": [\"BertModel\"],\n"
			 "  \"attention_probs_dropout_prob\": 0.1,\n"
			 "  \"classifier_dropout\": null,\n"
			 "  \"hidden_act\": \"gelu\",\n"
			 "  \"hidden_dropout_prob\": 0.1,\n"
			 "  \"hidden_size\": %d,\n"
			 "  \"initializer_range\": 0.02,\n"
			 "  \"intermediate_size\": %d,\n"
			 "  \"layer_norm_eps\": %g,\n"
			 "  \"max_position_embeddings\": %d,\n"
			 "  \"model_type\": \"bert\",\n"
			 "  \"num_attention_heads\": %d,\n"
			 "  \"num_hidden_layers\": %d,\n"
			 "  \"pad_token_id\": 0,\n"
			 "  \"position_embedding_type\": \"absolute\",\n"
			 "  \"torch_dtype\": \"float32\",\n"
			 "  \"type_vocab_size\": %d,\n"
			 "  \"use_cache\": true,\n"
			 "  \"vocab_size\": %d\n"
			 "}\n",
			 c->hidden, c->intermediate, (double) c->ln_eps, c->max_positions, c->heads,
			 c->layers, c->type_vocab, c->vocab);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	return write_file_atomic(path, config, strlen(config), NULL, 0, err, errlen);
}
