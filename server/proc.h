/*
 * Starting a role: fork, put the descriptors it is handed on fixed numbers,
 * drop privileges, exec our own binary with argv[0] = "wsd: ROLE".
 */
#ifndef WSD_PROC_H
#define WSD_PROC_H

#include <stdint.h>
#include <sys/types.h>

/* Descriptor numbers every role finds after exec. */
#define FD_LOG 3    /* error log, opened by the daemon */
#define FD_ACCESS 4 /* access log, absent when off */
#define FD_PARENT 5 /* channel to the supervisor */
/* listener */
#define FD_LISTEN 6    /* the listening socket */
#define FD_MANAGER 7   /* listener -> manager */
#define FD_WORKERS 8   /* workers -> listener */
#define FD_PARK_OUT 11 /* the workers' end of it: parked connections to our replacement */
/* manager */
#define FD_FROM_LISTENER 6
#define FD_WORKER_LINK 7 /* handed on to every worker */
/* worker */
#define FD_TO_LISTENER 6

#define FD_SELF_EXE 9 /* O_PATH fd of our binary, in every role */
#define FD_ROOT \
	10 /* manager, worker: O_PATH fd of the document root, opened \
	      by the daemon so the root's parents need not be \
	      searchable by server.user */

#define PROC_MAXFDS 8

struct proc_fdmap {
	int fd;     /* in the parent; -1 = leave target closed */
	int target; /* number in the child */
};

struct proc_creds {
	int drop; /* 0 = keep the parent's identity */
	uid_t uid;
	gid_t gid;
};

/* Our own executable: opened at start by the daemon, inherited by roles. */
int proc_init_self(int inherited);

/* Returns the child's pid, or -1 (logged). */
pid_t proc_spawn(
    const char *role, const struct proc_fdmap *map, int nmap, const struct proc_creds *creds);

/*
 * In a freshly exec'd role: name the process, ignore SIGINT (the daemon
 * decides), and ask for SIGTERM if the parent dies - then check it has not
 * died already. Exits if the parent is gone.
 */
void proc_child_init(const char *role);

/*
 * A reopened log arrived (MSG_LOG_ERROR / MSG_LOG_ACCESS): put it on its
 * fixed number, where every later write and every child we start finds it.
 */
void proc_adopt_log(int type, int fd);

/* The daemon's pid (in the daemon: its own); 0 if unknown. */
pid_t proc_daemon_pid(void);
/*
 * The daemon lives: it is our parent (a worker whose manager died is
 * re-parented to it, the subreaper) or, not yet our parent, it exists.
 */
int proc_daemon_alive(void);

/*
 * Call fn for every pid (> 1) in a space-separated list read from fd to
 * its end, whatever the size of the list. Returns how many, or -1.
 */
int proc_each_pid(int fd, void (*fn)(pid_t pid, void *arg), void *arg);
/* fn for each child of this (single-threaded) process not yet reaped. */
int proc_each_child(void (*fn)(pid_t pid, void *arg), void *arg);
/* Do we still have a child, running or not yet reaped? Reaps nothing. */
int proc_has_children(void);

/* Describe a wait status: "exit 3", "crash: SIGSEGV", "killed: SIGKILL". */
void proc_describe_status(int status, char *buf, size_t len);

#endif
