/*
 * safetensors.h: read-only, memory-mapped access to .safetensors files.
 *
 * File layout: an 8-byte little-endian header length N, N bytes of JSON
 * ({"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 * ..., optional "__metadata__": {string: string}}), then the data area, to
 * which the offsets are relative.
 *
 * embed_safetensors_open maps the whole file with mmap(PROT_READ,
 * MAP_SHARED), so every process that opens the same file shares one copy
 * of the weights through the page cache, and validates every entry before
 * returning: known dtype, shape of non-negative integers whose element
 * count times the dtype size does not overflow, 0 <= begin <= end <= size of
 * the data area, end - begin == bytes implied by the shape, no two tensors
 * overlapping, no duplicate names.  Any violation is EMBED_ERR_CORRUPT with
 * a message naming the tensor.  After a successful open, tensor data
 * pointers are always in bounds; they are not necessarily aligned (the
 * format does not promise alignment), see embed_tensor_is_aligned.
 *
 * The status codes defined here are shared by the whole engine (model.h
 * re-exports them).
 */
#ifndef EMBED_SAFETENSORS_H
#define EMBED_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Error categories.  The SQL layer maps them to SQLSTATEs:
 *   EMBED_ERR_IO          58P01 undefined_file / 58030 io_error
 *   EMBED_ERR_CORRUPT     XX001 data_corrupted
 *   EMBED_ERR_CONFIG      22023 invalid_parameter_value (config/shape mismatch, missing tensor)
 *   EMBED_ERR_UNSUPPORTED 0A000 feature_not_supported
 *   EMBED_ERR_NOMEM       53200 out_of_memory
 *   EMBED_ERR_INPUT       22023 invalid_parameter_value (bad arguments to a forward call)
 */
typedef enum EmbedStatus
{
	EMBED_OK = 0,
	EMBED_ERR_IO,
	EMBED_ERR_CORRUPT,
	EMBED_ERR_CONFIG,
	EMBED_ERR_UNSUPPORTED,
	EMBED_ERR_NOMEM,
	EMBED_ERR_INPUT
} EmbedStatus;

/* Short name of a status ("ok", "io", "corrupt", ...), for messages and tests. */
const char *embed_status_name(EmbedStatus status);

/* Upper bound on the JSON header; real headers are tens of kilobytes. */
#define EMBED_SAFETENSORS_MAX_HEADER ((uint64_t) 100 * 1024 * 1024)
/* Upper bound on the rank of one tensor. */
#define EMBED_SAFETENSORS_MAX_DIMS 8

typedef enum EmbedDtype
{
	EMBED_DTYPE_BOOL,
	EMBED_DTYPE_U8,
	EMBED_DTYPE_I8,
	EMBED_DTYPE_F8_E5M2,
	EMBED_DTYPE_F8_E4M3,
	EMBED_DTYPE_I16,
	EMBED_DTYPE_U16,
	EMBED_DTYPE_F16,
	EMBED_DTYPE_BF16,
	EMBED_DTYPE_I32,
	EMBED_DTYPE_U32,
	EMBED_DTYPE_F32,
	EMBED_DTYPE_F64,
	EMBED_DTYPE_I64,
	EMBED_DTYPE_U64
} EmbedDtype;

typedef struct EmbedTensor
{
	const char *name;
	EmbedDtype	dtype;
	int			ndim;
	int64_t		shape[EMBED_SAFETENSORS_MAX_DIMS];
	int64_t		numel;			/* product of shape (1 for a scalar) */
	uint64_t	begin;			/* byte range within the data area */
	uint64_t	end;
	const void *data;			/* points into the mapping */
} EmbedTensor;

typedef struct EmbedSafetensors EmbedSafetensors;

EmbedStatus embed_safetensors_open(const char *path, EmbedSafetensors **out,
								   char *err, size_t errlen);
void		embed_safetensors_close(EmbedSafetensors *st);

/* Number of tensors and the i-th one, in name order. */
int			embed_safetensors_count(const EmbedSafetensors *st);
const EmbedTensor *embed_safetensors_tensor(const EmbedSafetensors *st, int i);
/* Tensor by exact name, or NULL. */
const EmbedTensor *embed_safetensors_find(const EmbedSafetensors *st, const char *name);

/* The whole mapped file (for fingerprinting). */
const void *embed_safetensors_file_data(const EmbedSafetensors *st, size_t *len);

/* Bytes per element of a dtype, and its name as spelt in the file. */
size_t		embed_dtype_size(EmbedDtype dtype);
const char *embed_dtype_name(EmbedDtype dtype);

/* True when the tensor's data address is a multiple of its element size. */
bool		embed_tensor_is_aligned(const EmbedTensor *t);

/* Format a shape as "[a, b, c]" into buf. */
void		embed_format_shape(const int64_t *shape, int ndim, char *buf, size_t buflen);

#endif
