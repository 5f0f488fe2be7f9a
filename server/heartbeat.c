/* The sending side of heartbeats. */
#include "clock.h"
#include "heartbeat.h"

#include <errno.h>
#include <string.h>

#include "log.h"

void heartbeat_base_init(struct event_base *base) { event_base_priority_init(base, 2); }

void heartbeat_send(struct heartbeat *hb)
{
	struct msg_heartbeat m;

	if (hb->fill == NULL)
		return; /* not started: nothing to report yet */
	memset(&m, 0, sizeof(m));
	m.seq = ++hb->seq;
	hb->fill(hb->arg, &m);
	/* A full channel means the supervisor is not reading: it will notice. */
	if (msg_send(hb->fd, MSG_HEARTBEAT, &m, sizeof(m), NULL, 0) == 0 || errno == EAGAIN)
		return;
	if (errno == EPIPE || errno == ECONNRESET)
		event_del(&hb->ev); /* the supervisor is gone: nobody listens */
	else
		log_warn("heartbeat");
}

void heartbeat_interval(struct heartbeat *hb, uint32_t interval_ms)
{
	struct timeval tv = clock_tv(interval_ms);

	if (hb->fill != NULL)
		event_add(&hb->ev, &tv); /* a pending persistent event takes the new period */
}

static void heartbeat_cb(evutil_socket_t fd, short what, void *arg) { heartbeat_send(arg); }

void heartbeat_start(struct heartbeat *hb, struct event_base *base, int fd, uint32_t interval_ms,
    heartbeat_fill_fn fill, void *arg)
{
	struct timeval tv = clock_tv(interval_ms);

	hb->fd = fd;
	hb->fill = fill;
	hb->arg = arg;
	event_assign(&hb->ev, base, -1, EV_PERSIST, heartbeat_cb, hb);
	event_priority_set(&hb->ev, 0);
	event_add(&hb->ev, &tv);
	heartbeat_send(hb);
}
