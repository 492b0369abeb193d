/*
 * sha256.h: SHA-256 (FIPS 180-4), used to fingerprint model weight files.
 *
 * Streaming interface (init / update / final) plus a one-shot helper that
 * writes the digest as 64 lower-case hex characters and a NUL.
 */
#ifndef EMBED_SHA256_H
#define EMBED_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define EMBED_SHA256_DIGEST_LEN 32
#define EMBED_SHA256_HEX_LEN 65		/* 64 hex digits + NUL */

typedef struct EmbedSha256
{
	uint32_t	state[8];
	uint64_t	total_len;		/* bytes hashed so far */
	uint8_t		block[64];		/* pending partial block */
	size_t		block_len;
} EmbedSha256;

void		embed_sha256_init(EmbedSha256 *ctx);
void		embed_sha256_update(EmbedSha256 *ctx, const void *data, size_t len);
void		embed_sha256_final(EmbedSha256 *ctx, uint8_t digest[EMBED_SHA256_DIGEST_LEN]);

/* Digest of one buffer, as lower-case hex (hex must hold EMBED_SHA256_HEX_LEN bytes). */
void		embed_sha256_hex(const void *data, size_t len, char hex[EMBED_SHA256_HEX_LEN]);

/* Lower-case hex of a binary digest. */
void		embed_sha256_digest_to_hex(const uint8_t digest[EMBED_SHA256_DIGEST_LEN],
									   char hex[EMBED_SHA256_HEX_LEN]);

#endif
