/*
 * train_rng.h: the training tools' random numbers, a splitmix64 stream.
 *
 * The whole generator state is one uint64_t, so a checkpoint saves it as
 * is and a resumed run continues the exact same sequence.
 */
#ifndef EMBED_TRAIN_RNG_H
#define EMBED_TRAIN_RNG_H

#include <math.h>
#include <stdint.h>

/* Next 64 random bits. */
static inline uint64_t
embed_rng_next(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double
embed_rng_uniform(uint64_t *state)
{
	return (embed_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n), n > 0. */
static inline uint64_t
embed_rng_below(uint64_t *state, uint64_t n)
{
	return (uint64_t) (embed_rng_uniform(state) * (double) n) % n;
}

/* Standard normal (Box-Muller, one value per call). */
static inline double
embed_rng_normal(uint64_t *state)
{
	double		u1 = embed_rng_uniform(state);
	double		u2 = embed_rng_uniform(state);

	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif
