/*
 * The listener's set of parked connections: idle keep-alive clients a
 * worker handed back (MSG_PARK), ordered by keep-alive deadline. Pure: no
 * I/O, no clock; the listener (server/listener_park.c) does the syscalls.
 */
#ifndef WSD_PARKED_H
#define WSD_PARKED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One parked connection's place in the set; embedded in the listener's entry. */
struct parked {
	uint64_t deadline_ms; /* absolute, clock_now_ms: the keep-alive timeout */
	uint32_t slot;        /* index in the heap */
};

struct parked_set {
	struct parked **heap; /* min-heap on deadline_ms */
	size_t n, cap;
	size_t max; /* http.park_max: parked_full() beyond this */
};

/* What a peek at a parked connection says. */
enum parked_verdict {
	PARKED_IDLE,   /* nothing yet: keep it (or close it, if its deadline passed) */
	PARKED_RETURN, /* bytes: a request, send it to a worker */
	PARKED_CLOSE,  /* end-of-file or an error: the client left, close it here */
};

void parked_init(struct parked_set *s, size_t max);
void parked_free(struct parked_set *s); /* the heap only: entries are the caller's */

/* Add p (deadline_ms set). 0, or -1 with ENOMEM. Does not check the cap. */
int parked_add(struct parked_set *s, struct parked *p);
void parked_remove(struct parked_set *s, struct parked *p);

/* At the cap (or over it, after a lower park_max): the caller closes parked_nearest(). */
int parked_full(const struct parked_set *s);

/* The entry nearest its deadline, or NULL when empty. */
struct parked *parked_nearest(const struct parked_set *s);

/* The entry nearest its deadline if that has passed at now, else NULL. */
struct parked *parked_expired(const struct parked_set *s, uint64_t now);

/*
 * recv(MSG_PEEK)'s result (n, and errno when n == -1) as a verdict.
 * Readiness beats expiry: the listener peeks an expired entry before it
 * closes it, and a PARKED_RETURN is served even past its deadline.
 */
enum parked_verdict parked_verdict(ssize_t n, int err);

/* The default cap: the soft descriptor limit less 256 for everything else. */
size_t parked_default_max(long fd_limit);

#endif
