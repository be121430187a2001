/*
 * test_keys.c: secret key files (content, size, mode), both public key
 * forms and every way they can be wrong, and keygen never overwriting.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "keys.h"

/* RFC 8032 TEST 1, in the encodings the files use (computed with Python's
 * base64 module, independently of libsodium). */
static const char	rfc_seed_b64[] =
    "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
static const char	rfc_pk_b64[] =
    "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char	rfc_pk_ssh[] = "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea";
static const char	rfc_keyid_hex[] = "c46607cab5cd8e90";

static char	dir[] = "/tmp/test_keys_XXXXXX";
static uint8_t	rfc_pk[ENV_PK_LEN];

#define assert_has(hay, needle)						\
	cr_assert(strstr((hay), (needle)) != NULL,			\
	    "message '%s' lacks '%s'", (hay), (needle))

static void
setup(void)
{
	size_t	n;

	cr_assert_eq(env_sodium_init(), 0);
	cr_assert_not_null(mkdtemp(dir));
	umask(022);
	cr_assert_eq(sodium_base642bin(rfc_pk, sizeof(rfc_pk), rfc_pk_b64,
	    strlen(rfc_pk_b64), NULL, &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL), 0);
}

static void
teardown(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(keys, .init = setup, .fini = teardown);

static const char *
path_of(const char *name)
{
	static char	p[4][256];
	static int	k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

static const char *
write_file(const char *name, const void *data, size_t len, mode_t mode)
{
	const char	*p = path_of(name);
	int		 fd;

	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0, "%s: %s", p, strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
	return p;
}

static const char *
write_str(const char *name, const char *s)
{
	return write_file(name, s, strlen(s), 0600);
}

/* b64 of n bytes of value v, in a static buffer */
static const char *
b64_of(size_t n, uint8_t v)
{
	static char	out[256];
	uint8_t		bin[128];

	memset(bin, v, n);
	sodium_bin2base64(out, sizeof(out), bin, n,
	    sodium_base64_VARIANT_ORIGINAL);
	return out;
}

/* ---- secret keys ---- */

static void
check_rfc(const struct keys_secret *ks)
{
	char	hex[ENV_KEYID_HEX_LEN];

	cr_assert_eq(memcmp(ks->pk, rfc_pk, ENV_PK_LEN), 0);
	cr_assert_eq(memcmp(ks->sk, ks->seed, KEYS_SEED_LEN), 0);
	cr_assert_eq(memcmp(ks->sk + KEYS_SEED_LEN, ks->pk, ENV_PK_LEN), 0);
	env_key_id_hex(ks->key_id, hex);
	cr_assert_str_eq(hex, rfc_keyid_hex);
}

Test(keys, from_seed)
{
	struct keys_secret	*ks;
	uint8_t			 seed[KEYS_SEED_LEN];
	size_t			 n;

	cr_assert_eq(sodium_base642bin(seed, sizeof(seed), rfc_seed_b64,
	    strlen(rfc_seed_b64), NULL, &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL), 0);
	cr_assert_eq(keys_secret_from_seed(seed, &ks), 0);
	check_rfc(ks);
	keys_free_secret(ks);
	keys_free_secret(NULL);
}

Test(keys, load_with_and_without_newline)
{
	struct keys_secret	*ks;
	char			 buf[64], err[256] = "";
	const char		*p;

	snprintf(buf, sizeof(buf), "%s\n", rfc_seed_b64);
	p = write_str("nl", buf);
	cr_assert_eq(keys_load_secret(p, &ks, err, sizeof(err)), 0, "%s", err);
	check_rfc(ks);
	keys_free_secret(ks);

	p = write_str("nonl", rfc_seed_b64);
	cr_assert_eq(keys_load_secret(p, &ks, err, sizeof(err)), 0, "%s", err);
	check_rfc(ks);
	keys_free_secret(ks);
}

Test(keys, load_owner_only_modes)
{
	static const mode_t	ok[] = { 0600, 0400, 0700 };
	struct keys_secret	*ks;
	char			 err[256] = "";
	const char		*p;
	size_t			 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		p = write_file("k", rfc_seed_b64, strlen(rfc_seed_b64), ok[i]);
		cr_assert_eq(keys_load_secret(p, &ks, err, sizeof(err)), 0,
		    "mode %04o: %s", ok[i], err);
		keys_free_secret(ks);
	}
}

Test(keys, load_refuses_group_or_other_access)
{
	static const mode_t	bad[] = { 0640, 0604, 0644, 0660, 0666, 0610,
					  0601, 0620, 0602, 0777 };
	struct keys_secret	*ks = (void *)1;
	char			 err[256], want[512];
	const char		*p;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = write_file("k", rfc_seed_b64, strlen(rfc_seed_b64), bad[i]);
		err[0] = '\0';
		cr_assert_eq(keys_load_secret(p, &ks, err, sizeof(err)),
		    -EPERM, "mode %04o accepted", bad[i]);
		cr_assert_null(ks);
		snprintf(want, sizeof(want), "%s: mode %04o lets group or "
		    "others read this secret key; chmod 600 %s", p, bad[i], p);
		cr_assert_str_eq(err, want);
	}
}

/* Must be refused with -EINVAL and a message containing want. */
static void
reject_secret(const char *content, size_t len, const char *want)
{
	struct keys_secret	*ks = (void *)1;
	char			 err[256] = "";
	const char		*p;

	p = write_file("bad", content, len, 0600);
	cr_assert_eq(keys_load_secret(p, &ks, err, sizeof(err)), -EINVAL,
	    "accepted '%.*s'", (int)len, content);
	cr_assert_null(ks);
	assert_has(err, p);
	assert_has(err, want);
}

Test(keys, load_bad_content)
{
	char	buf[128];

	reject_secret("", 0, "empty");
	reject_secret("\n", 1, "empty");
	snprintf(buf, sizeof(buf), "%s\n%s\n", rfc_seed_b64, rfc_seed_b64);
	reject_secret(buf, strlen(buf), "more than one line");
	snprintf(buf, sizeof(buf), "%s\n\n", rfc_seed_b64);
	reject_secret(buf, strlen(buf), "more than one line");
	snprintf(buf, sizeof(buf), "%s\r\n", rfc_seed_b64);
	reject_secret(buf, strlen(buf), "not valid base64");
	snprintf(buf, sizeof(buf), "%s \n", rfc_seed_b64);
	reject_secret(buf, strlen(buf), "not valid base64");
	snprintf(buf, sizeof(buf), " %s", rfc_seed_b64);
	reject_secret(buf, strlen(buf), "not valid base64");
	/* no padding */
	reject_secret(rfc_seed_b64, strlen(rfc_seed_b64) - 1,
	    "not valid base64");
	/* URL-safe alphabet is another variant */
	snprintf(buf, sizeof(buf), "%s", rfc_seed_b64);
	*strchr(buf, '/') = '_';
	reject_secret(buf, strlen(buf), "not valid base64");
	/* non-zero trailing bits: "A=" -> "B=" (not canonical) */
	snprintf(buf, sizeof(buf), "%s", rfc_seed_b64);
	buf[42] = 'B';
	reject_secret(buf, strlen(buf), "not valid base64");
	reject_secret("seed", 4, "decodes to 3 bytes; an Ed25519 seed is 32");
	reject_secret("\0\0\0\0", 4, "not valid base64");
	/* wrong lengths */
	reject_secret(b64_of(31, 1), strlen(b64_of(31, 1)),
	    "decodes to 31 bytes; an Ed25519 seed is 32");
	reject_secret(b64_of(33, 1), strlen(b64_of(33, 1)),
	    "decodes to 33 bytes; an Ed25519 seed is 32");
	reject_secret(b64_of(64, 1), strlen(b64_of(64, 1)),
	    "decodes to 64 bytes; an Ed25519 seed is 32");
}

Test(keys, load_bad_content_not_echoed)
{
	struct keys_secret	*ks;
	char			 buf[64], err[256] = "";
	const char		*p;

	snprintf(buf, sizeof(buf), "%s!", rfc_seed_b64);
	p = write_str("echo", buf);
	cr_assert_eq(keys_load_secret(p, &ks, err, sizeof(err)), -EINVAL);
	cr_assert_null(strstr(err, "nWGx"), "secret echoed: %s", err);
}

Test(keys, load_too_large)
{
	struct keys_secret	*ks;
	char			 buf[KEYS_SECRET_FILE_MAX + 1], err[256] = "";
	const char		*p;

	memset(buf, 'A', sizeof(buf));
	p = write_file("big", buf, sizeof(buf), 0600);
	cr_assert_eq(keys_load_secret(p, &ks, err, sizeof(err)), -EFBIG);
	assert_has(err, "larger than 128 bytes");
	/* exactly the limit: read, then refused for its content */
	p = write_file("big", buf, KEYS_SECRET_FILE_MAX, 0600);
	cr_assert_eq(keys_load_secret(p, &ks, err, sizeof(err)), -EINVAL);
}

Test(keys, load_not_a_file)
{
	struct keys_secret	*ks;
	char			 err[256] = "", want[300];

	cr_assert_eq(chmod(dir, 0700), 0);
	cr_assert_eq(keys_load_secret(dir, &ks, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: not a regular file", dir);
	cr_assert_str_eq(err, want);
	cr_assert_eq(keys_load_secret(path_of("missing"), &ks, err,
	    sizeof(err)), -ENOENT);
	assert_has(err, "missing: No such file or directory");
}

/* ---- public keys ---- */

static void
accept_pub(const char *text, const uint8_t *want)
{
	uint8_t	pk[ENV_PK_LEN];
	char	err[256] = "";

	cr_assert_eq(keys_parse_public(text, strlen(text), pk, err,
	    sizeof(err)), 0, "'%s': %s", text, err);
	cr_assert_eq(memcmp(pk, want, ENV_PK_LEN), 0, "'%s'", text);
}

static void
reject_pub_len(const char *text, size_t len, const char *want)
{
	uint8_t	pk[ENV_PK_LEN];
	char	err[256] = "";

	cr_assert_eq(keys_parse_public(text, len, pk, err, sizeof(err)),
	    -EINVAL, "accepted '%.*s'", (int)len, text);
	cr_assert_str_eq(err, want);
}

static void
reject_pub(const char *text, const char *want)
{
	reject_pub_len(text, strlen(text), want);
}

/* base64 of an OpenSSH blob built from parts */
static const char *
ssh_text(const char *type, uint32_t tlen, const uint8_t *key, uint32_t klen,
    size_t keybytes, size_t extra)
{
	static char	out[512];
	uint8_t		blob[256];
	size_t		n = 0;
	int		m;

	blob[n++] = (uint8_t)(tlen >> 24);
	blob[n++] = (uint8_t)(tlen >> 16);
	blob[n++] = (uint8_t)(tlen >> 8);
	blob[n++] = (uint8_t)tlen;
	memcpy(blob + n, type, strlen(type));
	n += strlen(type);
	blob[n++] = (uint8_t)(klen >> 24);
	blob[n++] = (uint8_t)(klen >> 16);
	blob[n++] = (uint8_t)(klen >> 8);
	blob[n++] = (uint8_t)klen;
	memcpy(blob + n, key, keybytes);
	n += keybytes;
	memset(blob + n, 0xaa, extra);
	n += extra;
	m = snprintf(out, sizeof(out), "ssh-ed25519 ");
	sodium_bin2base64(out + m, sizeof(out) - (size_t)m, blob, n,
	    sodium_base64_VARIANT_ORIGINAL);
	return out;
}

Test(keys, public_both_forms)
{
	accept_pub(rfc_pk_b64, rfc_pk);
	accept_pub(rfc_pk_ssh, rfc_pk);
	accept_pub(ssh_text("ssh-ed25519", 11, rfc_pk, 32, 32, 0), rfc_pk);
	/* blanks between type and blob */
	accept_pub("ssh-ed25519 \t "
	    "AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea",
	    rfc_pk);
}

Test(keys, public_len_is_respected)
{
	char	buf[128];
	uint8_t	pk[ENV_PK_LEN];
	char	err[256];

	/* the parser reads len bytes, not up to a NUL */
	snprintf(buf, sizeof(buf), "%s fts01", rfc_pk_b64);
	cr_assert_eq(keys_parse_public(buf, strlen(rfc_pk_b64), pk, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(memcmp(pk, rfc_pk, ENV_PK_LEN), 0);
}

Test(keys, public_format_round_trip)
{
	char	out[KEYS_B64_SIZE];

	keys_format_public(rfc_pk, out);
	cr_assert_str_eq(out, rfc_pk_b64);
	accept_pub(out, rfc_pk);
}

Test(keys, public_raw_errors)
{
	char	buf[80];

	reject_pub("", "empty public key");
	reject_pub("AAAA!AAA", "public key 'AAAA!AAA' is not valid base64");
	reject_pub("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo",
	    "public key '11qYAYKxCrfVS/7TyWQHOg7h'... is not valid "
	    "base64");
	reject_pub(b64_of(31, 9), "public key decodes to 31 bytes; an "
	    "Ed25519 public key is 32 (or use 'ssh-ed25519 AAAA...')");
	reject_pub(b64_of(33, 9), "public key decodes to 33 bytes; an "
	    "Ed25519 public key is 32 (or use 'ssh-ed25519 AAAA...')");
	reject_pub(b64_of(64, 9), "public key decodes to 64 bytes; an "
	    "Ed25519 public key is 32 (or use 'ssh-ed25519 AAAA...')");
	/* a trailing newline is not part of a key */
	snprintf(buf, sizeof(buf), "%s\n", rfc_pk_b64);
	reject_pub_len(buf, strlen(buf), "public key "
	    "'11qYAYKxCrfVS/7TyWQHOg7h'... is not valid base64");
}

Test(keys, public_too_long)
{
	static char	buf[KEYS_PUBLIC_TEXT_MAX + 1];

	memset(buf, 'A', sizeof(buf));
	reject_pub_len(buf, sizeof(buf),
	    "public key text of 1025 bytes is longer than 1024");
}

Test(keys, public_ssh_errors)
{
	reject_pub("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ==",
	    "key type 'ssh-rsa' is not supported (use ssh-ed25519, or the "
	    "base64 of a raw Ed25519 key)");
	reject_pub("ecdsa-sha2-nistp256 AAAA", "key type "
	    "'ecdsa-sha2-nistp256' is not supported (use ssh-ed25519, or the "
	    "base64 of a raw Ed25519 key)");
	reject_pub("SSH-ED25519 AAAA", "key type 'SSH-ED25519' is not "
	    "supported (use ssh-ed25519, or the base64 of a raw Ed25519 key)");
	reject_pub("ssh-ed25519 ", "ssh-ed25519 key: the base64 blob is "
	    "missing");
	reject_pub("ssh-ed25519 AAAA!", "ssh-ed25519 key: blob 'AAAA!' is "
	    "not valid base64");
	reject_pub("ssh-ed25519 "
	    "AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea"
	    " me@host", "ssh-ed25519 key: unexpected text after the base64 "
	    "blob");
	reject_pub("ssh-ed25519 AAA=", "ssh-ed25519 key: blob of 2 bytes is "
	    "truncated");
	reject_pub(ssh_text("ssh-rsa", 7, rfc_pk, 32, 32, 0),
	    "ssh-ed25519 key: the blob is of type 'ssh-rsa', not ssh-ed25519");
	reject_pub(ssh_text("ssh-ed25519", 200, rfc_pk, 32, 32, 0),
	    "ssh-ed25519 key: blob is truncated (type of 200 bytes, 47 left)");
	reject_pub(ssh_text("ssh-ed25519", 11, rfc_pk, 31, 31, 0),
	    "ssh-ed25519 key: the blob holds a key of 31 bytes; an Ed25519 "
	    "public key is 32");
	reject_pub(ssh_text("ssh-ed25519", 11, rfc_pk, 32, 20, 0),
	    "ssh-ed25519 key: blob is truncated (20 of 32 key bytes)");
	reject_pub(ssh_text("ssh-ed25519", 11, rfc_pk, 32, 32, 3),
	    "ssh-ed25519 key: 3 unexpected bytes after the key in the blob");
	reject_pub(ssh_text("ssh-ed25519", 11, rfc_pk, 0xffffffffu, 0, 0),
	    "ssh-ed25519 key: the blob holds a key of 4294967295 bytes; an "
	    "Ed25519 public key is 32");
}

Test(keys, public_invalid_points)
{
	/* order 8 point from libsodium's list of small-order encodings */
	static const uint8_t	torsion[ENV_PK_LEN] = {
		0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f,
		0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
		0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6,
		0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a };
	static const char	want[] = "not a valid Ed25519 public key (not "
	    "a point of the prime-order subgroup)";
	uint8_t			mixed[ENV_PK_LEN], ident[ENV_PK_LEN] = { 1 };
	char			b64[KEYS_B64_SIZE];

	reject_pub(b64_of(32, 0), want);
	keys_format_public(ident, b64);
	reject_pub(b64, want);
	keys_format_public(torsion, b64);
	reject_pub(b64, want);
	reject_pub(ssh_text("ssh-ed25519", 11, torsion, 32, 32, 0), want);
	/* a real key plus a torsion component: on the curve, wrong group */
	cr_assert_eq(crypto_core_ed25519_add(mixed, rfc_pk, torsion), 0);
	keys_format_public(mixed, b64);
	reject_pub(b64, want);
}

/* ---- keygen ---- */

static void
read_all(const char *p, char *buf, size_t size)
{
	FILE	*f = fopen(p, "r");
	size_t	 n;

	cr_assert_not_null(f, "%s", p);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

Test(keys, generate_and_load)
{
	struct keys_secret	*ks;
	struct stat		 st;
	uint8_t			 pk[ENV_PK_LEN], pk2[ENV_PK_LEN];
	uint8_t			 sig[ENV_SIG_LEN];
	char			 err[256] = "", line[128];
	const char		*sk_path = path_of("id"), *pub = path_of("id.pub");

	cr_assert_eq(keys_generate(sk_path, pub, pk, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(stat(sk_path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(stat(pub, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0644);

	read_all(pub, line, sizeof(line));
	cr_assert_eq(strlen(line), 45);
	cr_assert_eq(line[44], '\n');
	cr_assert_eq(keys_parse_public(line, 44, pk2, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(memcmp(pk, pk2, ENV_PK_LEN), 0);

	read_all(sk_path, line, sizeof(line));
	cr_assert_eq(strlen(line), 45);
	cr_assert_eq(keys_load_secret(sk_path, &ks, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(memcmp(ks->pk, pk, ENV_PK_LEN), 0);
	cr_assert_eq(env_sign("x", 1, ks->sk, sig), 0);
	cr_assert_eq(env_verify("x", 1, sig, sizeof(sig), pk2), 0);
	keys_free_secret(ks);
}

Test(keys, generate_is_random)
{
	uint8_t	a[ENV_PK_LEN], b[ENV_PK_LEN];
	char	err[256];

	cr_assert_eq(keys_generate(path_of("a"), NULL, a, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(keys_generate(path_of("b"), NULL, b, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_neq(memcmp(a, b, ENV_PK_LEN), 0);
	cr_assert_eq(access(path_of("a.pub"), F_OK), -1);
}

Test(keys, generate_refuses_to_overwrite_secret)
{
	char		 err[256] = "", want[300], got[64];
	const char	*p = write_str("old", "precious\n");

	cr_assert_eq(keys_generate(p, path_of("old.pub"), NULL, err,
	    sizeof(err)), -EEXIST);
	snprintf(want, sizeof(want), "%s: already exists; not overwriting it",
	    p);
	cr_assert_str_eq(err, want);
	read_all(p, got, sizeof(got));
	cr_assert_str_eq(got, "precious\n");
	cr_assert_eq(access(path_of("old.pub"), F_OK), -1);
}

Test(keys, generate_refuses_to_overwrite_public)
{
	char		 err[256] = "", got[64];
	const char	*pub = write_str("k.pub", "mine\n");

	cr_assert_eq(keys_generate(path_of("k"), pub, NULL, err, sizeof(err)),
	    -EEXIST);
	assert_has(err, "k.pub: already exists");
	read_all(pub, got, sizeof(got));
	cr_assert_str_eq(got, "mine\n");
	/* no half key pair left behind */
	cr_assert_eq(access(path_of("k"), F_OK), -1);
}

Test(keys, generate_refuses_symlink)
{
	char		 err[256] = "", got[64];
	const char	*target = write_str("target", "keep\n");
	const char	*link = path_of("link");

	cr_assert_eq(symlink(target, link), 0);
	cr_assert_eq(keys_generate(link, NULL, NULL, err, sizeof(err)),
	    -EEXIST);
	read_all(target, got, sizeof(got));
	cr_assert_str_eq(got, "keep\n");
}

Test(keys, generate_bad_directory)
{
	char	err[256] = "";

	cr_assert_eq(keys_generate(path_of("nodir/k"), NULL, NULL, err,
	    sizeof(err)), -ENOENT);
	assert_has(err, "nodir/k: No such file or directory");
}
