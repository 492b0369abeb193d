/*
 * test_sha256.c: SHA-256 against the FIPS 180-4 / NIST example vectors,
 * plus streaming in uneven pieces (which must give the one-shot digest).
 */
#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "tap.h"

/* One-shot digest of a string compared with the expected hex. */
static void
check_vector(const char *msg, size_t len, const char *want, const char *what)
{
	char		hex[EMBED_SHA256_HEX_LEN];

	embed_sha256_hex(msg, len, hex);
	if (!ok(strcmp(hex, want) == 0, "%s", what))
		diag("got %s, want %s", hex, want);
}

int
main(void)
{
	static const char *abc448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static const char *abc896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	char	   *million;
	char		hex[EMBED_SHA256_HEX_LEN];
	EmbedSha256 ctx;
	uint8_t		digest[EMBED_SHA256_DIGEST_LEN];
	size_t		piece = 1;
	size_t		pos = 0;

	check_vector("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "empty message");
	check_vector("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "\"abc\"");
	check_vector(abc448, strlen(abc448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "448-bit message");
	check_vector(abc896, strlen(abc896), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1", "896-bit message");

	/* 55, 56 and 64 bytes exercise the padding boundary cases. */
	check_vector("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 55,
				 "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318", "55 bytes (one block)");
	check_vector("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 56,
				 "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a", "56 bytes (length spills into a second block)");
	check_vector("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64,
				 "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb", "64 bytes (exact block)");

	million = malloc(1000000);
	memset(million, 'a', 1000000);
	check_vector(million, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "one million 'a'");

	/* Streaming in growing, unaligned pieces must give the same digest. */
	embed_sha256_init(&ctx);
	while (pos < 1000000)
	{
		size_t		n = piece < 1000000 - pos ? piece : 1000000 - pos;

		embed_sha256_update(&ctx, million + pos, n);
		pos += n;
		piece = piece * 3 + 1;
	}
	embed_sha256_final(&ctx, digest);
	embed_sha256_digest_to_hex(digest, hex);
	ok(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
	   "streaming update in uneven pieces");
	free(million);
	return tap_done();
}
