/*
 * tcnl.h: the one rtnetlink query libbpf lacks: how many tc filters sit on
 * an interface's clsact qdisc, so we never delete a qdisc that still carries
 * somebody else's filter.
 */
#ifndef SCTAG_TCNL_H
#define SCTAG_TCNL_H

/* Filters on clsact ingress + egress of ifindex; negative errno on error. */
int tcnl_clsact_filters(int ifindex);

#endif /* SCTAG_TCNL_H */
