/* SPDX-License-Identifier: MIT */
/*
 * The syscall buffer's supervisor side in recording: the library's fixed
 * pages mapped at every exec (record and replay alike), and each thread's
 * buffered calls turned into TRACE_EV_SYSCALLBUF events right before its
 * next event. See doc/syscall-buffer.md; the layout is preload/uprr-preload.h.
 */
#define LOG_PREFIX "syscallbuf"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "preload/uprr-preload.h"
#include "preload/uprr-sync.h"
#include "recorder/record-private.h"
#include "recorder/recorder.h"
#include "trace/trace.h"
#include "tracee/tracee.h"
#include "x86_64/patch.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

_Static_assert(sizeof(struct uprr_ctl) <= UPRR_PRELOAD_CTL_SIZE, "control page");
_Static_assert(sizeof(struct uprr_rec) % 8 == 0, "records stay aligned");
_Static_assert(sizeof(struct uprr_buf) == sizeof(((struct rthread *)0)->sb_head), "a buffer's head");
_Static_assert(UPRR_PRELOAD_NSLOTS == ARRAY_SIZE(((struct rec_sb *)0)->keys), "the slots");
_Static_assert(UPRR_PRELOAD_ADDR + UPRR_PRELOAD_MAP_SIZE <= PATCH_TICK_PAGE,
	       "the syscall buffer lies below soft ticks' page");

uint32_t
rec_syscallbuf_machine_flags(void)
{
	return (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) ? UPRR_CTL_FSGSBASE : 0;
}

int
rec_syscallbuf_map(pid_t pid, int memfd, const void *image, size_t len, bool replay, uint32_t flags)
{
	/* At the exec stop the thread is still inside execve(2), whose result
	 * (0) lands in rax on the way out (do_syscall_64(): regs->ax = the
	 * syscall's return), so the first injected call runs as read(2): make
	 * that one harmless (fd -1: EBADF, or getpid where rax holds). It
	 * leaves the thread in a signal-delivery-stop, where injection works.
	 * Then the pages, and the code's made read + execute at once (uprr
	 * fills them through /proc/PID/mem, which writes read-only pages too:
	 * FOLL_FORCE): one batch, one save and restore (three injections cost
	 * every exec 30 ptrace calls). An mmap that fails ends the batch. */
	const struct tracee_call calls[] = {
		{ .nr = __NR_getpid, .args = { (uint64_t)-1 }, .may_fail = true },
		{ .nr = __NR_mmap,
		  .args = { UPRR_PRELOAD_ADDR, UPRR_PRELOAD_MAP_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, (uint64_t)-1, 0 },
		  .expect = (int64_t)UPRR_PRELOAD_ADDR },
		{ .nr = __NR_mprotect,
		  .args = { UPRR_PRELOAD_ADDR, UPRR_PRELOAD_CODE_SIZE, PROT_READ | PROT_EXEC } },
	};
	struct uprr_ctl ctl = {
		.magic = UPRR_PRELOAD_MAGIC,
		.version = UPRR_PRELOAD_VERSION,
		.replay = replay,
		.flags = flags,
	};
	struct user_regs_struct regs;
	int64_t res[ARRAY_SIZE(calls)];
	size_t done = 0;
	int r;

	if (len > UPRR_PRELOAD_CODE_SIZE)
		return -E2BIG;
	r = tracee_inject_syscalls(pid, memfd, calls, ARRAY_SIZE(calls), res, &done);
	if (r < 0)
		return log_debug_errno(r, "process %d: cannot map the syscall buffer", pid);
	if (done >= 2 && res[1] == -EEXIST)
		return 0; /* the program's own image lies there */
	if (done < 2 || res[1] != (int64_t)UPRR_PRELOAD_ADDR)
		return log_debug_errno(done < 2 || res[1] >= 0 ? -EADDRINUSE : (int)res[1],
				       "process %d: its syscall buffer's mmap returned %" PRId64, pid,
				       done < 2 ? 0 : res[1]);
	if (done < 3 || res[2] < 0)
		return done < 3 ? -EIO : (int)res[2];
	if ((r = tracee_write(memfd, UPRR_PRELOAD_ADDR, image, len)) < 0 ||
	    (r = tracee_write(memfd, UPRR_PRELOAD_CTL_ADDR, &ctl, sizeof(ctl))) < 0)
		return log_debug_errno(r, "process %d: cannot fill the syscall buffer's pages", pid);
	/* the execve returned meanwhile (its exit stop will not come): with
	 * its result, 0, as the program starts natively */
	r = tracee_get_regs(pid, &regs);
	if (r < 0)
		return r;
	regs.rax = 0;
	r = tracee_set_regs(pid, &regs);
	return r < 0 ? r : 1;
}

int
rec_syscallbuf_disable(int memfd)
{
	uint32_t flags = 0;

	return tracee_write(memfd, UPRR_PRELOAD_CTL_ADDR + offsetof(struct uprr_ctl, flags), &flags,
			    sizeof(flags));
}

int
rec_syscallbuf_set_flags(int memfd, uint32_t flags, bool on)
{
	uint64_t at = UPRR_PRELOAD_CTL_ADDR + offsetof(struct uprr_ctl, flags);
	uint32_t now, want;
	int r;

	r = tracee_read_mem(memfd, at, &now, sizeof(now));
	if (r < 0)
		return r;
	want = on ? now | flags : now & ~flags;
	return want == now ? 0 : tracee_write(memfd, at, &want, sizeof(want));
}

/* Whether @l is the synchronization-order log the interposer maps in a TP
 * run (tp/tp.c puts its path in uprr's environment for the program): it
 * is written through that mapping only, never by write(2), and no trace
 * replays its pages, so writes may stay in the buffer. */
static bool
is_sync_log(const struct rec_fd_look *l)
{
	const char *path = getenv(UPRR_SYNC_ENV_LOG);
	struct stat st;

	return path && stat(path, &st) == 0 && st.st_dev == l->st.st_dev && st.st_ino == l->st.st_ino;
}

bool
rec_syscallbuf_mapping_follows_writes(struct rec_fd_look *l, const uint64_t args[6], bool follows)
{
	if (!l->link_ok || !l->st_ok)
		return true;
	if (is_sync_log(l))
		return false;
	/* the link's owner bits are the fd's access mode (proc(5)) */
	if (l->link.st_mode & S_IWUSR)
		return true;
	if ((args[3] & MAP_TYPE) == MAP_PRIVATE && !follows)
		return false;
	/* read-only: only a write through another fd could change it */
	return !rec_fd_is_system_file(l);
}

bool
rec_syscallbuf_own_filters(pid_t pid)
{
	return rec_sandbox_filter_count(pid) != 1; /* uprr's own is one; unknown counts as more */
}

int
rec_syscallbuf_keep(struct recorder *rec, uint64_t *ret_ref)
{
	uint32_t id;
	int r;

	if (rec->sb.image_ref) {
		*ret_ref = rec->sb.image_ref;
		return 0;
	}
	r = trace_writer_keep_data(rec->w, rec_preload_image, rec_preload_image_len, "[uprr-preload]",
				   &id);
	if (r < 0)
		return r;
	rec->sb.image_ref = (uint64_t)id + 1;
	*ret_ref = rec->sb.image_ref;
	return 0;
}

/* The address of @t's buffer, or 0 if it has none (it never made a buffered
 * call, or made none since its FS base changed). */
static uint64_t
thread_buffer(struct recorder *rec, struct rthread *t)
{
	uint64_t keys[UPRR_PRELOAD_NSLOTS];
	uint64_t key = t->regs.fs_base;

	if (!t->space->mem.syscallbuf || !key)
		return 0;
	if (t->sb_key == key && t->sb_addr)
		return t->sb_addr;
	if (tracee_read_mem(t->space->mem.memfd, UPRR_PRELOAD_CTL_ADDR + offsetof(struct uprr_ctl, keys),
			    keys, sizeof(keys)) < 0)
		return 0;
	for (unsigned i = 0; i < UPRR_PRELOAD_NSLOTS; i++)
		if (keys[i] == key) {
			t->sb_key = key;
			t->sb_addr = UPRR_PRELOAD_BUF(i);
			return t->sb_addr;
		}
	return 0;
}

uint64_t
rec_syscallbuf_addr(struct recorder *rec, struct rthread *t)
{
	return thread_buffer(rec, t);
}

void
rec_syscallbuf_forget(struct rthread *t)
{
	t->sb_key = 0;
	t->sb_addr = 0;
}

bool
rec_syscallbuf_pending(struct recorder *rec, struct rthread *t)
{
	uint64_t addr = thread_buffer(rec, t);
	struct uprr_buf head;

	return addr && tracee_read_mem(t->space->mem.memfd, addr, &head, sizeof(head)) == 0 &&
	       head.used;
}

bool
rec_syscallbuf_unlocked(struct recorder *rec, struct rthread *t)
{
	uint64_t addr = thread_buffer(rec, t);
	uint32_t locked = 0;

	if (!addr)
		return true;
	return tracee_read_mem(t->space->mem.memfd, addr + offsetof(struct uprr_buf, locked), &locked,
			       sizeof(locked)) == 0 &&
	       !locked;
}

bool
rec_syscallbuf_in_library(uint64_t rip)
{
	return rip >= UPRR_PRELOAD_ADDR && rip < UPRR_PRELOAD_ADDR + UPRR_PRELOAD_CODE_SIZE;
}

/* The number of records in @len bytes at @recs, or -EBADMSG if their sizes
 * do not add up (the program wrote over its buffer). */
static int count_records(const uint8_t *recs, uint32_t len);

int
rec_syscallbuf_keep_records(struct recorder *rec, struct rthread *t)
{
	uint64_t addr = thread_buffer(rec, t);
	struct uprr_buf head;
	int r;

	rec->sb.keep_len = 0;
	if (!addr)
		return 0;
	r = tracee_read_mem(t->space->mem.memfd, addr, &head, sizeof(head));
	if (r < 0)
		return r;
	if (head.used > UPRR_PRELOAD_REC_ROOM)
		return -EBADMSG;
	if (UTIL_GROW(rec->sb.keep, rec->sb.keep_cap, head.used) < 0)
		return -ENOMEM;
	r = tracee_read_mem(t->space->mem.memfd, addr + sizeof(head), rec->sb.keep, head.used);
	if (r < 0)
		return r;
	r = count_records(rec->sb.keep, head.used);
	if (r < 0)
		return r;
	rec->sb.keep_len = head.used;
	return 0;
}

int
rec_syscallbuf_rolled_back(struct recorder *rec, struct rthread *t)
{
	uint64_t addr = thread_buffer(rec, t);
	struct uprr_buf head;
	int r;

	if (!addr || !rec->sb.keep_len)
		return 0;
	r = tracee_read_mem(t->space->mem.memfd, addr, &head, sizeof(head));
	if (r < 0)
		return r;
	/* records of an earlier run, not flushed yet: they stay (the
	 * restore point has them), and the next event flushes them */
	if (head.used > rec->sb.keep_len)
		return -EBADMSG;
	memmove(rec->sb.keep, rec->sb.keep + head.used, rec->sb.keep_len - head.used);
	rec->sb.keep_len -= head.used;
	return 0;
}

int
rec_syscallbuf_rerun(struct recorder *rec, struct rthread *t)
{
	uint64_t addr = thread_buffer(rec, t);
	uint32_t marker = UPRR_REC_RESUME;
	struct uprr_buf head;
	int memfd = t->space->mem.memfd;
	int r;

	if (!addr || !rec->sb.keep_len)
		return 0;
	/* after the rollback's events (their flush may have taken what the
	 * buffer held at the run's start) */
	r = tracee_read_mem(memfd, addr, &head, sizeof(head));
	if (r < 0)
		return r;
	if ((uint64_t)head.used + rec->sb.keep_len > UPRR_PRELOAD_REC_ROOM)
		return -EBADMSG;
	rec->sb.keep_at = head.used;
	/* live calls go on after them; the interrupt would send the first
	 * one the traced way, which the run did not take */
	head.interrupt = 0;
	head.replay = 1;
	if ((r = tracee_write(memfd, addr + sizeof(head) + head.used, rec->sb.keep, rec->sb.keep_len)) < 0 ||
	    (r = tracee_write(memfd, addr + sizeof(head) + head.used + rec->sb.keep_len, &marker,
			      sizeof(marker))) < 0 ||
	    (r = tracee_write(memfd, addr, &head, sizeof(head))) < 0)
		return r;
	t->sb_interrupted = false;
	t->sb_rerun = true;
	rec->sb.reruns++;
	return 1;
}

int
rec_syscallbuf_rerun_diff(struct recorder *rec, struct rthread *t)
{
	uint64_t addr = thread_buffer(rec, t);
	_cleanup_free_ uint8_t *got = NULL;
	struct uprr_buf head;
	uint32_t off;
	int k;

	if (!addr || tracee_read_mem(t->space->mem.memfd, addr, &head, sizeof(head)) < 0 ||
	    head.used < rec->sb.keep_at + rec->sb.keep_len || !(got = malloc(rec->sb.keep_len + 1)) ||
	    tracee_read_mem(t->space->mem.memfd, addr + sizeof(head) + rec->sb.keep_at, got,
			    rec->sb.keep_len) < 0)
		return 0;
	for (off = 0, k = 0; off < rec->sb.keep_len; k++) {
		const struct uprr_rec *want = (const void *)(rec->sb.keep + off);

		if (memcmp(got + off, want, want->size) != 0)
			return k;
		off += want->size;
	}
	return -1;
}

/* Whether buffered syscall @nr sends the bytes of its record somewhere. */
static bool
record_sends(uint32_t nr)
{
	return nr == __NR_write || nr == __NR_writev || nr == __NR_sendto || nr == __NR_sendmsg ||
	       nr == __NR_pwrite64 || nr == __NR_sendfile || nr == __NR_copy_file_range;
}

/* Whether record @r ends with a struct uprr_write_probe. */
static bool
record_probed(const struct uprr_rec *r)
{
	return (r->nr == __NR_write || r->nr == __NR_writev || r->nr == __NR_pwrite64 ||
		r->nr == __NR_sendfile) &&
	       r->size >= sizeof(*r) + sizeof(struct uprr_write_probe);
}

/*
 * Where each buffered write or send sent its bytes (enum trace_output), in
 * @sinks; returns whether any went somewhere replay shows or dumps. The
 * records were checked to lie within @len bytes. What an fd refers to is
 * looked up now, which is right for every write of the batch: the library
 * sends a close of an fd that a record of the batch wrote to the traced
 * path, whose entry flushes first (preload/buffered-fd.c), so a buffered
 * close can only precede such a write. But it may have closed an fd that the
 * output code's cache holds (a traced write before the batch): forget those.
 * A plain write to a regular file (UPRR_WRITE_PLAIN) marks no fd, so its fd
 * may be closed or reused: its record's dev and ino tell instead.
 */
static bool
record_sinks(const struct rthread *t, const uint8_t *recs, uint32_t len, uint32_t *sinks)
{
	bool any = false;
	uint32_t n = 0;

	for (uint32_t off = 0; off < len; off += ((const struct uprr_rec *)(recs + off))->size)
		if (((const struct uprr_rec *)(recs + off))->nr == __NR_close)
			rec_output_forget_fd((int)((const struct uprr_rec *)(recs + off))->args[0]);
	for (uint32_t off = 0; off < len; n++) {
		const struct uprr_rec *r = (const void *)(recs + off);

		struct uprr_write_probe p;

		sinks[n] = 0;
		if (record_probed(r))
			memcpy(&p, recs + off + r->size - sizeof(p), sizeof(p));
		else
			memset(&p, 0, sizeof(p));
		if (record_sends(r->nr) && r->ret > 0 && UPRR_WRITE_PLAIN(&p))
			/* its fd may be closed or reused by now: the library
			 * marked none (preload/buffered-fd.c) */
			sinks[n] = rec_output_file_sinks(p.dev, p.ino, (int)r->args[0]);
		else if (record_sends(r->nr) && r->ret > 0)
			/* the fd is open: the library marked it (fds_written) */
			sinks[n] = rec_output_fd_sinks(t->tid, (int)r->args[r->nr == __NR_copy_file_range ? 2 : 0]);
		any |= sinks[n] != 0;
		off += r->size;
	}
	return any;
}

/*
 * The bytes that copy_file_range records with a sink (@sinks) copied, which
 * their records do not hold, one after the other in rec->sb.extra, read
 * back from the destination (open: the library marked it) where its offset
 * stood before the call (the record's second int64). Returns their length,
 * or -ENOMEM; bytes it cannot read are zeros, and it says so.
 */
static ssize_t
record_extra(struct recorder *rec, const struct rthread *t, const uint8_t *recs, uint32_t len,
	     const uint32_t *sinks)
{
	size_t total = 0;
	uint32_t n = 0;

	for (uint32_t off = 0; off < len; off += ((const struct uprr_rec *)(recs + off))->size, n++) {
		const struct uprr_rec *r = (const void *)(recs + off);
		int64_t at;
		ssize_t got;

		/* replay takes ret bytes of the blob for each such record */
		if (r->nr != __NR_copy_file_range || !sinks[n] || r->ret <= 0 || r->size < sizeof(*r) + 16)
			continue;
		if (r->ret > UINT32_MAX / 2 ||
		    UTIL_GROW(rec->sb.extra, rec->sb.extra_cap, total + (size_t)r->ret) < 0)
			return -ENOMEM;
		memcpy(&at, recs + off + sizeof(*r) + 8, sizeof(at));
		got = at < 0 ? -EINVAL : rec_output_read_file(t->tid, t->tgid, (int)r->args[2], (uint64_t)at,
							     rec->sb.extra + total, (size_t)r->ret);
		if (got < r->ret) {
			log_warn("%" PRId64 " of the %" PRId64 " bytes thread %d copied to uprr's output with "
				 "copy_file_range could not be read back; its replay shows zeros",
				 r->ret - (got > 0 ? got : 0), r->ret, t->tid);
			memset(rec->sb.extra + total + (got > 0 ? got : 0), 0,
			       (size_t)(r->ret - (got > 0 ? got : 0)));
		}
		total += (size_t)r->ret;
	}
	return total;
}

/* The least bytes a write record hashes (TRACE_SB_HASHED): below, the
 * bytes cost the trace little more than their hash. */
#define HASH_MIN 64u

/*
 * Replace the bytes of each write, writev or pwrite64 record among the
 * @len bytes at @recs that sent them nowhere replay shows or dumps
 * (@sinks[n] 0: a file, a pipe, a tty that is not uprr's) by their length,
 * hash and last word (struct trace_sb_hashed), and mark it TRACE_SB_HASHED
 * in @sinks. Replay never writes them anywhere, and the hash still checks
 * every byte the program passed. Nothing else reads them from the trace: a
 * file's pages reach replay as kept copies (trace_writer_keep_file()),
 * never from the writes that filled it. Records move down over the room
 * freed; returns their new length. For cp -r, half of the records' bytes.
 */
static uint32_t
hash_writes(uint8_t *recs, uint32_t len, uint32_t *sinks)
{
	uint32_t in = 0, out = 0;

	for (uint32_t n = 0; in < len; n++) {
		struct uprr_rec *r = (void *)(recs + in);
		uint32_t size = r->size;
		uint32_t bytes = size - (uint32_t)sizeof(*r) - UPRR_WRITE_PROBE_SIZE;

		/* sendfile's bytes are the library's read, not the program's */
		if (!sinks[n] && r->nr != __NR_sendfile && record_probed(r) && bytes >= HASH_MIN) {
			struct trace_sb_hashed h = { .len = bytes };
			uint8_t probe[UPRR_WRITE_PROBE_SIZE];

			trace_hash128(recs + in + sizeof(*r), bytes, h.hash);
			memcpy(h.last, recs + in + sizeof(*r) + bytes - sizeof(h.last), sizeof(h.last));
			memcpy(probe, recs + in + size - sizeof(probe), sizeof(probe));
			memmove(recs + out, recs + in, sizeof(*r));
			r = (void *)(recs + out);
			r->size = (uint32_t)(sizeof(*r) + sizeof(h) + sizeof(probe));
			memcpy(recs + out + sizeof(*r), &h, sizeof(h));
			memcpy(recs + out + sizeof(*r) + sizeof(h), probe, sizeof(probe));
			sinks[n] |= TRACE_SB_HASHED;
			out += r->size;
		} else {
			if (out != in)
				memmove(recs + out, recs + in, size);
			out += size;
		}
		in += size;
	}
	return out;
}

static int
count_records(const uint8_t *recs, uint32_t len)
{
	int n = 0;

	for (uint32_t off = 0; off < len; n++) {
		const struct uprr_rec *r = (const void *)(recs + off);

		if (len - off < sizeof(*r) || r->size < sizeof(*r) || r->size % 8 || r->size > len - off)
			return -EBADMSG;
		off += r->size;
	}
	return n;
}

void
rec_syscallbuf_interrupt(struct recorder *rec, struct rthread *t)
{
	uint64_t addr = thread_buffer(rec, t);
	uint32_t one = 1;

	/* written each time: a rollback puts the buffer's memory back; not
	 * in a re-run, whose calls go the way they went (its notify call
	 * sets it again) */
	if (!addr || t->sb_rerun)
		return;
	if (tracee_write(t->space->mem.memfd, addr + offsetof(struct uprr_buf, interrupt), &one,
			 sizeof(one)) == 0)
		t->sb_interrupted = true;
}

/* Set the u32 at offset @field of @t's buffer head to @ok, unless @t's
 * write of it to this buffer already did (*@on, *@off: the buffer it last
 * set to 1, to 0). */
static void
set_head_flag(struct recorder *rec, struct rthread *t, size_t field, bool ok, uint64_t *on,
	      uint64_t *off)
{
	uint64_t addr = thread_buffer(rec, t);
	uint32_t v = ok;

	/* a new buffer's is 0; a forked child's thread has its parent's */
	if (!addr || addr == (ok ? *on : *off))
		return;
	if (tracee_write(t->space->mem.memfd, addr + field, &v, sizeof(v)) < 0)
		return; /* vanished: its end comes through waitpid */
	*on = ok ? addr : 0;
	*off = ok ? 0 : addr;
}

void
rec_syscallbuf_wakes(struct recorder *rec, struct rthread *t, bool ok)
{
	set_head_flag(rec, t, offsetof(struct uprr_buf, wakes), ok, &t->sb_wakes_on, &t->sb_wakes_off);
}

void
rec_syscallbuf_maps(struct recorder *rec, struct rthread *t, bool ok)
{
	set_head_flag(rec, t, offsetof(struct uprr_buf, maps), ok, &t->sb_maps_on, &t->sb_maps_off);
}

void
rec_syscallbuf_maps_seen(struct recorder *rec, struct rthread *t, const uint8_t *recs, uint32_t len)
{
	for (uint32_t off = 0; off < len; off += ((const struct uprr_rec *)(recs + off))->size) {
		const struct uprr_rec *r = (const void *)(recs + off);

		if (UPRR_BUFFERED_MAPS(r->nr))
			rec_restore_map_change(rec, t->space, r->nr, r->args, r->ret);
	}
}

/*
 * Read the head of @t's buffer at @addr into *@head and its records into
 * rec->sb.data: 1 if it holds some, 0 if none (or no buffer), or -errno
 * (-EBADMSG: a head that says more than a buffer holds).
 */
static int
read_buffer(struct recorder *rec, struct rthread *t, uint64_t addr, struct uprr_buf *head)
{
	int r;

	if (!addr || tracee_read_mem(t->space->mem.memfd, addr, head, sizeof(*head)) < 0 || !head->used)
		return 0;
	if (head->used > UPRR_PRELOAD_REC_ROOM)
		return -EBADMSG;
	if (UTIL_GROW(rec->sb.data, rec->sb.data_cap, head->used) < 0)
		return -ENOMEM;
	/* process_vm_readv(2): one copy, where /proc/PID/mem bounces each
	 * page through a kernel page (a flush reads up to 512 KiB) */
	r = tracee_read(t->tid, addr + sizeof(*head), rec->sb.data, head->used);
	return r < 0 ? r : 1;
}

int
rec_syscallbuf_count_held(struct recorder *rec, struct rthread *t)
{
	struct uprr_buf head;
	int r = read_buffer(rec, t, thread_buffer(rec, t), &head);

	return r <= 0 ? r : count_records(rec->sb.data, head.used);
}

int
rec_syscallbuf_flush(struct recorder *rec, struct rthread *t)
{
	uint64_t addr = thread_buffer(rec, t);
	struct trace_blob blobs[3];
	struct trace_event ev;
	struct uprr_buf head;
	uint32_t zero = 0, len;
	int n, r;

	if (addr && t->sb_rerun) {
		/* an event before its notify call (it was killed): live
		 * again, for whichever thread takes its slot */
		uint32_t live = 0;

		t->sb_rerun = false;
		r = tracee_write(t->space->mem.memfd, addr + offsetof(struct uprr_buf, replay), &live,
				 sizeof(live));
		if (r < 0)
			return r;
	}
	if (addr && t->sb_interrupted) {
		/* at its event: its calls are buffered again */
		t->sb_interrupted = false;
		r = tracee_write(t->space->mem.memfd, addr + offsetof(struct uprr_buf, interrupt), &zero,
				 sizeof(zero));
		if (r < 0)
			return r;
	}
	/* an EP run's buffer holds the log's records (record-ep-sb.c) */
	if (rec->ep)
		return rec_ep_sb_flush(rec, t, addr);
	r = read_buffer(rec, t, addr, &head);
	if (r <= 0)
		return r;
	n = count_records(rec->sb.data, head.used);
	if (n < 0)
		return n;
	if (UTIL_GROW(rec->sb.sinks, rec->sb.sinks_cap, (size_t)n) < 0)
		return -ENOMEM;
	rec_event_init(&ev, TRACE_EV_SYSCALLBUF, t->tid);
	ev.nvalues = 2;
	ev.values[0] = (uint64_t)n;
	ev.values[1] = addr;
	blobs[1] = (struct trace_blob){ 0, (uint32_t)(n * sizeof(uint32_t)), rec->sb.sinks };
	ev.nblobs = record_sinks(t, rec->sb.data, head.used, rec->sb.sinks) ? 2 : 1;
	if (ev.nblobs == 2) {
		ssize_t extra = record_extra(rec, t, rec->sb.data, head.used, rec->sb.sinks);

		if (extra < 0)
			return (int)extra;
		blobs[2] = (struct trace_blob){ 0, (uint32_t)extra, rec->sb.extra };
		ev.nblobs = extra ? 3 : 2;
	}
	rec_syscallbuf_maps_seen(rec, t, rec->sb.data, head.used);
	len = rec_syscallbuf_ref_reads(rec, t, rec->sb.data, head.used, rec->sb.sinks);
	len = hash_writes(rec->sb.data, len, rec->sb.sinks);
	if (len != head.used)
		ev.nblobs = MAX(ev.nblobs, 2u);
	blobs[0] = (struct trace_blob){ addr + sizeof(head), len, rec->sb.data };
	ev.blobs = blobs;
	r = trace_writer_add_event(rec->w, &ev);
	if (r < 0) {
		/* as any event that cannot be written (rec_write_event) */
		rec_stop_recording(rec, "cannot write the trace: %s", strerror(-r));
		return r;
	}
	rec->sb.records += (uint64_t)n;
	t->tp_syscalls += (uint64_t)n; /* for a TP run's epochs (record-epoch.c) */
	rec->sb.flushes++;
	return tracee_write(t->space->mem.memfd, addr + offsetof(struct uprr_buf, used), &zero,
			    sizeof(zero));
}

void
rec_syscallbuf_untraced(struct recorder *rec)
{
	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *t = &rec->threads[i];
		struct rec_space *sp = &t->space->mem;

		if (!sp->syscallbuf || sp->syscallbuf_off || !rec_ptrace_find(&rec->ptrace, t->tid))
			continue;
		if (rec_syscallbuf_disable(sp->memfd) == 0)
			sp->syscallbuf_off = true;
	}
}

void
rec_syscallbuf_untracked(struct checkpoint_range *ret)
{
	*ret = (struct checkpoint_range){ UPRR_PRELOAD_BUF_ADDR,
					  UPRR_PRELOAD_NSLOTS * UPRR_PRELOAD_BUF_SIZE };
}

void
rec_syscallbuf_save_head(struct recorder *rec, struct rthread *t)
{
	uint64_t addr = thread_buffer(rec, t);

	t->sb_head_addr = 0;
	if (addr && tracee_read(t->tid, addr, t->sb_head, sizeof(t->sb_head)) == 0)
		t->sb_head_addr = addr;
}

int
rec_syscallbuf_claims(struct recorder *rec, struct rthread *t)
{
	memset(rec->sb.keys, 0, sizeof(rec->sb.keys));
	if (!t->space->mem.syscallbuf)
		return 0;
	return tracee_read_mem(t->space->mem.memfd, UPRR_PRELOAD_CTL_ADDR + offsetof(struct uprr_ctl, keys),
			       rec->sb.keys, sizeof(rec->sb.keys));
}

int
rec_syscallbuf_rolled_heads(struct recorder *rec, struct rthread *t)
{
	uint64_t keys[UPRR_PRELOAD_NSLOTS];
	struct uprr_buf zero = { 0 };
	int memfd = t->space->mem.memfd, r;

	if (!t->space->mem.syscallbuf)
		return 0;
	if (t->sb_head_addr && (r = tracee_write(memfd, t->sb_head_addr, t->sb_head, sizeof(t->sb_head))) < 0)
		return r;
	r = tracee_read_mem(memfd, UPRR_PRELOAD_CTL_ADDR + offsetof(struct uprr_ctl, keys), keys, sizeof(keys));
	if (r < 0)
		return r;
	for (unsigned i = 0; i < UPRR_PRELOAD_NSLOTS; i++)
		if (rec->sb.keys[i] && !keys[i] && (r = tracee_write(memfd, UPRR_PRELOAD_BUF(i), &zero, sizeof(zero))) < 0)
			return r;
	return 0;
}

void
rec_syscallbuf_free(struct recorder *rec)
{
	free(rec->sb.data);
	free(rec->sb.sinks);
	free(rec->sb.extra);
	free(rec->sb.keep);
	free(rec->sb.ref_offs);
	free(rec->sb.ref_check);
	rec->sb.ref_offs = NULL;
	rec->sb.ref_check = NULL;
	rec->sb.data = NULL;
	rec->sb.sinks = NULL;
	rec->sb.extra = NULL;
	rec->sb.keep = NULL;
}
