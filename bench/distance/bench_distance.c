/*
 * bench_distance.c: throughput of the distance kernels, portable vs AVX2+FMA.
 *
 * One query vector is compared with each of a set of base vectors (fixed
 * seed); a measurement repeats whole passes over the set for at least
 * MIN_SECONDS of CPU time and reports vectors per CPU-second; the best of
 * RUNS measurements is kept.  Output is a Markdown table.
 *
 * usage: bench_distance [dims [base_vectors]]   (defaults: 384, 256)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "distance.h"

#define RUNS		7
#define MIN_SECONDS 0.3

typedef double (*kernel_fn) (const float *a, const float *b, size_t n);

static double
l2_squared(const float *a, const float *b, size_t n)
{
	return embed_l2_squared_distance(a, b, n);
}

static double
inner_product(const float *a, const float *b, size_t n)
{
	return embed_inner_product(a, b, n);
}

static double
cosine(const float *a, const float *b, size_t n)
{
	return embed_cosine_distance(a, b, n);
}

static double
l1(const float *a, const float *b, size_t n)
{
	return embed_l1_distance(a, b, n);
}

static const struct
{
	const char *name;
	kernel_fn	fn;
}			kernels[] = {
	{"L2 (squared)", l2_squared},
	{"inner product", inner_product},
	{"cosine", cosine},
	{"L1", l1},
};

static double
now(void)
{
	struct timespec ts;

	/* CPU time of this thread: robust to other processes on a shared machine */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Deterministic xorshift floats in [-1, 1). */
static uint64_t rng = 0x2545F4914F6CDD1DULL;

static float
rand_float(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float) ((double) (rng >> 11) / (double) (1ULL << 53) * 2.0 - 1.0);
}

/* Best vectors/second of RUNS measurements of one kernel. */
static double
measure(kernel_fn fn, const float *query, const float *base, size_t count, size_t dims)
{
	volatile double sink = 0;
	double		best = 0;

	for (int run = 0; run < RUNS; run++)
	{
		double		start = now();
		double		elapsed;
		size_t		done = 0;

		do
		{
			double		acc = 0;

			for (size_t i = 0; i < count; i++)
				acc += fn(query, base + i * dims, dims);
			sink += acc;
			done += count;
			elapsed = now() - start;
		} while (elapsed < MIN_SECONDS);
		if (done / elapsed > best)
			best = done / elapsed;
	}
	(void) sink;
	return best;
}

int
main(int argc, char **argv)
{
	size_t		dims = argc > 1 ? strtoul(argv[1], NULL, 10) : 384;
	size_t		count = argc > 2 ? strtoul(argv[2], NULL, 10) : 256;
	bool		have_simd = embed_distance_simd_available();
	float	   *query;
	float	   *base;

	if (dims == 0 || count == 0)
	{
		fprintf(stderr, "usage: %s [dims [base_vectors]]\n", argv[0]);
		return 2;
	}
	query = malloc(dims * sizeof(float));
	base = malloc(dims * count * sizeof(float));
	if (query == NULL || base == NULL)
	{
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < dims; i++)
		query[i] = rand_float();
	for (size_t i = 0; i < dims * count; i++)
		base[i] = rand_float();

	printf("%zu dimensions, %zu base vectors (%.0f KiB), best of %d runs of >= %.1f s of CPU time\n\n",
		   dims, count, dims * count * sizeof(float) / 1024.0, RUNS, MIN_SECONDS);
	printf("| metric | portable (vectors/CPU-s) | AVX2+FMA (vectors/CPU-s) | speed-up |\n");
	printf("|---|---:|---:|---:|\n");
	for (size_t k = 0; k < sizeof(kernels) / sizeof(kernels[0]); k++)
	{
		double		portable,
					simd = 0;

		embed_distance_use_simd(false);
		portable = measure(kernels[k].fn, query, base, count, dims);
		if (have_simd)
		{
			embed_distance_use_simd(true);
			simd = measure(kernels[k].fn, query, base, count, dims);
			printf("| %s | %.3g M | %.3g M | %.1fx |\n", kernels[k].name,
				   portable / 1e6, simd / 1e6, simd / portable);
		}
		else
			printf("| %s | %.3g M | n/a | n/a |\n", kernels[k].name, portable / 1e6);
	}
	free(query);
	free(base);
	return 0;
}
