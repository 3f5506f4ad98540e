/* SPDX-License-Identifier: MIT */
/*
 * The syscall buffer, inside the tracee: common syscalls made without a
 * ptrace stop, their results and the bytes the kernel wrote appended to the
 * calling thread's buffer, which the supervisor turns into trace records at
 * the thread's next event. No libc: raw syscalls only, no writable data
 * (state lives in the control page and the buffers, at fixed addresses).
 * Buffered: getpid, gettid, clock_gettime, read, write, lseek, fstat,
 * newfstatat, getdents64, recvfrom and sendto without an address,
 * gettimeofday, epoll_wait and epoll_pwait without a signal mask, writev,
 * ioctl FIONREAD, sendmsg without an address or control data; the fd
 * and file calls of preload/buffered-fd.c; poll, ppoll, select, pselect6,
 * recvmsg, futex wait and wake (preload/buffered-wait.c); sched_yield, up to
 * UPRR_YIELDS_PER_BATCH in a batch; mmap, munmap, madvise
 * (preload/buffered-maps.c, made again in replay) (UPRR_BUFFERED).
 * The same code runs in replay, where the stub returns recorded results: so
 * nothing here may branch on whether it records or replays.
 * See doc/syscall-buffer.md and preload/uprr-preload.h.
 */
#include <asm/unistd.h>
#include <stddef.h>
#include <stdint.h>

#include "preload/preload-private.h"

/* struct epoll_event: packed on x86-64 (include/uapi/linux/eventpoll.h) */
#define UPRR_EPOLL_EVENT_SIZE 12
/* The most events a buffered epoll_wait asks for (it may return fewer
 * than are ready, as the kernel may; the next call gets the rest) */
#define UPRR_EPOLL_MAX 256
/* ioctl(2) FIONREAD (include/uapi/asm-generic/ioctls.h): an int out */
#define UPRR_FIONREAD 0x541b

long uprr_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5) HIDDEN;

/* The compiler may call these for copies. rep movsb and rep stosb (fast
 * on every x86-64 since Ivy Bridge's ERMS, and no conditional branch: the
 * same in record and replay whatever the length): the library copies
 * every byte read and written twice (a byte loop was 11 % of cp -r's
 * recording). */
void *
memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	__asm__ __volatile__("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *
memset(void *dst, int c, size_t n)
{
	void *d = dst;

	__asm__ __volatile__("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

long uprr_traced_call(long nr, long a0, long a1, long a2, long a3, long a4, long a5) HIDDEN;

/* A syscall the supervisor traces: an ordinary recorded syscall, made from
 * entry.S with no register holding the library's own values (the paths to
 * it may have read what differs between recording and replay). */
static long
traced(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	return uprr_traced_call(nr, a0, a1, a2, a3, a4, a5);
}

_Static_assert(offsetof(struct uprr_buf, replay) == UPRR_BUF_REPLAY_OFF, "entry.S reads it");
_Static_assert(offsetof(struct uprr_ctl, flags) == UPRR_CTL_FLAGS_OFF, "entry.S reads it");

/* The calling thread's buffer, claimed on its first call; NULL: none (no
 * FS base yet, no free slot, a CPU without rdfsbase). */
static struct uprr_buf *
thread_buf(void)
{
	volatile uint64_t *keys = ctl()->keys;
	uint64_t key;

	if (!(ctl()->flags & UPRR_CTL_FSGSBASE))
		return NULL;
	__asm__ __volatile__("rdfsbase %0" : "=r"(key));
	if (!key)
		return NULL;
	for (unsigned i = 0; i < UPRR_PRELOAD_NSLOTS; i++) {
		uint64_t k = keys[i];

		if (k == 0) {
			/* a thread preempted here may lose the slot to another */
			k = __sync_val_compare_and_swap(&keys[i], 0, key);
			if (k == 0)
				k = key;
		}
		if (k == key)
			return (struct uprr_buf *)UPRR_PRELOAD_BUF(i);
	}
	return NULL;
}

/* A re-run after a rollback (doc/syscall-buffer.md, "Rolling back a run
 * that made buffered calls") consumed its last record: live from here,
 * appending after the records, and the recorder learns it now, before the
 * program runs on (a loop that spins makes no more calls). Never taken in
 * replay (replay is 0 there), and the notify call keeps every register. */
static void
record_added(struct uprr_buf *buf)
{
	const struct uprr_rec *next = (const struct uprr_rec *)((unsigned char *)(buf + 1) + buf->used);
	uint32_t resume = (buf->replay != 0) & (next->size == UPRR_REC_RESUME);

	/* one conditional branch whatever the buffer holds (PMU ticks) */
	__asm__("" : "+r"(resume));
	if (resume) {
		buf->replay = 0;
		barrier();
		__asm__ __volatile__("call uprr_notify" ::: "memory");
	}
}

/*
 * Whether @buf's records hold UPRR_YIELDS_PER_BATCH sched_yield calls: the
 * next one is traced. The records of the batch are the same in record and
 * replay (replay consumed them up to `used`), so the same branches run.
 */
static int
yields_spent(const struct uprr_buf *buf)
{
	const unsigned char *p = (const unsigned char *)(buf + 1), *end = p + buf->used;
	unsigned n = 0;

	while (p < end && n < UPRR_YIELDS_PER_BATCH) {
		const struct uprr_rec *r = (const struct uprr_rec *)p;

		n += r->nr == __NR_sched_yield;
		p += r->size;
	}
	return n >= UPRR_YIELDS_PER_BATCH;
}

long
uprr_commit(struct uprr_buf *buf, struct uprr_rec *rec, long nr, long fd, long ret, uint32_t size)
{
	uprr_fd_commit(buf, nr, fd, ret);
	rec->ret = ret;
	rec->size = size;
	barrier();
	buf->used += size;
	barrier();
	record_added(buf);
	return ret;
}

/*
 * Whether a TP run's read @nr (UPRR_CTL_ORDER_READS) reads a pipe, a FIFO
 * or a socket, whose bytes another thread's or process's write put there
 * (or takes a connection from a socket's queue, accept4(2), which another
 * process's connect(2) put there: an ordered call, SC_ORDER_EXIT):
 * it takes the traced path, where it is numbered in the order of
 * shared-state calls (recorder/record-order.c). recvfrom(2) and recvmsg(2)
 * read sockets only; read(2) and readv(2) ask fstat(2) what their fd is
 * (a pipe: fs/pipe.c's pipefifo_fops, S_IFIFO; sockets: S_IFSOCK). A
 * regular file's read stays (doc/uniparallel.md, "The order of
 * shared-state calls"). The fstat is the TP run's only, not recorded: an
 * EP run and replay (ctl.replay, whatever flags the trace kept) follow the
 * recorded batches, whose end marker sends the call the traced way.
 */
static int
ordered_read(struct uprr_buf *buf, long nr, const long a[6])
{
	unsigned char st[UPRR_STAT_SIZE];
	int64_t unused = 0;
	uint32_t mode;

	if (nr == __NR_recvfrom || nr == __NR_recvmsg || nr == __NR_accept4)
		return 1;
	if (nr != __NR_read && nr != __NR_readv)
		return 0;
	if (stub(__NR_fstat, a[0], (long)st, 0, 0, 0, 0, &unused) < 0)
		return 0; /* a bad fd: the read fails alike */
	memcpy(&mode, st + K_STAT_MODE_OFF, sizeof(mode));
	return (mode & K_S_IFMT) == K_S_IFIFO || (mode & K_S_IFMT) == K_S_IFSOCK;
}

/*
 * Whether write(2) or writev(2) @nr goes to /dev/null (K_DEV_NULL), which
 * stays in the buffer whatever UPRR_CTL_NO_WRITES says: the device keeps
 * no byte and no offset (drivers/char/mem.c: write_null(), null_lseek()),
 * so there is no output to hold (recorder/record-hold.c leaves a device
 * that is not a terminal live), no file version to keep, nothing to undo
 * and nothing another thread reads back through it, which a number in the
 * order of shared-state calls would place (a TP run traced every write to
 * it: sort's 5,120 to bench/tp.sh's /dev/null, two ptrace stops each).
 * In replay and an EP run (ctl.replay, buf->replay) the records decide: a
 * write the recording traced ends its batch (UPRR_REC_STOP), one it
 * buffered has its record. The fstat is the recording's only, not
 * recorded, as ordered_read()'s, and has its window: a thread that puts
 * another file at that fd (dup2(2)) between the fstat and the write races
 * with the write, which is then buffered unnumbered and unheld.
 */
static int
null_write(struct uprr_buf *buf, long nr, const long a[6])
{
	unsigned char st[UPRR_STAT_SIZE];
	int64_t unused = 0;
	uint64_t rdev;
	uint32_t mode;

	if (nr != __NR_write && nr != __NR_writev)
		return 0;
	if (ctl()->replay | buf->replay)
		return 1;
	if (stub(__NR_fstat, a[0], (long)st, 0, 0, 0, 0, &unused) < 0)
		return 0; /* a bad fd: the traced call fails alike */
	memcpy(&mode, st + K_STAT_MODE_OFF, sizeof(mode));
	memcpy(&rdev, st + K_STAT_RDEV_OFF, sizeof(rdev));
	return (mode & K_S_IFMT) == K_S_IFCHR && rdev == K_DEV_NULL;
}

/*
 * The buffered call, @buf locked; returns NOT_BUFFERED (never a syscall
 * result) if it must take the traced path untouched, or after an attempt
 * (uprr_fd_call()) whose call goes traced.
 */
static long
buffered(struct uprr_buf *buf, long nr, long a[6])
{
	uint64_t data_max = 0;
	const struct kiovec *iovs = NULL;
	long niov = 0;
	struct uprr_rec *rec;
	unsigned char *data;
	struct kiovec iov;
	uint32_t size, wake = 0, maps = 0;
	int wait = 0;
	long ret, rest;

	/* sends too: a TP run holding output (recorder/record-hold.c) sees
	 * each one; not a write to /dev/null */
	if ((nr == __NR_write || nr == __NR_writev || nr == __NR_sendto || nr == __NR_sendmsg) &&
	    (ctl()->flags & UPRR_CTL_NO_WRITES) && !null_write(buf, nr, a))
		return NOT_BUFFERED;
	if (nr == __NR_writev && (a[2] <= 0 || a[2] > UPRR_IOV_MAX))
		return NOT_BUFFERED;
	/* a TP run numbers reads of pipes and sockets (never in replay, nor
	 * in a re-run: ctl.flags has it only in a TP run's recording) */
	if ((ctl()->flags & UPRR_CTL_ORDER_READS) && !(ctl()->replay | buf->replay) &&
	    ordered_read(buf, nr, a))
		return NOT_BUFFERED;
	if (nr == __NR_ioctl && (unsigned)a[1] != UPRR_FIONREAD && !UPRR_IOCTL_CLONE(a[1]))
		return NOT_BUFFERED;
	if (nr == __NR_sched_yield && yields_spent(buf))
		return NOT_BUFFERED;
	if ((nr == __NR_futex || nr == __NR_sched_yield) && (ctl()->flags & UPRR_CTL_EP))
		return NOT_BUFFERED;
	/* sendmsg: as send(2), its iovecs' bytes one after the other; not
	 * with an address or control data (SCM_RIGHTS passes fds) */
	if (nr == __NR_sendmsg) {
		const struct kmsghdr *m = (const struct kmsghdr *)a[1];

		if (m->name || m->controllen || m->iovlen == 0 || m->iovlen > UPRR_IOV_MAX ||
		    ((uint64_t)a[2] & ~(uint64_t)(UPRR_MSG_DONTWAIT | UPRR_MSG_NOSIGNAL)))
			return NOT_BUFFERED;
	}
	/* epoll_pwait with a signal mask: what it unblocks may be delivered
	 * inside the call, which only the traced path handles */
	if ((nr == __NR_epoll_wait || nr == __NR_epoll_pwait) &&
	    ((int)a[2] <= 0 || (nr == __NR_epoll_pwait && a[4] != 0)))
		return NOT_BUFFERED;
	/* recvfrom and sendto: only without a peer address (recv(2), send(2)
	 * on a connected socket), and flags whose result fits the buffer the
	 * program passed (not MSG_TRUNC) and that never wait for more than is
	 * there (not MSG_WAITALL): anything else is traced */
	if ((nr == __NR_recvfrom || nr == __NR_sendto) &&
	    (a[4] != 0 || a[5] != 0 ||
	     ((uint64_t)a[3] & ~(uint64_t)(UPRR_MSG_PEEK | UPRR_MSG_DONTWAIT | UPRR_MSG_NOSIGNAL)) ||
	     (nr == __NR_sendto && (a[3] & UPRR_MSG_PEEK))))
		return NOT_BUFFERED;
	switch (nr) {
	case __NR_clock_gettime:
		data_max = 16; /* struct timespec */
		break;
	case __NR_gettimeofday:
		data_max = 24; /* struct timeval, then struct timezone */
		break;
	case __NR_ioctl:
		/* FIONREAD's int; FICLONE and FICLONERANGE: buffered-fd.c */
		data_max = UPRR_IOCTL_CLONE(a[1]) ? uprr_fd_data_max(buf, nr, a) : 4;
		break;
	case __NR_writev:
	case __NR_sendmsg:
		/* all the bytes, one after the other (the program's iovecs
		 * are read here and again at the copy: a thread changing
		 * them meanwhile could only shorten what is copied) */
		iovs = nr == __NR_writev ? (const struct kiovec *)a[1] : ((const struct kmsghdr *)a[1])->iov;
		niov = nr == __NR_writev ? a[2] : (long)((const struct kmsghdr *)a[1])->iovlen;
		for (long i = 0; i < niov; i++) {
			if (iovs[i].len > UPRR_PRELOAD_REC_ROOM)
				return NOT_BUFFERED;
			data_max += iovs[i].len;
		}
		break;
	case __NR_epoll_wait:
	case __NR_epoll_pwait:
		data_max = (uint64_t)((int)a[2] < UPRR_EPOLL_MAX ? (int)a[2] : UPRR_EPOLL_MAX) *
			   UPRR_EPOLL_EVENT_SIZE;
		break;
	case __NR_fstat:
	case __NR_newfstatat:
		data_max = UPRR_STAT_SIZE;
		break;
	case __NR_read:
	case __NR_write:
	case __NR_getdents64:
	case __NR_recvfrom:
	case __NR_sendto:
		data_max = (uint64_t)a[2];
		break;
	case __NR_openat: case __NR_close: case __NR_fcntl: case __NR_access:
	case __NR_faccessat: case __NR_faccessat2: case __NR_statx: case __NR_pread64: case __NR_fadvise64:
	case __NR_pwrite64: case __NR_readv: case __NR_preadv: case __NR_getrandom:
	case __NR_accept4: case __NR_sendfile: case __NR_copy_file_range: case __NR_mkdirat:
	case __NR_fchmod: case __NR_fchown: case __NR_utimensat:
		data_max = uprr_fd_data_max(buf, nr, a);
		break;
	case __NR_poll: case __NR_ppoll: case __NR_select: case __NR_pselect6: /* buffered-wait.c */
	case __NR_recvmsg: case __NR_futex:
		if (uprr_wait_size(nr, a, &data_max, &wake) < 0)
			return NOT_BUFFERED;
		break;
	case __NR_mmap: case __NR_munmap: case __NR_madvise: /* buffered-maps.c: a result only */
		if (!uprr_maps_ok(nr, a))
			return NOT_BUFFERED;
		maps = 1;
		break;
	}
	if (data_max > UPRR_PRELOAD_REC_ROOM)
		return NOT_BUFFERED;
	size = (uint32_t)sizeof(*rec) + align8(data_max);
	/* a write's record ends with how it went (uprr_fd_write()) */
	if (nr == __NR_write || nr == __NR_writev || nr == __NR_pwrite64)
		size += UPRR_WRITE_PROBE_SIZE;
	/* used <= UPRR_PRELOAD_REC_ROOM: rec->size lies in the buffer */
	rec = (struct uprr_rec *)((unsigned char *)(buf + 1) + buf->used);
	/* One branch for the three ways to the traced call, the thread's next
	 * event: a full buffer, the supervisor's interrupt (recording), the
	 * end of the records (replay, where the interrupt is never set). The
	 * registers there must not tell which. A futex wake while the
	 * supervisor has not set `wakes` goes the same way (recording; in
	 * replay `wakes` is set wherever records come), and so does a
	 * mapping change while `maps` is not set (a run with a restore point). */
	if (((uint64_t)buf->used + size > UPRR_PRELOAD_REC_ROOM) | (rec->size == UPRR_REC_STOP) |
	    (buf->interrupt != 0) | (wake & (buf->wakes == 0)) | (maps & (buf->maps == 0)))
		return NOT_BUFFERED;
	data = (unsigned char *)(rec + 1);
	rec->nr = (uint32_t)nr;
	for (int i = 0; i < 6; i++)
		rec->args[i] = (uint64_t)a[i];
	rest = 0;
	switch (nr) {
	case __NR_getpid:
	case __NR_gettid:
	case __NR_sched_yield:
		ret = stub(nr, 0, 0, 0, 0, 0, 0, &rec->ret);
		size = sizeof(*rec);
		break;
	case __NR_clock_gettime:
		ret = stub(nr, a[0], (long)data, 0, 0, 0, 0, &rec->ret);
		if (ret == 0)
			memcpy((void *)a[1], data, 16);
		break;
	case __NR_gettimeofday:
		/* each pointer the program passed (NULL: nothing written there) */
		ret = stub(nr, a[0] ? (long)data : 0, a[1] ? (long)(data + 16) : 0, 0, 0, 0, 0, &rec->ret);
		if (ret == 0 && a[0])
			memcpy((void *)a[0], data, 16);
		if (ret == 0 && a[1])
			memcpy((void *)a[1], data + 16, 8);
		break;
	case __NR_epoll_wait:
	case __NR_epoll_pwait:
		/* an attempt that does not wait (timeout 0): if nothing is
		 * ready and the program would wait, the traced call waits */
		ret = stub(nr, a[0], (long)data, (long)(data_max / UPRR_EPOLL_EVENT_SIZE), 0, 0, a[5],
			   &rec->ret);
		size = (uint32_t)sizeof(*rec) + align8(ret > 0 ? (uint64_t)ret * UPRR_EPOLL_EVENT_SIZE : 0);
		if (ret > 0)
			memcpy((void *)a[1], data, (size_t)ret * UPRR_EPOLL_EVENT_SIZE);
		break;
	case __NR_ioctl:
		if (UPRR_IOCTL_CLONE(a[1]))
			return uprr_fd_call(buf, rec, nr, a, size);
		ret = stub(nr, a[0], a[1], (long)data, 0, 0, 0, &rec->ret);
		if (ret == 0)
			memcpy((void *)a[2], data, 4);
		break;
	case __NR_read:
		/* never wait in the kernel here: a call that would is retried
		 * on the traced path, which waits while other threads run */
		iov = (struct kiovec){ data, (uint64_t)a[2] };
		ret = stub(__NR_preadv2, a[0], (long)&iov, 1, -1, -1, UPRR_RWF_NOWAIT, &rec->ret);
		size = (uint32_t)sizeof(*rec) + align8(ret > 0 ? (uint64_t)ret : 0);
		if (ret > 0)
			memcpy((void *)a[1], data, (size_t)ret);
		break;
	case __NR_lseek:
		ret = stub(nr, a[0], a[1], a[2], 0, 0, 0, &rec->ret);
		break;
	case __NR_fstat:
		ret = stub(nr, a[0], (long)data, 0, 0, 0, 0, &rec->ret);
		if (ret == 0)
			memcpy((void *)a[1], data, UPRR_STAT_SIZE);
		break;
	case __NR_newfstatat:
		ret = stub(nr, a[0], a[1], (long)data, a[3], 0, 0, &rec->ret);
		if (ret == 0)
			memcpy((void *)a[2], data, UPRR_STAT_SIZE);
		break;
	case __NR_getdents64:
		ret = stub(nr, a[0], (long)data, a[2], 0, 0, 0, &rec->ret);
		size = (uint32_t)sizeof(*rec) + align8(ret > 0 ? (uint64_t)ret : 0);
		if (ret > 0)
			memcpy((void *)a[1], data, (size_t)ret);
		break;
	case __NR_recvfrom:
		/* never wait here either: MSG_DONTWAIT; the record keeps the
		 * program's flags */
		ret = stub(nr, a[0], (long)data, a[2], a[3] | UPRR_MSG_DONTWAIT, 0, 0, &rec->ret);
		size = (uint32_t)sizeof(*rec) + align8(ret > 0 ? (uint64_t)ret : 0);
		if (ret > 0)
			memcpy((void *)a[1], data, (size_t)ret);
		break;
	case __NR_sendto:
		memcpy(data, (const void *)a[1], (size_t)a[2]);
		ret = stub(nr, a[0], (long)data, a[2], a[3] | UPRR_MSG_DONTWAIT, 0, 0, &rec->ret);
		break;
	case __NR_writev:
	case __NR_sendmsg: {
		uint64_t at = 0;

		for (long i = 0; i < niov; i++) {
			uint64_t len = iovs[i].len < data_max - at ? iovs[i].len : data_max - at;

			memcpy(data + at, iovs[i].base, (size_t)len);
			at += len;
		}
		if (nr == __NR_writev) {
			ret = uprr_fd_write(buf, rec, a[0], data, at, -1, data + align8(data_max));
		} else {
			struct kmsghdr m = { .iov = &iov, .iovlen = 1 };

			iov = (struct kiovec){ data, at };
			ret = stub(nr, a[0], (long)&m, a[2] | UPRR_MSG_DONTWAIT, 0, 0, 0, &rec->ret);
		}
		break;
	}
	case __NR_write:
		memcpy(data, (const void *)a[1], (size_t)a[2]);
		ret = uprr_fd_write(buf, rec, a[0], (const void *)a[1], (uint64_t)a[2], -1,
				    data + align8((uint64_t)a[2]));
		break;
	case __NR_openat: case __NR_close: case __NR_fcntl: case __NR_access:
	case __NR_faccessat: case __NR_faccessat2: case __NR_statx: case __NR_pread64: case __NR_fadvise64:
	case __NR_pwrite64: case __NR_readv: case __NR_preadv: case __NR_getrandom:
	case __NR_accept4: case __NR_sendfile: case __NR_copy_file_range: case __NR_mkdirat:
	case __NR_fchmod: case __NR_fchown: case __NR_utimensat:
		return uprr_fd_call(buf, rec, nr, a, size);
	case __NR_mmap: case __NR_munmap: case __NR_madvise:
		return uprr_maps_call(buf, rec, nr, a, size);
	case __NR_poll: case __NR_ppoll: case __NR_select: case __NR_pselect6:
	case __NR_recvmsg: case __NR_futex:
		ret = uprr_wait_call(buf, nr, a, rec, data, data_max, &size, &wait);
		break;
	default:
		return NOT_BUFFERED;
	}
	/* a plain write to a regular file marks no fd (uprr_fd_commit()) */
	uprr_commit(buf, rec, nr,
		    (nr == __NR_write || nr == __NR_writev) &&
				    UPRR_WRITE_PLAIN((const struct uprr_write_probe *)((unsigned char *)rec + size -
										      UPRR_WRITE_PROBE_SIZE))
			    ? -1
			    : a[0],
		    ret, size);
	if (wait) /* buffered-wait.c: the program waits on the traced path */
		return traced(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	/* EPIPE: the kernel raised SIGPIPE, which natively kills the program
	 * (or runs its handler) before the call returns; uprr delivers a
	 * signal at an event, so the traced call (EPIPE and SIGPIPE again)
	 * is where it comes, not after the program saw EPIPE (sort printed
	 * "write failed: Broken pipe" under `head`) */
	if ((nr == __NR_read || nr == __NR_write || nr == __NR_writev) &&
	    (ret == -UPRR_EAGAIN || ret == -UPRR_EOPNOTSUPP || (nr != __NR_read && ret == -UPRR_EPIPE)))
		return traced(nr, a[0], a[1], a[2], 0, 0, 0);
	if (nr == __NR_sendmsg && ((ret == -UPRR_EAGAIN && !(a[2] & UPRR_MSG_DONTWAIT)) ||
				   (ret == -UPRR_EPIPE && !(a[2] & UPRR_MSG_NOSIGNAL))))
		return traced(nr, a[0], a[1], a[2], 0, 0, 0);
	if ((nr == __NR_writev || (nr == __NR_sendmsg && !(a[2] & UPRR_MSG_DONTWAIT))) && ret > 0 &&
	    (uint64_t)ret < data_max) {
		/* a blocking writev or sendmsg takes all: the rest waits on
		 * the traced path, one write (send) per iovec left */
		uint64_t skip = (uint64_t)ret;

		for (long i = 0; i < niov; i++) {
			if (skip >= iovs[i].len) {
				skip -= iovs[i].len;
				continue;
			}
			if (nr == __NR_writev)
				rest = traced(__NR_write, a[0], (long)iovs[i].base + (long)skip,
					      (long)(iovs[i].len - skip), 0, 0, 0);
			else
				rest = traced(__NR_sendto, a[0], (long)iovs[i].base + (long)skip,
					      (long)(iovs[i].len - skip), a[2], 0, 0);
			if (rest <= 0)
				break;
			ret += rest;
			if ((uint64_t)rest < iovs[i].len - skip)
				break;
			skip = 0;
		}
	}
	if ((nr == __NR_epoll_wait || nr == __NR_epoll_pwait) && ret == 0 && (int)a[3] != 0)
		return traced(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	/* a program that would wait: the traced call waits (a program that
	 * asked not to wait has its EAGAIN) */
	if ((nr == __NR_recvfrom || nr == __NR_sendto) && ret == -UPRR_EAGAIN &&
	    !(a[3] & UPRR_MSG_DONTWAIT))
		return traced(nr, a[0], a[1], a[2], a[3], 0, 0);
	if (nr == __NR_sendto && ret == -UPRR_EPIPE && !(a[3] & UPRR_MSG_NOSIGNAL))
		return traced(nr, a[0], a[1], a[2], a[3], 0, 0);
	if (nr == __NR_sendto && ret > 0 && ret < a[2] && !(a[3] & UPRR_MSG_DONTWAIT)) {
		/* a blocking send takes all (a stream socket): the rest waits
		 * on the traced path */
		rest = traced(nr, a[0], a[1] + ret, a[2] - ret, a[3], 0, 0);
		if (rest > 0)
			ret += rest;
	}
	if (nr == __NR_write && ret > 0 && ret < a[2]) {
		/* a blocking write takes all: the rest waits on the traced path */
		rest = traced(nr, a[0], a[1] + ret, a[2] - ret, 0, 0, 0);
		if (rest > 0)
			ret += rest;
	}
	return ret;
}

long
uprr_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	long a[6] = { a0, a1, a2, a3, a4, a5 };
	struct uprr_buf *buf;
	long ret;

	/* an epoch's end waits for this thread at a traced call (a TP run;
	 * never set in replay): not a futex(2) or sched_yield(2), which an
	 * EP run does not match, and whose place it cannot find (the thread's
	 * next call the buffer takes goes traced instead) */
	if (!UPRR_BUFFERED(nr) ||
	    ((ctl()->flags & UPRR_CTL_EPOCH_END) && nr != __NR_futex && nr != __NR_sched_yield))
		return traced(nr, a0, a1, a2, a3, a4, a5);
	buf = thread_buf();
	if (!buf || buf->locked)
		return traced(nr, a0, a1, a2, a3, a4, a5);
	buf->locked = 1;
	barrier();
	ret = buffered(buf, nr, a);
	if (ret == NOT_BUFFERED)
		ret = traced(nr, a0, a1, a2, a3, a4, a5);
	barrier();
	buf->locked = 0;
	return ret;
}

long
uprr_traced(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	return traced(nr, a0, a1, a2, a3, a4, a5);
}

