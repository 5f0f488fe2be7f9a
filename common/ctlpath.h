/*
 * Where the control socket lives by default: one rule for the daemon and
 * wsctl. Root: /run/wsd/wsd.sock. Anyone else: $XDG_RUNTIME_DIR/wsd/wsd.sock,
 * or /tmp/wsd-$UID/wsd.sock when XDG_RUNTIME_DIR is unset or empty.
 */
#ifndef WSD_CTLPATH_H
#define WSD_CTLPATH_H

#include <stddef.h>
#include <sys/types.h>

#define CTLPATH_MAX 107 /* bytes, sun_path less its NUL */
#define CTLPATH_SYSTEM "/run/wsd/wsd.sock"
#define CTLPATH_ENV "WSD_SOCKET" /* wsctl's override, as -s */

/* The default path for uid into buf (CTLPATH_MAX + 1 bytes): 0, or -1 when too long. */
int ctlpath_default(uid_t uid, const char *xdg_runtime_dir, char *buf, size_t len);

/*
 * Where wsctl looks, in order, given -s (NULL if absent): -s, else
 * $WSD_SOCKET, else the default and, for a non-root uid, CTLPATH_SYSTEM.
 * Returns how many (1 or 2), or 0 with err when a path is too long.
 */
int ctlpath_candidates(uid_t uid, const char *flag, const char *env, const char *xdg,
    char out[2][CTLPATH_MAX + 1], char *err, size_t errlen);

/*
 * The parent directory of a default socket path: created with mode when
 * missing; refused unless it is a real directory (not a symlink) owned by
 * the effective uid and writable by nobody else. 0, or -1 with err.
 */
int ctlpath_prepare_dir(const char *sockpath, mode_t mode, char *err, size_t errlen);

#endif
