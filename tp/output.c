/* SPDX-License-Identifier: MIT */
/*
 * The held-output queue of output commit (tp/output.h): one list of writes
 * in the order the TP run made them, whatever their destination, and one
 * writer thread that writes the released ones from its head. Released
 * writes therefore reach each destination in order, and the destinations
 * in the order the program wrote them; a discarded write was never handed
 * to the thread, so nothing is shown twice.
 */
#define LOG_PREFIX "tp-output"
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <xxhash.h>

#include "common/log.h"
#include "tp/output.h"

/* One held write, or shutdown. */
struct held {
	struct held *next;
	uint64_t epoch;
	uint64_t id;	  /* 1, 2, ... in the order held (tp_output_replace()) */
	size_t dest;	  /* index in tp_output.dests */
	uint64_t held_ns; /* util_now_ns() when held */
	size_t len;
	uint8_t *data;	  /* NULL: shutdown(2) SHUT_WR */
};

/* An open file written to: the supervisor's dup of it, kept while writes
 * to it wait (then closed, so that its reader sees the end once the
 * program's own fds are closed), or for good once a write failed (later
 * writes to it are dropped, said once). -1: a free slot. */
struct dest {
	int fd;
	bool msg;      /* a socket: send(2), MSG_NOSIGNAL */
	bool failed;   /* a write failed: its rest is dropped */
	size_t queued; /* writes of it in the list, or being written */
};

struct tp_output {
	pthread_mutex_t lock;
	pthread_cond_t work; /* the writer waits on it: released writes, or stop */
	pthread_cond_t idle; /* tp_output_flush() waits on it */
	struct held *head, *tail;
	struct dest *dests;
	size_t ndests, dests_cap;
	uint64_t released_below; /* writes of epochs below this may go */
	uint64_t last_epoch;
	uint64_t last_id;	 /* the last hold's id */
	bool writing;		 /* the writer holds a write out of the list */
	bool stop;
	bool started;
	pthread_t thread;
	struct tp_output_stats stats;
	struct rec_output_holder holder;
	/* [id]: 1 + XXH3 of the bytes a write went out with (0: none): a
	 * re-run that makes it again must make those (tp_output_replace()) */
	uint64_t *shown;
	size_t shown_cap;
};

/* 1 + the hash of @len bytes at @data (0 is "none"). */
static uint64_t
bytes_hash(const void *data, size_t len)
{
	return XXH3_64bits(data, len) | 1;
}

/* Whether the head of @q's list may be written. Called locked. */
static bool
head_released(const struct tp_output *q)
{
	return q->head && q->head->epoch < q->released_below;
}

/* Write @len bytes at @p to @d, blocking (poll(2) for a non-blocking one,
 * whose flags are the program's to keep). Returns 0 or -errno. */
static int
write_out(const struct dest *d, const uint8_t *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = d->msg ? send(d->fd, p + off, len - off, MSG_NOSIGNAL)
				   : write(d->fd, p + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { .fd = d->fd, .events = POLLOUT };

			(void)poll(&pfd, 1, -1);
			continue;
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		off += (size_t)n;
	}
	return 0;
}

/* A write of destination @i left the list: close its dup if it was the
 * last one (not a failed one's). Called locked. */
static void
unqueue(struct tp_output *q, size_t i)
{
	struct dest *d = &q->dests[i];

	assert(d->queued > 0);
	if (--d->queued == 0 && !d->failed) {
		close(d->fd);
		d->fd = -1;
	}
}

static void *
writer_main(void *arg)
{
	struct tp_output *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct held *h;
		struct dest d;
		int r = 0;

		while (!head_released(q) && !q->stop)
			pthread_cond_wait(&q->work, &q->lock);
		if (!head_released(q))
			break; /* stopped, nothing released left */
		h = q->head;
		q->head = h->next;
		if (!q->head)
			q->tail = NULL;
		d = q->dests[h->dest];
		q->writing = true;
		pthread_mutex_unlock(&q->lock);
		if (!d.failed && h->data)
			r = write_out(&d, h->data, h->len);
		else if (!d.failed && shutdown(d.fd, SHUT_WR) < 0)
			r = -errno;
		pthread_mutex_lock(&q->lock);
		q->writing = false;
		if (d.failed || r < 0) {
			q->stats.dropped += h->len;
		} else {
			uint64_t now = util_now_ns();

			q->stats.written += h->len;
			if (!q->stats.first_written_ns)
				q->stats.first_written_ns = now;
			q->stats.max_delay_ns = MAX(q->stats.max_delay_ns, now - h->held_ns);
		}
		if (r < 0 && !q->dests[h->dest].failed) {
			/* said once: the program saw these writes succeed */
			q->dests[h->dest].failed = true;
			log_warn("held output could not be written (%s): the rest the program wrote "
				 "to that destination is dropped", strerror(-r));
		}
		unqueue(q, h->dest);
		if (h->data && UTIL_GROW(q->shown, q->shown_cap, h->id + 1) == 0)
			q->shown[h->id] = bytes_hash(h->data, h->len);
		free(h->data);
		free(h);
		if (!head_released(q))
			pthread_cond_broadcast(&q->idle);
	}
	pthread_cond_broadcast(&q->idle);
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

static long
holder_hold(void *arg, uint64_t k, int fd, bool msg, void *data, size_t len)
{
	return tp_output_hold(arg, k, fd, msg, data, len);
}

static long
holder_hold_same(void *arg, uint64_t k, pid_t pid, int fd, void *data, size_t len)
{
	return tp_output_hold_same(arg, k, pid, fd, data, len);
}

static int
holder_shutdown(void *arg, uint64_t k, int fd)
{
	return tp_output_hold_shutdown(arg, k, fd);
}

static int
holder_replace(void *arg, uint64_t id, void *data, size_t len)
{
	return tp_output_replace(arg, id, data, len);
}

static uint64_t
holder_waiting(void *arg)
{
	return tp_output_waiting(arg);
}

struct tp_output *
tp_output_new(void)
{
	struct tp_output *q = calloc(1, sizeof(*q));
	sigset_t all, old;
	int r;

	if (!q)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->idle, NULL);
	q->holder.arg = q;
	q->holder.hold = holder_hold;
	q->holder.hold_same = holder_hold_same;
	q->holder.shutdown = holder_shutdown;
	q->holder.replace = holder_replace;
	q->holder.waiting = holder_waiting;
	/* the thread inherits the mask: every signal blocked in it */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&q->thread, NULL, writer_main, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		tp_output_free(q);
		errno = r;
		return NULL;
	}
	q->started = true;
	return q;
}

/* The index of @fd's open file among @q's destinations, added if new (@fd
 * then the queue's; else closed). Called locked. Returns it or -ENOMEM. */
static long
find_dest(struct tp_output *q, int fd, bool msg)
{
	pid_t self = getpid();
	size_t i, free_slot = q->ndests;

	for (i = 0; i < q->ndests; i++) {
		if (q->dests[i].fd < 0) {
			free_slot = MIN(free_slot, i);
			continue;
		}
		if (syscall(SYS_kcmp, self, self, KCMP_FILE, q->dests[i].fd, fd) == 0) {
			close(fd);
			q->dests[i].queued++;
			return (long)i;
		}
	}
	if (free_slot == q->ndests && UTIL_GROW(q->dests, q->dests_cap, q->ndests + 1) < 0) {
		close(fd);
		return -ENOMEM;
	}
	q->dests[free_slot] = (struct dest){ .fd = fd, .msg = msg, .queued = 1 };
	q->stats.destinations++;
	if (free_slot == q->ndests)
		q->ndests++;
	return (long)free_slot;
}

int
tp_output_hold_shutdown(struct tp_output *q, uint64_t k, int fd)
{
	long r = tp_output_hold(q, k, fd, true, NULL, 0);

	return r < 0 ? (int)r : 0;
}

/* Queue @h, a write of epoch @k to destination @dest (counted in its
 * queued already). Called locked. Returns its id. */
static long
append(struct tp_output *q, struct held *h, uint64_t k, size_t dest, void *data, size_t len)
{
	assert(k >= q->last_epoch);
	*h = (struct held){ .epoch = k, .id = ++q->last_id, .dest = dest, .held_ns = util_now_ns(),
			    .len = len, .data = data };
	q->last_epoch = k;
	if (q->tail)
		q->tail->next = h;
	else
		q->head = h;
	q->tail = h;
	q->stats.writes++;
	q->stats.bytes += len;
	if (k < q->released_below)
		q->stats.released += len;
	if (!q->stats.first_held_ns)
		q->stats.first_held_ns = h->held_ns;
	/* an epoch already verified (none yet: holds come before their
	 * epoch's end) goes at once */
	if (head_released(q))
		pthread_cond_signal(&q->work);
	return (long)q->last_id;
}

long
tp_output_hold(struct tp_output *q, uint64_t k, int fd, bool msg, void *data, size_t len)
{
	struct held *h = malloc(sizeof(*h));
	long dest, id;

	if (!h) {
		free(data);
		close(fd);
		return -ENOMEM;
	}
	pthread_mutex_lock(&q->lock);
	dest = find_dest(q, fd, msg);
	if (dest < 0) {
		pthread_mutex_unlock(&q->lock);
		free(data);
		free(h);
		return dest;
	}
	id = append(q, h, k, (size_t)dest, data, len);
	pthread_mutex_unlock(&q->lock);
	return id;
}

long
tp_output_hold_same(struct tp_output *q, uint64_t k, pid_t pid, int fd, void *data, size_t len)
{
	pid_t self = getpid();
	struct held *h = malloc(sizeof(*h));

	if (!h)
		return -ENOMEM;
	pthread_mutex_lock(&q->lock);
	/* a destination's dup lives while writes to it wait (unqueue()) */
	for (size_t i = 0; i < q->ndests; i++) {
		if (q->dests[i].fd < 0 ||
		    syscall(SYS_kcmp, pid, self, KCMP_FILE, fd, q->dests[i].fd) != 0)
			continue;
		long id;

		q->dests[i].queued++;
		id = append(q, h, k, i, data, len);
		pthread_mutex_unlock(&q->lock);
		return id;
	}
	pthread_mutex_unlock(&q->lock);
	free(h);
	return -ENOENT;
}

int
tp_output_replace(struct tp_output *q, uint64_t id, void *data, size_t len)
{
	struct held *h;
	int r = -ENOENT;

	pthread_mutex_lock(&q->lock);
	for (h = q->head; h && h->id != id; h = h->next)
		;
	if (h && h->data && h->epoch >= q->released_below) {
		q->stats.bytes = q->stats.bytes - h->len + len;
		q->stats.replaced++;
		free(h->data);
		h->data = data;
		h->len = len;
		data = NULL;
		r = 0;
	} else if (h) {
		/* released, or a shutdown: the same bytes change nothing */
		r = h->data && bytes_hash(h->data, h->len) == bytes_hash(data, len) ? 0 : -EALREADY;
	} else if (id < q->shown_cap && q->shown[id]) {
		/* gone out: a re-run must make what was shown (tp/tp.c) */
		r = q->shown[id] == bytes_hash(data, len) ? 0 : -EALREADY;
	}
	pthread_mutex_unlock(&q->lock);
	free(data);
	return r;
}

void
tp_output_release(struct tp_output *q, uint64_t k)
{
	uint64_t below = k == UINT64_MAX ? UINT64_MAX : k + 1;

	pthread_mutex_lock(&q->lock);
	/* the list is in epoch order: those newly let go */
	for (const struct held *h = q->head; h && h->epoch < below; h = h->next)
		if (h->epoch >= q->released_below) {
			q->stats.released += h->len;
			q->stats.released_upto = MAX(q->stats.released_upto, h->epoch + 1);
		}
	q->released_below = MAX(q->released_below, below);
	if (head_released(q))
		pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
}

uint64_t
tp_output_discard_from(struct tp_output *q, uint64_t first)
{
	struct held **p, *h;
	uint64_t dropped = 0;

	pthread_mutex_lock(&q->lock);
	/* what was let go is not taken back */
	first = MAX(first, q->released_below);
	for (p = &q->head, q->tail = NULL; (h = *p);) {
		if (h->epoch < first) {
			q->tail = h;
			p = &h->next;
			continue;
		}
		*p = h->next;
		dropped += h->len;
		unqueue(q, h->dest);
		free(h->data);
		free(h);
	}
	q->stats.dropped += dropped;
	q->last_epoch = MIN(q->last_epoch, first ? first - 1 : 0);
	pthread_mutex_unlock(&q->lock);
	return dropped;
}

uint64_t
tp_output_discard(struct tp_output *q, uint64_t k)
{
	/* a verified epoch is never rolled back */
	assert(k == UINT64_MAX || k + 1 >= q->released_below);
	return k == UINT64_MAX ? 0 : tp_output_discard_from(q, k + 1);
}

uint64_t
tp_output_waiting(struct tp_output *q)
{
	uint64_t since = 0;

	pthread_mutex_lock(&q->lock);
	/* the list is in epoch order: released writes first */
	for (const struct held *h = q->head; h; h = h->next)
		if (h->epoch >= q->released_below) {
			since = h->held_ns;
			break;
		}
	pthread_mutex_unlock(&q->lock);
	return since;
}

void
tp_output_flush(struct tp_output *q)
{
	pthread_mutex_lock(&q->lock);
	while (q->started && (head_released(q) || q->writing))
		pthread_cond_wait(&q->idle, &q->lock);
	pthread_mutex_unlock(&q->lock);
}

void
tp_output_get_stats(struct tp_output *q, struct tp_output_stats *ret)
{
	pthread_mutex_lock(&q->lock);
	*ret = q->stats;
	pthread_mutex_unlock(&q->lock);
}

const struct rec_output_holder *
tp_output_holder(struct tp_output *q)
{
	return q ? &q->holder : NULL;
}

void
tp_output_free(struct tp_output *q)
{
	struct held *h;

	if (!q)
		return;
	if (q->started) {
		pthread_mutex_lock(&q->lock);
		q->stop = true;
		pthread_cond_signal(&q->work);
		pthread_mutex_unlock(&q->lock);
		pthread_join(q->thread, NULL);
	}
	while ((h = q->head)) {
		q->head = h->next;
		q->stats.dropped += h->len;
		free(h->data);
		free(h);
	}
	if (q->stats.dropped)
		log_debug("%" PRIu64 " bytes of held output were never released", q->stats.dropped);
	for (size_t i = 0; i < q->ndests; i++)
		if (q->dests[i].fd >= 0)
			close(q->dests[i].fd);
	free(q->dests);
	free(q->shown);
	pthread_cond_destroy(&q->idle);
	pthread_cond_destroy(&q->work);
	pthread_mutex_destroy(&q->lock);
	free(q);
}
