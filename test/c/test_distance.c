/*
 * test_distance.c: the distance kernels against a double-precision naive
 * reference, the SIMD path against the portable path, for every length from
 * 0 to 67 plus a few long vectors, at every float misalignment 0..7.
 */
#include <float.h>
#include <stdint.h>
#include <string.h>

#include "distance.h"
#include "tap.h"

#define MAX_N	16000
#define SHIFTS	8

enum metric
{
	M_L2SQ,
	M_IP,
	M_L1,
	M_COS,
	M_NORM,
	N_METRICS
};

static const char *metric_name[N_METRICS] = {"l2_squared", "inner_product", "l1", "cosine", "squared_norm"};

/* Deterministic xorshift generator: uniform floats in [-1, 1). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static float
rand_float(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (float) ((double) (rng_state >> 11) / (double) (1ULL << 53) * 2.0 - 1.0);
}

/* Run one kernel through the public entry point. */
static double
run(enum metric m, const float *a, const float *b, size_t n)
{
	switch (m)
	{
		case M_L2SQ:
			return embed_l2_squared_distance(a, b, n);
		case M_IP:
			return embed_inner_product(a, b, n);
		case M_L1:
			return embed_l1_distance(a, b, n);
		case M_COS:
			return embed_cosine_distance(a, b, n);
		case M_NORM:
			return embed_squared_norm(a, n);
		default:
			return NAN;
	}
}

/* Naive double-precision value and the sum of |terms| (scale for tolerance). */
static double
reference(enum metric m, const float *a, const float *b, size_t n, double *scale)
{
	double		sum = 0,
				abs_sum = 0,
				dot = 0,
				na = 0,
				nb = 0;

	for (size_t i = 0; i < n; i++)
	{
		double		x = a[i],
					y = b[i],
					t;

		switch (m)
		{
			case M_L2SQ:
				t = (x - y) * (x - y);
				break;
			case M_IP:
				t = x * y;
				break;
			case M_L1:
				t = fabs(x - y);
				break;
			case M_NORM:
				t = x * x;
				break;
			default:
				t = 0;
				dot += x * y;
				na += x * x;
				nb += y * y;
				break;
		}
		sum += t;
		abs_sum += fabs(t);
	}
	*scale = abs_sum;
	if (m == M_COS)
	{
		*scale = 1.0;
		return 1.0 - dot / sqrt(na * nb);
	}
	return sum;
}

/* Allowed error of a float-accumulated sum of n terms whose |terms| sum to scale. */
static double
tolerance(enum metric m, size_t n, double scale)
{
	if (m == M_NORM)
		return 4.0 * (n + 2) * DBL_EPSILON * scale;
	if (m == M_COS)
		return 1e-5;
	return (n + 2) * FLT_EPSILON * scale + 1e-30;
}

static bool
same_bits(double x, double y)
{
	return memcmp(&x, &y, sizeof(double)) == 0;
}

static float *abuf,
		   *bbuf;

/*
 * Check every metric on path `simd` for lengths 0..67 and some long ones,
 * against the reference, and that misaligned copies give bit-identical
 * results.  Results of the aligned call are stored in out[m][k] for the
 * cross-path comparison.
 */
static const size_t long_lengths[] = {128, 384, 768, 1000, 4099, MAX_N};
#define N_SHORT 68
#define N_LENGTHS (N_SHORT + sizeof(long_lengths) / sizeof(long_lengths[0]))

static size_t
length_at(size_t k)
{
	return k < N_SHORT ? k : long_lengths[k - N_SHORT];
}

static double results[2][N_METRICS][N_LENGTHS];

static void
check_path(bool simd)
{
	const char *path = simd ? "avx2" : "portable";

	embed_distance_use_simd(simd);
	for (int m = 0; m < N_METRICS; m++)
	{
		int			bad_ref = 0,
					bad_align = 0;

		for (size_t k = 0; k < N_LENGTHS; k++)
		{
			size_t		n = length_at(k);
			/* a at a 32-byte aligned start, b deliberately off by 3 floats */
			const float *a = abuf;
			const float *b = bbuf + 3;
			double		scale;
			double		want = reference(m, a, b, n, &scale);
			double		got = run(m, a, b, n);

			results[simd][m][k] = got;
			if (n == 0 && m == M_COS)
			{
				if (!isnan(got) && bad_ref++ == 0)
					diag("%s %s n=0: got %g, want NaN", path, metric_name[m], got);
			}
			else if (!(fabs(got - want) <= tolerance(m, n, scale)) && bad_ref++ == 0)
				diag("%s %s n=%zu: got %.9g, want %.9g", path, metric_name[m], n, got, want);

			for (int s = 1; s < SHIFTS; s++)
			{
				float	   *a2 = abuf + MAX_N + 8 + s;
				float	   *b2 = bbuf + MAX_N + 8 + (SHIFTS - s);
				double		again;

				memcpy(a2, a, n * sizeof(float));
				memcpy(b2, b, n * sizeof(float));
				again = run(m, a2, b2, n);
				if (!same_bits(again, got) && bad_align++ == 0)
					diag("%s %s n=%zu shift %d: %.9g != %.9g", path, metric_name[m], n, s, again, got);
			}
		}
		ok(bad_ref == 0, "%s %s matches the double reference (%d failures)", path, metric_name[m], bad_ref);
		ok(bad_align == 0, "%s %s is independent of alignment (%d failures)", path, metric_name[m], bad_align);
	}
}

/* Special cases: zero vectors, identical and opposite vectors. */
static void
check_special_cases(bool simd)
{
	const char *path = simd ? "avx2" : "portable";
	float		zero[67] = {0};
	float		x[67],
				negx[67];

	embed_distance_use_simd(simd);
	for (int i = 0; i < 67; i++)
	{
		x[i] = (float) (i % 7) - 3.0f + 0.25f;
		negx[i] = -x[i];
	}
	ok(isnan(embed_cosine_distance(zero, x, 67)), "%s cosine with a zero vector is NaN", path);
	ok(isnan(embed_cosine_distance(x, zero, 67)), "%s cosine of a vector and zero is NaN", path);
	is_close(embed_cosine_distance(x, x, 67), 0.0, 1e-6, "identical vectors have cosine distance 0");
	is_close(embed_cosine_distance(x, negx, 67), 2.0, 1e-6, "opposite vectors have cosine distance 2");
	ok(embed_cosine_distance(x, x, 67) >= 0.0, "%s cosine distance is clamped at 0", path);
	ok(embed_l2_squared_distance(x, x, 67) == 0.0f, "%s l2 of identical vectors is exactly 0", path);
	ok(embed_l1_distance(x, zero, 67) == 1.0f * embed_l1_distance(zero, x, 67), "%s l1 is symmetric", path);
	/* 0.25 steps are exact in float: the sums must be exact on every path */
	{
		double		want = 0;

		for (int i = 0; i < 67; i++)
			want += (double) x[i] * x[i];
		ok(embed_inner_product(x, x, 67) == (float) want, "%s exact inner product of small dyadic values", path);
		ok(embed_squared_norm(x, 67) == want, "%s exact squared norm of small dyadic values", path);
	}
}

int
main(void)
{
	bool		have_simd = embed_distance_simd_available();
	size_t		bytes = (2 * MAX_N + 64) * sizeof(float);

	abuf = aligned_alloc(32, bytes);
	bbuf = aligned_alloc(32, bytes);
	if (abuf == NULL || bbuf == NULL)
		skip_all("out of memory");
	for (size_t i = 0; i < 2 * MAX_N + 64; i++)
	{
		abuf[i] = rand_float();
		bbuf[i] = rand_float();
	}

	diag("SIMD (AVX2+FMA) available: %s", have_simd ? "yes" : "no");
	ok(embed_distance_use_simd(false) == have_simd, "SIMD is enabled by default exactly when available");
	ok(embed_distance_use_simd(false) == false, "use_simd returns the previous setting");

	check_path(false);
	check_special_cases(false);
	if (have_simd)
	{
		int			l1_diff = 0,
					norm_diff = 0,
					close_diff = 0;

		check_path(true);
		check_special_cases(true);
		ok(embed_distance_use_simd(true) == true, "SIMD stays enabled when requested");

		/* Same summation order: L1 and the double norm agree bit for bit. */
		for (size_t k = 0; k < N_LENGTHS; k++)
		{
			size_t		n = length_at(k);
			double		scale;

			if (!same_bits(results[0][M_L1][k], results[1][M_L1][k]))
				l1_diff++;
			if (!same_bits(results[0][M_NORM][k], results[1][M_NORM][k]))
				norm_diff++;
			for (int m = M_L2SQ; m <= M_IP; m++)
			{
				reference(m, abuf, bbuf + 3, n, &scale);
				if (!(fabs(results[0][m][k] - results[1][m][k]) <= tolerance(m, n, scale)))
					close_diff++;
			}
			if (n > 0 && !(fabs(results[0][M_COS][k] - results[1][M_COS][k]) <= 1e-5))
				close_diff++;
		}
		ok(l1_diff == 0, "avx2 and portable l1 are bit-identical (%d differ)", l1_diff);
		ok(norm_diff == 0, "avx2 and portable squared norm are bit-identical (%d differ)", norm_diff);
		ok(close_diff == 0, "avx2 and portable l2/ip/cosine agree within rounding (%d differ)", close_diff);
	}
	else
		diag("no AVX2+FMA on this CPU: only the portable path was tested");

	free(abuf);
	free(bbuf);
	return tap_done();
}
