/*
 * auth_keys.c: the authorized_keys file (docs/security.md): one line per
 * enrolled key, "ROLE KEY NAME", parsed strictly into a table sorted by key
 * id for lookup.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "auth.h"
#include "jsonpos.h"
#include "keys.h"

/* ---- authorized_keys ---- */

struct auth_keys {
	struct auth_key	*keys;		/* file order */
	size_t		 n;
	struct auth_key	**by_id;	/* sorted by key id, for lookup */
};

struct tok {
	const char	*s;
	size_t		 len;
};

#define MAX_TOKS	6

static int
tok_eq(const struct tok *t, const char *s)
{
	return t->len == strlen(s) && memcmp(t->s, s, t->len) == 0;
}

static int
is_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
	    c == '-';
}

#define QUOTE_SHOW	40

static void
quote_tok(char *dst, size_t dstlen, const struct tok *t)
{
	char	tmp[QUOTE_SHOW + 2];
	size_t	n = t->len < QUOTE_SHOW + 1 ? t->len : QUOTE_SHOW + 1;

	/* jsonpos_quote wants a C string; one byte more shows the "...". */
	memcpy(tmp, t->s, n);
	tmp[n] = '\0';
	jsonpos_quote(dst, dstlen, tmp, QUOTE_SHOW);
}

/*
 * One line without its newline into k. 1 for a key, 0 for a blank or
 * comment line, -EINVAL with a message (no FILE:LINE prefix).
 */
static int
parse_line(const char *line, size_t len, struct auth_key *k, char *err,
    size_t errlen)
{
	struct tok	 t[MAX_TOKS], *name;
	const char	*p = line, *end = line + len;
	size_t		 nt = 0, i, keylen;
	char		 q[200], why[AUTH_MSG_MAX];
	int		 ssh;

	if (len > AUTH_LINE_MAX) {
		snprintf(err, errlen, "line longer than %d bytes",
		    AUTH_LINE_MAX);
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c != '\t' && (c < 0x20 || c > 0x7e)) {
			snprintf(err, errlen, "byte 0x%02x at column %zu is "
			    "not printable ASCII", c, i + 1);
			return -EINVAL;
		}
	}
	while (p < end && nt < MAX_TOKS) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		t[nt].s = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		t[nt].len = (size_t)(p - t[nt].s);
		nt++;
	}
	if (nt == 0 || t[0].s[0] == '#')
		return 0;

	memset(k, 0, sizeof(*k));
	if (tok_eq(&t[0], "monitor"))
		k->role = AUTH_ROLE_MONITOR;
	else if (tok_eq(&t[0], "orchestrator"))
		k->role = AUTH_ROLE_ORCHESTRATOR;
	else if (tok_eq(&t[0], "admin"))
		k->role = AUTH_ROLE_ADMIN;
	else {
		quote_tok(q, sizeof(q), &t[0]);
		snprintf(err, errlen, "unknown role %s (expected monitor, "
		    "orchestrator or admin)", q);
		return -EINVAL;
	}

	/* A key type ("ssh-ed25519", "ecdsa-sha2-nistp256") has a '-',
	 * which base64 never does. */
	ssh = nt >= 2 && memchr(t[1].s, '-', t[1].len) != NULL;
	if (nt < (ssh ? 4u : 3u)) {
		snprintf(err, errlen, "expected ROLE KEY NAME, where KEY is "
		    "'BASE64' or 'ssh-ed25519 BASE64'");
		return -EINVAL;
	}
	name = &t[ssh ? 3 : 2];
	if ((size_t)(name - t) + 1 < nt && name[1].s[0] != '#') {
		quote_tok(q, sizeof(q), &name[1]);
		snprintf(err, errlen, "unexpected %s after the name (comments "
		    "start with #)", q);
		return -EINVAL;
	}

	keylen = (size_t)(t[ssh ? 2 : 1].s + t[ssh ? 2 : 1].len - t[1].s);
	if (keys_parse_public(t[1].s, keylen, k->pk, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s", why);
		return -EINVAL;
	}
	if (env_key_id(k->pk, k->key_id) != 0) {
		snprintf(err, errlen, "can not compute the key id");
		return -EINVAL;
	}

	for (i = 0; i < name->len; i++)
		if (!is_name_char(name->s[i]))
			break;
	if (name->len > AUTH_NAME_MAX || i < name->len) {
		quote_tok(q, sizeof(q), name);
		snprintf(err, errlen, "name %s is not 1-%d characters of "
		    "A-Z a-z 0-9 . _ @ -", q, AUTH_NAME_MAX);
		return -EINVAL;
	}
	memcpy(k->name, name->s, name->len);
	k->name[name->len] = '\0';
	return 1;
}

static int
cmp_by_id(const void *a, const void *b)
{
	const struct auth_key	*x = *(struct auth_key *const *)a;
	const struct auth_key	*y = *(struct auth_key *const *)b;
	int			 c;

	if ((c = memcmp(x->key_id, y->key_id, ENV_KEYID_LEN)) != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int
cmp_by_name(const void *a, const void *b)
{
	const struct auth_key	*x = *(struct auth_key *const *)a;
	const struct auth_key	*y = *(struct auth_key *const *)b;
	int			 c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/*
 * Duplicates, found by sorting rather than by comparing every pair (10,000
 * keys). Reports the earliest line that repeats an earlier one.
 */
enum dup_kind { DUP_KEY, DUP_ID, DUP_NAME };

/*
 * Duplicates, found by sorting rather than by comparing every pair (10,000
 * keys). Reports the earliest line that repeats an earlier one.
 */
static int
check_duplicates(struct auth_keys *t, const char *fname, char *err,
    size_t errlen)
{
	struct auth_key	**by_name = NULL, *dup = NULL, *first = NULL;
	enum dup_kind	 kind = DUP_KEY;
	char		 hex[ENV_KEYID_HEX_LEN];
	size_t		 i;

	if (t->n < 2)
		return 0;
	if ((by_name = malloc(t->n * sizeof(*by_name))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", fname);
		return -ENOMEM;
	}
	for (i = 0; i < t->n; i++)
		by_name[i] = &t->keys[i];
	qsort(by_name, t->n, sizeof(*by_name), cmp_by_name);

	for (i = 1; i < t->n; i++) {
		struct auth_key *a = t->by_id[i - 1], *b = t->by_id[i];

		if (memcmp(a->key_id, b->key_id, ENV_KEYID_LEN) != 0)
			continue;
		if (dup == NULL || b->line < dup->line) {
			dup = b;
			first = a;
			/* Two keys, one id: a 64-bit collision someone may
			 * have searched for. Refused as well. */
			kind = memcmp(a->pk, b->pk, ENV_PK_LEN) == 0 ?
			    DUP_KEY : DUP_ID;
		}
	}
	for (i = 1; i < t->n; i++) {
		struct auth_key *a = by_name[i - 1], *b = by_name[i];

		if (strcmp(a->name, b->name) != 0)
			continue;
		if (dup == NULL || b->line < dup->line) {
			dup = b;
			first = a;
			kind = DUP_NAME;
		}
	}
	free(by_name);
	if (dup == NULL)
		return 0;
	switch (kind) {
	case DUP_KEY:
		snprintf(err, errlen, "%s:%u: key already listed on line %u "
		    "(as %s)", fname, dup->line, first->line, first->name);
		break;
	case DUP_ID:
		env_key_id_hex(dup->key_id, hex);
		snprintf(err, errlen, "%s:%u: key id %s collides with the "
		    "key on line %u", fname, dup->line, hex, first->line);
		break;
	case DUP_NAME:
		snprintf(err, errlen, "%s:%u: name %s already used on line %u",
		    fname, dup->line, dup->name, first->line);
		break;
	}
	return -EINVAL;
}

int
auth_keys_parse(const char *buf, size_t len, const char *fname,
    struct auth_keys **out, char *err, size_t errlen)
{
	struct auth_keys	*t;
	struct auth_key		 k;
	const char		*p = buf, *end = buf + len, *nl;
	size_t			 cap = 0, ll, i;
	unsigned		 line = 0;
	char			 why[AUTH_MSG_MAX];
	int			 rc;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", fname);
		return -ENOMEM;
	}
	while (p < end) {
		line++;
		nl = memchr(p, '\n', (size_t)(end - p));
		ll = (size_t)((nl ? nl : end) - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		rc = parse_line(p, ll, &k, why, sizeof(why));
		p = nl ? nl + 1 : end;
		if (rc < 0) {
			snprintf(err, errlen, "%s:%u: %s", fname, line, why);
			goto fail;
		}
		if (rc == 0)
			continue;
		if (t->n == AUTH_KEYS_MAX) {
			snprintf(err, errlen, "%s:%u: more than %d keys",
			    fname, line, AUTH_KEYS_MAX);
			rc = -EINVAL;
			goto fail;
		}
		if (t->n == cap) {
			struct auth_key	*nk;

			cap = cap ? cap * 2 : 16;
			if ((nk = realloc(t->keys, cap * sizeof(*nk))) == NULL)
				goto nomem;
			t->keys = nk;
		}
		k.line = line;
		t->keys[t->n++] = k;
	}

	if (t->n == 0) {
		*out = t;		/* valid: nobody may call */
		return 0;
	}
	if ((t->by_id = malloc(t->n * sizeof(*t->by_id))) == NULL)
		goto nomem;
	for (i = 0; i < t->n; i++)
		t->by_id[i] = &t->keys[i];
	qsort(t->by_id, t->n, sizeof(*t->by_id), cmp_by_id);
	if ((rc = check_duplicates(t, fname, err, errlen)) != 0)
		goto fail;
	*out = t;
	return 0;
nomem:
	snprintf(err, errlen, "%s: out of memory", fname);
	rc = -ENOMEM;
fail:
	auth_keys_free(t);
	return rc;
}

int
auth_keys_load(const char *path, struct auth_keys **out, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		*buf;
	size_t		 len;
	int		 rc;

	*out = NULL;
	/*
	 * Checked by path before the read: swapping the file in between
	 * needs write access to its directory, which this check is not
	 * about. It catches a file left writable by mistake.
	 */
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 022) != 0) {
		snprintf(err, errlen, "%s: mode %04o lets group or others "
		    "write it, and so choose who controls this agent; chmod "
		    "go-w %s", path, (unsigned)(st.st_mode & 07777), path);
		return -EPERM;
	}
	rc = jsonpos_read_file(path, AUTH_KEYS_FILE_MAX, &buf, &len, err,
	    errlen);
	if (rc < 0)
		return rc;
	rc = auth_keys_parse(buf, len, path, out, err, errlen);
	free(buf);
	return rc;
}

void
auth_keys_free(struct auth_keys *t)
{
	if (t == NULL)
		return;
	free(t->by_id);
	free(t->keys);
	free(t);
}

size_t
auth_keys_count(const struct auth_keys *t)
{
	return t ? t->n : 0;
}

const struct auth_key *
auth_keys_at(const struct auth_keys *t, size_t i)
{
	if (t == NULL || i >= t->n)
		return NULL;
	return &t->keys[i];
}

const struct auth_key *
auth_keys_find(const struct auth_keys *t, const uint8_t *key_id, size_t len)
{
	size_t	lo = 0, hi, mid;
	int	c;

	if (t == NULL || key_id == NULL || len != ENV_KEYID_LEN)
		return NULL;
	/* Key ids are public: an ordinary compare leaks nothing. */
	hi = t->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = memcmp(key_id, t->by_id[mid]->key_id, ENV_KEYID_LEN);
		if (c == 0)
			return t->by_id[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

