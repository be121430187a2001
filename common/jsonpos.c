/*
 * jsonpos.c: find the line of a key path in raw JSON text.
 *
 * The text has normally passed jansson already, but every step is
 * bounds-checked anyway and anything unexpected just means "not found" (0):
 * a line number is a courtesy in an error message, never a reason to fail.
 * Only the values on the path are descended into; the others are skipped
 * without recursion, so deep nesting costs no stack.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "jsonpos.h"

struct scan {
	const char	*p;
	const char	*end;
	int		 line;
};

static void
skip_ws(struct scan *s)
{
	while (s->p < s->end) {
		if (*s->p == '\n')
			s->line++;
		else if (*s->p != ' ' && *s->p != '\t' && *s->p != '\r')
			return;
		s->p++;
	}
}

/* At an opening quote: move past the closing one. 0, or -1 if unclosed. */
static int
skip_string(struct scan *s)
{
	s->p++;
	while (s->p < s->end) {
		if (*s->p == '\\') {
			s->p += 2;
			continue;
		}
		if (*s->p == '\n')
			s->line++;	/* invalid JSON, but keep counting */
		if (*s->p++ == '"')
			return 0;
	}
	s->p = s->end;
	return -1;
}

static int
skip_value(struct scan *s)
{
	int	depth = 0;

	while (s->p < s->end) {
		switch (*s->p) {
		case '"':
			if (skip_string(s) < 0)
				return -1;
			if (depth == 0)
				return 0;
			continue;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (depth == 0)
				return 0;	/* the enclosing value ends */
			if (--depth == 0) {
				s->p++;
				return 0;
			}
			break;
		case ',':
			if (depth == 0)
				return 0;
			break;
		case '\n':
			if (depth == 0)
				return 0;	/* skip_ws counts it */
			s->line++;
			break;
		case ' ':
		case '\t':
		case '\r':
			if (depth == 0)
				return 0;
			break;
		}
		s->p++;
	}
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
read_hex4(const char *p, const char *end, uint32_t *out)
{
	int	i, v;

	if (end - p < 4)
		return -1;
	*out = 0;
	for (i = 0; i < 4; i++) {
		if ((v = hexval((unsigned char)p[i])) < 0)
			return -1;
		*out = (*out << 4) | (uint32_t)v;
	}
	return 0;
}

/* UTF-8 bytes of a code point; returns their count. */
static size_t
utf8_put(uint32_t cp, unsigned char out[4])
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xC0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xE0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (unsigned char)(0xF0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/*
 * At an opening quote: decode the string and compare it with key, then
 * move past it. jansson compares decoded keys, so "capa\u0063ity" must
 * match "capacity" here too. 1 = equal, 0 = not, -1 = malformed.
 */
static int
key_matches(struct scan *s, const char *key)
{
	const unsigned char	*k = (const unsigned char *)key;
	const char		*p = s->p + 1;
	unsigned char		 u[4];
	size_t			 n, i;
	uint32_t		 cp, lo;
	int			 eq = 1;

	while (p < s->end && *p != '"') {
		if (*p != '\\') {
			u[0] = (unsigned char)*p++;
			n = 1;
		} else {
			if (s->end - p < 2)
				return -1;
			switch (p[1]) {
			case 'b': cp = '\b'; break;
			case 'f': cp = '\f'; break;
			case 'n': cp = '\n'; break;
			case 'r': cp = '\r'; break;
			case 't': cp = '\t'; break;
			case 'u':
				if (read_hex4(p + 2, s->end, &cp) < 0)
					return -1;
				p += 4;
				if (cp >= 0xD800 && cp <= 0xDBFF &&
				    s->end - p >= 8 && p[2] == '\\' &&
				    p[3] == 'u' &&
				    read_hex4(p + 4, s->end, &lo) == 0 &&
				    lo >= 0xDC00 && lo <= 0xDFFF) {
					cp = 0x10000 + ((cp - 0xD800) << 10) +
					    (lo - 0xDC00);
					p += 6;
				}
				break;
			default: cp = (unsigned char)p[1]; break;
			}
			p += 2;
			n = utf8_put(cp, u);
		}
		for (i = 0; i < n && eq; i++) {
			if (*k == '\0' || *k != u[i])
				eq = 0;
			else
				k++;
		}
	}
	if (p >= s->end)
		return -1;
	s->p = p + 1;
	return eq && *k == '\0';
}

/* Inside an object (just past '{'): find member `key`, stop at its value. */
static int
find_member(struct scan *s, const char *key, int *keyline)
{
	int	m;

	for (;;) {
		skip_ws(s);
		if (s->p >= s->end || *s->p != '"')
			return -1;	/* '}' or garbage: not here */
		*keyline = s->line;
		if ((m = key_matches(s, key)) < 0)
			return -1;
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return -1;
		s->p++;
		skip_ws(s);
		if (m)
			return 0;
		if (skip_value(s) < 0)
			return -1;
		skip_ws(s);
		if (s->p >= s->end || *s->p != ',')
			return -1;
		s->p++;
	}
}

/* Inside an array (just past '['): stop at element `index`. */
static int
find_element(struct scan *s, size_t index)
{
	size_t	i;

	for (i = 0;; i++) {
		skip_ws(s);
		if (s->p >= s->end || *s->p == ']')
			return -1;
		if (i == index)
			return 0;
		if (skip_value(s) < 0)
			return -1;
		skip_ws(s);
		if (s->p >= s->end || *s->p != ',')
			return -1;
		s->p++;
	}
}

int
jsonpos_line_segs(const char *buf, size_t len,
    const struct jsonpos_seg *segs, size_t nsegs)
{
	struct scan	s;
	size_t		i;
	int		line;

	if (buf == NULL)
		return 0;
	s.p = buf;
	s.end = buf + len;
	s.line = 1;
	skip_ws(&s);
	line = s.line;
	for (i = 0; i < nsegs; i++) {
		if (s.p >= s.end)
			return 0;
		if (segs[i].key != NULL) {
			if (*s.p != '{')
				return 0;
			s.p++;
			if (find_member(&s, segs[i].key, &line) < 0)
				return 0;
		} else {
			if (*s.p != '[')
				return 0;
			s.p++;
			if (find_element(&s, segs[i].index) < 0)
				return 0;
			line = s.line;
		}
	}
	return s.p < s.end ? line : 0;
}

/* Parse one path into segments; keys are copied into `keys`. */
static int
parse_path(const char *path, struct jsonpos_seg *segs, size_t *nsegs,
    char *keys, size_t keyslen)
{
	const char	*p = path;
	size_t		 n = 0, k = 0;
	char		*end;
	unsigned long	 idx;

	while (*p != '\0') {
		if (n == JSONPOS_MAX_DEPTH)
			return -1;
		if (p[0] == '[' && p[1] == '"') {
			segs[n].key = keys + k;
			for (p += 2; *p != '"'; p++) {
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				if (*p == '\0' || k + 1 >= keyslen)
					return -1;
				keys[k++] = *p;
			}
			keys[k++] = '\0';
			if (p[1] != ']')
				return -1;
			p += 2;
		} else if (*p == '[') {
			if (!isdigit((unsigned char)p[1]))
				return -1;
			idx = strtoul(p + 1, &end, 10);
			if (*end != ']')
				return -1;
			segs[n].key = NULL;
			segs[n].index = idx;
			p = end + 1;
		} else {
			if (*p == '.') {
				if (n == 0)
					return -1;
				p++;
			} else if (n != 0) {
				return -1;
			}
			segs[n].key = keys + k;
			for (; *p != '\0' && *p != '.' && *p != '['; p++) {
				if (k + 1 >= keyslen)
					return -1;
				keys[k++] = *p;
			}
			if (segs[n].key == keys + k)
				return -1;	/* empty key: "a..b" */
			keys[k++] = '\0';
		}
		n++;
	}
	*nsegs = n;
	return 0;
}

int
jsonpos_line(const char *buf, size_t len, const char *path)
{
	struct jsonpos_seg	segs[JSONPOS_MAX_DEPTH];
	char			keys[1024];
	size_t			n = 0;

	if (path == NULL ||
	    parse_path(path, segs, &n, keys, sizeof(keys)) < 0)
		return 0;
	return jsonpos_line_segs(buf, len, segs, n);
}

static int
plain_key(const char *k)
{
	const char	*p;

	if (*k == '\0')
		return 0;
	for (p = k; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return 0;
	return 1;
}

/* Append to dst at *pos, never past dstlen - 1. */
static void
put(char *dst, size_t dstlen, size_t *pos, const char *s)
{
	size_t	n = strlen(s);

	if (*pos + 1 >= dstlen)
		return;
	if (n > dstlen - 1 - *pos)
		n = dstlen - 1 - *pos;
	memcpy(dst + *pos, s, n);
	*pos += n;
	dst[*pos] = '\0';
}

#define KEY_SHOW_MAX	64

void
jsonpos_format(char *dst, size_t dstlen, const struct jsonpos_seg *segs,
    size_t nsegs)
{
	char		 tmp[KEY_SHOW_MAX * 6 + 16];
	const char	*k;
	size_t		 i, j, pos = 0, t;
	unsigned char	 c;

	if (dstlen == 0)
		return;
	dst[0] = '\0';
	if (nsegs == 0) {
		put(dst, dstlen, &pos, "(root)");
		return;
	}
	for (i = 0; i < nsegs; i++) {
		if (segs[i].key == NULL) {
			snprintf(tmp, sizeof(tmp), "[%zu]", segs[i].index);
			put(dst, dstlen, &pos, tmp);
			continue;
		}
		k = segs[i].key;
		if (plain_key(k) && strlen(k) <= KEY_SHOW_MAX) {
			if (i > 0)
				put(dst, dstlen, &pos, ".");
			put(dst, dstlen, &pos, k);
			continue;
		}
		t = 0;
		tmp[t++] = '[';
		tmp[t++] = '"';
		for (j = 0; k[j] != '\0' && j < KEY_SHOW_MAX; j++) {
			c = (unsigned char)k[j];
			if (c == '"' || c == '\\') {
				tmp[t++] = '\\';
				tmp[t++] = (char)c;
			} else if (c < 0x20 || c == 0x7f) {
				t += (size_t)snprintf(tmp + t, sizeof(tmp) - t,
				    "\\u%04x", c);
			} else {
				tmp[t++] = (char)c;
			}
		}
		if (k[j] != '\0') {
			memcpy(tmp + t, "...", 3);
			t += 3;
		}
		tmp[t++] = '"';
		tmp[t++] = ']';
		tmp[t] = '\0';
		put(dst, dstlen, &pos, tmp);
	}
}

void
jsonpos_quote(char *dst, size_t dstlen, const char *s, size_t maxshow)
{
	char		tmp[8];
	size_t		i, pos = 0;
	unsigned char	c;

	if (dstlen == 0)
		return;
	dst[0] = '\0';
	if (s == NULL) {
		put(dst, dstlen, &pos, "(null)");
		return;
	}
	put(dst, dstlen, &pos, "'");
	for (i = 0; s[i] != '\0' && i < maxshow; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\') {
			snprintf(tmp, sizeof(tmp), "\\x%02x", c);
		} else {
			tmp[0] = (char)c;
			tmp[1] = '\0';
		}
		put(dst, dstlen, &pos, tmp);
	}
	put(dst, dstlen, &pos, "'");
	if (s[i] != '\0')
		put(dst, dstlen, &pos, "...");
}

static int
read_file(const char *path, size_t max, char **bufp, size_t *lenp)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd, rc;

	*bufp = NULL;
	*lenp = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	if ((uintmax_t)st.st_size > max) {
		rc = -EFBIG;
		goto out;
	}
	/* The file may grow while we read: read one byte past max to see. */
	if ((buf = malloc(max + 2)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		n = read(fd, buf + len, max + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			rc = -EFBIG;
			goto out;
		}
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

int
jsonpos_read_file(const char *path, size_t max, char **bufp, size_t *lenp,
    char *err, size_t errlen)
{
	int rc;

	if ((rc = read_file(path, max, bufp, lenp)) == 0)
		return 0;
	if (rc == -EFBIG)
		snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
	else if (rc == -EINVAL)
		snprintf(err, errlen, "%s: not a regular file", path);
	else
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	return rc;
}

const char *
jsonpos_type(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:	return "an object";
	case JSON_ARRAY:	return "an array";
	case JSON_STRING:	return "a string";
	case JSON_INTEGER:	return "an integer";
	case JSON_REAL:		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:	return "a boolean";
	case JSON_NULL:		return "null";
	}
	return "?";
}
