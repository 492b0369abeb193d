/*
 * test_kernels.c: the forward-pass kernels against naive double-precision
 * references, plus a report on OpenBLAS determinism (thread count, rows in
 * the product).
 */
#include <cblas.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "tap.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

/* Uniform float in [-scale, scale) from xorshift64*. */
static float
rnd(float scale)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return scale * ((float) ((rng_state * 0x2545F4914F6CDD1Du) >> 40) / 8388608.0f - 1.0f);
}

static float *
random_array(size_t n, float scale)
{
	float	   *a = malloc(sizeof(float) * (n ? n : 1));

	for (size_t i = 0; i < n; i++)
		a[i] = rnd(scale);
	return a;
}

static double
max_abs_diff(const float *a, const float *b, size_t n)
{
	double		m = 0.0;

	for (size_t i = 0; i < n; i++)
		m = fmax(m, fabs((double) a[i] - b[i]));
	return m;
}

static void
test_linear(void)
{
	static const int shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 64, 48}, {16, 384, 384}, {130, 1536, 384}, {5, 384, 1536}};

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
	{
		int			M = shapes[s][0],
					N = shapes[s][1],
					K = shapes[s][2];
		float	   *A = random_array((size_t) M * K, 1.0f);
		float	   *W = random_array((size_t) N * K, 0.125f);
		float	   *bias = random_array(N, 0.5f);
		float	   *want = malloc(sizeof(float) * M * N);
		float	   *got = malloc(sizeof(float) * M * N);
		float	   *acc = random_array((size_t) M * N, 1.0f);
		float	   *acc_want = malloc(sizeof(float) * M * N);
		double		tol = 1e-6 * sqrt((double) K) * 2;

		embed_matmul_naive(M, N, K, A, W, bias, want);
		embed_linear(M, N, K, A, W, got, false);
		embed_add_bias(M, N, got, bias);
		ok(max_abs_diff(got, want, (size_t) M * N) <= tol,
		   "linear + bias %dx%dx%d matches naive (max diff %.2g)", M, N, K, max_abs_diff(got, want, (size_t) M * N));

		embed_matmul_naive(M, N, K, A, W, NULL, acc_want);
		for (size_t i = 0; i < (size_t) M * N; i++)
			acc_want[i] += acc[i];
		embed_linear(M, N, K, A, W, acc, true);
		ok(max_abs_diff(acc, acc_want, (size_t) M * N) <= tol,
		   "linear accumulate %dx%dx%d: C += A W^T", M, N, K);
		free(A);
		free(W);
		free(bias);
		free(want);
		free(got);
		free(acc);
		free(acc_want);
	}
}

/* GELU of both kinds over [-10, 10] through the fused kernel, vs double. */
static void
test_activation_path(const char *path)
{
	enum
	{
	NPTS = 4001};
	static float bias[NPTS];
	static float erf_out[NPTS],
				tanh_out[NPTS];
	double		worst_erf = 0.0,
				worst_tanh = 0.0;

	for (int i = 0; i < NPTS; i++)
		erf_out[i] = tanh_out[i] = (float) (-10.0 + i * 0.005);
	embed_add_bias_activation(1, NPTS, erf_out, bias, EMBED_ACT_GELU_ERF);
	embed_add_bias_activation(1, NPTS, tanh_out, bias, EMBED_ACT_GELU_TANH);
	for (int i = 0; i < NPTS; i++)
	{
		double		x = (float) (-10.0 + i * 0.005);
		double		erf_ref = 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
		double		tanh_ref = 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));

		worst_erf = fmax(worst_erf, fabs(erf_out[i] - erf_ref) / fmax(1.0, fabs(x)));
		worst_tanh = fmax(worst_tanh, fabs(tanh_out[i] - tanh_ref) / fmax(1.0, fabs(x)));
	}
	ok(worst_erf <= 1e-6, "%s: erf GELU on [-10, 10] within 1e-6 * max(1, |x|) of double (%.2g)", path, worst_erf);
	ok(worst_tanh <= 1e-6, "%s: tanh GELU on [-10, 10] within 1e-6 * max(1, |x|) of double (%.2g)", path, worst_tanh);
	ok(fabs(erf_out[1800] - tanh_out[1800]) > 1e-5, "%s: the two GELUs differ", path);
}

static void
test_activations(void)
{
	float		row[41],
				bias[41],
				copy[41];
	bool		fused_ok = true;

	is_close(embed_gelu_erf(1.0f), 0.8413447460685429, 1e-6, "gelu(1) = 0.841345");
	is_close(embed_gelu_tanh(1.0f), 0.8411919906082768, 1e-6, "gelu_tanh(1) = 0.841192");

	embed_kernels_use_simd(false);
	test_activation_path("portable");
	for (int j = 0; j < 41; j++)
	{
		row[j] = rnd(4.0f);
		bias[j] = rnd(1.0f);
	}
	memcpy(copy, row, sizeof(copy));
	embed_add_bias_activation(1, 41, copy, bias, EMBED_ACT_GELU_ERF);
	for (int j = 0; j < 41; j++)
		fused_ok = fused_ok && copy[j] == embed_gelu_erf(row[j] + bias[j]);
	memcpy(copy, row, sizeof(copy));
	embed_add_bias_activation(1, 41, copy, bias, EMBED_ACT_GELU_TANH);
	for (int j = 0; j < 41; j++)
		fused_ok = fused_ok && copy[j] == embed_gelu_tanh(row[j] + bias[j]);
	ok(fused_ok, "portable: fused bias + GELU == GELU(x + b), both activations");

	if (embed_kernels_use_simd(true))
	{
		float		simd[41];
		double		worst = 0.0;

		test_activation_path("AVX2");
		/* 41 = 5 x 8 + a tail of 1: the tail must match the vector body's formula */
		memcpy(simd, row, sizeof(simd));
		embed_add_bias_activation(1, 41, simd, bias, EMBED_ACT_GELU_ERF);
		for (int j = 0; j < 41; j++)
			worst = fmax(worst, fabs(simd[j] - embed_gelu_erf(row[j] + bias[j])));
		ok(worst <= 4e-6, "AVX2: fused bias + GELU with a ragged tail agrees with libm (%.2g)", worst);
	}
	else
		diag("AVX2+FMA not available: vector kernels not tested");
}

static void
test_layernorm(void)
{
	int			M = 5,
				N = 384;
	float	   *x = random_array((size_t) M * N, 3.0f);
	float	   *gamma = random_array(N, 1.0f);
	float	   *beta = random_array(N, 1.0f);
	float	   *bias = random_array(N, 1.0f);
	float	   *y = malloc(sizeof(float) * M * N);
	float	   *want = malloc(sizeof(float) * M * N);
	float		eps = 1e-12f;
	float		constant[8] = {2, 2, 2, 2, 2, 2, 2, 2};
	float		ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
	float		zeros[8] = {0};
	bool		finite = true;

	for (int pass = 0; pass < 2; pass++)
	{
		const float *b = pass ? bias : NULL;

		for (int i = 0; i < M; i++)
		{
			double		mean = 0,
						var = 0;

			for (int j = 0; j < N; j++)
				mean += x[i * N + j] + (b ? (double) b[j] : 0.0);
			mean /= N;
			for (int j = 0; j < N; j++)
			{
				double		d = x[i * N + j] + (b ? (double) b[j] : 0.0) - mean;

				var += d * d;
			}
			var /= N;
			for (int j = 0; j < N; j++)
				want[i * N + j] = (float) ((x[i * N + j] + (b ? (double) b[j] : 0.0) - mean) / sqrt(var + eps) * gamma[j] + beta[j]);
		}
		memcpy(y, x, sizeof(float) * M * N);
		embed_layernorm(M, N, y, b, gamma, beta, eps);
		ok(max_abs_diff(y, want, (size_t) M * N) <= 2e-6, "layernorm%s matches double reference (%.2g)",
		   b ? " with fused bias" : "", max_abs_diff(y, want, (size_t) M * N));
	}
	embed_layernorm(1, 8, constant, NULL, ones, zeros, 1e-12f);
	for (int j = 0; j < 8; j++)
		finite = finite && constant[j] == 0.0f;
	ok(finite, "layernorm of a constant row is 0 (no division by zero)");
	free(x);
	free(gamma);
	free(beta);
	free(bias);
	free(y);
	free(want);
}

/* Softmax of a few awkward rows on the current path. */
static void
test_softmax_path(const char *path)
{
	float		x[6] = {1000.0f, 1001.0f, 999.0f, -1e30f, 1000.5f, 0.0f};
	double		ref[6];
	double		denom = 0.0;
	float		sum = 0.0f;
	float		one[1] = {42.0f};
	float		wide[37];
	double		wide_ref[37];
	double		wide_denom = 0.0,
				worst = 0.0;

	for (int j = 0; j < 6; j++)
		denom += exp((double) x[j] - 1001.0);
	for (int j = 0; j < 6; j++)
		ref[j] = exp((double) x[j] - 1001.0) / denom;
	embed_softmax(6, x);
	for (int j = 0; j < 6; j++)
		sum += x[j];
	ok(fabs(x[1] - ref[1]) < 1e-6 && fabs(x[0] - ref[0]) < 1e-6 && x[3] == 0.0f && x[5] == 0.0f,
	   "%s: softmax of large values is stable and exact to 1e-6", path);
	is_close(sum, 1.0, 1e-6, "softmax sums to 1");
	embed_softmax(1, one);
	ok(one[0] == 1.0f, "%s: softmax of one value is 1", path);

	for (int j = 0; j < 37; j++)
		wide[j] = rnd(20.0f);
	for (int j = 0; j < 37; j++)
		wide_denom += exp((double) wide[j]);
	for (int j = 0; j < 37; j++)
		wide_ref[j] = exp((double) wide[j]) / wide_denom;
	embed_softmax(37, wide);
	for (int j = 0; j < 37; j++)
		worst = fmax(worst, fabs(wide[j] - wide_ref[j]) / wide_ref[j]);
	/* x - max is rounded to float: up to 40 * 2^-24 relative error in exp */
	ok(worst <= 5e-6, "%s: softmax of 37 values in [-20, 20]: relative error %.2g", path, worst);
}

static void
test_softmax(void)
{
	embed_kernels_use_simd(false);
	test_softmax_path("portable");
	if (embed_kernels_use_simd(true))
		test_softmax_path("AVX2");
}

/* Naive multi-head attention in double over [len, heads*d] with stride ld. */
static void
attention_naive(int len, int heads, int d, int ld, const float *q, const float *k,
				const float *v, float *out)
{
	double	   *p = malloc(sizeof(double) * len);

	for (int h = 0; h < heads; h++)
		for (int i = 0; i < len; i++)
		{
			double		max = -INFINITY,
						sum = 0.0;

			for (int j = 0; j < len; j++)
			{
				double		s = 0.0;

				for (int t = 0; t < d; t++)
					s += (double) q[i * ld + h * d + t] * k[j * ld + h * d + t];
				p[j] = s / sqrt((double) d);
				max = fmax(max, p[j]);
			}
			for (int j = 0; j < len; j++)
			{
				p[j] = exp(p[j] - max);
				sum += p[j];
			}
			for (int t = 0; t < d; t++)
			{
				double		acc = 0.0;

				for (int j = 0; j < len; j++)
					acc += p[j] / sum * v[j * ld + h * d + t];
				out[i * ld + h * d + t] = (float) acc;
			}
		}
	free(p);
}

static void
test_attention(void)
{
	static const int cases[][3] = {{1, 2, 4}, {5, 3, 8}, {37, 12, 32}, {128, 4, 16}};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		int			len = cases[c][0],
					heads = cases[c][1],
					d = cases[c][2];
		int			ld = heads * d + 3; /* strided rows */
		size_t		n = (size_t) len * ld;
		float	   *q = random_array(n, 2.0f);
		float	   *k = random_array(n, 2.0f);
		float	   *v = random_array(n, 1.0f);
		float	   *want = malloc(sizeof(float) * n);
		float	   *scores = malloc(sizeof(float) * len * len);
		double		worst = 0.0;

		memcpy(want, q, sizeof(float) * n);
		attention_naive(len, heads, d, ld, q, k, v, want);
		embed_attention(len, heads, d, ld, q, k, v, scores);
		for (int i = 0; i < len; i++)
			for (int t = 0; t < heads * d; t++)
				worst = fmax(worst, fabs(q[i * ld + t] - want[i * ld + t]));
		ok(worst <= 2e-6, "attention len %d, %d heads of %d (strided) matches naive (%.2g)", len, heads, d, worst);
		free(q);
		free(k);
		free(v);
		free(want);
		free(scores);
	}
}

static void
test_embeddings_and_pooling(void)
{
	int			H = 4;
	float		word[3 * 4],
				pos[5 * 4],
				type[2 * 4];
	int32_t		ids[3] = {2, 0, 2};
	int32_t		types[3] = {1, 0, 1};
	float		out[3 * 4];
	bool		sum_ok = true;
	float		rows[3 * 4] = {1, -2, 3, 0, 5, 6, -7, 0, -9, 1, 2, 0};
	float		pooled[4];
	float		zero[4] = {0, 0, 0, 0};

	for (int i = 0; i < 12; i++)
		word[i] = (float) i;
	for (int i = 0; i < 20; i++)
		pos[i] = (float) (100 * i);
	for (int i = 0; i < 8; i++)
		type[i] = (float) (1000 * i);
	embed_embedding_sum(3, H, ids, types, word, pos, type, -1, out);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < H; j++)
			sum_ok = sum_ok && out[i * H + j] == word[ids[i] * H + j] + pos[i * H + j] + type[types[i] * H + j];
	ok(sum_ok, "embedding sum = word[id] + position[i] + token_type[t]");
	embed_embedding_sum(3, H, ids, NULL, word, pos, type, -1, out);
	ok(out[0] == word[8] + pos[0] + type[0], "NULL token types mean type 0");

	embed_pool_mean(3, 4, rows, pooled);
	ok(pooled[0] == -1.0f && pooled[1] == 5.0f / 3.0f && pooled[2] == -2.0f / 3.0f && pooled[3] == 0.0f,
	   "mean pooling");
	embed_pool_mean(2, 4, rows, pooled);
	ok(pooled[0] == 3.0f && pooled[1] == 2.0f, "mean pooling over the first count rows only");
	embed_pool_cls(3, 4, rows, pooled);
	ok(memcmp(pooled, rows, sizeof(pooled)) == 0, "CLS pooling takes row 0");
	embed_pool_max(3, 4, rows, pooled);
	ok(pooled[0] == 5.0f && pooled[1] == 6.0f && pooled[2] == 3.0f && pooled[3] == 0.0f, "max pooling");
	embed_pool_mean(0, 4, rows, pooled);
	ok(memcmp(pooled, zero, sizeof(zero)) == 0, "pooling zero rows gives zeros");

	{
		float		v[3] = {3.0f, 0.0f, -4.0f};

		embed_l2_normalize(3, v);
		ok(v[0] == 0.6f && v[2] == -0.8f, "L2 normalisation of (3, 0, -4)");
		embed_l2_normalize(4, zero);
		ok(zero[0] == 0.0f && !isnan(zero[1]), "L2 normalisation of a zero vector stays zero");
	}
}

/* Report whether sgemm results depend on the thread count or the row count. */
static void
test_blas_determinism(void)
{
	int			M = 256,
				N = 1536,
				K = 384;
	float	   *A = random_array((size_t) M * K, 1.0f);
	float	   *W = random_array((size_t) N * K, 0.125f);
	float	   *c1 = malloc(sizeof(float) * M * N);
	float	   *c1b = malloc(sizeof(float) * M * N);
	float	   *c2 = malloc(sizeof(float) * M * N);
	float	   *c2b = malloc(sizeof(float) * M * N);
	float	   *few = malloc(sizeof(float) * 16 * N);
	bool		threads_same,
				rows_same,
				two_repeat;

	openblas_set_num_threads(1);
	embed_linear(M, N, K, A, W, c1, false);
	embed_linear(M, N, K, A, W, c1b, false);
	ok(memcmp(c1, c1b, sizeof(float) * M * N) == 0, "sgemm %dx%dx%d, 1 thread: repeated call bit-identical", M, N, K);

	openblas_set_num_threads(2);
	embed_linear(M, N, K, A, W, c2, false);
	embed_linear(M, N, K, A, W, c2b, false);
	openblas_set_num_threads(1);
	two_repeat = memcmp(c2, c2b, sizeof(float) * M * N) == 0;
	threads_same = memcmp(c1, c2, sizeof(float) * M * N) == 0;
	ok(max_abs_diff(c1, c2, (size_t) M * N) <= 1e-5, "sgemm with 2 threads within 1e-5 of 1 thread");
	diag("sgemm %dx%dx%d: 2 threads repeated %s; 1 vs 2 threads %s (max diff %.3g)", M, N, K,
		 two_repeat ? "bit-identical" : "NOT bit-identical",
		 threads_same ? "bit-identical" : "NOT bit-identical", max_abs_diff(c1, c2, (size_t) M * N));

	embed_linear(16, N, K, A, W, few, false);
	rows_same = memcmp(few, c1, sizeof(float) * 16 * N) == 0;
	diag("sgemm: first 16 rows of an M=%d product vs an M=16 product: %s", M,
		 rows_same ? "bit-identical" : "NOT bit-identical");

	free(A);
	free(W);
	free(c1);
	free(c1b);
	free(c2);
	free(c2b);
	free(few);
}

int
main(void)
{
	test_linear();
	test_activations();
	test_layernorm();
	test_softmax();
	test_attention();
	test_embeddings_and_pooling();
	test_blas_determinism();
	return tap_done();
}
