/*
 * The listener's side of parking: it reads MSG_PARK from the workers'
 * channel (FD_WORKERS), holds each idle keep-alive connection with one
 * level-triggered registration and no buffer, closes it at its keep-alive
 * deadline or when the client leaves, and gives it back to a worker
 * (through the manager, MSG_CONN with MSG_CONN_RETURNING) when it speaks.
 * The protocol is pinned in docs/architecture.md, "Parking".
 */
#ifndef WSD_LISTENER_PARK_H
#define WSD_LISTENER_PARK_H

#include <event2/event.h>
#include <event2/event_struct.h>

#include "msg.h"
#include "parked.h"

struct lparked;

struct lpark {
	struct event_base *base;
	struct event ev_chan, ev_timer, ev_out; /* ev_out: hand-off, room or retry */
	struct parked_set set;
	struct lparked *stalled; /* ready while the manager channel was full: out of epoll */
	int reading, timer_at_set, handing;
	uint64_t timer_at;
	/* to the manager (sent, or held until the channel has room); full: it holds one already */
	void (*give)(void *arg, int fd, const struct msg_conn *mc);
	int (*full)(void *arg);
	void *arg;
	uint64_t parked, returned, expired, left, capped, stalls, handed, handed_msgs;
	void (*handed_all)(void *arg); /* the hand-off is over */
};

void lpark_start(struct lpark *lp, struct event_base *base, size_t max,
    void (*give)(void *, int, const struct msg_conn *), int (*full)(void *), void *arg);

/* A new http.park_max (0 = the default): over it, the nearest deadlines close now. */
void lpark_set_max(struct lpark *lp, size_t max);

/* The manager channel took what was held: ready connections that waited go on. */
void lpark_resume(struct lpark *lp);

/*
 * A graceful restart: stop taking parked connections, and send those held
 * back into the workers' channel (FD_PARK_OUT), MSG_MAXFDS a MSG_PARKS,
 * for our replacement. Until sent, each is served as before (it may speak). done
 * is called once none is left; lpark_handing() says it is under way.
 */
void lpark_handoff(struct lpark *lp, void (*done)(void *arg));
int lpark_handing(const struct lpark *lp);

/* Stop taking parked connections and close those held (FIN, not RST). */
void lpark_stop(struct lpark *lp);

/* Connections held now. */
size_t lpark_count(const struct lpark *lp);

#endif
