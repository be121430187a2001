/*
 * keys.c: reading, parsing and creating Ed25519 key files.
 *
 * Key text is outside input (an operator's file, a client's paste): every
 * length is checked before use, and a bad key is one message that says
 * which form was expected and what was wrong with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "jsonpos.h"
#include "keys.h"

#define SSH_TYPE	"ssh-ed25519"
#define SSH_TYPE_LEN	(sizeof(SSH_TYPE) - 1)
/* uint32 11, "ssh-ed25519", uint32 32, the key */
#define SSH_BLOB_LEN	(4 + SSH_TYPE_LEN + 4 + ENV_PK_LEN)
/* Decoded bytes kept to report a wrong length: enough for any key text. */
#define DECODE_MAX	(KEYS_PUBLIC_TEXT_MAX / 4 * 3 + 3)

/*
 * Strict base64 (ORIGINAL variant: padding required, no whitespace, no
 * trailing bits): -EINVAL when malformed, -ERANGE when it decodes to more
 * than max bytes.
 */
static int
b64_decode(const char *s, size_t len, uint8_t *out, size_t max,
    size_t *outlen)
{
	if (len == 0)
		return -EINVAL;
	errno = 0;
	if (sodium_base642bin(out, max, s, len, NULL, outlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0)
		return errno == ERANGE ? -ERANGE : -EINVAL;
	return 0;
}

#define QUOTE_SHOW	24

/* 'first 24 characters'... of len bytes of outside text, for messages. */
static void
quote(char *dst, size_t dstlen, const char *s, size_t len)
{
	char	tmp[QUOTE_SHOW + 2];
	size_t	n = len < QUOTE_SHOW + 1 ? len : QUOTE_SHOW + 1;

	/* jsonpos_quote wants a C string; one byte more shows the "...". */
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	jsonpos_quote(dst, dstlen, tmp, QUOTE_SHOW);
}

int
keys_secret_from_seed(const uint8_t seed[KEYS_SEED_LEN],
    struct keys_secret **out)
{
	struct keys_secret	*ks;
	int			 rc;

	*out = NULL;
	if ((rc = env_sodium_init()) != 0)
		return rc;
	if ((ks = sodium_malloc(sizeof(*ks))) == NULL)
		return -ENOMEM;
	memcpy(ks->seed, seed, KEYS_SEED_LEN);
	if (crypto_sign_seed_keypair(ks->pk, ks->sk, ks->seed) != 0 ||
	    env_key_id(ks->pk, ks->key_id) != 0) {
		keys_free_secret(ks);
		return -EIO;
	}
	*out = ks;
	return 0;
}

void
keys_free_secret(struct keys_secret *ks)
{
	if (ks == NULL)
		return;
	/* sodium_free wipes too; say it here where the secret is. */
	sodium_memzero(ks, sizeof(*ks));
	sodium_free(ks);
}

/*
 * Read the file through one descriptor: the mode is checked on the file
 * that is then read (fstat), not on whatever the path named a moment
 * before. The buffer is the caller's, so it can be wiped.
 */
static int
read_secret_file(const char *path, char *buf, size_t bufsize, size_t *lenp,
    char *err, size_t errlen)
{
	struct stat	st;
	size_t		len = 0;
	ssize_t		n;
	int		fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		rc = -EINVAL;
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: mode %04o lets group or others "
		    "read this secret key; chmod 600 %s", path,
		    (unsigned)(st.st_mode & 07777), path);
		rc = -EPERM;
		goto out;
	}
	/* Read one byte past the limit to tell "too long" from "full". */
	for (;;) {
		n = read(fd, buf + len, bufsize - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(-rc));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == bufsize) {
			snprintf(err, errlen, "%s: larger than %d bytes; "
			    "expected one line with the base64 of a 32-byte "
			    "Ed25519 seed", path, KEYS_SECRET_FILE_MAX);
			rc = -EFBIG;
			goto out;
		}
	}
	*lenp = len;
	rc = 0;
out:
	close(fd);
	return rc;
}

int
keys_load_secret(const char *path, struct keys_secret **out, char *err,
    size_t errlen)
{
	char	buf[KEYS_SECRET_FILE_MAX + 1];
	uint8_t	*seed = NULL;
	size_t	len = 0, seedlen;
	int	rc;

	*out = NULL;
	if ((rc = env_sodium_init()) != 0) {
		snprintf(err, errlen, "%s: libsodium failed to initialise",
		    path);
		return rc;
	}
	rc = read_secret_file(path, buf, sizeof(buf), &len, err, errlen);
	if (rc != 0)
		goto out;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len == 0) {
		snprintf(err, errlen, "%s: empty; expected one line with the "
		    "base64 of a 32-byte Ed25519 seed", path);
		rc = -EINVAL;
		goto out;
	}
	if (memchr(buf, '\n', len) != NULL) {
		snprintf(err, errlen, "%s: more than one line; expected one "
		    "line with the base64 of a 32-byte Ed25519 seed", path);
		rc = -EINVAL;
		goto out;
	}
	/* Decode straight into guarded memory; no stack copy of the seed. */
	if ((seed = sodium_malloc(DECODE_MAX)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		rc = -ENOMEM;
		goto out;
	}
	rc = b64_decode(buf, len, seed, DECODE_MAX, &seedlen);
	if (rc != 0) {
		/* Never echo the content: it may be most of a secret. */
		snprintf(err, errlen, "%s: not valid base64 (expected the "
		    "44-character base64 of a 32-byte Ed25519 seed)", path);
		rc = -EINVAL;
		goto out;
	}
	if (seedlen != KEYS_SEED_LEN) {
		snprintf(err, errlen, "%s: decodes to %zu bytes; an Ed25519 "
		    "seed is %d", path, seedlen, KEYS_SEED_LEN);
		rc = -EINVAL;
		goto out;
	}
	if ((rc = keys_secret_from_seed(seed, out)) != 0)
		snprintf(err, errlen, "%s: can not derive the key: %s", path,
		    strerror(-rc));
out:
	sodium_memzero(buf, sizeof(buf));
	if (seed != NULL)
		sodium_free(seed);
	return rc;
}

static int
parse_ssh_blob(const uint8_t *b, size_t n, uint8_t pk[ENV_PK_LEN],
    char *err, size_t errlen)
{
	uint32_t	tlen, klen;
	char		q[128];

	if (n < 4) {
		snprintf(err, errlen, "ssh-ed25519 key: blob of %zu bytes is "
		    "truncated", n);
		return -EINVAL;
	}
	tlen = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
	if (tlen > n - 4) {
		snprintf(err, errlen, "ssh-ed25519 key: blob is truncated "
		    "(type of %u bytes, %zu left)", tlen, n - 4);
		return -EINVAL;
	}
	if (tlen != SSH_TYPE_LEN || memcmp(b + 4, SSH_TYPE, SSH_TYPE_LEN)) {
		quote(q, sizeof(q), (const char *)b + 4, tlen);
		snprintf(err, errlen, "ssh-ed25519 key: the blob is of type "
		    "%s, not ssh-ed25519", q);
		return -EINVAL;
	}
	b += 4 + tlen;
	n -= 4 + tlen;
	if (n < 4) {
		snprintf(err, errlen, "ssh-ed25519 key: blob is truncated "
		    "before the key length");
		return -EINVAL;
	}
	klen = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
	if (klen != ENV_PK_LEN) {
		snprintf(err, errlen, "ssh-ed25519 key: the blob holds a key "
		    "of %u bytes; an Ed25519 public key is %d", klen,
		    ENV_PK_LEN);
		return -EINVAL;
	}
	if (n - 4 < ENV_PK_LEN) {
		snprintf(err, errlen, "ssh-ed25519 key: blob is truncated "
		    "(%zu of %d key bytes)", n - 4, ENV_PK_LEN);
		return -EINVAL;
	}
	if (n - 4 > ENV_PK_LEN) {
		snprintf(err, errlen, "ssh-ed25519 key: %zu unexpected bytes "
		    "after the key in the blob", n - 4 - ENV_PK_LEN);
		return -EINVAL;
	}
	memcpy(pk, b + 4, ENV_PK_LEN);
	return 0;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int
keys_parse_public(const char *text, size_t len, uint8_t pk[ENV_PK_LEN],
    char *err, size_t errlen)
{
	uint8_t		bin[DECODE_MAX];
	const char	*sp, *blob;
	size_t		tlen, blen, n, i;
	char		q[128];
	int		rc;

	if ((rc = env_sodium_init()) != 0) {
		snprintf(err, errlen, "libsodium failed to initialise");
		return rc;
	}
	if (len == 0) {
		snprintf(err, errlen, "empty public key");
		return -EINVAL;
	}
	if (len > KEYS_PUBLIC_TEXT_MAX) {
		snprintf(err, errlen, "public key text of %zu bytes is longer "
		    "than %d", len, KEYS_PUBLIC_TEXT_MAX);
		return -EINVAL;
	}
	for (sp = text; sp < text + len && !is_blank(*sp); sp++)
		;
	if (sp == text + len) {
		/* raw: base64 of the 32 key bytes */
		rc = b64_decode(text, len, bin, sizeof(bin), &n);
		if (rc != 0) {
			quote(q, sizeof(q), text, len);
			snprintf(err, errlen, "public key %s is not valid "
			    "base64", q);
			return -EINVAL;
		}
		if (n != ENV_PK_LEN) {
			snprintf(err, errlen, "public key decodes to %zu "
			    "bytes; an Ed25519 public key is %d (or use "
			    "'ssh-ed25519 AAAA...')", n, ENV_PK_LEN);
			return -EINVAL;
		}
		memcpy(pk, bin, ENV_PK_LEN);
		goto check_point;
	}

	tlen = (size_t)(sp - text);
	for (blob = sp; blob < text + len && is_blank(*blob); blob++)
		;
	for (i = (size_t)(blob - text); i < len && !is_blank(text[i]); i++)
		;
	blen = i - (size_t)(blob - text);
	if (tlen != SSH_TYPE_LEN || memcmp(text, SSH_TYPE, tlen) != 0) {
		quote(q, sizeof(q), text, tlen);
		snprintf(err, errlen, "key type %s is not supported (use "
		    "ssh-ed25519, or the base64 of a raw Ed25519 key)", q);
		return -EINVAL;
	}
	if (blen == 0) {
		snprintf(err, errlen, "ssh-ed25519 key: the base64 blob is "
		    "missing");
		return -EINVAL;
	}
	if (i != len) {
		snprintf(err, errlen, "ssh-ed25519 key: unexpected text after "
		    "the base64 blob");
		return -EINVAL;
	}
	if (b64_decode(blob, blen, bin, sizeof(bin), &n) != 0) {
		quote(q, sizeof(q), blob, blen);
		snprintf(err, errlen, "ssh-ed25519 key: blob %s is not valid "
		    "base64", q);
		return -EINVAL;
	}
	if ((rc = parse_ssh_blob(bin, n, pk, err, errlen)) != 0)
		return rc;

check_point:
	/*
	 * libsodium's verify refuses small-order keys anyway; refusing them
	 * here turns a key that can never verify into a load-time error.
	 */
	if (crypto_core_ed25519_is_valid_point(pk) != 1) {
		snprintf(err, errlen, "not a valid Ed25519 public key (not a "
		    "point of the prime-order subgroup)");
		return -EINVAL;
	}
	return 0;
}

void
keys_format_public(const uint8_t pk[ENV_PK_LEN], char out[KEYS_B64_SIZE])
{
	sodium_bin2base64(out, KEYS_B64_SIZE, pk, ENV_PK_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
}

/* Create path (never replacing anything) with data, on disk when we
 * return 0. */
static int
write_new_file(const char *path, mode_t mode, const char *data, size_t len,
    char *err, size_t errlen)
{
	size_t	off = 0;
	ssize_t	n;
	int	fd, rc;

	/* O_EXCL also refuses a symlink in path's place. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
	    mode);
	if (fd < 0) {
		rc = -errno;
		if (rc == -EEXIST)
			snprintf(err, errlen, "%s: already exists; not "
			    "overwriting it", path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: write: %s", path,
			    strerror(-rc));
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: fsync: %s", path, strerror(-rc));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = -errno;
		snprintf(err, errlen, "%s: close: %s", path, strerror(-rc));
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(path);
	return rc;
}

int
keys_generate(const char *path_sk, const char *path_pub,
    uint8_t pk[ENV_PK_LEN], char *err, size_t errlen)
{
	struct keys_secret	*ks = NULL;
	uint8_t			*seed = NULL;
	char			 line[KEYS_B64_SIZE + 1];
	int			 rc;

	if ((rc = env_sodium_init()) != 0) {
		snprintf(err, errlen, "libsodium failed to initialise");
		return rc;
	}
	if ((seed = sodium_malloc(KEYS_SEED_LEN)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	randombytes_buf(seed, KEYS_SEED_LEN);
	if ((rc = keys_secret_from_seed(seed, &ks)) != 0) {
		snprintf(err, errlen, "can not derive the key: %s",
		    strerror(-rc));
		goto out;
	}

	sodium_bin2base64(line, KEYS_B64_SIZE, ks->seed, KEYS_SEED_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	line[KEYS_B64_SIZE - 1] = '\n';
	rc = write_new_file(path_sk, 0600, line, KEYS_B64_SIZE, err, errlen);
	if (rc != 0)
		goto out;

	if (path_pub != NULL) {
		keys_format_public(ks->pk, line);
		line[KEYS_B64_SIZE - 1] = '\n';
		rc = write_new_file(path_pub, 0644, line, KEYS_B64_SIZE, err,
		    errlen);
		if (rc != 0) {
			/* Half a key pair is worse than none. */
			unlink(path_sk);
			goto out;
		}
	}
	if (pk != NULL)
		memcpy(pk, ks->pk, ENV_PK_LEN);
out:
	sodium_memzero(line, sizeof(line));
	keys_free_secret(ks);
	sodium_free(seed);
	return rc;
}
