/*
 * The PROXY protocol, version 2 (HAProxy's doc/proxy-protocol.txt, 2.2):
 * the binary header a load balancer sends first on each connection to say
 * whose connection it relays. wsd takes it only from the addresses in
 * server.proxy_from (docs/scaling.md). The parser and the address list are
 * pure functions over buffers: no I/O, no allocation, unit-tested and
 * fuzzed on their own.
 */
#ifndef WSD_PROXYPROTO_H
#define WSD_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "msg.h"

#define PROXY_V2_FIXED 16    /* signature (12), version and command, family, length (2) */
#define PROXY_LOG_PER_SEC 10 /* refusal lines in the error log, per process */

/* proxy_parse's refusals (its "need more" is 0, a header's length > 0). */
enum proxy_error {
	PROXY_ERR_SIGNATURE = -1, /* not a v2 header: no header at all, or garbage */
	PROXY_ERR_VERSION = -2,   /* the version nibble is not 2 */
	PROXY_ERR_COMMAND = -3,   /* neither LOCAL nor PROXY */
	PROXY_ERR_FAMILY = -4,    /* an address family or transport the spec does not define */
	PROXY_ERR_SHORT = -5,     /* the address block is shorter than its family needs */
	PROXY_ERR_TLV = -6,       /* a TLV runs past the end of the header */
	PROXY_ERR_TOO_LONG = -7,  /* longer than the caller can buffer */
};

struct proxy_hdr {
	int local;                   /* LOCAL: the proxy's own connection (a health check) */
	struct sockaddr_storage src; /* the client, when srclen > 0 */
	socklen_t srclen; /* 0: keep the connection's own peer (LOCAL, UNSPEC, UNIX, DGRAM) */
};

/*
 * Parse a v2 header at the start of buf (len bytes received so far).
 * Returns the header's whole length (> 0) with *h filled; 0 when the
 * bytes so far are a valid beginning and more are needed; or a negative
 * enum proxy_error. A header longer than max is refused as soon as its
 * length field arrives; bytes that cannot start a signature are refused
 * at once, so a client that sends plain HTTP is not kept waiting.
 * TLVs are skipped, after checking that they tile the rest exactly.
 */
int proxy_parse(const void *buf, size_t len, size_t max, struct proxy_hdr *h);

/* A refusal's reason, for the log ("no PROXY v2 header", ...). */
const char *proxy_strerror(int rc);

/*
 * Take a parsed header of n bytes off the front of buf (len bytes) and
 * put the client's address into *peer, unless the header says to keep
 * it. Returns the bytes left in buf (the request that followed).
 */
size_t proxy_apply(
    char *buf, size_t len, size_t n, const struct proxy_hdr *h, struct sockaddr_storage *peer);

/*
 * server.proxy_from: addresses and networks ("127.0.0.1 10.0.0.0/8, ::1
 * fd00::/8"), separated by spaces or commas; "off" or "" is none. Host
 * bits of a network are cleared. Returns how many went into out (at most
 * max), or -1 with why (one phrase, without the key) in why.
 */
int proxy_from_parse(const char *s, struct msg_cidr *out, size_t max, char *why, size_t whylen);

/* Is sa in one of the n networks? An IPv4-mapped IPv6 peer is compared as IPv4. */
int proxy_from_match(const struct msg_cidr *nets, size_t n, const struct sockaddr *sa);

/* At most PROXY_LOG_PER_SEC refusal lines a second; the rest counted and reported. */
struct proxy_loglimit {
	time_t sec;
	unsigned n, dropped;
};

/* Log that a connection from peer was refused for rc, within the limit. */
void proxy_log_refused(
    struct proxy_loglimit *l, const struct sockaddr_storage *peer, int rc, time_t now);

#endif
