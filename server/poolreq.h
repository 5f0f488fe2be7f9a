/*
 * The daemon's requests to the manager that wait for a reply
 * (MSG_REQUEST / MSG_REPLY): each has an id, the process it was sent to
 * and a callback. A reply finds its request by id; a manager that exits
 * fails every request it still owes, so no caller ever waits for ever.
 * Pure bookkeeping, no I/O: the daemon sends and receives.
 */
#ifndef WSD_POOLREQ_H
#define WSD_POOLREQ_H

#include <stdint.h>

#include "msg.h"

#define POOLREQ_MAX 8 /* one operation at a time, plus room for ones that lost their manager */

/* One part of a reply sent in parts (a restart of every worker: one per worker). */
struct poolreq_item {
	int64_t values[MSG_REPLY_VALUES];
};

/* What the caller is told, once. */
struct poolreq_result {
	int code;         /* 0 done, else a control error code */
	const char *text; /* the error's message ("" when done) */
	int64_t values[MSG_REPLY_VALUES];
	const struct poolreq_item *items; /* the parts, in order */
	unsigned nitems;
};
typedef void (*poolreq_fn)(void *arg, const struct poolreq_result *r);

struct poolreq {
	uint32_t id; /* 0: free */
	const void *owner;
	poolreq_fn fn;
	void *arg;
	struct poolreq_item *items;
	unsigned nitems, cap;
	int lost; /* out of memory for a part: the final reply is an error */
};

struct poolreqs {
	struct poolreq p[POOLREQ_MAX];
	uint32_t last_id;
};

/* A new request to owner: its id (never 0), or 0 when the table is full. */
uint32_t poolreq_add(struct poolreqs *t, const void *owner, poolreq_fn fn, void *arg);
/* Forget a request without calling it back (it could not be sent). */
void poolreq_cancel(struct poolreqs *t, uint32_t id);
/*
 * A reply from owner: a part is kept, a final one calls the request back
 * and frees it. 1 if it matched a request, 0 if not (late, or from a
 * process it was not sent to: ignored).
 */
int poolreq_reply(struct poolreqs *t, const void *owner, const struct msg_reply *r);
/* owner is gone: call back each of its requests with code and text. How many. */
unsigned poolreq_fail(struct poolreqs *t, const void *owner, int code, const char *text);
/* Requests waiting now. */
unsigned poolreq_pending(const struct poolreqs *t);

#endif
