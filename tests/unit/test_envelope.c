/*
 * test_envelope.c: the signature covers the domain tag and every byte of
 * the body, nothing else verifies, and the key id is what the docs say.
 *
 * Fixed vectors were computed outside libsodium: the key id with Python's
 * hashlib.blake2b(pk, digest_size=8), the signatures with OpenSSL
 * (openssl pkeyutl -sign -rawin) from the RFC 8032 test 1 seed.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "envelope.h"

/* RFC 8032, section 7.1, TEST 1 */
static const char	rfc_seed_hex[] =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char	rfc_pk_hex[] =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
static const char	rfc_keyid_hex[] = "c46607cab5cd8e90";
/* Body 0a 05 "hello" (a protobuf string field), signed by OpenSSL over
 * "sctag.v1.request" 0x00 body and "sctag.v1.reply" 0x00 body. */
static const uint8_t	vec_body[] = { 0x0a, 0x05, 'h', 'e', 'l', 'l', 'o' };
static const char	vec_sig_req_hex[] =
    "d5c53c88a6bd94ea490f9ba81b35989900cf27c21f8ac9c8cec2cc5778433aa5"
    "fd0f25315856803d3d15a8dc415641fa02b254e1b855627b55f775d713f89606";
static const char	vec_sig_reply_hex[] =
    "9292db50296075dae89f8d9613fe9285469e733d683a7064d8cb08bbbeccf9aa"
    "647b8b2df341ff5f98ef920199524f53f92da3e243d775b95a4c7ec482f2930c";

static uint8_t	PK[ENV_PK_LEN], SK[ENV_SK_LEN];
static uint8_t	PK2[ENV_PK_LEN], SK2[ENV_SK_LEN];

static void
unhex(const char *hex, uint8_t *out, size_t len)
{
	size_t	n = 0;

	cr_assert_eq(sodium_hex2bin(out, len, hex, strlen(hex), NULL, &n,
	    NULL), 0);
	cr_assert_eq(n, len);
}

static void
setup(void)
{
	uint8_t	seed[32];

	cr_assert_eq(env_sodium_init(), 0);
	unhex(rfc_seed_hex, seed, sizeof(seed));
	cr_assert_eq(crypto_sign_seed_keypair(PK, SK, seed), 0);
	memset(seed, 7, sizeof(seed));
	cr_assert_eq(crypto_sign_seed_keypair(PK2, SK2, seed), 0);
}

TestSuite(envelope, .init = setup);

/* ---- key id ---- */

Test(envelope, key_id_is_blake2b_outlen_8)
{
	uint8_t	id[ENV_KEYID_LEN], want[ENV_KEYID_LEN], full[64];

	cr_assert_eq(env_key_id(PK2, id), 0);
	cr_assert_eq(crypto_generichash(want, sizeof(want), PK2, ENV_PK_LEN,
	    NULL, 0), 0);
	cr_assert_eq(memcmp(id, want, ENV_KEYID_LEN), 0);
	/* outlen is hashed in: not a prefix of BLAKE2b-512. */
	cr_assert_eq(crypto_generichash(full, sizeof(full), PK2, ENV_PK_LEN,
	    NULL, 0), 0);
	cr_assert_neq(memcmp(id, full, ENV_KEYID_LEN), 0);
}

Test(envelope, key_id_fixed_vector)
{
	uint8_t	pk[ENV_PK_LEN], id[ENV_KEYID_LEN];
	char	hex[ENV_KEYID_HEX_LEN];

	unhex(rfc_pk_hex, pk, sizeof(pk));
	cr_assert_eq(memcmp(pk, PK, ENV_PK_LEN), 0, "seed -> pk per RFC 8032");
	cr_assert_eq(env_key_id(pk, id), 0);
	env_key_id_hex(id, hex);
	cr_assert_str_eq(hex, rfc_keyid_hex);
}

Test(envelope, key_id_hex_format)
{
	static const uint8_t	id[ENV_KEYID_LEN] = {
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
	char			hex[ENV_KEYID_HEX_LEN];

	memset(hex, 'x', sizeof(hex));
	env_key_id_hex(id, hex);
	cr_assert_str_eq(hex, "0123456789abcdef");
}

/* ---- fixed signatures ---- */

Test(envelope, sign_matches_openssl_vector)
{
	uint8_t	sig[ENV_SIG_LEN], want[ENV_SIG_LEN];

	unhex(vec_sig_req_hex, want, sizeof(want));
	cr_assert_eq(env_sign(vec_body, sizeof(vec_body), SK, sig), 0);
	cr_assert_eq(memcmp(sig, want, ENV_SIG_LEN), 0);
	cr_assert_eq(env_verify(vec_body, sizeof(vec_body), want,
	    sizeof(want), PK), 0);
}

Test(envelope, reply_domain_vector)
{
	uint8_t	sig[ENV_SIG_LEN], want[ENV_SIG_LEN];

	unhex(vec_sig_reply_hex, want, sizeof(want));
	cr_assert_eq(env_sign_domain(ENV_REPLY_DOMAIN, vec_body,
	    sizeof(vec_body), SK, sig), 0);
	cr_assert_eq(memcmp(sig, want, ENV_SIG_LEN), 0);
	cr_assert_eq(env_verify_domain(ENV_REPLY_DOMAIN, vec_body,
	    sizeof(vec_body), sig, sizeof(sig), PK), 0);
}

Test(envelope, signed_bytes_are_domain_nul_body)
{
	uint8_t	msg[sizeof(ENV_DOMAIN) + sizeof(vec_body)], sig[ENV_SIG_LEN];

	/* sizeof(ENV_DOMAIN) includes the NUL: exactly the separator. */
	memcpy(msg, ENV_DOMAIN, sizeof(ENV_DOMAIN));
	memcpy(msg + sizeof(ENV_DOMAIN), vec_body, sizeof(vec_body));
	cr_assert_eq(crypto_sign_detached(sig, NULL, msg, sizeof(msg), SK), 0);
	cr_assert_eq(env_verify(vec_body, sizeof(vec_body), sig, sizeof(sig),
	    PK), 0);
}

/* ---- round trips ---- */

Test(envelope, round_trip_sizes)
{
	static uint8_t	body[ENV_BODY_MAX];
	static const size_t sizes[] = { 0, 1, 63, 64, 1000, ENV_BODY_MAX };
	uint8_t		sig[ENV_SIG_LEN];
	size_t		i;

	randombytes_buf(body, sizeof(body));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		cr_assert_eq(env_sign(body, sizes[i], SK, sig), 0);
		cr_assert_eq(env_verify(body, sizes[i], sig, sizeof(sig), PK),
		    0, "size %zu", sizes[i]);
	}
}

Test(envelope, empty_body_null_pointer)
{
	uint8_t	sig[ENV_SIG_LEN];

	cr_assert_eq(env_sign(NULL, 0, SK, sig), 0);
	cr_assert_eq(env_verify(NULL, 0, sig, sizeof(sig), PK), 0);
	cr_assert_eq(env_verify("", 0, sig, sizeof(sig), PK), 0);
	cr_assert_eq(env_sign(NULL, 1, SK, sig), -EINVAL);
	cr_assert_eq(env_verify(NULL, 1, sig, sizeof(sig), PK), -EINVAL);
}

/* ---- every byte counts ---- */

Test(envelope, flip_every_body_bit)
{
	uint8_t	body[48], sig[ENV_SIG_LEN];
	size_t	i;
	int	b;

	randombytes_buf(body, sizeof(body));
	cr_assert_eq(env_sign(body, sizeof(body), SK, sig), 0);
	for (i = 0; i < sizeof(body); i++) {
		for (b = 0; b < 8; b++) {
			body[i] ^= (uint8_t)(1u << b);
			cr_assert_eq(env_verify(body, sizeof(body), sig,
			    sizeof(sig), PK), -EBADMSG, "byte %zu bit %d", i, b);
			body[i] ^= (uint8_t)(1u << b);
		}
	}
	cr_assert_eq(env_verify(body, sizeof(body), sig, sizeof(sig), PK), 0);
}

Test(envelope, truncated_or_extended_body)
{
	uint8_t	body[33], sig[ENV_SIG_LEN];

	randombytes_buf(body, sizeof(body));
	cr_assert_eq(env_sign(body, 32, SK, sig), 0);
	cr_assert_eq(env_verify(body, 31, sig, sizeof(sig), PK), -EBADMSG);
	cr_assert_eq(env_verify(body, 33, sig, sizeof(sig), PK), -EBADMSG);
	cr_assert_eq(env_verify(body, 0, sig, sizeof(sig), PK), -EBADMSG);
	cr_assert_eq(env_verify(body, 32, sig, sizeof(sig), PK), 0);
}

Test(envelope, flip_every_signature_bit)
{
	uint8_t	sig[ENV_SIG_LEN];
	size_t	i;
	int	b;

	cr_assert_eq(env_sign(vec_body, sizeof(vec_body), SK, sig), 0);
	for (i = 0; i < sizeof(sig); i++) {
		for (b = 0; b < 8; b++) {
			sig[i] ^= (uint8_t)(1u << b);
			cr_assert_eq(env_verify(vec_body, sizeof(vec_body),
			    sig, sizeof(sig), PK), -EBADMSG,
			    "byte %zu bit %d", i, b);
			sig[i] ^= (uint8_t)(1u << b);
		}
	}
}

/* S + L verifies mathematically; libsodium must refuse it (malleability). */
Test(envelope, non_canonical_s_refused)
{
	static const uint8_t	L[32] = {
		0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
		0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 };
	uint8_t			sig[ENV_SIG_LEN];
	unsigned		carry = 0, i;

	cr_assert_eq(env_sign(vec_body, sizeof(vec_body), SK, sig), 0);
	for (i = 0; i < 32; i++) {
		carry += sig[32 + i] + L[i];
		sig[32 + i] = (uint8_t)carry;
		carry >>= 8;
	}
	cr_assert_eq(env_verify(vec_body, sizeof(vec_body), sig, sizeof(sig),
	    PK), -EBADMSG);
}

Test(envelope, signature_length_checked)
{
	uint8_t	sig[ENV_SIG_LEN + 1];

	cr_assert_eq(env_sign(vec_body, sizeof(vec_body), SK, sig), 0);
	sig[ENV_SIG_LEN] = 0;
	cr_assert_eq(env_verify(vec_body, sizeof(vec_body), sig,
	    ENV_SIG_LEN - 1, PK), -EBADMSG);
	cr_assert_eq(env_verify(vec_body, sizeof(vec_body), sig,
	    ENV_SIG_LEN + 1, PK), -EBADMSG);
	cr_assert_eq(env_verify(vec_body, sizeof(vec_body), sig, 0, PK),
	    -EBADMSG);
	cr_assert_eq(env_verify(vec_body, sizeof(vec_body), NULL,
	    ENV_SIG_LEN, PK), -EBADMSG);
}

/* ---- domains ---- */

Test(envelope, wrong_domain_refused)
{
	uint8_t	sig[ENV_SIG_LEN];

	/* A reply signature is not a request signature, and back. */
	cr_assert_eq(env_sign_domain(ENV_REPLY_DOMAIN, vec_body,
	    sizeof(vec_body), SK, sig), 0);
	cr_assert_eq(env_verify(vec_body, sizeof(vec_body), sig, sizeof(sig),
	    PK), -EBADMSG);
	cr_assert_eq(env_sign(vec_body, sizeof(vec_body), SK, sig), 0);
	cr_assert_eq(env_verify_domain(ENV_REPLY_DOMAIN, vec_body,
	    sizeof(vec_body), sig, sizeof(sig), PK), -EBADMSG);
	cr_assert_eq(env_verify_domain("sctag.v2.request", vec_body,
	    sizeof(vec_body), sig, sizeof(sig), PK), -EBADMSG);
}

Test(envelope, no_domain_or_no_separator_refused)
{
	uint8_t	msg[64], sig[ENV_SIG_LEN];
	size_t	dl = strlen(ENV_DOMAIN);

	/* the bare body */
	cr_assert_eq(crypto_sign_detached(sig, NULL, vec_body,
	    sizeof(vec_body), SK), 0);
	cr_assert_eq(env_verify(vec_body, sizeof(vec_body), sig, sizeof(sig),
	    PK), -EBADMSG);
	/* domain || body without the 0x00 */
	memcpy(msg, ENV_DOMAIN, dl);
	memcpy(msg + dl, vec_body, sizeof(vec_body));
	cr_assert_eq(crypto_sign_detached(sig, NULL, msg,
	    dl + sizeof(vec_body), SK), 0);
	cr_assert_eq(env_verify(vec_body, sizeof(vec_body), sig, sizeof(sig),
	    PK), -EBADMSG);
	/* The 0x00 can not be moved into the body either: "request" 0x00
	 * 0x00 body is a different message from "request" 0x00 body. */
	msg[dl] = 0x00;
	msg[dl + 1] = 0x00;
	memcpy(msg + dl + 2, vec_body, sizeof(vec_body));
	cr_assert_eq(crypto_sign_detached(sig, NULL, msg,
	    dl + 2 + sizeof(vec_body), SK), 0);
	cr_assert_eq(env_verify(vec_body, sizeof(vec_body), sig, sizeof(sig),
	    PK), -EBADMSG);
}

Test(envelope, bad_domains_rejected)
{
	char	longd[ENV_DOMAIN_MAX + 2];
	uint8_t	sig[ENV_SIG_LEN];

	memset(longd, 'd', sizeof(longd) - 1);
	longd[sizeof(longd) - 1] = '\0';
	cr_assert_eq(env_sign_domain("", vec_body, 1, SK, sig), -EINVAL);
	cr_assert_eq(env_sign_domain(NULL, vec_body, 1, SK, sig), -EINVAL);
	cr_assert_eq(env_sign_domain(longd, vec_body, 1, SK, sig), -EINVAL);
	longd[ENV_DOMAIN_MAX] = '\0';
	cr_assert_eq(env_sign_domain(longd, vec_body, 1, SK, sig), 0);
	cr_assert_eq(env_verify_domain(longd, vec_body, 1, sig, sizeof(sig),
	    PK), 0);
}

/* ---- keys ---- */

Test(envelope, other_key_refused)
{
	uint8_t	sig[ENV_SIG_LEN];

	cr_assert_eq(env_sign(vec_body, sizeof(vec_body), SK2, sig), 0);
	cr_assert_eq(env_verify(vec_body, sizeof(vec_body), sig, sizeof(sig),
	    PK), -EBADMSG);
	cr_assert_eq(env_verify(vec_body, sizeof(vec_body), sig, sizeof(sig),
	    PK2), 0);
}

Test(envelope, small_order_keys_refused)
{
	uint8_t	zero[ENV_PK_LEN] = { 0 }, ident[ENV_PK_LEN] = { 1 };
	uint8_t	sig[ENV_SIG_LEN] = { 0 };

	/* With an identity key and R = identity, S = 0 "verifies" in naive
	 * implementations for every message. */
	sig[0] = 1;
	cr_assert_eq(env_verify(vec_body, sizeof(vec_body), sig, sizeof(sig),
	    ident), -EBADMSG);
	cr_assert_eq(env_verify(vec_body, sizeof(vec_body), sig, sizeof(sig),
	    zero), -EBADMSG);
}

/* ---- sizes ---- */

Test(envelope, body_size_bound)
{
	static uint8_t	body[ENV_BODY_MAX + 1];
	uint8_t		sig[ENV_SIG_LEN];

	cr_assert_eq(env_sign(body, ENV_BODY_MAX + 1, SK, sig), -EMSGSIZE);
	cr_assert_eq(env_sign(body, ENV_BODY_MAX, SK, sig), 0);
	cr_assert_eq(env_verify(body, ENV_BODY_MAX + 1, sig, sizeof(sig), PK),
	    -EMSGSIZE);
	cr_assert_eq(env_verify(body, SIZE_MAX, sig, sizeof(sig), PK),
	    -EMSGSIZE);
}
