/*
 * sctagctl_out.c: text and JSON output of sctagctl.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sctagctl_out.h"

static json_t *
json_hex(const ProtobufCBinaryData *b)
{
	static const char	 digits[] = "0123456789abcdef";
	char			*s;
	json_t			*j;
	size_t			 i;

	if ((s = malloc(2 * b->len + 1)) == NULL)
		return NULL;
	for (i = 0; i < b->len; i++) {
		s[2 * i] = digits[b->data[i] >> 4];
		s[2 * i + 1] = digits[b->data[i] & 15];
	}
	s[2 * b->len] = '\0';
	j = json_string(s);
	free(s);
	return j;
}

/* One value of field f stored at p. */
static json_t *
json_value(const ProtobufCFieldDescriptor *f, const void *p)
{
	const ProtobufCEnumValue	*ev;
	const ProtobufCMessage		*sub;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return json_integer(*(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		/* Ids and times stay far below 2^63. */
		return json_integer((json_int_t)*(const uint64_t *)p);
	case PROTOBUF_C_TYPE_FLOAT:
		return json_real(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return json_real(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_ENUM:
		ev = protobuf_c_enum_descriptor_get_value(f->descriptor,
		    *(const int *)p);
		return ev != NULL ? json_string(ev->name) :
		    json_integer(*(const int *)p);
	case PROTOBUF_C_TYPE_STRING:
		return json_string(*(char *const *)p != NULL ?
		    *(char *const *)p : "");
	case PROTOBUF_C_TYPE_BYTES:
		return json_hex(p);
	case PROTOBUF_C_TYPE_MESSAGE:
		sub = *(const ProtobufCMessage *const *)p;
		return sub != NULL ? ctl_json_msg(sub) : json_null();
	}
	return json_null();
}

static size_t
elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	default:
		return 4;
	}
}

json_t *
ctl_json_msg(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor	*d = m->descriptor;
	const char				*base = (const char *)m;
	json_t					*o, *a;
	unsigned				 i;
	size_t					 k, n;

	if ((o = json_object()) == NULL)
		return NULL;
	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor	*f = &d->fields[i];
		const char			*arr;

		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		if (f->label != PROTOBUF_C_LABEL_REPEATED) {
			if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    *(void *const *)(base + f->offset) == NULL)
				continue;
			json_object_set_new(o, f->name,
			    json_value(f, base + f->offset));
			continue;
		}
		n = *(const size_t *)(base + f->quantifier_offset);
		arr = *(const char *const *)(base + f->offset);
		if ((a = json_array()) == NULL)
			break;
		for (k = 0; k < n; k++)
			json_array_append_new(a, json_value(f,
			    arr + k * elem_size(f)));
		json_object_set_new(o, f->name, a);
	}
	return o;
}

/* The member of the reply's oneof that is set, as JSON. */
static json_t *
json_result(const Sctag__V1__Reply *rep)
{
	const ProtobufCMessageDescriptor	*d = rep->base.descriptor;
	const ProtobufCFieldDescriptor		*f;

	f = protobuf_c_message_descriptor_get_field(d,
	    (unsigned)rep->result_case);
	if (f == NULL || f->type != PROTOBUF_C_TYPE_MESSAGE ||
	    *(void *const *)((const char *)rep + f->offset) == NULL)
		return json_object();
	return ctl_json_msg(*(const ProtobufCMessage *const *)
	    ((const char *)rep + f->offset));
}

json_t *
ctl_json_host(const struct ctl_host *h, const struct sctag_result *r,
    json_t *result)
{
	json_t	*o = json_object();

	if (o == NULL) {
		json_decref(result);
		return NULL;
	}
	json_object_set_new(o, "host", json_string(h->label));
	json_object_set_new(o, "url", json_string(h->url));
	json_object_set_new(o, "status", json_string(
	    sctag_status_name(r->status)));
	if (r->reply != NULL)
		json_object_set_new(o, "code", json_string(
		    sctag_code_name(r->code)));
	else
		json_object_set_new(o, "code", json_null());
	json_object_set_new(o, "message", json_string(r->message));
	if (r->request_id[0] != '\0')
		json_object_set_new(o, "request_id",
		    json_string(r->request_id));
	json_object_set_new(o, "elapsed_ms", json_real(r->elapsed_ms));
	if (result != NULL)
		json_object_set_new(o, "result", result);
	else if (r->status == SCTAG_OK && r->reply != NULL)
		json_object_set_new(o, "result", json_result(r->reply));
	return o;
}

void
ctl_put_safe(FILE *fp, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char	ch = (unsigned char)*s;

		if (ch >= 0x20 && ch < 0x7f)
			fputc(ch, fp);
		else
			fprintf(fp, "\\x%02x", ch);
	}
}

static const char *
proto_name(Sctag__V1__Protocol p)
{
	switch (p) {
	case SCTAG__V1__PROTOCOL__PROTOCOL_TCP:
		return "tcp";
	case SCTAG__V1__PROTOCOL__PROTOCOL_UDP:
		return "udp";
	default:
		return "any";
	}
}

static void
put_endpoint(FILE *fp, const char *addr, uint32_t port)
{
	int	v6 = addr != NULL && strchr(addr, ':') != NULL;

	if (addr == NULL || *addr == '\0')
		addr = "*";
	if (port == 0) {
		ctl_put_safe(fp, addr);
		return;
	}
	if (v6)
		fputc('[', fp);
	ctl_put_safe(fp, addr);
	fprintf(fp, "%s:%" PRIu32, v6 ? "]" : "", port);
}

void
ctl_print_flow(FILE *fp, const Sctag__V1__Flow *f)
{
	const Sctag__V1__FlowSpec	*s = f->spec;

	fprintf(fp, "%-6" PRIu64 " ", f->id);
	if (s != NULL) {
		fprintf(fp, "%s ", proto_name(s->protocol));
		put_endpoint(fp, s->src, s->src_port);
		fputs(" -> ", fp);
		put_endpoint(fp, s->dst, s->dst_port);
	}
	fprintf(fp, "  exp %" PRIu32 " act %" PRIu32, f->experiment,
	    f->activity);
	if (f->markable)
		fprintf(fp, "  label 0x%05" PRIx32, f->flow_label);
	else
		fputs("  fireflies only", fp);
	if (f->owner != NULL && *f->owner != '\0') {
		fputs("  owner ", fp);
		ctl_put_safe(fp, f->owner);
	}
	if (s != NULL && s->application != NULL && *s->application != '\0') {
		fputs("  app ", fp);
		ctl_put_safe(fp, s->application);
	}
	if (s != NULL && s->per_connection)
		fputs("  per-connection", fp);
	if (f->expires_ms != 0)
		fprintf(fp, "  expires %" PRIu64 ".%03" PRIu64, f->expires_ms /
		    1000, f->expires_ms % 1000);
	fputc('\n', fp);
}

static void
print_status(FILE *fp, const Sctag__V1__GetStatusReply *s)
{
	const ProtobufCEnumValue	*ev;
	size_t				 i;

	fputs("version   ", fp);
	ctl_put_safe(fp, s->version);
	fputs("\nhost      ", fp);
	ctl_put_safe(fp, s->host);
	fprintf(fp, "\nuptime    %" PRIu64 " s\n", s->uptime_s);
	ev = protobuf_c_enum_descriptor_get_value(
	    &sctag__v1__strategy__descriptor, s->strategy);
	fprintf(fp, "strategy  %s\n", ev != NULL ? ev->name : "?");
	fprintf(fp, "flows     %" PRIu32 " of %" PRIu32 "\n", s->used,
	    s->capacity);
	fputs("registry  ", fp);
	ctl_put_safe(fp, s->registry_source);
	fputc('\n', fp);
	for (i = 0; i < s->n_interfaces; i++) {
		fputs("interface ", fp);
		ctl_put_safe(fp, s->interfaces[i]->name);
		fputs(s->interfaces[i]->attached ? " attached" :
		    " not attached", fp);
		if (s->interfaces[i]->error[0] != '\0') {
			fputs(": ", fp);
			ctl_put_safe(fp, s->interfaces[i]->error);
		}
		fputc('\n', fp);
	}
	for (i = 0; i < s->n_shapes; i++) {
		fputs("shape     ", fp);
		ctl_put_safe(fp, s->shapes[i]->shape);
		fprintf(fp, " %" PRIu32 " rules\n", s->shapes[i]->rules);
	}
	for (i = 0; i < s->n_counters; i++) {
		fputs("counter   ", fp);
		ctl_put_safe(fp, s->counters[i]->name);
		fprintf(fp, " %" PRIu64 "\n", s->counters[i]->value);
	}
}

static void
print_registry(FILE *fp, const Sctag__V1__GetRegistryReply *g)
{
	size_t	i, k;

	fputs("registry ", fp);
	ctl_put_safe(fp, g->source);
	fputs(" modified ", fp);
	ctl_put_safe(fp, g->modified);
	fputc('\n', fp);
	for (i = 0; i < g->n_experiments; i++) {
		const Sctag__V1__Experiment	*e = g->experiments[i];

		fprintf(fp, "%4" PRIu32 " ", e->id);
		ctl_put_safe(fp, e->name);
		fputc(':', fp);
		for (k = 0; k < e->n_activities; k++) {
			fprintf(fp, " %" PRIu32 "=", e->activities[k]->id);
			ctl_put_safe(fp, e->activities[k]->name);
		}
		fputc('\n', fp);
	}
}

static void
print_batch(FILE *fp, const Sctag__V1__BatchReply *b)
{
	size_t	i;

	for (i = 0; i < b->n_results; i++) {
		const Sctag__V1__BatchResult	*r = b->results[i];

		fprintf(fp, "item %zu: %s", i + 1, sctag_code_name(r->code));
		if (r->code != SCTAG__V1__CODE__OK) {
			fputs(": ", fp);
			ctl_put_safe(fp, r->message);
			fputc('\n', fp);
		} else if (r->flow != NULL) {
			fputs(" flow ", fp);
			ctl_print_flow(fp, r->flow);
		} else {
			fputc('\n', fp);
		}
	}
}

void
ctl_print_result(FILE *fp, const struct sctag_result *r)
{
	const Sctag__V1__Reply	*rep = r->reply;

	if (r->status == SCTAG_ERR_REPLY) {
		fprintf(fp, "error: %s: ", sctag_code_name(r->code));
		ctl_put_safe(fp, r->message);
		fputc('\n', fp);
		return;
	}
	if (r->status != SCTAG_OK || rep == NULL) {
		fprintf(fp, "%s: ", sctag_status_name(r->status));
		ctl_put_safe(fp, r->message);
		fputc('\n', fp);
		return;
	}
	switch (rep->result_case) {
	case SCTAG__V1__REPLY__RESULT_START_FLOW:
		fputs(rep->start_flow->created ? "started " :
		    "already running ", fp);
		if (rep->start_flow->flow != NULL)
			ctl_print_flow(fp, rep->start_flow->flow);
		else
			fputc('\n', fp);
		break;
	case SCTAG__V1__REPLY__RESULT_END_FLOW:
		fputs("ended ", fp);
		if (rep->end_flow->flow != NULL)
			ctl_print_flow(fp, rep->end_flow->flow);
		else
			fputc('\n', fp);
		break;
	case SCTAG__V1__REPLY__RESULT_BATCH:
		print_batch(fp, rep->batch);
		break;
	case SCTAG__V1__REPLY__RESULT_GET_STATUS:
		print_status(fp, rep->get_status);
		break;
	case SCTAG__V1__REPLY__RESULT_GET_REGISTRY:
		print_registry(fp, rep->get_registry);
		break;
	case SCTAG__V1__REPLY__RESULT_PING:
		fprintf(fp, "alive: %.1f ms round trip, agent clock %" PRIu64
		    ".%03" PRIu64 "\n", r->elapsed_ms,
		    rep->ping->agent_time_ms / 1000,
		    rep->ping->agent_time_ms % 1000);
		break;
	case SCTAG__V1__REPLY__RESULT_RELOAD:
		fputs("reloaded", fp);
		if (rep->reload->message[0] != '\0') {
			fputs(": ", fp);
			ctl_put_safe(fp, rep->reload->message);
		}
		fputc('\n', fp);
		break;
	case SCTAG__V1__REPLY__RESULT_DRAIN:
		fprintf(fp, "drained: %" PRIu32 " flow%s ended\n",
		    rep->drain->ended, rep->drain->ended == 1 ? "" : "s");
		break;
	default:
		/* ListFlows pages are printed as they come (sctagctl.c). */
		break;
	}
}
