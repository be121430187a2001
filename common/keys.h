/*
 * keys.h: Ed25519 key files for the control API (docs/security.md).
 *
 * Secret key file: the base64 (RFC 4648 with padding, libsodium's ORIGINAL
 * variant) of the 32-byte Ed25519 seed on one line, optionally ended by a
 * newline. It must not be readable by group or others. In memory the seed
 * and the secret key derived from it live in sodium_malloc memory (guard
 * pages, mlock where the limit allows), wiped when freed.
 *
 * Public keys, in either of two forms (one parser for both):
 *	11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=		raw: base64 of 32 bytes
 *	ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI...		OpenSSH
 * keys_generate writes the raw form.
 */
#ifndef SCTAG_KEYS_H
#define SCTAG_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

#define KEYS_SEED_LEN		32
/* base64 of 32 bytes with padding: 44 characters, plus a NUL. */
#define KEYS_B64_SIZE		45
/* A secret key file is one short line: anything longer is not one. */
#define KEYS_SECRET_FILE_MAX	128
/* Longest public key text keys_parse_public looks at. */
#define KEYS_PUBLIC_TEXT_MAX	1024

/* Allocated with sodium_malloc; free with keys_free_secret only. */
struct keys_secret {
	uint8_t	seed[KEYS_SEED_LEN];
	uint8_t	sk[ENV_SK_LEN];		/* seed || pk, for env_sign */
	uint8_t	pk[ENV_PK_LEN];
	uint8_t	key_id[ENV_KEYID_LEN];
};

/* Derive pk, sk and key id from a seed. 0, -ENOMEM, -EIO. */
int keys_secret_from_seed(const uint8_t seed[KEYS_SEED_LEN],
    struct keys_secret **out);

/*
 * Load a secret key file. 0, or -errno with a message naming the path:
 * -EPERM when group or others may read it ("mode 0644 ..."), -EINVAL for a
 * non-regular file or bad content, -EFBIG when longer than
 * KEYS_SECRET_FILE_MAX, -ENOENT etc. from open.
 */
int keys_load_secret(const char *path, struct keys_secret **out, char *err,
    size_t errlen);

/* Wipe and free; NULL is fine. */
void keys_free_secret(struct keys_secret *);

/*
 * Parse a public key in either form from len bytes of text (outside
 * input; no NUL needed). For OpenSSH, the text is exactly the two tokens
 * "ssh-ed25519 BLOB" (no comment). The key must be a valid Ed25519 point
 * of the prime-order subgroup. 0, or -EINVAL with a message: wrong type,
 * bad base64, wrong length, malformed OpenSSH blob, invalid point.
 */
int keys_parse_public(const char *text, size_t len, uint8_t pk[ENV_PK_LEN],
    char *err, size_t errlen);

/* The raw form: base64 of pk, NUL-terminated. */
void keys_format_public(const uint8_t pk[ENV_PK_LEN], char out[KEYS_B64_SIZE]);

/*
 * Create a new key pair: the secret key file at path_sk (mode 0600) and,
 * unless path_pub is NULL, the public key line at path_pub (0644). Both
 * are created with O_EXCL: an existing file is never overwritten (-EEXIST),
 * and when the second file can not be written the first is removed again.
 * pk, when not NULL, gets the public key. 0, or -errno with a message.
 */
int keys_generate(const char *path_sk, const char *path_pub,
    uint8_t pk[ENV_PK_LEN], char *err, size_t errlen);

#endif /* SCTAG_KEYS_H */
