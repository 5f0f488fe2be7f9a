/*
 * The daemon's small HTTP endpoint ([metrics] listen): GET /metrics,
 * /healthz and /readyz on the daemon's own event loop. It is network
 * input to the root process, so it trusts nothing: requests go through
 * the fuzzed parser (http.h), at most METRICSD_MAX_CONNS connections (the
 * next is closed at once and counted), every connection has a deadline
 * (http.header_timeout for the head, again for the answer), one request
 * per connection, bounded buffers, nothing blocks.
 */
#ifndef WSD_METRICSD_H
#define WSD_METRICSD_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#define METRICSD_MAX_CONNS 16

struct metricsd;

struct metricsd_hooks {
	/* The /metrics text, malloc'd, and its length; NULL: out of memory (a 500). */
	char *(*text)(void *arg, size_t *len);
	/* 1: ready (/readyz 200); 0 with a one-line reason in why (503). */
	int (*ready)(void *arg, char *why, size_t len);
};

/*
 * Listen at host:port (a numeric address or localhost; port 0: one the
 * kernel picks). header_timeout_ms is read at each connection, so a
 * reload's new value applies to the next one. NULL with the reason in err.
 */
struct metricsd *metricsd_open(struct event_base *base, const char *host, uint16_t port,
    const uint32_t *header_timeout_ms, const struct metricsd_hooks *h, void *arg, char *err,
    size_t errlen);

/* The address bound, "127.0.0.1:9145" or "[::1]:9145". */
const char *metricsd_address(const struct metricsd *m);

/* Connections closed at once because METRICSD_MAX_CONNS were open. */
uint64_t metricsd_refused(const struct metricsd *m);

/* Close the listening socket and every connection. NULL is fine. */
void metricsd_free(struct metricsd *m);

#endif
