/*
 * Heartbeats: a timer on the sender's own event loop, at the highest
 * priority, so a stuck loop stops sending and a busy one still sends on
 * time. The receiver side is a plain "last seen" time per child.
 */
#ifndef WSD_HEARTBEAT_H
#define WSD_HEARTBEAT_H

#include <event2/event.h>
#include <event2/event_struct.h>

#include "msg.h"

typedef void (*heartbeat_fill_fn)(void *arg, struct msg_heartbeat *hb);

struct heartbeat {
	struct event ev;
	int fd;
	uint64_t seq;
	heartbeat_fill_fn fill;
	void *arg;
};

/* Give the base two priorities: 0 for heartbeats, 1 (the default) for the rest. */
void heartbeat_base_init(struct event_base *base);
/* Send one now, then one every interval_ms to fd. */
void heartbeat_start(struct heartbeat *hb, struct event_base *base, int fd, uint32_t interval_ms,
    heartbeat_fill_fn fill, void *arg);

/* A new interval (a reload): the next one is sent interval_ms from now. */
void heartbeat_interval(struct heartbeat *hb, uint32_t interval_ms);

/* Send one now, out of turn: a last report before exiting. */
void heartbeat_send(struct heartbeat *hb);

#endif
