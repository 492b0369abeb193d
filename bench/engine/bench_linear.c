/*
 * bench_linear.c: linear products with few rows, the engine's kernels (the
 * direct AVX2 kernels up to their row limits, OpenBLAS above) against a
 * plain single-threaded cblas_sgemm on the same operands.
 *
 * usage: bench_linear [seconds]        (default 1 s per case)
 *
 * Two tables.  embed_linear_strided (weights stored [N, K], as PyTorch's
 * Linear) on the shapes of an all-MiniLM-L6-v2 layer: N x K = 384 x 384,
 * 1536 x 384, 384 x 1536.  embed_linear_kn_strided (weights stored [K, N],
 * as GPT-2's Conv1D) on the shapes of a GPT-2-small block: 2304 x 768
 * (c_attn), 768 x 768 (attn.c_proj), 3072 x 768 (c_fc), 768 x 3072
 * (mlp.c_proj).  Each case cycles over enough distinct weight matrices
 * (about 48 MB) that the weights come from memory, as in a forward pass,
 * not from the caches.  Prints Markdown tables of GFLOP/s, best of the
 * repetitions made in `seconds`.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels.h"

#define WEIGHT_BYTES (48 << 20)

/* Which product is measured. */
typedef enum Product
{
	ENGINE_NK,					/* embed_linear_strided, W [N, K] */
	BLAS_NK,					/* cblas_sgemm NoTrans, Trans */
	ENGINE_KN,					/* embed_linear_kn_strided, W [K, N] */
	BLAS_KN						/* cblas_sgemm NoTrans, NoTrans */
} Product;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One product C[M,N] = A[M,K] W with W of the given form. */
static void
run_product(Product p, int M, int N, int K, const float *A, const float *W, float *C)
{
	switch (p)
	{
		case ENGINE_NK:
			embed_linear_strided(M, N, K, A, K, W, K, C, N, false);
			break;
		case BLAS_NK:
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K,
						W, K, 0.0f, C, N);
			break;
		case ENGINE_KN:
			embed_linear_kn_strided(M, N, K, A, K, W, N, C, N, false);
			break;
		case BLAS_KN:
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K,
						W, N, 0.0f, C, N);
			break;
	}
}

/* GFLOP/s of one product form over `count` weight matrices, best over `seconds`. */
static double
measure(Product p, int M, int N, int K, const float *A, float *const *W, int count, float *C,
		double seconds)
{
	double		best = 1e30,
				start = now();

	do
	{
		double		t = now();

		for (int i = 0; i < count; i++)
			run_product(p, M, N, K, A, W[i], C);
		t = now() - t;
		if (t < best)
			best = t;
	} while (now() - start < seconds);
	return 2.0 * M * N * K * count / best / 1e9;
}

/* One table: every row count on every N x K shape, engine against sgemm. */
static void
table(bool kn, const int (*shapes)[2], size_t nshapes, double seconds)
{
	static const int rows[] = {1, 4, 8, 16, 32, 64, 128};

	printf("| rows (tokens) | N x K | OpenBLAS sgemm GFLOP/s | engine GFLOP/s | engine / OpenBLAS |\n");
	printf("|---:|---|---:|---:|---:|\n");
	for (size_t s = 0; s < nshapes; s++)
	{
		int			N = shapes[s][0],
					K = shapes[s][1];
		int			count = WEIGHT_BYTES / (int) (sizeof(float) * N * K);
		float	  **W = malloc(sizeof(float *) * count);
		float	   *A = malloc(sizeof(float) * 128 * K);
		float	   *C = malloc(sizeof(float) * 128 * N);

		for (int i = 0; i < count; i++)
		{
			W[i] = malloc(sizeof(float) * N * K);
			for (size_t j = 0; j < (size_t) N * K; j++)
				W[i][j] = (float) ((j * 7 + i) % 13) * 0.01f - 0.06f;
		}
		for (int j = 0; j < 128 * K; j++)
			A[j] = (float) (j % 17) * 0.01f - 0.08f;
		for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
		{
			int			M = rows[r];
			double		blas = measure(kn ? BLAS_KN : BLAS_NK, M, N, K, A, W, count, C, seconds);
			double		engine = measure(kn ? ENGINE_KN : ENGINE_NK, M, N, K, A, W, count, C, seconds);

			printf("| %d | %d x %d | %.1f | %.1f | %.2f |\n", M, N, K, blas, engine, engine / blas);
			fflush(stdout);
		}
		for (int i = 0; i < count; i++)
			free(W[i]);
		free(W);
		free(A);
		free(C);
	}
}

int
main(int argc, char **argv)
{
	static const int nk_shapes[][2] = {{384, 384}, {1536, 384}, {384, 1536}};
	static const int kn_shapes[][2] = {{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}};
	double		seconds = argc > 1 ? atof(argv[1]) : 1.0;
	bool		simd = embed_kernels_simd_available();

	embed_kernels_init();
	printf("OpenBLAS %s (kernel %s)\n\n", openblas_get_config(), openblas_get_corename());
	printf("Weights stored [N, K] (embed_linear_strided); engine kernel: %s\n\n",
		   simd ? "AVX2 direct kernel up to 64 rows, OpenBLAS above" : "OpenBLAS (no AVX2)");
	table(false, nk_shapes, sizeof(nk_shapes) / sizeof(nk_shapes[0]), seconds);
	printf("\nWeights stored [K, N] (embed_linear_kn_strided, GPT-2-small shapes); engine kernel: %s\n\n",
		   simd ? "AVX2 direct kernel up to 64 rows, OpenBLAS above" : "OpenBLAS (no AVX2)");
	table(true, kn_shapes, sizeof(kn_shapes) / sizeof(kn_shapes[0]), seconds);
	return 0;
}
