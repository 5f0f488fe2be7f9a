/*
 * Creating the control socket safely: the path checked, its directory
 * ours, a stale socket told from a live server under a lock so that two
 * daemons starting together cannot both unlink and bind, and the socket
 * never reachable with wider permissions than configured.
 */
#include "control.h"

#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctlpath.h"

#define CONTROL_BACKLOG 16

void control_settings_defaults(struct control_settings *s, const char *path)
{
	*s = (struct control_settings){
	    .path = path,
	    .mode = 0660,
	    .group = CTLAUTH_NOGROUP,
	    .readonly_group = CTLAUTH_NOGROUP,
	    .max_clients = CONTROL_MAX_CLIENTS,
	    .idle_ms = CONTROL_IDLE_MS,
	    .max_line = 64 * 1024,
	    .max_output = CONTROL_MAX_OUTPUT,
	};
}

static int sun_of(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -1;
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

/* The default path's directory: ours, 0700 (0710 and our group with a control group). */
static int prepare_dir(const struct control_settings *s, char *err, size_t errlen)
{
	char dir[CTLPATH_MAX + 1];
	int grouped = s->group != CTLAUTH_NOGROUP;

	if (ctlpath_prepare_dir(s->path, grouped ? 0710 : 0700, err, errlen) < 0)
		return CONTROL_ECONFIG;
	if (!grouped)
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(s->path, '/') - s->path), s->path);
	if (chown(dir, (uid_t)-1, s->group) < 0 || chmod(dir, 0710) < 0) {
		snprintf(err, errlen, "%s: group %u: %s", dir, (unsigned)s->group, strerror(errno));
		return CONTROL_ESYS;
	}
	return 0;
}

static int lock_path(const char *path, char *err, size_t errlen)
{
	char lock[CTLPATH_MAX + 8];
	int fd;

	snprintf(lock, sizeof(lock), "%s.lock", path);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", lock, strerror(errno));
		return CONTROL_ESYS;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int busy = errno == EWOULDBLOCK;

		snprintf(err, errlen, "%s: %s", lock,
		    busy ? "another wsd is starting on this control socket" : strerror(errno));
		close(fd);
		return busy ? CONTROL_ELIVE : CONTROL_ESYS;
	}
	return fd;
}

/* Nothing at path, or a stale socket removed: 0. A live server or something else: < 0. */
static int clear_stale(const char *path, const struct sockaddr_un *sun, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return CONTROL_ESYS;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket: not touching it", path);
		return CONTROL_ECONFIG;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return CONTROL_ESYS;
	}
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen,
		    "%s: a wsd is already running there (its control socket answers)", path);
		return CONTROL_ELIVE;
	}
	if (errno != ECONNREFUSED || unlink(path) < 0) {
		snprintf(err, errlen, "%s: stale socket: %s", path, strerror(errno));
		return CONTROL_ESYS;
	}
	return 0;
}

/* Bind and listen with the configured permissions; fd or < 0. */
static int bind_listen(
    const struct control_settings *s, const struct sockaddr_un *sun, char *err, size_t errlen)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	mode_t old;
	int rc;

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return CONTROL_ESYS;
	}
	old = umask(0177); /* born 0600: nobody else connects before the chmod */
	rc = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));
	umask(old);
	if (rc < 0 || chmod(s->path, s->mode) < 0 ||
	    (s->group != CTLAUTH_NOGROUP && chown(s->path, (uid_t)-1, s->group) < 0) ||
	    listen(fd, CONTROL_BACKLOG) < 0) {
		snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
		if (rc == 0)
			unlink(s->path);
		close(fd);
		return CONTROL_ESYS;
	}
	return fd;
}

int control_open(const struct control_settings *s, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int lock, rc;

	if (strlen(s->path) == 0 || strlen(s->path) > CTLPATH_MAX || sun_of(s->path, &sun) < 0) {
		snprintf(err, errlen, "control socket path must be 1 to %d bytes: %s", CTLPATH_MAX,
		    s->path);
		return CONTROL_ECONFIG;
	}
	if (s->default_path && (rc = prepare_dir(s, err, errlen)) < 0)
		return rc;
	if ((lock = lock_path(s->path, err, errlen)) < 0)
		return lock;
	rc = clear_stale(s->path, &sun, err, errlen);
	if (rc == 0)
		rc = bind_listen(s, &sun, err, errlen);
	close(lock); /* from now on a second daemon's probe finds us live */
	return rc;
}
