/* Message framing and descriptor passing (SCM_RIGHTS) over SEQPACKET. */
#include "msg.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

/* msg_recv reads header and payload in one piece. */
_Static_assert(offsetof(struct msg, u) == sizeof(struct msg_hdr), "msg layout");
_Static_assert(sizeof(struct msg_worker_page) <= MSG_MAXPAYLOAD, "a worker page fits a message");
_Static_assert(sizeof(struct msg_parks) <= MSG_MAXPAYLOAD, "a full batch fits a message");
_Static_assert(sizeof(struct msg_conns) <= MSG_MAXPAYLOAD, "a full batch fits a message");

struct msg_spec {
	const char *name;
	size_t len;   /* exact payload size; a batch: the part before its entries */
	int nfds;     /* exact descriptor count; a batch: its count */
	size_t entry; /* a batch: one entry's size (one per descriptor); else 0 */
};

static const struct msg_spec specs[MSG_TYPE_MAX] = {
    [MSG_CONFIG] = {"config", sizeof(struct msg_config), 0},
    [MSG_READY] = {"ready", 0, 0},
    [MSG_SHUTDOWN] = {"shutdown", 0, 0},
    [MSG_DRAINING] = {"draining", 0, 0},
    [MSG_LOG_ERROR] = {"log-error", 0, 1},
    [MSG_LOG_ACCESS] = {"log-access", 0, 1},
    [MSG_STOPPING] = {"stopping", 0, 0},
    [MSG_RETIRE] = {"retire", 0, 0},
    [MSG_ROOT] = {"root", 0, 1},
    [MSG_HEARTBEAT] = {"heartbeat", sizeof(struct msg_heartbeat), 0},
    [MSG_WORKER_TABLE] = {"worker-table", sizeof(struct msg_worker_page), 0},
    [MSG_EVENT] = {"event", sizeof(struct msg_event), 0},
    [MSG_CONN] = {"conn", sizeof(struct msg_conn), 1},
    [MSG_CONN_DONE] = {"conn-done", sizeof(struct msg_conn_done), 0},
    [MSG_PARK] = {"park", sizeof(struct msg_park), 1},
    [MSG_CONNS] = {"conns", offsetof(struct msg_conns, conn), 0, sizeof(struct msg_conn)},
    [MSG_PARKS] = {"parks", offsetof(struct msg_parks, park), 0, sizeof(struct msg_park)},
    [MSG_REQUEST] = {"request", sizeof(struct msg_request), 0},
    [MSG_REPLY] = {"reply", sizeof(struct msg_reply), 0},
};

static const struct msg_spec *spec_of(uint16_t type)
{
	if (type >= MSG_TYPE_MAX || specs[type].name == NULL)
		return NULL;
	return &specs[type];
}

size_t msg_batch_len(enum msg_type type, uint32_t count)
{
	const struct msg_spec *s = spec_of((uint16_t)type);

	if (s == NULL || s->entry == 0 || count < 1 || count > MSG_MAXFDS)
		return 0;
	return s->len + count * s->entry;
}

/*
 * The exact payload size and descriptor count a message of this type must
 * have; a batch's come from the count at the start of its payload (len
 * bytes). -1 if a batch's count is out of range.
 */
static int expect(
    const struct msg_spec *s, const void *payload, size_t len, size_t *want, int *nfds)
{
	uint32_t count;

	*want = s->len;
	*nfds = s->nfds;
	if (s->entry == 0)
		return 0;
	if (payload == NULL || len < s->len)
		return -1;
	memcpy(&count, payload, sizeof(count));
	if (count < 1 || count > MSG_MAXFDS)
		return -1;
	*want = s->len + count * s->entry;
	*nfds = (int)count;
	return 0;
}

const char *msg_type_name(uint16_t type)
{
	const struct msg_spec *s = spec_of(type);
	return s ? s->name : "unknown";
}

int msg_send(
    int sock, enum msg_type type, const void *payload, size_t len, const int *fds, int nfds)
{
	const struct msg_spec *s = spec_of(type);
	struct msg_hdr hdr = {MSG_PROTO_VERSION, (uint16_t)type, (uint32_t)len};
	struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)payload, len}};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * MSG_MAXFDS)];
	} ctl;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	size_t want;
	int want_fds;
	ssize_t n;

	if (s == NULL || expect(s, payload, len, &want, &want_fds) == -1 || want != len ||
	    want_fds != nfds) {
		errno = EINVAL;
		return -1;
	}
	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	do
		n = sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != sizeof(hdr) + len) {
		errno = EMSGSIZE; /* cannot happen on SEQPACKET: all or nothing */
		return -1;
	}
	return 0;
}

int msg_peer_gone(int rc) { return rc == 0 || (rc == -1 && errno != EAGAIN && errno != EBADMSG); }

void msg_close_fds(struct msg *m)
{
	for (int i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

/* Take the descriptors out of the control data; any surplus is closed. */
static int take_fds(struct msghdr *mh, struct msg *m)
{
	int bad = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		int n, fd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			bad = 1;
			continue;
		}
		n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + sizeof(int) * (size_t)i, sizeof(fd));
			if (m->nfds < MSG_MAXFDS)
				m->fds[m->nfds++] = fd;
			else {
				close(fd);
				bad = 1;
			}
		}
	}
	return bad ? -1 : 0;
}

static int check_msg(const struct msg *m, size_t n)
{
	const struct msg_spec *s;
	size_t want;
	int nfds;

	if (n < sizeof(m->hdr) || m->hdr.version != MSG_PROTO_VERSION)
		return -1;
	if ((s = spec_of(m->hdr.type)) == NULL || n != sizeof(m->hdr) + m->hdr.len)
		return -1;
	if (expect(s, &m->u, m->hdr.len, &want, &nfds) == -1 || m->hdr.len != want)
		return -1;
	return m->nfds == nfds ? 0 : -1;
}

/* A message read (n bytes): its descriptors taken, checked; -1 (fds closed) if malformed. */
static int finish(struct msghdr *mh, struct msg *m, size_t n)
{
	int bad;

	m->nfds = 0;
	bad = take_fds(mh, m);
	if (bad || (mh->msg_flags & (MSG_CTRUNC | MSG_TRUNC)) || check_msg(m, n) == -1) {
		msg_close_fds(m);
		return -1;
	}
	return 0;
}

int msg_recv(int sock, struct msg *m)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * MSG_MAXFDS)];
	} ctl;
	struct iovec iov = {m, sizeof(m->hdr) + sizeof(m->u)};
	struct msghdr mh = {.msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = ctl.buf,
	    .msg_controllen = sizeof(ctl.buf)};
	ssize_t n;

	m->nfds = 0;
	/*
	 * ECONNRESET is reported once, when the peer died with messages of
	 * ours unread; what it had sent us is still queued behind it.
	 */
	do
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n == -1 && (errno == EINTR || errno == ECONNRESET));
	if (n <= 0)
		return n == 0 ? 0 : -1;
	if (finish(&mh, m, (size_t)n) == -1) {
		errno = EBADMSG;
		return -1;
	}
	return 1;
}

#define RECV_MANY_MAX 16

union ctlbuf {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int) * MSG_MAXFDS)];
};

/* ms[i], read, to ms[to] (to < i), descriptors included. */
static void msg_move(struct msg *ms, int to, int i, size_t n)
{
	memcpy(&ms[to], &ms[i], n);
	memcpy(ms[to].fds, ms[i].fds, sizeof(ms[i].fds));
	ms[to].nfds = ms[i].nfds;
}

int msg_recv_many(int sock, struct msg *ms, int vlen, unsigned *bad)
{
	union ctlbuf ctl[RECV_MANY_MAX];
	struct iovec iov[RECV_MANY_MAX];
	struct mmsghdr mm[RECV_MANY_MAX];
	int n, good = 0;

	vlen = vlen < 1 ? 1 : vlen > RECV_MANY_MAX ? RECV_MANY_MAX : vlen;
	for (int i = 0; i < vlen; i++) {
		iov[i] = (struct iovec){&ms[i], sizeof(ms[i].hdr) + sizeof(ms[i].u)};
		mm[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i],
		    .msg_iovlen = 1,
		    .msg_control = ctl[i].buf,
		    .msg_controllen = sizeof(ctl[i].buf)};
	}
	do /* ECONNRESET: as in msg_recv */
		n = recvmmsg(sock, mm, (unsigned)vlen, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
	while (n == -1 && (errno == EINTR || errno == ECONNRESET));
	if (n <= 0)
		return n == 0 ? 0 : -1;
	/* At end-of-file every further read is an empty one: our messages never are. */
	for (int i = 0; i < n && mm[i].msg_len > 0; i++) {
		if (finish(&mm[i].msg_hdr, &ms[i], mm[i].msg_len) == -1) {
			(*bad)++;
			continue;
		}
		if (i != good)
			msg_move(ms, good, i, mm[i].msg_len);
		good++;
	}
	if (good == 0 && mm[0].msg_len > 0) {
		errno = EBADMSG;
		return -1;
	}
	return good;
}

int msg_recv_skip(int sock, struct msg *m, unsigned *bad)
{
	int rc;

	while ((rc = msg_recv(sock, m)) == -1 && errno == EBADMSG)
		(*bad)++;
	return rc;
}

int msg_send_again(int err) { return err == EAGAIN || err == ENOBUFS || err == ETOOMANYREFS; }

long msg_fd_limit(void)
{
	static long limit;
	struct rlimit rl;

	if (limit == 0)
		limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ?
		    (long)rl.rlim_cur :
		    1024;
	return limit;
}

void msg_conn_abandon(int fd)
{
	char buf[4096];
	int left = 16; /* a request head or two; more than this and a reset is deserved */

	shutdown(fd, SHUT_WR);
	while (left-- > 0 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	close(fd);
}

void msg_close_sent(const int *fds, int n)
{
	int lo, hi;

	if (n <= 0)
		return;
	lo = hi = fds[0];
	for (int i = 1; i < n; i++) {
		lo = fds[i] < lo ? fds[i] : lo;
		hi = fds[i] > hi ? fds[i] : hi;
	}
	/* n distinct open descriptors spanning n numbers are exactly that range. */
	if (n > 1 && hi - lo + 1 == n && close_range((unsigned)lo, (unsigned)hi, 0) == 0)
		return;
	for (int i = 0; i < n; i++)
		close(fds[i]);
}
