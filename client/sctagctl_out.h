/*
 * sctagctl_out.h: sctagctl's output: a line-oriented text for people and
 * one JSON object per host for programs.
 */
#ifndef SCTAGCTL_OUT_H
#define SCTAGCTL_OUT_H

#include <stdio.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "sctag.h"
#include "sctagctl_parse.h"

/* Any protobuf-c message as a JSON object: fields by their proto names,
 * enums by value name, bytes as hex, unset oneof members and absent
 * messages left out. NULL only without memory. */
json_t *ctl_json_msg(const ProtobufCMessage *m);

/*
 * The JSON object for one host: host, url, status, code, message,
 * request_id, elapsed_ms and, when the agent answered OK, result (the
 * call's reply member, or `result` when not NULL, which is stolen).
 */
json_t *ctl_json_host(const struct ctl_host *h, const struct sctag_result *r,
    json_t *result);

/* Print text from the agent with anything but printable ASCII as \xNN. */
void ctl_put_safe(FILE *fp, const char *s);

/* Text for people: what the reply says, or what went wrong. */
void ctl_print_result(FILE *fp, const struct sctag_result *r);
/* One flow on one line (list, start, end, batch). */
void ctl_print_flow(FILE *fp, const Sctag__V1__Flow *f);

#endif /* SCTAGCTL_OUT_H */
