/*
 * flowspec.h: a flow as the outside names it (named pipe now, the API
 * later), parsed strictly into a marker_rule.
 */
#ifndef SCTAG_FLOWSPEC_H
#define SCTAG_FLOWSPEC_H

#include <stddef.h>
#include <stdint.h>

#include "marker.h"
#include "registry.h"

struct flowspec {
	struct marker_rule	rule;	/* IPv4 addresses are v4-mapped */
	int			family;	/* AF_INET6 or AF_INET */
};

/* An IPv6 or IPv4 literal (no brackets, no scope). -EINVAL if not one. */
int flowspec_parse_addr(const char *s, uint8_t out[16], int *family);
/* Decimal 0..65535, no sign, no leading/trailing junk. */
int flowspec_parse_port(const char *s, uint16_t *port);
/* "tcp", "udp" (any case); "any" only when allow_any. */
int flowspec_parse_proto(const char *s, int allow_any, uint8_t *proto);
/*
 * "tcp [2001:db8::1]:2345 -> [2001:db8::2]:5777 atlas/Data Consolidation
 * (2/4) flow-label", for logs. Returns what snprintf returns.
 */
int flowspec_format(const struct flowspec *, const struct reg *, char *buf,
    size_t len);

#endif /* SCTAG_FLOWSPEC_H */
