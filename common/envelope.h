/*
 * envelope.h: the signature on control API messages (docs/security.md).
 *
 * A request travels as Envelope{ body, key_id, signature } where body is
 * the serialized Request exactly as the client produced it. The signed
 * message is
 *
 *	"sctag.v1.request" 0x00 body
 *
 * and a signature is plain Ed25519 (RFC 8032, not the prehashed Ed25519ph)
 * over those bytes. The domain tag keeps a signature made for one kind of
 * message, or one protocol version, from being accepted as another; the
 * 0x00 makes the split between tag and body unambiguous, since a tag is a
 * C string. Agent-signed replies, later, use ENV_REPLY_DOMAIN.
 *
 * The key id names the signer's public key without sending it: BLAKE2b
 * with an 8-byte output (crypto_generichash, outlen 8) of the 32-byte
 * Ed25519 public key. It is an index, not a secret and not a proof: the
 * signature is what authenticates.
 *
 * These functions work on raw bytes; no protobuf here.
 */
#ifndef SCTAG_ENVELOPE_H
#define SCTAG_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#define ENV_DOMAIN		"sctag.v1.request"
#define ENV_REPLY_DOMAIN	"sctag.v1.reply"
/* Longest domain tag env_*_domain accept. */
#define ENV_DOMAIN_MAX		64

#define ENV_PK_LEN		32	/* Ed25519 public key */
#define ENV_SK_LEN		64	/* libsodium secret key: seed || pk */
#define ENV_SIG_LEN		64
#define ENV_KEYID_LEN		8
/* Largest body signed or verified; NNG's receive limit keeps real ones
 * below it. */
#define ENV_BODY_MAX		(64 * 1024)
/* Hex form of a key id, with its NUL. */
#define ENV_KEYID_HEX_LEN	(2 * ENV_KEYID_LEN + 1)

/*
 * sodium_init() once per process (thread-safe, idempotent). 0, or -EIO
 * when libsodium can not initialise. The functions below call it
 * themselves; other modules using libsodium's random numbers call it too.
 */
int env_sodium_init(void);

/* key id of a public key. 0, or -EIO when libsodium fails. */
int env_key_id(const uint8_t pk[ENV_PK_LEN], uint8_t id[ENV_KEYID_LEN]);

/* "0123456789abcdef": lower-case hex of a key id, NUL-terminated. */
void env_key_id_hex(const uint8_t id[ENV_KEYID_LEN],
    char out[ENV_KEYID_HEX_LEN]);

/*
 * Sign body (len bytes; body may be NULL when len is 0) under ENV_DOMAIN.
 * sk is libsodium's 64-byte secret key (seed || pk) as
 * crypto_sign_seed_keypair made it: a secret key whose second half is not
 * the seed's public key must never be used, since Ed25519 signing with a
 * mismatched public key leaks the key. 0, -EMSGSIZE when len >
 * ENV_BODY_MAX, -ENOMEM, -EIO.
 */
int env_sign(const void *body, size_t len, const uint8_t sk[ENV_SK_LEN],
    uint8_t sig[ENV_SIG_LEN]);

/*
 * Verify sig (siglen bytes, outside input) over body under ENV_DOMAIN.
 * 0 when valid; -EBADMSG when siglen is not ENV_SIG_LEN or the signature
 * does not verify; -EMSGSIZE when len > ENV_BODY_MAX; -ENOMEM; -EIO.
 */
int env_verify(const void *body, size_t len, const uint8_t *sig,
    size_t siglen, const uint8_t pk[ENV_PK_LEN]);

/* The same under another domain tag (non-empty, at most ENV_DOMAIN_MAX
 * bytes, else -EINVAL), e.g. ENV_REPLY_DOMAIN. */
int env_sign_domain(const char *domain, const void *body, size_t len,
    const uint8_t sk[ENV_SK_LEN], uint8_t sig[ENV_SIG_LEN]);
int env_verify_domain(const char *domain, const void *body, size_t len,
    const uint8_t *sig, size_t siglen, const uint8_t pk[ENV_PK_LEN]);

#endif /* SCTAG_ENVELOPE_H */
