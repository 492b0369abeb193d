/*
 * distance.c: distance kernels over float arrays.
 *
 * Design notes
 * ------------
 * Each metric has a portable implementation and an AVX2+FMA implementation
 * (x86-64 only) chosen at run time with __builtin_cpu_supports().  Both use
 * the same summation order so that results are deterministic and the two
 * paths agree closely:
 *
 *   - the float terms are accumulated in LANES (32) float partial sums, lane
 *     j receiving the terms i with i % LANES == j, over whole blocks of 32
 *     elements; the remaining whole blocks of 8 go to lanes 0..7;
 *   - the lanes are then reduced in a fixed tree: the four groups of 8 lanes
 *     pairwise ((g0 + g1) + (g2 + g3)), then 8 -> 4 -> 2 -> 1 exactly as the
 *     AVX2 horizontal sum does;
 *   - the last n % 8 elements are added one by one to the reduced sum.
 *
 * The summation order depends only on n, never on the address of the data,
 * so a given input always gives the same output whatever its alignment.  L1
 * (no multiplication) and the double-precision squared norm (float products
 * are exact in double) are bit-identical on both paths; L2 and the inner
 * product differ only by the rounding that FMA saves.
 *
 * Like pgvector, L2, inner product, L1 and the three cosine sums accumulate
 * in float; cosine combines its sums in double at the end and returns NaN
 * when either norm is zero.
 */
#include "distance.h"

#include <math.h>

#include "avx2.h"

#define LANES	32				/* float partial sums per accumulator set */
#define COS_LANES 16			/* cosine keeps three sets of 16 */

/* -1: not yet decided; 0: portable; 1: AVX2+FMA */
static int	simd_mode = -1;

/* Whether this CPU can run the AVX2+FMA kernels. */
bool
embed_distance_simd_available(void)
{
#ifdef EMBED_HAVE_AVX2_KERNELS
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
	return false;
#endif
}

/* Allow or forbid the SIMD kernels; returns the previous setting. */
bool
embed_distance_use_simd(bool enable)
{
	bool		previous;

	if (simd_mode < 0)
		simd_mode = embed_distance_simd_available() ? 1 : 0;
	previous = simd_mode == 1;
	simd_mode = (enable && embed_distance_simd_available()) ? 1 : 0;
	return previous;
}

/* Whether the kernels should take the SIMD path now. */
static inline bool
simd_enabled(void)
{
	if (simd_mode < 0)
		simd_mode = embed_distance_simd_available() ? 1 : 0;
	return simd_mode == 1;
}

/* ---------------------------------------------------------------------
 * Portable kernels
 * ---------------------------------------------------------------------
 */

/* Reduce 8 lanes in the order of the AVX2 horizontal sum. */
static inline float
reduce8(const float *v)
{
	float		r0 = v[0] + v[4];
	float		r1 = v[1] + v[5];
	float		r2 = v[2] + v[6];
	float		r3 = v[3] + v[7];

	return (r0 + r2) + (r1 + r3);
}

/* Reduce 32 lanes: groups of 8 pairwise, then 8 -> 1. */
static inline float
reduce32(const float *acc)
{
	float		v[8];

	for (int j = 0; j < 8; j++)
		v[j] = (acc[j] + acc[8 + j]) + (acc[16 + j] + acc[24 + j]);
	return reduce8(v);
}

/* Reduce 16 lanes: two groups of 8, then 8 -> 1. */
static inline float
reduce16(const float *acc)
{
	float		v[8];

	for (int j = 0; j < 8; j++)
		v[j] = acc[j] + acc[8 + j];
	return reduce8(v);
}

/*
 * Portable kernels share one shape: TERM(i) is the float term of element i;
 * blocks of 32 fill all lanes, blocks of 8 lanes 0..7, the tail is added last.
 */
#define PORTABLE_KERNEL(name, TERM) \
static float \
name(const float *a, const float *b, size_t n) \
{ \
	float		acc[LANES] = {0}; \
	size_t		i = 0; \
	float		sum; \
\
	for (; i + LANES <= n; i += LANES) \
		for (int j = 0; j < LANES; j++) \
			acc[j] += TERM(i + j); \
	for (; i + 8 <= n; i += 8) \
		for (int j = 0; j < 8; j++) \
			acc[j] += TERM(i + j); \
	sum = reduce32(acc); \
	for (; i < n; i++) \
		sum += TERM(i); \
	return sum; \
}

#define L2_TERM(k)	((a[k] - b[k]) * (a[k] - b[k]))
#define IP_TERM(k)	(a[k] * b[k])
#define L1_TERM(k)	fabsf(a[k] - b[k])

PORTABLE_KERNEL(l2_squared_portable, L2_TERM)
PORTABLE_KERNEL(inner_product_portable, IP_TERM)
PORTABLE_KERNEL(l1_portable, L1_TERM)

/* Dot product and both squared norms in one pass (16 lanes each). */
static void
cosine_sums_portable(const float *a, const float *b, size_t n,
					 float *dot, float *norma, float *normb)
{
	float		d[COS_LANES] = {0};
	float		na[COS_LANES] = {0};
	float		nb[COS_LANES] = {0};
	size_t		i = 0;

	for (; i + COS_LANES <= n; i += COS_LANES)
		for (int j = 0; j < COS_LANES; j++)
		{
			d[j] += a[i + j] * b[i + j];
			na[j] += a[i + j] * a[i + j];
			nb[j] += b[i + j] * b[i + j];
		}
	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
		{
			d[j] += a[i + j] * b[i + j];
			na[j] += a[i + j] * a[i + j];
			nb[j] += b[i + j] * b[i + j];
		}
	*dot = reduce16(d);
	*norma = reduce16(na);
	*normb = reduce16(nb);
	for (; i < n; i++)
	{
		*dot += a[i] * b[i];
		*norma += a[i] * a[i];
		*normb += b[i] * b[i];
	}
}

/* Sum of squares in double: 8 lanes, reduced like the AVX2 path. */
static double
squared_norm_portable(const float *a, size_t n)
{
	double		acc[8] = {0};
	double		r0,
				r1,
				r2,
				r3;
	double		sum;
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
			acc[j] += (double) a[i + j] * (double) a[i + j];
	r0 = acc[0] + acc[4];
	r1 = acc[1] + acc[5];
	r2 = acc[2] + acc[6];
	r3 = acc[3] + acc[7];
	sum = (r0 + r2) + (r1 + r3);
	for (; i < n; i++)
		sum += (double) a[i] * (double) a[i];
	return sum;
}

/* ---------------------------------------------------------------------
 * AVX2 + FMA kernels
 * ---------------------------------------------------------------------
 */
#ifdef EMBED_HAVE_AVX2_KERNELS

/* Reduce four accumulators of 8 lanes like reduce32(). */
AVX2_TARGET static inline float
hsum4x256(__m256 s0, __m256 s1, __m256 s2, __m256 s3)
{
	return embed_hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

AVX2_TARGET static float
l2_squared_avx2(const float *a, const float *b, size_t n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	size_t		i = 0;
	float		sum;

	for (; i + LANES <= n; i += LANES)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
		__m256		d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
		__m256		d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
		s2 = _mm256_fmadd_ps(d2, d2, s2);
		s3 = _mm256_fmadd_ps(d3, d3, s3);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));

		s0 = _mm256_fmadd_ps(d, d, s0);
	}
	sum = hsum4x256(s0, s1, s2, s3);
	for (; i < n; i++)
	{
		float		d = a[i] - b[i];

		sum += d * d;
	}
	return sum;
}

AVX2_TARGET static float
inner_product_avx2(const float *a, const float *b, size_t n)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	size_t		i = 0;
	float		sum;

	for (; i + LANES <= n; i += LANES)
	{
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
		s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
		s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	sum = hsum4x256(s0, s1, s2, s3);
	for (; i < n; i++)
		sum += a[i] * b[i];
	return sum;
}

AVX2_TARGET static float
l1_avx2(const float *a, const float *b, size_t n)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	size_t		i = 0;
	float		sum;

	for (; i + LANES <= n; i += LANES)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
		__m256		d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
		__m256		d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));

		s0 = _mm256_add_ps(s0, _mm256_andnot_ps(sign, d0));
		s1 = _mm256_add_ps(s1, _mm256_andnot_ps(sign, d1));
		s2 = _mm256_add_ps(s2, _mm256_andnot_ps(sign, d2));
		s3 = _mm256_add_ps(s3, _mm256_andnot_ps(sign, d3));
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));

		s0 = _mm256_add_ps(s0, _mm256_andnot_ps(sign, d));
	}
	sum = hsum4x256(s0, s1, s2, s3);
	for (; i < n; i++)
		sum += fabsf(a[i] - b[i]);
	return sum;
}

AVX2_TARGET static void
cosine_sums_avx2(const float *a, const float *b, size_t n,
				 float *dot, float *norma, float *normb)
{
	__m256		d0 = _mm256_setzero_ps(),
				d1 = _mm256_setzero_ps();
	__m256		na0 = _mm256_setzero_ps(),
				na1 = _mm256_setzero_ps();
	__m256		nb0 = _mm256_setzero_ps(),
				nb1 = _mm256_setzero_ps();
	size_t		i = 0;

	for (; i + COS_LANES <= n; i += COS_LANES)
	{
		__m256		a0 = _mm256_loadu_ps(a + i);
		__m256		a1 = _mm256_loadu_ps(a + i + 8);
		__m256		b0 = _mm256_loadu_ps(b + i);
		__m256		b1 = _mm256_loadu_ps(b + i + 8);

		d0 = _mm256_fmadd_ps(a0, b0, d0);
		d1 = _mm256_fmadd_ps(a1, b1, d1);
		na0 = _mm256_fmadd_ps(a0, a0, na0);
		na1 = _mm256_fmadd_ps(a1, a1, na1);
		nb0 = _mm256_fmadd_ps(b0, b0, nb0);
		nb1 = _mm256_fmadd_ps(b1, b1, nb1);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		a0 = _mm256_loadu_ps(a + i);
		__m256		b0 = _mm256_loadu_ps(b + i);

		d0 = _mm256_fmadd_ps(a0, b0, d0);
		na0 = _mm256_fmadd_ps(a0, a0, na0);
		nb0 = _mm256_fmadd_ps(b0, b0, nb0);
	}
	*dot = embed_hsum8(_mm256_add_ps(d0, d1));
	*norma = embed_hsum8(_mm256_add_ps(na0, na1));
	*normb = embed_hsum8(_mm256_add_ps(nb0, nb1));
	for (; i < n; i++)
	{
		*dot += a[i] * b[i];
		*norma += a[i] * a[i];
		*normb += b[i] * b[i];
	}
}

AVX2_TARGET static double
squared_norm_avx2(const float *a, size_t n)
{
	__m256d		lo = _mm256_setzero_pd();
	__m256d		hi = _mm256_setzero_pd();
	__m128d		s;
	double		sum;
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m256		x = _mm256_loadu_ps(a + i);
		__m256d		xlo = _mm256_cvtps_pd(_mm256_castps256_ps128(x));
		__m256d		xhi = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));

		lo = _mm256_fmadd_pd(xlo, xlo, lo);
		hi = _mm256_fmadd_pd(xhi, xhi, hi);
	}
	/* lanes (j, j + 4) first, then (0, 2) and (1, 3), as the portable code */
	lo = _mm256_add_pd(lo, hi);
	s = _mm_add_pd(_mm256_castpd256_pd128(lo), _mm256_extractf128_pd(lo, 1));
	sum = _mm_cvtsd_f64(s) + _mm_cvtsd_f64(_mm_unpackhi_pd(s, s));
	for (; i < n; i++)
		sum += (double) a[i] * (double) a[i];
	return sum;
}

#endif							/* EMBED_HAVE_AVX2_KERNELS */

/* ---------------------------------------------------------------------
 * Public entry points
 * ---------------------------------------------------------------------
 */

float
embed_l2_squared_distance(const float *a, const float *b, size_t n)
{
#ifdef EMBED_HAVE_AVX2_KERNELS
	if (simd_enabled())
		return l2_squared_avx2(a, b, n);
#endif
	return l2_squared_portable(a, b, n);
}

float
embed_inner_product(const float *a, const float *b, size_t n)
{
#ifdef EMBED_HAVE_AVX2_KERNELS
	if (simd_enabled())
		return inner_product_avx2(a, b, n);
#endif
	return inner_product_portable(a, b, n);
}

float
embed_l1_distance(const float *a, const float *b, size_t n)
{
#ifdef EMBED_HAVE_AVX2_KERNELS
	if (simd_enabled())
		return l1_avx2(a, b, n);
#endif
	return l1_portable(a, b, n);
}

double
embed_squared_norm(const float *a, size_t n)
{
#ifdef EMBED_HAVE_AVX2_KERNELS
	if (simd_enabled())
		return squared_norm_avx2(a, n);
#endif
	return squared_norm_portable(a, n);
}

double
embed_cosine_similarity(const float *a, const float *b, size_t n)
{
	float		dot,
				norma,
				normb;
	double		similarity;

#ifdef EMBED_HAVE_AVX2_KERNELS
	if (simd_enabled())
		cosine_sums_avx2(a, b, n, &dot, &norma, &normb);
	else
#endif
		cosine_sums_portable(a, b, n, &dot, &norma, &normb);

	/* sqrt(a * b) rather than sqrt(a) * sqrt(b), like pgvector; 0/0 is NaN */
	similarity = (double) dot / sqrt((double) norma * (double) normb);
	if (similarity > 1.0)
		similarity = 1.0;
	else if (similarity < -1.0)
		similarity = -1.0;
	return similarity;
}

double
embed_cosine_distance(const float *a, const float *b, size_t n)
{
	return 1.0 - embed_cosine_similarity(a, b, n);
}
