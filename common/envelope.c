/*
 * envelope.c: Ed25519 over a domain tag and the exact body bytes.
 *
 * Why a copy of the body: libsodium's Ed25519 (crypto_sign_detached and
 * crypto_sign_verify_detached) takes the message as one contiguous buffer,
 * because Ed25519 hashes it twice. The streaming alternative,
 * crypto_sign_init/update/final, is Ed25519ph: a different signature
 * scheme that clients in other languages (Go's crypto/ed25519 default,
 * PyNaCl, OpenSSL's pkeyutl) do not produce by default, and one that gives
 * up Ed25519's resistance to hash collisions. So the tag, a 0x00 and the
 * body are joined in one heap buffer. The body is bounded (ENV_BODY_MAX),
 * so the buffer is too; heap rather than stack because NNG's callback
 * threads should not carry 64 KiB frames, and the malloc is noise next to
 * an Ed25519 verification.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envelope.h"

static pthread_once_t	sodium_once = PTHREAD_ONCE_INIT;
static int		sodium_rc = -EIO;

static void
sodium_init_once(void)
{
	sodium_rc = sodium_init() < 0 ? -EIO : 0;
}

int
env_sodium_init(void)
{
	if (pthread_once(&sodium_once, sodium_init_once) != 0)
		return -EIO;
	return sodium_rc;
}

int
env_key_id(const uint8_t pk[ENV_PK_LEN], uint8_t id[ENV_KEYID_LEN])
{
	int	rc;

	if ((rc = env_sodium_init()) != 0)
		return rc;
	/* outlen 8 is part of BLAKE2b's parameter block: this is not the
	 * first 8 bytes of a longer BLAKE2b digest. */
	if (crypto_generichash(id, ENV_KEYID_LEN, pk, ENV_PK_LEN, NULL, 0) != 0)
		return -EIO;
	return 0;
}

void
env_key_id_hex(const uint8_t id[ENV_KEYID_LEN], char out[ENV_KEYID_HEX_LEN])
{
	static const char	hex[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < ENV_KEYID_LEN; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 0x0f];
	}
	out[2 * ENV_KEYID_LEN] = '\0';
}

/* domain 0x00 body in a new buffer; *msglen gets its length. */
static int
join(const char *domain, const void *body, size_t len, uint8_t **msgp,
    size_t *msglen)
{
	size_t	 dlen;
	uint8_t	*msg;

	*msgp = NULL;
	if (domain == NULL || (body == NULL && len != 0))
		return -EINVAL;
	dlen = strlen(domain);
	if (dlen == 0 || dlen > ENV_DOMAIN_MAX)
		return -EINVAL;
	if (len > ENV_BODY_MAX)
		return -EMSGSIZE;
	if ((msg = malloc(dlen + 1 + len)) == NULL)
		return -ENOMEM;
	memcpy(msg, domain, dlen);
	msg[dlen] = 0x00;
	if (len != 0)
		memcpy(msg + dlen + 1, body, len);
	*msgp = msg;
	*msglen = dlen + 1 + len;
	return 0;
}

int
env_sign_domain(const char *domain, const void *body, size_t len,
    const uint8_t sk[ENV_SK_LEN], uint8_t sig[ENV_SIG_LEN])
{
	uint8_t	*msg;
	size_t	 msglen;
	int	 rc;

	if ((rc = env_sodium_init()) != 0)
		return rc;
	if ((rc = join(domain, body, len, &msg, &msglen)) != 0)
		return rc;
	if (crypto_sign_detached(sig, NULL, msg, msglen, sk) != 0)
		rc = -EIO;
	free(msg);
	return rc;
}

int
env_verify_domain(const char *domain, const void *body, size_t len,
    const uint8_t *sig, size_t siglen, const uint8_t pk[ENV_PK_LEN])
{
	uint8_t	*msg;
	size_t	 msglen;
	int	 rc;

	if ((rc = env_sodium_init()) != 0)
		return rc;
	if (sig == NULL || siglen != ENV_SIG_LEN)
		return -EBADMSG;
	if ((rc = join(domain, body, len, &msg, &msglen)) != 0)
		return rc;
	/* libsodium also refuses non-canonical S and small-order keys. */
	if (crypto_sign_verify_detached(sig, msg, msglen, pk) != 0)
		rc = -EBADMSG;
	free(msg);
	return rc;
}

int
env_sign(const void *body, size_t len, const uint8_t sk[ENV_SK_LEN],
    uint8_t sig[ENV_SIG_LEN])
{
	return env_sign_domain(ENV_DOMAIN, body, len, sk, sig);
}

int
env_verify(const void *body, size_t len, const uint8_t *sig, size_t siglen,
    const uint8_t pk[ENV_PK_LEN])
{
	return env_verify_domain(ENV_DOMAIN, body, len, sig, siglen, pk);
}
