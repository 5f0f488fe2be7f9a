/*
 * The service manager's notification protocol (sd_notify, systemd's
 * Type=notify and WatchdogSec=), for the daemon alone: its children are
 * started without NOTIFY_SOCKET and WATCHDOG_* (proc.c). Without
 * NOTIFY_SOCKET every call does nothing; built without libsystemd
 * (WSD_SYSTEMD off) every call does nothing too.
 */
#ifndef WSD_NOTIFY_H
#define WSD_NOTIFY_H

#include <stdint.h>

/* Read WATCHDOG_USEC/WATCHDOG_PID: 1 when the watchdog is on (then *usec). */
int notify_init(uint64_t *usec);
/* READY=1 with a STATUS= line. */
void notify_ready(const char *status);
/* RELOADING=1 (with MONOTONIC_USEC=, as newer systemd wants). */
void notify_reloading(void);
void notify_stopping(void);
void notify_status(const char *status);
/* WATCHDOG=1 when at least half the watchdog interval has passed since the last. */
void notify_watchdog(uint64_t now_ms);

/* The environment variables a child must not inherit (NULL-terminated). */
extern const char *const notify_env[];

#endif
