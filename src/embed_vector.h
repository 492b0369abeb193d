/*
 * embed_vector.h: the on-disk and in-memory layout of the `vector` type.
 *
 * Identical to pgvector's layout so that binary send/recv and client adapters
 * interoperate: varlena header, int16 dimension count, int16 unused (always
 * 0), then dim float4 values.
 */
#ifndef EMBED_VECTOR_H
#define EMBED_VECTOR_H

#include "postgres.h"
#include "fmgr.h"

#define EMBED_VECTOR_MAX_DIM 16000

typedef struct EmbedVector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of dimensions */
	int16		unused;			/* reserved, always 0 */
	float		x[FLEXIBLE_ARRAY_MEMBER];
} EmbedVector;

#define EMBED_VECTOR_SIZE(_dim)		(offsetof(EmbedVector, x) + sizeof(float) * (_dim))
#define DatumGetEmbedVector(d)		((EmbedVector *) PG_DETOAST_DATUM(d))
#define PG_GETARG_EMBED_VECTOR_P(n)	DatumGetEmbedVector(PG_GETARG_DATUM(n))
#define PG_RETURN_EMBED_VECTOR_P(v)	PG_RETURN_POINTER(v)

/* Allocate a zeroed vector of dim dimensions (palloc; checks the limits). */
EmbedVector *embed_vector_new(int dim);

/* Raise 22000 when two operands' dimensions differ. */
void		embed_vector_check_same_dims(const EmbedVector *a, const EmbedVector *b);

#endif
