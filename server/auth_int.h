/*
 * auth_int.h: what auth.c and auth_cache.c share inside the auth module.
 */
#ifndef SCTAG_AUTH_INT_H
#define SCTAG_AUTH_INT_H

#include "auth.h"

/* Set res's code and message; returns the code. */
enum auth_code auth_fail(struct auth_result *, enum auth_code,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Steps 7 and 8 of auth_check: the request id in the reply cache, then
 * the nonce, under the caches' locks so two copies of one request can not
 * both pass.
 */
enum auth_code auth_check_replay(struct auth_nonces *, struct auth_replies *,
    const struct auth_request *, uint64_t now_ms, struct auth_result *);

#endif /* SCTAG_AUTH_INT_H */
