/*
 * The daemon's side of the control plane: opens the control socket as the
 * configuration says and answers each method the control server hands
 * over through the daemon's narrow API (daemon.h), turning its plain C
 * results into JSON (status.c). Holds the one-mutating-operation-at-a-time
 * rule and the followers of `events -f`.
 */
#ifndef WSD_CTLOPS_H
#define WSD_CTLOPS_H

struct daemon;
struct ctlops;

/*
 * Open the control socket of d's configuration on d's loop (*out NULL
 * when control.socket = off). 0, or the exit code with the cause logged:
 * 1 for a path that cannot be used as configured, 3 when it cannot be
 * made or a live server answers there.
 */
int ctlops_open(struct daemon *d, struct ctlops **out);

/* Close every client (pending replies are flushed first) and unlink the socket. */
void ctlops_free(struct ctlops *c);

/* SIGHUP: a reload that takes its turn like the method; the outcome is logged. */
void ctlops_reload_signal(struct ctlops *c);

#endif
