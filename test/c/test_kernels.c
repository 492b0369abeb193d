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

/* C[M,N] = A W (W stored [K, N]) in double, for the Conv1D form. */
static void
matmul_kn_naive(int M, int N, int K, const float *A, const float *W, float *C)
{
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++)
		{
			double		sum = 0.0;

			for (int p = 0; p < K; p++)
				sum += (double) A[(size_t) i * K + p] * W[(size_t) p * N + j];
			C[(size_t) i * N + j] = (float) sum;
		}
}

/*
 * Products with few rows (the direct AVX2 kernel when available, and the
 * portable OpenBLAS path): tails in M, N and K, strides, accumulation, and
 * a row's bits independent of M and of the column block it is computed in.
 */
static void
test_linear_small_m(bool simd)
{
	static const int shapes[][3] = {{1, 1, 1}, {1, 7, 9}, {3, 5, 8}, {4, 3, 16}, {5, 10, 37},
	{9, 13, 13}, {64, 384, 384}, {65, 17, 24}, {70, 96, 1536}};
	const char *path = embed_kernels_use_simd(simd) ? "AVX2" : "portable";

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
	{
		int			M = shapes[s][0],
					N = shapes[s][1],
					K = shapes[s][2];
		int			lda = K + 3,
					ldw = K + 5,
					ldc = N + 2;
		float	   *A = random_array((size_t) M * lda, 1.0f);
		float	   *W = random_array((size_t) N * ldw, 0.125f);
		float	   *Ad = malloc(sizeof(float) * M * K);
		float	   *Wd = malloc(sizeof(float) * N * K);
		float	   *want = malloc(sizeof(float) * M * N);
		float	   *got = random_array((size_t) M * ldc, 1.0f);
		float	   *before = malloc(sizeof(float) * M * ldc);
		double		worst = 0.0,
					worst_acc = 0.0;
		double		tol = 2e-6 * sqrt((double) K);

		for (int i = 0; i < M; i++)
			memcpy(Ad + (size_t) i * K, A + (size_t) i * lda, sizeof(float) * K);
		for (int j = 0; j < N; j++)
			memcpy(Wd + (size_t) j * K, W + (size_t) j * ldw, sizeof(float) * K);
		embed_matmul_naive(M, N, K, Ad, Wd, NULL, want);
		memcpy(before, got, sizeof(float) * M * ldc);
		embed_linear_strided(M, N, K, A, lda, W, ldw, got, ldc, false);
		for (int i = 0; i < M; i++)
			for (int j = 0; j < N; j++)
				worst = fmax(worst, fabs(got[(size_t) i * ldc + j] - want[(size_t) i * N + j]));
		ok(worst <= tol && got[ldc - 1] == before[ldc - 1],
		   "%s: strided linear %dx%dx%d matches naive (%.2g), padding untouched", path, M, N, K, worst);
		memcpy(got, before, sizeof(float) * M * ldc);
		embed_linear_strided(M, N, K, A, lda, W, ldw, got, ldc, true);
		for (int i = 0; i < M; i++)
			for (int j = 0; j < N; j++)
				worst_acc = fmax(worst_acc, fabs(got[(size_t) i * ldc + j] -
												 (before[(size_t) i * ldc + j] + want[(size_t) i * N + j])));
		ok(worst_acc <= tol + 1e-6, "%s: strided linear %dx%dx%d accumulates (%.2g)", path, M, N, K, worst_acc);
		free(A);
		free(W);
		free(Ad);
		free(Wd);
		free(want);
		free(got);
		free(before);
	}

	/* bits of a row: alone, inside 64 rows, and in a column block */
	{
		int			M = 64,
					N = 40,
					K = 100;
		float	   *A = random_array((size_t) M * K, 1.0f);
		float	   *W = random_array((size_t) N * K, 0.125f);
		float	   *all = malloc(sizeof(float) * M * N);
		float	   *one = malloc(sizeof(float) * N);
		float	   *block = malloc(sizeof(float) * M * N);
		bool		same_row = true,
					same_block = true;

		embed_linear(M, N, K, A, W, all, false);
		for (int i = 0; i < M && same_row; i++)
		{
			embed_linear(1, N, K, A + (size_t) i * K, W, one, false);
			same_row = memcmp(one, all + (size_t) i * N, sizeof(float) * N) == 0;
		}
		/* columns 7..39 computed alone, written at their place */
		embed_linear_strided(M, N - 7, K, A, K, W + (size_t) 7 * K, K, block + 7, N, false);
		for (int i = 0; i < M && same_block; i++)
			same_block = memcmp(block + (size_t) i * N + 7, all + (size_t) i * N + 7,
								sizeof(float) * (N - 7)) == 0;
		if (simd && embed_kernels_simd_available())
		{
			ok(same_row, "%s: each row of a 64-row product is bit-identical to the row alone", path);
			ok(same_block, "%s: a column block is bit-identical to the same columns of the whole product", path);
		}
		else
			diag("%s: rows alone %s, column blocks %s", path, same_row ? "bit-identical" : "differ",
				 same_block ? "bit-identical" : "differ");
		free(A);
		free(W);
		free(all);
		free(one);
		free(block);
	}
	embed_kernels_use_simd(true);
}

/* The Conv1D form C = A W with W [K, N], whole and by column block. */
static void
test_linear_kn(void)
{
	static const int shapes[][3] = {{1, 3, 2}, {7, 24, 8}, {33, 96, 32}, {130, 64, 48}};

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
	{
		int			M = shapes[s][0],
					N = shapes[s][1],
					K = shapes[s][2];
		float	   *A = random_array((size_t) M * K, 1.0f);
		float	   *W = random_array((size_t) K * N, 0.125f);
		float	   *want = malloc(sizeof(float) * M * N);
		float	   *got = malloc(sizeof(float) * M * N);
		int			half = N / 2;

		matmul_kn_naive(M, N, K, A, W, want);
		/* two column blocks: [0, half) and [half, N) */
		embed_linear_kn_strided(M, half, K, A, K, W, N, got, N, false);
		embed_linear_kn_strided(M, N - half, K, A, K, W + half, N, got + half, N, false);
		ok(max_abs_diff(got, want, (size_t) M * N) <= 2e-6 * sqrt((double) K),
		   "Conv1D-form linear %dx%dx%d by column blocks matches naive (%.2g)", M, N, K,
		   max_abs_diff(got, want, (size_t) M * N));
		embed_linear_kn_strided(M, N, K, A, K, W, N, got, N, true);
		for (size_t i = 0; i < (size_t) M * N; i++)
			want[i] *= 2.0f;
		ok(max_abs_diff(got, want, (size_t) M * N) <= 4e-6 * sqrt((double) K),
		   "Conv1D-form linear %dx%dx%d accumulates", M, N, K);
		free(A);
		free(W);
		free(want);
		free(got);
	}
}

/* Products per partial sum of the AVX2 Conv1D-form kernel (kernels.c design notes). */
#define KN_SUM_TERMS 32

/*
 * C (+)= A W, W [K, N] (strided), in the order of the AVX2 Conv1D-form
 * kernel: each output is the sum, in k order, of partial sums of
 * KN_SUM_TERMS products, each an fmaf chain from 0; then added to C.
 */
static void
matmul_kn_ordered(int M, int N, int K, const float *A, int lda, const float *W, int ldw,
				  float *C, int ldc, bool accumulate)
{
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++)
		{
			float		sum = 0.0f;
			float	   *c = C + (size_t) i * ldc + j;

			for (int k0 = 0; k0 < K; k0 += KN_SUM_TERMS)
			{
				float		part = 0.0f;

				for (int p = k0; p < K && p < k0 + KN_SUM_TERMS; p++)
					part = fmaf(A[(size_t) i * lda + p], W[(size_t) p * ldw + j], part);
				sum += part;
			}
			*c = accumulate ? *c + sum : sum;
		}
}

/* Largest |C - (base + want)| over the M x N outputs (base NULL: zeros). */
static double
worst_kn(int M, int N, const float *C, int ldc, const float *base, const float *want)
{
	double		worst = 0.0;

	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++)
		{
			size_t		at = (size_t) i * ldc + j;

			worst = fmax(worst, fabs(C[at] - ((base ? (double) base[at] : 0.0) + want[(size_t) i * N + j])));
		}
	return worst;
}

/* Whether the padding columns [N, ldc) of every row are those of before. */
static bool
padding_untouched(int M, int N, const float *C, int ldc, const float *before)
{
	for (int i = 0; i < M; i++)
		if (memcmp(C + (size_t) i * ldc + N, before + (size_t) i * ldc + N,
				   sizeof(float) * (ldc - N)) != 0)
			return false;
	return true;
}

/*
 * The Conv1D form with few rows (the direct AVX2 kernel when available,
 * OpenBLAS otherwise and above 64 rows): tails in M, N (panels of 16,
 * groups of 128) and K (chunks of 32), strides, accumulation; on AVX2,
 * every output is summed in one fixed order (matmul_kn_ordered), so a
 * row's bits do not depend on M or on the column block it is computed in.
 */
static void
test_linear_kn_small_m(bool simd)
{
	static const int shapes[][3] = {{1, 1, 1}, {1, 7, 9}, {2, 16, 32}, {3, 5, 8}, {4, 17, 33},
	{5, 10, 37}, {6, 31, 64}, {7, 33, 31}, {9, 13, 13}, {13, 129, 70}, {1, 300, 100},
	{64, 300, 100}, {64, 96, 768}, {65, 17, 24}, {70, 96, 200}};
	const char *path = embed_kernels_use_simd(simd) ? "AVX2" : "portable";

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
	{
		int			M = shapes[s][0],
					N = shapes[s][1],
					K = shapes[s][2];
		int			lda = K + 3,
					ldw = N + 5,
					ldc = N + 2;
		float	   *A = random_array((size_t) M * lda, 1.0f);
		float	   *W = random_array((size_t) K * ldw, 0.125f);
		float	   *Ad = malloc(sizeof(float) * M * K);
		float	   *Wd = malloc(sizeof(float) * K * N);
		float	   *want = malloc(sizeof(float) * M * N);
		float	   *got = random_array((size_t) M * ldc, 1.0f);
		float	   *before = malloc(sizeof(float) * M * ldc);
		float	   *chain = malloc(sizeof(float) * M * ldc);
		double		tol = 2e-6 * sqrt((double) K),
					worst,
					worst_acc;
		bool		exact,
					exact_acc;

		for (int i = 0; i < M; i++)
			memcpy(Ad + (size_t) i * K, A + (size_t) i * lda, sizeof(float) * K);
		for (int p = 0; p < K; p++)
			memcpy(Wd + (size_t) p * N, W + (size_t) p * ldw, sizeof(float) * N);
		matmul_kn_naive(M, N, K, Ad, Wd, want);
		memcpy(before, got, sizeof(float) * M * ldc);
		memcpy(chain, got, sizeof(float) * M * ldc);

		embed_linear_kn_strided(M, N, K, A, lda, W, ldw, got, ldc, false);
		worst = worst_kn(M, N, got, ldc, NULL, want);
		matmul_kn_ordered(M, N, K, A, lda, W, ldw, chain, ldc, false);
		exact = memcmp(got, chain, sizeof(float) * M * ldc) == 0;
		ok(worst <= tol && padding_untouched(M, N, got, ldc, before),
		   "%s: Conv1D-form %dx%dx%d (strided) matches naive (%.2g), padding untouched",
		   path, M, N, K, worst);

		memcpy(got, before, sizeof(float) * M * ldc);
		memcpy(chain, before, sizeof(float) * M * ldc);
		embed_linear_kn_strided(M, N, K, A, lda, W, ldw, got, ldc, true);
		worst_acc = worst_kn(M, N, got, ldc, before, want);
		matmul_kn_ordered(M, N, K, A, lda, W, ldw, chain, ldc, true);
		exact_acc = memcmp(got, chain, sizeof(float) * M * ldc) == 0;
		ok(worst_acc <= tol + 1e-6 && padding_untouched(M, N, got, ldc, before),
		   "%s: Conv1D-form %dx%dx%d accumulates (%.2g)", path, M, N, K, worst_acc);

		if (simd && embed_kernels_simd_available() && M <= 64)
			ok(exact && exact_acc, "%s: Conv1D-form %dx%dx%d is bit-identical to fmaf chains of %d products added in order",
			   path, M, N, K, KN_SUM_TERMS);
		free(A);
		free(W);
		free(Ad);
		free(Wd);
		free(want);
		free(got);
		free(before);
		free(chain);
	}

	/* bits of a row: alone, inside 7 and 64 rows, and in column blocks */
	{
		int			M = 64,
					N = 200,
					K = 300;
		float	   *A = random_array((size_t) M * K, 1.0f);
		float	   *W = random_array((size_t) K * N, 0.125f);
		float	   *all = malloc(sizeof(float) * M * N);
		float	   *part = malloc(sizeof(float) * M * N);
		static const int cuts[] = {0, 7, 100, 116, 200};
		bool		same_row = true,
					same_seven = true,
					same_block;

		embed_linear_kn_strided(M, N, K, A, K, W, N, all, N, false);
		for (int i = 0; i < M && same_row; i++)
		{
			embed_linear_kn_strided(1, N, K, A + (size_t) i * K, K, W, N, part, N, false);
			same_row = memcmp(part, all + (size_t) i * N, sizeof(float) * N) == 0;
		}
		embed_linear_kn_strided(7, N, K, A + (size_t) 3 * K, K, W, N, part, N, false);
		same_seven = memcmp(part, all + (size_t) 3 * N, sizeof(float) * 7 * N) == 0;
		/* columns [0, 7), [7, 100), [100, 116), [116, 200) computed alone, in place */
		for (size_t c = 0; c + 1 < sizeof(cuts) / sizeof(cuts[0]); c++)
			embed_linear_kn_strided(M, cuts[c + 1] - cuts[c], K, A, K, W + cuts[c], N,
									part + cuts[c], N, false);
		same_block = memcmp(part, all, sizeof(float) * M * N) == 0;
		if (simd && embed_kernels_simd_available())
		{
			ok(same_row && same_seven,
			   "%s: Conv1D form: each row of a 64-row product is bit-identical alone and inside 7 rows", path);
			ok(same_block, "%s: Conv1D form: column blocks are bit-identical to the whole product", path);
		}
		else
			diag("%s: Conv1D form: rows alone %s, column blocks %s", path,
				 same_row && same_seven ? "bit-identical" : "differ",
				 same_block ? "bit-identical" : "differ");
		free(A);
		free(W);
		free(all);
		free(part);
	}
	embed_kernels_use_simd(true);
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

/* Causal heads: each row against a naive softmax over the positions up to it. */
static void
test_attention_causal(void)
{
	static const int cases[][2] = {{1, 4}, {6, 8}, {33, 16}};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		int			len = cases[c][0],
					d = cases[c][1];
		int			ld = 3 * d + 1;
		float	   *qkv = random_array((size_t) len * ld, 2.0f);
		float	   *scores = malloc(sizeof(float) * len * len);
		float	   *q = malloc(sizeof(float) * len * d);
		double		worst = 0.0;
		bool		prefix_same = true;

		for (int i = 0; i < len; i++)
			memcpy(q + (size_t) i * d, qkv + (size_t) i * ld, sizeof(float) * d);
		embed_attention_head_causal(len, d, ld, qkv, qkv + d, qkv + 2 * d, scores);
		for (int i = 0; i < len; i++)
		{
			double		w[64],
						max = -1e300,
						sum = 0.0;

			for (int j = 0; j <= i; j++)
			{
				double		dot = 0.0;

				for (int t = 0; t < d; t++)
					dot += (double) q[(size_t) i * d + t] * qkv[(size_t) j * ld + d + t];
				w[j] = dot / sqrt((double) d);
				max = fmax(max, w[j]);
			}
			for (int j = 0; j <= i; j++)
				sum += (w[j] = exp(w[j] - max));
			for (int t = 0; t < d; t++)
			{
				double		ctx = 0.0;

				for (int j = 0; j <= i; j++)
					ctx += w[j] / sum * qkv[(size_t) j * ld + 2 * d + t];
				worst = fmax(worst, fabs(qkv[(size_t) i * ld + t] - ctx));
			}
		}
		ok(worst <= 2e-6, "causal attention len %d, head of %d matches naive (%.2g)", len, d, worst);
		/* the first rows do not depend on later positions */
		if (len > 2)
		{
			float	   *again = random_array((size_t) len * ld, 2.0f);
			float	   *ref = malloc(sizeof(float) * len * ld);

			/* same first 2 rows, different later ones */
			for (int i = 0; i < 2; i++)
				for (int t = 0; t < d; t++)
				{
					again[(size_t) i * ld + t] = q[(size_t) i * d + t];
					again[(size_t) i * ld + d + t] = qkv[(size_t) i * ld + d + t];
					again[(size_t) i * ld + 2 * d + t] = qkv[(size_t) i * ld + 2 * d + t];
				}
			memcpy(ref, again, sizeof(float) * 2 * ld);
			embed_attention_head_causal(2, d, ld, ref, ref + d, ref + 2 * d, scores);
			embed_attention_head_causal(len, d, ld, again, again + d, again + 2 * d, scores);
			for (int i = 0; i < 2; i++)
				prefix_same &= fabs(again[(size_t) i * ld] - ref[(size_t) i * ld]) <= 1e-6;
			ok(prefix_same, "causal attention len %d: the first rows ignore later positions", len);
			free(again);
			free(ref);
		}
		free(qkv);
		free(scores);
		free(q);
	}
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
	embed_embedding_sum(3, H, ids, NULL, word, pos, NULL, -1, out);
	ok(out[4] == word[0] + pos[4] && out[11] == word[11] + pos[11],
	   "no token-type table: word[id] + position[i] (DistilBERT, GPT-2)");
	/* RoBERTa with padding id 0: ids 2, 0, 2 take positions 1, 0, 2 */
	embed_embedding_sum(3, H, ids, NULL, word, pos, type, 0, out);
	ok(out[0] == word[8] + type[0] + pos[4] && out[4] == word[0] + type[0] + pos[0] &&
	   out[8] == word[8] + type[0] + pos[8],
	   "RoBERTa positions: pad + 1 + (non-padding tokens so far); padding tokens take pad");

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
	test_linear_small_m(true);
	test_linear_small_m(false);
	test_linear_kn();
	test_linear_kn_small_m(true);
	test_linear_kn_small_m(false);
	test_activations();
	test_layernorm();
	test_softmax();
	test_attention();
	test_attention_causal();
	test_embeddings_and_pooling();
	test_blas_determinism();
	return tap_done();
}
