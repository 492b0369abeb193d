/*
 * bench_linear.c: linear products with few rows, the engine's
 * embed_linear_strided (its direct AVX2 kernel up to 64 rows) against a
 * plain single-threaded cblas_sgemm on the same operands.
 *
 * usage: bench_linear [seconds]        (default 1 s per case)
 *
 * Shapes are those of an all-MiniLM-L6-v2 layer (N x K = 384 x 384,
 * 1536 x 384, 384 x 1536).  Each case cycles over enough distinct weight
 * matrices (about 48 MB) that the weights come from memory, as in a forward
 * pass, not from the caches.  Prints a Markdown table of GFLOP/s, best of
 * the repetitions made in `seconds`.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels.h"

#define WEIGHT_BYTES (48 << 20)

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* GFLOP/s of C = A W^T over `count` weight matrices, best over `seconds`. */
static double
measure(bool engine, int M, int N, int K, const float *A, float *const *W, int count, float *C,
		double seconds)
{
	double		best = 1e30,
				start = now();

	do
	{
		double		t = now();

		for (int i = 0; i < count; i++)
		{
			if (engine)
				embed_linear_strided(M, N, K, A, K, W[i], K, C, N, false);
			else
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K,
							W[i], K, 0.0f, C, N);
		}
		t = now() - t;
		if (t < best)
			best = t;
	} while (now() - start < seconds);
	return 2.0 * M * N * K * count / best / 1e9;
}

int
main(int argc, char **argv)
{
	static const int rows[] = {1, 4, 8, 16, 32, 64, 128};
	static const int shapes[][2] = {{384, 384}, {1536, 384}, {384, 1536}};
	double		seconds = argc > 1 ? atof(argv[1]) : 1.0;

	embed_kernels_init();
	printf("OpenBLAS %s (kernel %s); engine kernel: %s\n\n", openblas_get_config(), openblas_get_corename(),
		   embed_kernels_simd_available() ? "AVX2 direct kernel up to 64 rows, OpenBLAS above" : "OpenBLAS (no AVX2)");
	printf("| rows (tokens) | N x K | OpenBLAS sgemm GFLOP/s | engine GFLOP/s | engine / OpenBLAS |\n");
	printf("|---:|---|---:|---:|---:|\n");
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
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
			double		blas = measure(false, M, N, K, A, W, count, C, seconds);
			double		engine = measure(true, M, N, K, A, W, count, C, seconds);

			printf("| %d | %d x %d | %.1f | %.1f | %.2f |\n", M, N, K, blas, engine, engine / blas);
		}
		for (int i = 0; i < count; i++)
			free(W[i]);
		free(W);
		free(A);
		free(C);
	}
	return 0;
}
