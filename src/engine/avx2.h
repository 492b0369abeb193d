/*
 * avx2.h: what the engine's AVX2+FMA kernels (distance.c, kernels.c)
 * share.  Those kernels are compiled for AVX2 function by function
 * (AVX2_TARGET) and chosen at run time, so the rest of the build needs no
 * -mavx2.
 */
#ifndef EMBED_AVX2_H
#define EMBED_AVX2_H

#if defined(__x86_64__) && defined(__GNUC__)
#define EMBED_HAVE_AVX2_KERNELS 1
#include <immintrin.h>
#define AVX2_TARGET __attribute__((target("avx2,fma")))

/* Sum of 8 floats: lanes i + i+4, then pairwise (8 -> 4 -> 2 -> 1). */
AVX2_TARGET static inline float
embed_hsum8(__m256 v)
{
	__m128		s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}
#endif

#endif
