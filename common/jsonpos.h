/*
 * jsonpos.h: line numbers for JSON values, which jansson does not keep.
 *
 * A small scanner over the raw text of a document that jansson has already
 * accepted: it walks down a key path and returns the line where that
 * member's key (or array element's value) starts. Used to say
 * "sctagd.json:7: marker.capacity: ..." in error messages.
 *
 * Paths: "marker.capacity", "interfaces[2]", "experiments[2].activities[0]",
 * and ["..."] for keys that are not plain words: marker["a.b"] (only \" and
 * \\ are escapes inside the brackets). "" is the document itself.
 */
#ifndef SCTAG_JSONPOS_H
#define SCTAG_JSONPOS_H

#include <stddef.h>

/* One step of a path: a member name, or an array index when key is NULL. */
struct jsonpos_seg {
	const char	*key;
	size_t		 index;
};

#define JSONPOS_MAX_DEPTH	32

/* 1-based line, or 0 when the path is not in the text or is malformed. */
int jsonpos_line(const char *buf, size_t len, const char *path);
int jsonpos_line_segs(const char *buf, size_t len,
    const struct jsonpos_seg *segs, size_t nsegs);

/*
 * Render segments as a path for messages ("(root)" when empty). Keys that
 * are not plain words are written as ["..."] with JSON escapes, long ones
 * cut with "...": outside input can not break the message. Always
 * NUL-terminates when dstlen > 0.
 */
void jsonpos_format(char *dst, size_t dstlen, const struct jsonpos_seg *segs,
    size_t nsegs);

/*
 * Quote a string for a message: 'text' with control and non-ASCII bytes
 * as \xNN, cut to at most `maxshow` input bytes with "..." after.
 */
void jsonpos_quote(char *dst, size_t dstlen, const char *s, size_t maxshow);

/*
 * Read a whole regular file of at most `max` bytes into a NUL-terminated
 * heap buffer (free() it). 0, or -errno with a message that names the path:
 * -EFBIG when larger than max, -EINVAL when not a regular file (a FIFO or
 * device would block or never end).
 */
int jsonpos_read_file(const char *path, size_t max, char **buf, size_t *len,
    char *err, size_t errlen);

/* "an object", "a string", ... for messages about a value's type. */
struct json_t;
const char *jsonpos_type(const struct json_t *);

#endif /* SCTAG_JSONPOS_H */
