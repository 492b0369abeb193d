/*
 * sha256.c: SHA-256 as specified in FIPS 180-4, section 6.2.
 *
 * A plain, portable implementation: the message is consumed in 64-byte
 * blocks, each expanded into a 64-word schedule and mixed into the eight
 * working variables.  Speed is a few hundred MB/s, enough to fingerprint a
 * weights file once per load.
 */
#include "sha256.h"

#include <string.h>

static const uint32_t round_constants[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

/* Rotate a 32-bit word right by n bits (0 < n < 32). */
static inline uint32_t
rotr32(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

/* Mix one 64-byte block into the hash state. */
static void
sha256_block(uint32_t state[8], const uint8_t *block)
{
	uint32_t	w[64];
	uint32_t	a, b, c, d, e, f, g, h;

	for (int i = 0; i < 16; i++)
		w[i] = ((uint32_t) block[4 * i] << 24) | ((uint32_t) block[4 * i + 1] << 16) |
			((uint32_t) block[4 * i + 2] << 8) | (uint32_t) block[4 * i + 3];
	for (int i = 16; i < 64; i++)
	{
		uint32_t	s0 = rotr32(w[i - 15], 7) ^ rotr32(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t	s1 = rotr32(w[i - 2], 17) ^ rotr32(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}

	a = state[0];
	b = state[1];
	c = state[2];
	d = state[3];
	e = state[4];
	f = state[5];
	g = state[6];
	h = state[7];
	for (int i = 0; i < 64; i++)
	{
		uint32_t	s1 = rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25);
		uint32_t	ch = (e & f) ^ (~e & g);
		uint32_t	t1 = h + s1 + ch + round_constants[i] + w[i];
		uint32_t	s0 = rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22);
		uint32_t	maj = (a & b) ^ (a & c) ^ (b & c);
		uint32_t	t2 = s0 + maj;

		h = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	state[0] += a;
	state[1] += b;
	state[2] += c;
	state[3] += d;
	state[4] += e;
	state[5] += f;
	state[6] += g;
	state[7] += h;
}

/* Start a new digest. */
void
embed_sha256_init(EmbedSha256 *ctx)
{
	static const uint32_t initial[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
	};

	memcpy(ctx->state, initial, sizeof(initial));
	ctx->total_len = 0;
	ctx->block_len = 0;
}

/* Hash len more bytes. */
void
embed_sha256_update(EmbedSha256 *ctx, const void *data, size_t len)
{
	const uint8_t *p = data;

	ctx->total_len += len;
	if (ctx->block_len > 0)
	{
		size_t		take = 64 - ctx->block_len;

		if (take > len)
			take = len;
		memcpy(ctx->block + ctx->block_len, p, take);
		ctx->block_len += take;
		p += take;
		len -= take;
		if (ctx->block_len < 64)
			return;
		sha256_block(ctx->state, ctx->block);
		ctx->block_len = 0;
	}
	while (len >= 64)
	{
		sha256_block(ctx->state, p);
		p += 64;
		len -= 64;
	}
	memcpy(ctx->block, p, len);
	ctx->block_len = len;
}

/* Pad the message (0x80, zeros, 64-bit big-endian bit length) and emit the digest. */
void
embed_sha256_final(EmbedSha256 *ctx, uint8_t digest[EMBED_SHA256_DIGEST_LEN])
{
	uint64_t	bit_len = ctx->total_len * 8;

	ctx->block[ctx->block_len++] = 0x80;
	if (ctx->block_len > 56)
	{
		memset(ctx->block + ctx->block_len, 0, 64 - ctx->block_len);
		sha256_block(ctx->state, ctx->block);
		ctx->block_len = 0;
	}
	memset(ctx->block + ctx->block_len, 0, 56 - ctx->block_len);
	for (int i = 0; i < 8; i++)
		ctx->block[56 + i] = (uint8_t) (bit_len >> (56 - 8 * i));
	sha256_block(ctx->state, ctx->block);
	for (int i = 0; i < 8; i++)
	{
		digest[4 * i] = (uint8_t) (ctx->state[i] >> 24);
		digest[4 * i + 1] = (uint8_t) (ctx->state[i] >> 16);
		digest[4 * i + 2] = (uint8_t) (ctx->state[i] >> 8);
		digest[4 * i + 3] = (uint8_t) ctx->state[i];
	}
}

void
embed_sha256_digest_to_hex(const uint8_t digest[EMBED_SHA256_DIGEST_LEN],
						   char hex[EMBED_SHA256_HEX_LEN])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < EMBED_SHA256_DIGEST_LEN; i++)
	{
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 15];
	}
	hex[64] = '\0';
}

void
embed_sha256_hex(const void *data, size_t len, char hex[EMBED_SHA256_HEX_LEN])
{
	EmbedSha256 ctx;
	uint8_t		digest[EMBED_SHA256_DIGEST_LEN];

	embed_sha256_init(&ctx);
	embed_sha256_update(&ctx, data, len);
	embed_sha256_final(&ctx, digest);
	embed_sha256_digest_to_hex(digest, hex);
}
