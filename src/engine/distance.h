/*
 * distance.h: distance kernels over float arrays (no PostgreSQL dependency).
 *
 * Shared by the vector type's operators and the HNSW index.  Every function
 * picks an AVX2+FMA implementation at run time when the CPU has it and falls
 * back to portable C otherwise; embed_distance_use_simd(false) forces the
 * portable path (tests compare the two).
 */
#ifndef EMBED_DISTANCE_H
#define EMBED_DISTANCE_H

#include <stdbool.h>
#include <stddef.h>

/* sum (a[i] - b[i])^2 */
float		embed_l2_squared_distance(const float *a, const float *b, size_t n);
/* sum a[i] * b[i] */
float		embed_inner_product(const float *a, const float *b, size_t n);
/* 1 - a.b / (|a| |b|); NaN when either norm is zero */
double		embed_cosine_distance(const float *a, const float *b, size_t n);
/* a.b / (|a| |b|) clamped to [-1, 1]; NaN when either norm is zero */
double		embed_cosine_similarity(const float *a, const float *b, size_t n);
/* sum |a[i] - b[i]| */
float		embed_l1_distance(const float *a, const float *b, size_t n);
/* sum a[i]^2 (accumulated in double) */
double		embed_squared_norm(const float *a, size_t n);

/* Whether the SIMD path may be used; returns the previous setting. */
bool		embed_distance_use_simd(bool enable);
/* Whether this CPU supports the SIMD path at all. */
bool		embed_distance_simd_available(void);

#endif
