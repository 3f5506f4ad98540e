/* SPDX-License-Identifier: MIT */
/*
 * The syscall buffer in replay: the trace's copy of the preload library
 * mapped at each exec, as in the recording; each TRACE_EV_SYSCALLBUF's
 * records put into the thread's buffer before it runs to its next event,
 * where the library consumes them (its stub returns the recorded results);
 * and, at that event, the buffer checked byte for byte against the trace.
 * See doc/syscall-buffer.md; the layout is preload/uprr-preload.h.
 */
#define LOG_PREFIX "replay"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "common/thread.h"
#include "preload/uprr-preload.h"
#include "recorder/recorder.h"
#include "replay/replay-private.h"
#include "tracee/tracee.h"

/* Where the end markers' memfd is opened from in a process: beyond struct
 * uprr_ctl in its control page, zeroed again after */
#define MARKS_PATH_OFF 2048
_Static_assert(sizeof(struct uprr_ctl) <= MARKS_PATH_OFF, "the path goes after the control block");

/* The memfd of the buffers' end markers (UPRR_REC_STOP at the head of
 * every buffer's records, the rest a hole), or -errno. */
static int
make_marks(void)
{
	const size_t len = UPRR_PRELOAD_NSLOTS * UPRR_PRELOAD_BUF_SIZE;
	uint8_t *p;
	int fd;

	fd = memfd_create("uprr-buffer-marks", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* stores through a mapping: one pwrite(2) a marker cost a syscall each */
	p = ftruncate(fd, (off_t)len) == 0 ? mmap(NULL, len, PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	if (p == MAP_FAILED) {
		close(fd);
		return -EIO;
	}
	for (unsigned i = 0; i < UPRR_PRELOAD_NSLOTS; i++) {
		uint32_t stop = UPRR_REC_STOP;

		memcpy(p + i * UPRR_PRELOAD_BUF_SIZE + sizeof(struct uprr_buf), &stop, sizeof(stop));
	}
	munmap(p, len);
	return fd;
}

static void *
marks_thread(void *arg)
{
	struct replayer *rp = arg;
	int fd = make_marks();

	rp->sb_marks.fd = fd < 0 ? fd : fd + 1;
	return NULL;
}

void
replay_syscallbuf_marks_begin(struct replayer *rp)
{
	/* its 64 pages cost 60-100 µs: made on another CPU than the one
	 * replay will pin itself to while the program starts (a trace
	 * without the buffer never waits for it) */
	rp->sb_marks.running =
		util_thread_start(&rp->sb_marks.thread, marks_thread, rp, sched_getcpu()) == 0;
}

/* The markers' memfd, once made (here if its thread could not start), or
 * -errno. */
static int
marks_memfd(struct replayer *rp)
{
	if (rp->sb_marks.running) {
		pthread_join(rp->sb_marks.thread, NULL);
		rp->sb_marks.running = false;
	}
	if (rp->sb_marks.fd == 0)
		marks_thread(rp);
	return rp->sb_marks.fd > 0 ? rp->sb_marks.fd - 1 : rp->sb_marks.fd;
}

void
replay_syscallbuf_marks_end(struct replayer *rp)
{
	if (rp->sb_marks.running)
		pthread_join(rp->sb_marks.thread, NULL);
	rp->sb_marks.running = false;
	if (rp->sb_marks.fd > 0)
		close(rp->sb_marks.fd - 1);
	rp->sb_marks.fd = 0;
}

/*
 * The buffers of process @pid (@memfd), mapped anonymous, become a private
 * mapping of the end markers' memfd, whose pages every replayed process
 * shares until it writes them: an injected openat of /proc/<uprr>/fd/N, the
 * mmap over the buffers, a close. A write of the 64 markers in each
 * process faulted in 64 pages, 95 µs an exec (issue 14). 0 or -errno.
 */
static int
map_marks(struct replayer *rp, pid_t pid, int memfd)
{
	static const uint8_t zero[64];
	char path[64];
	int fd = marks_memfd(rp), r;
	size_t len, done = 0;
	int64_t res[3] = { 0 };

	if (fd < 0)
		return fd;
	len = (size_t)snprintf(path, sizeof(path), "/proc/%d/fd/%d", getpid(), fd) + 1;
	const struct tracee_call calls[] = {
		{ .nr = __NR_openat,
		  .args = { (uint64_t)AT_FDCWD, UPRR_PRELOAD_CTL_ADDR + MARKS_PATH_OFF, O_RDONLY | O_CLOEXEC } },
		{ .nr = __NR_mmap, .arg_from_prev = 5,
		  .args = { UPRR_PRELOAD_BUF(0), UPRR_PRELOAD_NSLOTS * UPRR_PRELOAD_BUF_SIZE,
			    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, 0, 0 },
		  .expect = (int64_t)UPRR_PRELOAD_BUF(0) },
		{ .nr = __NR_close, .arg_from_prev = 1, .prev_call = 1 },
	};

	r = tracee_write(memfd, UPRR_PRELOAD_CTL_ADDR + MARKS_PATH_OFF, path, len);
	if (r < 0)
		return r;
	r = tracee_inject_syscalls(pid, memfd, calls, ARRAY_SIZE(calls), res, &done);
	if (tracee_write(memfd, UPRR_PRELOAD_CTL_ADDR + MARKS_PATH_OFF, zero, len) < 0 && r >= 0)
		r = -EIO;
	if (r < 0)
		return r;
	if (done < 2)
		return done ? (int)res[0] : -EIO;
	return res[1] == (int64_t)UPRR_PRELOAD_BUF(0) ? 0 : -EADDRINUSE;
}

int
replay_syscallbuf_map(struct replayer *rp, const struct trace_event *ev, pid_t pid,
		      struct rec_space *sp)
{
	uint32_t flags;
	const char *copy;
	_cleanup_free_ uint8_t *image = NULL;
	_cleanup_close_ int fd = -1;
	ssize_t n;
	int r;

	sp->syscallbuf = false;
	if (ev->nvalues < 8 || !ev->values[6])
		return 0;
	flags = (uint32_t)ev->values[7];
	/* the buffers' layout changed with format 10 (preload version 9: the
	 * head's `maps`, mapping records, traced calls through entry.S), and
	 * with format 11 (preload version 10: the library and its 512 KiB
	 * buffers at 0x6d000000): the trace's library would read records
	 * where this uprr writes others, or run at an address it was not
	 * linked for */
	if (trace_reader_header(rp->r)->format_version < 11)
		return replay_diverge(rp, ev, "this trace used the syscall buffer of an older uprr "
				      "(trace format %u), whose buffers this uprr cannot fill",
				      trace_reader_header(rp->r)->format_version);
	if ((flags & UPRR_CTL_FSGSBASE) && !(rec_syscallbuf_machine_flags() & UPRR_CTL_FSGSBASE))
		return replay_diverge(rp, ev, "the trace's syscall buffer needs rdfsbase (FSGSBASE), "
				      "which this machine does not let programs use");
	if (trace_reader_file(rp->r, (uint32_t)(ev->values[6] - 1), &copy, NULL) < 0)
		return replay_diverge(rp, ev, "the syscall buffer's library is missing from the trace");
	image = malloc(UPRR_PRELOAD_CODE_SIZE + 1);
	fd = open(copy, O_RDONLY | O_CLOEXEC);
	if (!image || fd < 0)
		return replay_diverge(rp, ev, "cannot read the syscall buffer's library");
	n = read(fd, image, UPRR_PRELOAD_CODE_SIZE + 1);
	if (n <= 0 || n > (ssize_t)UPRR_PRELOAD_CODE_SIZE)
		return replay_diverge(rp, ev, "the trace's syscall buffer library is damaged");
	r = rec_syscallbuf_map(pid, sp->memfd, image, (size_t)n, true, flags);
	if (r <= 0)
		return replay_diverge(rp, ev, "cannot map the syscall buffer: %s",
				      r < 0 ? strerror(-r) : "its address is taken");
	/* An end marker at the head of every buffer: a thread's first call
	 * claims its buffer, and where the recording sent that call the
	 * traced way (a signal came after the claim, and uprr interrupted the
	 * buffer before the call looked), there is no record and no event
	 * between the claim and the call to put a marker there; where it
	 * buffered the call, its batch comes first and overwrites the marker.
	 * The same holds after a claim by a call that took the traced path
	 * (an ioctl other than FIONREAD) whose next call met an interrupt.
	 * The buffers map a memfd that holds the markers (map_marks()). */
	r = map_marks(rp, pid, sp->memfd);
	if (r < 0)
		return replay_diverge(rp, ev, "cannot mark the syscall buffers: %s", strerror(-r));
	sp->syscallbuf = true;
	return 0;
}

/* The record at byte @off of @t's expected records, for messages. */
static const struct uprr_rec *
record_at(const struct pthread_r *t, uint32_t off)
{
	return (const struct uprr_rec *)(t->sb_expect + off);
}

/*
 * Write the @nlocal pieces @local, one after the other, over the @nremote
 * ranges @remote of @t's process: one process_vm_writev(2) (the buffers are
 * writable), where a pwrite(2) to /proc/PID/mem each cost a syscall and a
 * page of the kernel's per piece, seven per batch of records. Returns 0 or
 * -errno (-EFAULT: written short).
 */
static int
write_pieces(const struct pthread_r *t, const struct iovec *local, unsigned long nlocal,
	     const struct iovec *remote, unsigned long nremote)
{
	size_t len = 0;
	ssize_t n;

	for (unsigned long i = 0; i < nlocal; i++)
		len += local[i].iov_len;
	n = process_vm_writev(t->tid, local, nlocal, remote, nremote, 0);
	if (n < 0)
		return -errno; /* ESRCH: the thread is gone */
	return (size_t)n == len ? 0 : -EFAULT;
}

/* Whether the record at @got, which the library wrote in replay, is the
 * hashed record @want (expanded by expand_records()): the same head and
 * write probe, and bytes of the recorded hash. */
static bool
same_hashed(const uint8_t *got, const struct uprr_rec *want, const struct replay_sb_hashed *h)
{
	uint8_t hash[TRACE_HASH_SIZE];

	if (memcmp(got, want, sizeof(*want)) != 0 ||
	    memcmp(got + sizeof(*want) + h->len, (const uint8_t *)want + sizeof(*want) + h->len,
		   UPRR_WRITE_PROBE_SIZE) != 0)
		return false;
	trace_hash128(got + sizeof(*want), h->len, hash);
	return memcmp(hash, h->hash, sizeof(hash)) == 0;
}

int
replay_syscallbuf_check(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t)
{
	static const uint32_t stop = UPRR_REC_STOP;
	static const uint32_t zero;
	struct uprr_buf head;
	uint32_t off, k, h = 0;
	bool differs;

	if (!t->sb_len || !t->sb_ran)
		return 0;
	/* the head and the records after it, in one read */
	if (replay_ensure_buf(rp, sizeof(head) + t->sb_len) < 0)
		return -ENOMEM;
	/* process_vm_readv(2): one copy, where /proc/PID/mem bounces each
	 * page through a kernel page (cp -r's batches are up to 512 KiB) */
	if (tracee_read(t->tid, t->sb_addr, rp->buf, sizeof(head) + t->sb_len) < 0)
		return replay_diverge(rp, ev, "cannot read the syscall buffer of thread %d", t->tid);
	memcpy(&head, rp->buf, sizeof(head));
	memmove(rp->buf, rp->buf + sizeof(head), t->sb_len);
	/* the first record that differs, or the first one not consumed */
	for (off = 0, k = 0; off < t->sb_len; k++) {
		const struct uprr_rec *want = record_at(t, off);

		if (off >= head.used)
			return replay_diverge(rp, ev, "thread %u made %u buffered syscalls, recorded %u "
					      "(the next: %s)", ev->tid, k, t->sb_nrecs,
					      sc_name(want->nr) ?: "?");
		if (h < t->sb_nhashed && t->sb_hashed[h].off == off) {
			differs = !same_hashed(rp->buf + off, want, &t->sb_hashed[h]);
			h++;
		} else {
			differs = memcmp(rp->buf + off, want, want->size) != 0;
		}
		if (differs) {
			const struct uprr_rec *got = (const void *)(rp->buf + off);

			if (got->nr != want->nr)
				return replay_diverge(rp, ev, "buffered syscall %u of thread %u is %s, "
						      "recorded %s", k, ev->tid,
						      sc_name(got->nr) ?: "?",
						      sc_name(want->nr) ?: "?");
			return replay_diverge(rp, ev, "buffered syscall %u of thread %u (%s) has other "
					      "arguments or bytes than recorded", k, ev->tid,
					      sc_name(want->nr) ?: "?");
		}
		off += want->size;
	}
	if (head.used != t->sb_len)
		return replay_diverge(rp, ev, "thread %u made more buffered syscalls than recorded",
				      ev->tid);
	t->sb_len = 0;
	t->sb_nrecs = 0;
	t->sb_nhashed = 0;
	/* The recorder emptied the buffer here: the next calls start at its
	 * head in both, and fit or not alike. Until records come for them, an
	 * end marker there sends them the traced way, as the recording's
	 * interrupt did when no record came. */
	{
		const struct iovec local[] = {
			{ (void *)&zero, sizeof(zero) },
			{ (void *)&stop, sizeof(stop) },
		};
		const struct iovec remote[] = {
			{ (void *)(uintptr_t)(t->sb_addr + offsetof(struct uprr_buf, used)), sizeof(zero) },
			{ (void *)(uintptr_t)(t->sb_addr + sizeof(struct uprr_buf)), sizeof(stop) },
		};

		if (write_pieces(t, local, ARRAY_SIZE(local), remote, ARRAY_SIZE(remote)) < 0)
			return replay_diverge(rp, ev, "cannot reset the syscall buffer of thread %d", t->tid);
	}
	return 0;
}

/* Show again what the buffered writes of @ev sent to uprr's stdout or
 * stderr, or dump what they sent on sockets, in their order. */
static void
show_output(struct replayer *rp, const struct trace_event *ev)
{
	const struct trace_blob *recs = &ev->blobs[0];
	const uint8_t *data = recs->data;
	uint32_t off = 0, sink;
	uint64_t extra = 0; /* bytes of blob 2 shown (copy_file_range's) */

	if (ev->nblobs < 2 || ev->blobs[1].len < ev->values[0] * sizeof(uint32_t))
		return;
	/* the trace's bytes are not aligned: copy each head out */
	for (uint64_t k = 0; k < ev->values[0] && recs->len - off >= sizeof(struct uprr_rec); k++) {
		struct uprr_rec r;
		uint64_t len;

		memcpy(&r, data + off, sizeof(r));
		memcpy(&sink, (const uint8_t *)ev->blobs[1].data + k * sizeof(sink), sizeof(sink));
		/* a hashed record's bytes went nowhere shown */
		if (sink & TRACE_SB_HASHED)
			sink = 0;
		len = r.ret > 0 ? (uint64_t)r.ret : 0;
		if (r.size < sizeof(r) || r.size > recs->len - off)
			return;
		/* the bytes sent: after the head (sendfile: after its two
		 * results), or, for copy_file_range, read back into blob 2 */
		const uint8_t *bytes = data + off + sizeof(r) + (r.nr == __NR_sendfile ? 16 : 0);

		if (sink && r.nr == __NR_copy_file_range && ev->nblobs >= 3 &&
		    len <= ev->blobs[2].len - extra) {
			bytes = (const uint8_t *)ev->blobs[2].data + extra;
			extra += len;
		} else if (r.nr == __NR_copy_file_range || bytes + len > data + off + r.size) {
			sink = 0;
		}
		if (sink && (r.nr == __NR_write || r.nr == __NR_writev || r.nr == __NR_sendto ||
			     r.nr == __NR_sendmsg || r.nr == __NR_pwrite64 || r.nr == __NR_sendfile ||
			     r.nr == __NR_copy_file_range)) {
			struct trace_blob b = { 0, (uint32_t)len, bytes };
			struct trace_event out = {
				.type = TRACE_EV_OUTPUT, .tid = ev->tid, .nvalues = 2,
				.values = { sink, 0 }, .nblobs = 1, .blobs = &b,
			};

			replay_output_event(&rp->out, &out);
		}
		off += r.size;
	}
}

/*
 * The records of @ev as the library wrote them in the recording, into
 * t->sb_expect (t->sb_len bytes): those of the trace, where each
 * TRACE_SB_HASHED one (format 12) gets its bytes' room back, zeros but for
 * their recorded last word (the padding the library leaves), and its hash
 * goes to t->sb_hashed. In replay the library copies the program's bytes
 * there, and the check hashes them. Returns 0, -ENOMEM, or -EBADMSG for
 * records that do not add up or would not fit the buffer.
 */
static int
expand_records(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t, char *why,
	       size_t why_len)
{
	const struct trace_blob *recs = &ev->blobs[0];
	const uint8_t *data = recs->data;
	const uint32_t fixed = (uint32_t)(sizeof(struct uprr_rec) + sizeof(struct trace_sb_hashed) +
					  UPRR_WRITE_PROBE_SIZE);
	bool hashes = trace_reader_header(rp->r)->format_version >= 12 && ev->nblobs >= 2 &&
		      ev->blobs[1].len >= ev->values[0] * sizeof(uint32_t);
	uint32_t in = 0, out = 0, sink;

	t->sb_nhashed = 0;
	if (UTIL_GROW(t->sb_expect, t->sb_cap, recs->len) < 0)
		return -ENOMEM;
	for (uint64_t k = 0; in < recs->len; k++) {
		struct uprr_rec r;
		struct trace_sb_hashed h;
		uint32_t size;

		if (recs->len - in < sizeof(r))
			return -EBADMSG;
		memcpy(&r, data + in, sizeof(r));
		if (r.size < sizeof(r) || r.size > recs->len - in)
			return -EBADMSG;
		sink = 0;
		if (hashes && k < ev->values[0])
			memcpy(&sink, (const uint8_t *)ev->blobs[1].data + k * sizeof(sink), sizeof(sink));
		if (sink & TRACE_SB_REF) {
			struct trace_sb_ref ref;
			int r2;

			if (trace_reader_header(rp->r)->format_version < 13 ||
			    r.size != sizeof(r) + sizeof(ref))
				return -EBADMSG;
			memcpy(&ref, data + in + sizeof(r), sizeof(ref));
			if (ref.len < sizeof(ref.last) || r.ret != (int64_t)ref.len ||
			    ref.len > UPRR_PRELOAD_REC_ROOM)
				return -EBADMSG;
			size = (uint32_t)sizeof(r) + (ref.len + 7) / 8 * 8;
			if ((size_t)out + size > UPRR_PRELOAD_REC_ROOM)
				return -EBADMSG;
			if (UTIL_GROW(t->sb_expect, t->sb_cap, (size_t)out + size) < 0)
				return -ENOMEM;
			r.size = size;
			memcpy(t->sb_expect + out, &r, sizeof(r));
			/* the padding after the bytes is what the buffer held */
			memcpy(t->sb_expect + out + size - sizeof(ref.last), ref.last, sizeof(ref.last));
			r2 = trace_reader_fill_ref(rp->r, &rp->sb_ref, &ref, t->sb_expect + out + sizeof(r), why,
						   why_len);
			if (r2 < 0)
				return r2;
			out += size;
			in += (uint32_t)(sizeof(r) + sizeof(ref)); /* its size in the trace */
			continue;
		}
		if (!(sink & TRACE_SB_HASHED)) {
			if ((size_t)out + r.size > UPRR_PRELOAD_REC_ROOM)
				return -EBADMSG;
			if (UTIL_GROW(t->sb_expect, t->sb_cap, (size_t)out + r.size) < 0)
				return -ENOMEM;
			memcpy(t->sb_expect + out, data + in, r.size);
			out += r.size;
			in += r.size;
			continue;
		}
		memcpy(&h, data + in + sizeof(r), sizeof(h));
		if (r.size != fixed || h.len < sizeof(h.last) || h.len % 8 || h.zero ||
		    h.len > UPRR_PRELOAD_REC_ROOM)
			return -EBADMSG;
		size = (uint32_t)sizeof(r) + h.len + UPRR_WRITE_PROBE_SIZE;
		if ((size_t)out + size > UPRR_PRELOAD_REC_ROOM)
			return -EBADMSG;
		if (UTIL_GROW(t->sb_expect, t->sb_cap, (size_t)out + size) < 0 ||
		    UTIL_GROW(t->sb_hashed, t->sb_hashed_cap, (size_t)t->sb_nhashed + 1) < 0)
			return -ENOMEM;
		r.size = size;
		memcpy(t->sb_expect + out, &r, sizeof(r));
		memset(t->sb_expect + out + sizeof(r), 0, h.len - sizeof(h.last));
		memcpy(t->sb_expect + out + sizeof(r) + h.len - sizeof(h.last), h.last, sizeof(h.last));
		memcpy(t->sb_expect + out + sizeof(r) + h.len, data + in + sizeof(r) + sizeof(h),
		       UPRR_WRITE_PROBE_SIZE);
		t->sb_hashed[t->sb_nhashed].off = out;
		t->sb_hashed[t->sb_nhashed].len = h.len;
		memcpy(t->sb_hashed[t->sb_nhashed].hash, h.hash, sizeof(h.hash));
		t->sb_nhashed++;
		out += size;
		in += fixed;
	}
	t->sb_len = out;
	return 0;
}

int
replay_on_syscallbuf(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t)
{
	static const uint32_t stop = UPRR_REC_STOP;
	static const uint32_t used = 0, allowed[2] = { 1, 1 };
	const struct trace_blob *recs;
	char why[768];
	int r;

	if (ev->nvalues < 2 || ev->nblobs < 1 || !t->space->syscallbuf)
		return replay_diverge(rp, ev, "buffered syscalls of a thread without a syscall buffer");
	recs = &ev->blobs[0];
	r = replay_syscallbuf_check(rp, ev, t);
	if (r < 0)
		return r;
	/* the recorder flushes only at an event of a thread that ran since
	 * its last one: records never pile up unconsumed */
	if (t->sb_len)
		return replay_diverge(rp, ev, "buffered syscalls of thread %u before it consumed the "
				      "last ones", ev->tid);
	if (recs->len > UPRR_PRELOAD_REC_ROOM)
		return replay_diverge(rp, ev, "buffered syscalls larger than the buffer");
	r = expand_records(rp, ev, t, why, sizeof(why));
	if (r == -ESTALE) {
		t->sb_len = 0;
		return replay_diverge(rp, ev, "%s", why);
	}
	if (r == -EBADMSG) {
		t->sb_len = 0;
		return replay_diverge(rp, ev, "buffered syscalls of thread %u that do not add up",
				      ev->tid);
	}
	if (r < 0)
		return r;
	t->sb_addr = ev->values[1];
	t->sb_nrecs = (uint32_t)ev->values[0];
	t->sb_ran = false;
	/* the records, a marker after them (one call more takes the traced
	 * path, as the call after them did in the recording), used = 0;
	 * futex wakes and mapping changes allowed: the records and the
	 * marker decide, as the recorder's `wakes` and `maps` did (a
	 * buffered wake or mmap has a record) */
	_Static_assert(offsetof(struct uprr_buf, maps) == offsetof(struct uprr_buf, wakes) + 4,
		       "wakes and maps are written as one");
	{
		const struct iovec local[] = {
			{ (void *)t->sb_expect, t->sb_len },
			{ (void *)&stop, sizeof(stop) },
			{ (void *)&used, sizeof(used) },
			{ (void *)allowed, sizeof(allowed) },
		};
		const struct iovec remote[] = {
			{ (void *)(uintptr_t)(t->sb_addr + sizeof(struct uprr_buf)), t->sb_len + sizeof(stop) },
			{ (void *)(uintptr_t)(t->sb_addr + offsetof(struct uprr_buf, used)), sizeof(used) },
			{ (void *)(uintptr_t)(t->sb_addr + offsetof(struct uprr_buf, wakes)), sizeof(allowed) },
		};

		if (write_pieces(t, local, ARRAY_SIZE(local), remote, ARRAY_SIZE(remote)) < 0)
			return replay_diverge(rp, ev, "cannot fill the syscall buffer of thread %d", t->tid);
	}
	show_output(rp, ev);
	return 0;
}

void
replay_syscallbuf_untraced(struct replayer *rp)
{
	for (size_t i = 0; i < rp->nthreads; i++) {
		struct pthread_r *t = &rp->threads[i];

		if (!t->space->syscallbuf || t->space->syscallbuf_off ||
		    !rec_ptrace_find(&rp->ptrace, t->rec_tid))
			continue;
		if (rec_syscallbuf_disable(t->space->memfd) == 0)
			t->space->syscallbuf_off = true;
	}
}

int
replay_on_site_patch(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t)
{
	struct user_regs_struct regs;
	enum tracee_stop kind;
	int sig, r;

	r = replay_run_to_stop(rp, t, ev, &kind, &sig);
	if (r < 0)
		return r;
	if (kind != TRACEE_STOP_SECCOMP || ev->nvalues < 4 || t->regs.orig_rax != ev->values[0])
		return replay_diverge(rp, ev, "expected syscall %s (its site patched), got %s at rip 0x%llx",
				      sc_name((long)ev->values[0]) ?: "?",
				      replay_stop_name(kind, sig), t->regs.rip);
	r = replay_syscallbuf_check(rp, ev, t);
	if (r < 0)
		return r;
	r = replay_check_regs(rp, ev, t);
	if (r < 0)
		return r;
	regs = t->regs;
	r = rec_syscallbuf_apply_patch(t->tid, t->space->memfd, ev, &regs);
	if (r < 0)
		return replay_diverge(rp, ev, "cannot patch the syscall site at 0x%llx: %s", t->regs.rip - 2,
				      strerror(-r));
	if (rec_syscallbuf_note_patch(t->space, ev) < 0)
		return replay_diverge(rp, ev, "out of memory");
	t->regs = regs;
	t->state = PT_HELD;
	return 0;
}
