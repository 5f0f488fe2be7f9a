/*
 * A bounded client load for supervision tests: threads that keep sending
 * GET requests to 127.0.0.1, some on keep-alive connections, some on a new
 * connection each, counting answers, failed requests and refused connects.
 */
#ifndef WSD_LOAD_H
#define WSD_LOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define LOAD_MAXTHREADS 16

struct load {
	uint16_t port;
	const char *path;
	long body_len;
	pthread_t th[LOAD_MAXTHREADS];
	int nthreads, nkeep;
	atomic_int stop;
	atomic_ulong ok, failed, refused;
	atomic_ulong server_closed; /* keep-alive connections the server closed unasked */
};

void load_start(
    struct load *l, uint16_t port, const char *path, long body_len, int nkeep, int nshort);
/*
 * Like load_start with nkeep busy keep-alive clients, plus nidle keep-alive
 * clients that wait idle_ms between requests (long enough to be parked).
 */
void load_start_idle(struct load *l, uint16_t port, const char *path, long body_len, int nkeep,
    int nidle, int idle_ms);
void load_stop(struct load *l);
/* Wait until n more answers than now have arrived: 1, or 0 on timeout. */
int load_wait_more(struct load *l, unsigned long n, int timeout_ms);

#endif
