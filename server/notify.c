/*
 * sd_notify for the daemon (notify.h). The watchdog ping comes from the
 * daemon's heartbeat check, so it stops when the daemon's loop stops:
 * a child's failure is the daemon's to handle, not the service manager's.
 */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "notify.h"

const char *const notify_env[] = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", NULL};

#ifdef WSD_SYSTEMD
#include <systemd/sd-daemon.h>

static uint64_t watchdog_ms, last_ping_ms;

static void send_state(const char *what, const char *state)
{
	int rc = sd_notify(0, state);

	if (rc < 0)
		log_warnx("sd_notify %s: %s", what, strerror(-rc));
}

int notify_init(uint64_t *usec)
{
	int rc = sd_watchdog_enabled(0, usec);

	if (rc < 0)
		log_warnx("WATCHDOG_USEC/WATCHDOG_PID: %s, no watchdog", strerror(-rc));
	watchdog_ms = rc > 0 ? *usec / 1000 : 0;
	return rc > 0;
}

void notify_ready(const char *status)
{
	char buf[256];

	if (snprintf(buf, sizeof(buf), "READY=1\nSTATUS=%s", status) >= (int)sizeof(buf))
		buf[sizeof(buf) - 1] = '\0';
	send_state("READY", buf);
}

void notify_reloading(void)
{
	char buf[80];

	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)clock_now_us());
	send_state("RELOADING", buf);
}

void notify_stopping(void) { send_state("STOPPING", "STOPPING=1"); }

void notify_status(const char *status)
{
	char buf[256];

	if (snprintf(buf, sizeof(buf), "STATUS=%s", status) >= (int)sizeof(buf))
		buf[sizeof(buf) - 1] = '\0';
	send_state("STATUS", buf);
}

void notify_watchdog(uint64_t now_ms)
{
	if (watchdog_ms == 0 || now_ms - last_ping_ms < watchdog_ms / 2)
		return;
	last_ping_ms = now_ms;
	send_state("WATCHDOG", "WATCHDOG=1");
}

#else /* built without libsystemd */

int notify_init(uint64_t *usec)
{
	*usec = 0;
	return 0;
}

void notify_ready(const char *status) {}
void notify_reloading(void) {}
void notify_stopping(void) {}
void notify_status(const char *status) {}
void notify_watchdog(uint64_t now_ms) {}

#endif
