/*
 * Mapping a request target to an open file beneath the document root.
 * Nothing outside the root is ever opened: the kernel enforces it with
 * openat2(RESOLVE_BENEATH); where openat2 is unavailable (ENOSYS, or EPERM
 * from a seccomp sandbox) a fallback checks the opened file's real path.
 */
#ifndef WSD_RESOLVE_H
#define WSD_RESOLVE_H

#include <stddef.h>
#include <sys/stat.h>

/*
 * Turn an origin-form target ("/a/b%20c?q") into a clean relative path
 * ("a/b c"): query dropped, percent-escapes decoded, "." and ".." and
 * repeated slashes removed. Returns 0, or an HTTP status: 400 for a bad
 * escape, a NUL, a target not starting with '/', or ".." above the root;
 * 404 for any component starting with '.'; 414 if it does not fit.
 * An empty result means the root itself. Control bytes (< 0x20, 0x7f),
 * raw or encoded, are 400. "%2F" is decoded to '/' before normalising,
 * so it is an ordinary separator and cannot hide a "..".
 */
int resolve_target(const char *target, size_t len, char *out, size_t outlen);

/*
 * Open a clean relative path beneath rootfd (an O_PATH|O_DIRECTORY fd of
 * the root). A directory is served by its index.html. On success returns
 * an O_RDONLY|O_CLOEXEC fd of a regular file and fills *st. On failure
 * returns -1 and sets *status: 404 missing, 403 symlink leaving the root /
 * directory without index.html / not a regular file / no permission,
 * 414 name too long, 500 anything else. The fd also carries O_NONBLOCK
 * (so a FIFO never blocks the open), which regular files ignore.
 */
int resolve_open(int rootfd, const char *relpath, struct stat *st, int *status);

/*
 * The same, and *isindex = 1 when a directory's index.html was opened:
 * the content type must then come from RESOLVE_INDEX, not from relpath.
 */
#define RESOLVE_INDEX "index.html"
int resolve_open_idx(int rootfd, const char *relpath, struct stat *st, int *status, int *isindex);

/* Tests: 1 forces the fallback path as if openat2 answered ENOSYS. */
void resolve_force_fallback(int on);

#endif
