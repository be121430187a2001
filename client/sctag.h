/*
 * sctag.h: libsctag, the C client of the sctag control API.
 *
 * An orchestrator, a dashboard or sctagctl uses it to talk to sctagd agents
 * over tls+tcp:// (mutual TLS, signed requests) or the local ipc:// socket.
 * docs/protocol.md describes the wire; docs/sctagctl.md the command line.
 *
 * Requests and replies are protoc-c's types for proto/sctag/v1/agent.proto:
 * this header includes <sctag/v1/agent.pb-c.h> (and so
 * <protobuf-c/protobuf-c.h>), installed next to it. They are used as they
 * are, not wrapped: the schema already is the API (every field is
 * documented there and in docs/protocol.md), a wrapper would have to grow
 * with every new field, and protobuf-c structs are plain C structs with
 * INIT macros. The caller fills only the call (e.g. a FlowSpec); the
 * library fills the header of every Request it sends: target_host,
 * timestamp_ms, a fresh 16-byte nonce and 16-byte request_id, and signs it.
 *
 * Every call is synchronous for the caller and bounded by a deadline;
 * inside, NNG's asynchronous I/O runs many agents at once (sctag_call_many,
 * sctag_multi). A struct sctag_client is one connection to one agent and is
 * not thread-safe: use one per thread, or one sctag_call_many at a time.
 *
 * Outcomes: every call returns an enum sctag_status and fills a struct
 * sctag_result that says more. SCTAG_OK: the agent did it, the reply is in
 * result->reply. SCTAG_ERR_REPLY: the agent answered with another Code
 * (result->code, result->message). The others: the answer never came or
 * could not be used (timeout, connection, protocol) or nothing was sent
 * (local).
 *
 * Retries: the library's req socket never resends by itself
 * (NNG_OPT_REQ_RESENDTIME is infinite); when a connection is lost before
 * the reply, the same signed Envelope is sent again, byte for byte, while
 * the deadline allows. The agent answers a repeated request id with its
 * first reply, so a retried StartFlow does not start a second flow.
 */
#ifndef SCTAG_H
#define SCTAG_H

#include <stddef.h>
#include <stdint.h>

#include <sctag/v1/agent.pb-c.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SCTAG_DEFAULT_URL	"ipc:///run/sctag/sctagd.sock"
#define SCTAG_DEFAULT_EVENTS_URL "ipc:///run/sctag/events.sock"
#define SCTAG_DEFAULT_TIMEOUT_MS 5000
/* Longest agent host name (a DNS name), without its NUL. */
#define SCTAG_HOST_MAX		253
#define SCTAG_MSG_MAX		512

enum sctag_status {
	SCTAG_OK = 0,		/* the agent answered OK */
	SCTAG_ERR_REPLY,	/* the agent answered with another Code */
	SCTAG_ERR_TIMEOUT,	/* no answer before the deadline */
	SCTAG_ERR_CONNECT,	/* connection refused or lost, TLS failed */
	SCTAG_ERR_PROTOCOL,	/* an answer that is not a valid Reply to us */
	SCTAG_ERR_LOCAL		/* bad options, unreadable files or keys,
				   no memory: nothing was sent */
};

/* How to reach one agent. Strings are copied by sctag_client_open. */
struct sctag_opts {
	/* "ipc:///run/sctag/sctagd.sock" or "tls+tcp://HOST:PORT" (an
	 * IPv6 address in brackets); NULL = SCTAG_DEFAULT_URL. */
	const char	*url;
	/* The agent's host name: put in every request, and the name its
	 * TLS certificate must carry. NULL = the URL's host for
	 * tls+tcp:// (which must then be a name, not an address), this
	 * host's name (gethostname) for ipc://. Dial an address and give
	 * the name here to reach an agent by IP. */
	const char	*target_host;
	const char	*ca_file;	/* tls: the site CA (PEM) */
	/* tls: the client certificate, with its key in the same PEM file
	 * unless key_file is given (certs/mkcerts.sh: client-NAME.pem). */
	const char	*cert_file;
	const char	*key_file;
	/* Ed25519 secret key file (sctag_keygen, sctagctl keygen). NULL:
	 * requests go unsigned, which only an ipc:// agent accepts (from
	 * root and its admin group); tls+tcp:// requires one. */
	const char	*sign_key_file;
	/* Deadline of each call in ms, from its start to the reply,
	 * connecting and retries included. <= 0: SCTAG_DEFAULT_TIMEOUT_MS. */
	int		 timeout_ms;
};

/* One agent for sctag_multi. */
struct sctag_host {
	const char	*url;		/* as in sctag_opts.url */
	const char	*target_host;	/* NULL: derived as in sctag_opts */
};

/*
 * What happened to one request. Zero it (or let a call fill it) before
 * first use; release it with sctag_result_free, which makes it reusable.
 */
struct sctag_result {
	enum sctag_status	 status;
	/* The agent's Code when it answered (SCTAG_OK, SCTAG_ERR_REPLY),
	 * else SCTAG__V1__CODE__OK. A Code this library does not know is
	 * kept as its number and is an error. */
	Sctag__V1__Code		 code;
	/* The agent's message, or what went wrong locally or on the way,
	 * e.g. "connection refused (tls+tcp://192.0.2.7:7443)".
	 * NUL-terminated; the agent's text as it sent it (quote it before
	 * putting it in front of a terminal). */
	char			 message[SCTAG_MSG_MAX];
	/* The whole Reply when the agent answered (SCTAG_OK and
	 * SCTAG_ERR_REPLY), else NULL. On SCTAG_OK the result member of
	 * the call is set: reply->start_flow for a StartFlow, etc. */
	Sctag__V1__Reply	*reply;
	/* Request id sent (hex), to find the request in the agent's log. */
	char			 request_id[33];
	/* Time from the first send to the answer or the error, in ms. */
	double			 elapsed_ms;
};

struct sctag_client;

/*
 * Make a client for one agent: check the options, load the signing key
 * and TLS files, open an NNG req socket and start dialing in the
 * background (so open does not wait for the agent; the first call does).
 * On success *out is set; free it with sctag_client_close. Returns
 * SCTAG_OK, or SCTAG_ERR_LOCAL with the reason in err (errlen bytes,
 * may be NULL).
 */
enum sctag_status sctag_client_open(const struct sctag_opts *opts,
    struct sctag_client **out, char *err, size_t errlen);

/* Close the connection and free the client (wiping its key). NULL is
 * fine. */
void sctag_client_close(struct sctag_client *c);

/* The URL and the target host name the client uses (for messages). */
const char *sctag_client_url(const struct sctag_client *c);
const char *sctag_client_target(const struct sctag_client *c);

/*
 * Send one request and wait for its reply, within the client's timeout.
 * req: a Request with exactly one call set; its header fields
 * (target_host, timestamp_ms, nonce, request_id) are ignored and filled
 * by the library in a copy; req is not changed. res is overwritten
 * (sctag_result_free it first if it held a reply). Returns res->status.
 */
enum sctag_status sctag_call(struct sctag_client *c,
    const Sctag__V1__Request *req, struct sctag_result *res);

/*
 * The same request to n clients at once: each gets its own target host,
 * nonce, request id and signature, all are in flight together, and the
 * whole call ends by one deadline, timeout_ms from now (<= 0: the largest
 * of the clients' timeouts). res is an array of n results, filled in the
 * order of c. Returns SCTAG_OK when every agent answered OK, else the
 * status of the first one that did not. A client may appear only once.
 */
enum sctag_status sctag_call_many(struct sctag_client *const *c, size_t n,
    const Sctag__V1__Request *req, int timeout_ms, struct sctag_result *res);

/*
 * Open a client for each of hosts[0..n-1] with the options in tmpl (its
 * url and target_host replaced by the host's), send them req with
 * sctag_call_many (deadline tmpl->timeout_ms), and close them again. A
 * host whose client can not be opened gets SCTAG_ERR_LOCAL in its result
 * and the others go on. Returns as sctag_call_many.
 */
enum sctag_status sctag_multi(const struct sctag_host *hosts, size_t n,
    const struct sctag_opts *tmpl, const Sctag__V1__Request *req,
    struct sctag_result *res);

/*
 * One function per rpc: build the Request around the argument and
 * sctag_call it. On SCTAG_OK the member of res->reply named after the
 * call is set (res->reply->start_flow, ->end_flow, ->batch, ...).
 * Arguments are the request messages of agent.proto; NULL stands for an
 * empty one where the message has no required field.
 */
enum sctag_status sctag_start_flow(struct sctag_client *c,
    const Sctag__V1__FlowSpec *flow, struct sctag_result *res);
/* End by id ... */
enum sctag_status sctag_end_flow_id(struct sctag_client *c, uint64_t id,
    struct sctag_result *res);
/* ... or by the spec it was started with. */
enum sctag_status sctag_end_flow_spec(struct sctag_client *c,
    const Sctag__V1__FlowSpec *flow, struct sctag_result *res);
/* 1 .. 1000 items; the reply has one BatchResult per item, in order. */
enum sctag_status sctag_batch(struct sctag_client *c,
    const Sctag__V1__BatchRequest *batch, struct sctag_result *res);
/* One page; call again with reply->list_flows->next_page_token until it
 * is "". */
enum sctag_status sctag_list_flows(struct sctag_client *c,
    const Sctag__V1__ListFlowsRequest *list, struct sctag_result *res);
enum sctag_status sctag_get_status(struct sctag_client *c,
    struct sctag_result *res);
enum sctag_status sctag_get_registry(struct sctag_client *c,
    struct sctag_result *res);
/* payload: echoed back, at most 1024 bytes; NULL when len is 0. */
enum sctag_status sctag_ping(struct sctag_client *c, const void *payload,
    size_t len, struct sctag_result *res);
enum sctag_status sctag_reload(struct sctag_client *c,
    struct sctag_result *res);
/* owner: end only this caller's flows; NULL or "" = every flow. */
enum sctag_status sctag_drain(struct sctag_client *c, const char *owner,
    struct sctag_result *res);

/* Free the reply in res (if any) and zero it. NULL is fine. */
void sctag_result_free(struct sctag_result *res);

/*
 * An agent's events (every flow that starts or ends; Event in agent.proto).
 * opts->url is its events socket: ipc://DIR/events.sock next to the API's
 * (NULL = SCTAG_DEFAULT_EVENTS_URL), or the agent's api.events_tls
 * listener, tls+tcp://HOST:PORT (7444 by convention), with ca_file,
 * cert_file (key_file) and target_host as for sctag_client_open; the
 * certificate must come from the CA the agent trusts for watchers, which
 * need not be the API's. sign_key_file and timeout_ms are not used:
 * nothing is sent. Open dials once and waits for that first connection
 * (TCP connect and TLS handshake, which NNG 1.5.2 does not bound), so a
 * refused socket or certificate is SCTAG_ERR_CONNECT here, not an empty
 * watch; a connection lost later is redialed in the background. A
 * subscriber that falls behind loses events: seq then jumps.
 */
struct sctag_watch;

enum sctag_status sctag_watch_open(const struct sctag_opts *opts,
    struct sctag_watch **w, char *err, size_t errlen);
/*
 * The next event, waiting at most timeout_ms (0: for ever). SCTAG_OK and
 * *ev (free with sctag__v1__event__free_unpacked(*ev, NULL)), or
 * SCTAG_ERR_TIMEOUT, SCTAG_ERR_CONNECT, SCTAG_ERR_PROTOCOL with err.
 */
enum sctag_status sctag_watch_next(struct sctag_watch *w, int timeout_ms,
    Sctag__V1__Event **ev, char *err, size_t errlen);
void sctag_watch_close(struct sctag_watch *w);

/* "ok", "error reply", "timeout", "connect", "protocol", "local". */
const char *sctag_status_name(enum sctag_status s);

/* "OK", "NOT_FOUND", ...; "?" for a Code this library does not know. */
const char *sctag_code_name(Sctag__V1__Code code);

/*
 * The target host name sctag derives from url when none is given (see
 * sctag_opts.target_host) into host (len bytes). 0; -EINVAL for a URL it
 * does not take or a tls+tcp:// URL whose host is an address; -ENAMETOOLONG;
 * or -errno from gethostname.
 */
int sctag_url_target(const char *url, char *host, size_t len);

/*
 * Make a signing key pair: the secret key at path (mode 0600) and the
 * public key at path.pub; an existing file is never overwritten. pub
 * gets the public key in the form authorized_keys takes (base64, 44
 * characters and a NUL). 0, or -errno with a message in err.
 */
int sctag_keygen(const char *path, char pub[45], char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* SCTAG_H */
