/* SPDX-License-Identifier: MIT */
/*
 * Buffered reads of package-managed files kept by reference (trace format
 * 13, TRACE_SB_REF): at the flush, a read, readv or pread64 record whose
 * bytes came from a regular file the trace may keep by a hard link (root's,
 * writable by no one else, under /usr, /lib, /bin, /sbin: the rule of
 * mapped files) keeps the file's id, the offset and the XXH3-128 of the
 * bytes instead of the bytes. Replay reads them again from the kept file
 * and checks the hash. See doc/syscall-buffer.md, "Reads kept by reference".
 */
#define LOG_PREFIX "syscallbuf"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "preload/uprr-preload.h"
#include "recorder/record-private.h"
#include "trace/trace.h"

/* The least bytes a read keeps by reference (uprr-preload.h): the library
 * makes the close of its fd traced, so the fd is open at the flush. */
#define REF_MIN UPRR_READ_REF_MIN

/* Distinct fds of one flush whose reads are looked at; reads of others keep
 * their bytes. */
#define REF_FDS 8

/* What a record does to fd @fd's position and identity. */
enum ref_effect {
	REF_NONE,  /* neither */
	REF_MOVE,  /* moves it by the record's result (read, readv) */
	REF_LOST,  /* moves it in a way the record does not tell */
	REF_GONE,  /* fd @fd refers to another file after it (or before it) */
};

struct ref_fd {
	int fd;
	bool looked, ok;     /* looked at; a file kept by a link */
	bool need_pos;	     /* a read or readv of it has no position yet */
	uint32_t id;	     /* its file id */
	uint64_t size;	     /* its size at the flush */
	int file;	     /* the file, opened by uprr; -1: not */
};

static enum ref_effect
effect(const struct uprr_rec *r, int fd)
{
	long a0 = (long)(int)r->args[0];

	/* calls that make fd numbers: one that made @fd shows it was free */
	if ((r->nr == __NR_openat || r->nr == __NR_accept4 ||
	     (r->nr == __NR_fcntl && r->ret >= 0 && a0 != fd)) && r->ret == fd)
		return REF_GONE;
	/* (one that copied nothing, cp's EXDEV, moved nothing) */
	if (r->nr == __NR_copy_file_range)
		return r->ret > 0 && (a0 == fd || (int)r->args[2] == fd) ? REF_LOST : REF_NONE;
	if (r->nr == __NR_sendfile)
		return r->ret > 0 && (a0 == fd || (int)r->args[1] == fd) ? REF_LOST : REF_NONE;
	if (a0 != fd)
		return REF_NONE;
	switch (r->nr) {
	case __NR_read:
	case __NR_readv:
		return REF_MOVE;
	case __NR_close:
		return REF_GONE;
	case __NR_preadv:
		/* the library makes it as preadv2, where -1 is the position */
		return (int64_t)r->args[3] == -1 ? REF_LOST : REF_NONE;
	case __NR_write:
	case __NR_writev:
	case __NR_lseek:
	case __NR_getdents64:
		return REF_LOST;
	default:
		/* the other buffered calls (UPRR_BUFFERED()) move no file
		 * position: those of a regular file's fd (pread64, pwrite64,
		 * fstat, fcntl, fadvise64, ioctl FICLONE, fchmod, fchown),
		 * socket calls (which fail on one) and calls whose first
		 * argument is no fd. A buffered call that moves one goes
		 * above. */
		return REF_NONE;
	}
}

/* Whether record @r may keep its bytes by reference, before its file is
 * looked at: a read, readv or pread64 of REF_MIN bytes or more that holds
 * just them (its sink 0). */
static bool
candidate(const struct uprr_rec *r, uint32_t sink)
{
	if (sink || r->ret < REF_MIN || r->ret > UPRR_PRELOAD_REC_ROOM)
		return false;
	if (r->nr != __NR_read && r->nr != __NR_readv && r->nr != __NR_pread64)
		return false;
	if (r->nr == __NR_pread64 && (int64_t)r->args[3] < 0)
		return false;
	return r->size == sizeof(*r) + ((uint64_t)r->ret + 7) / 8 * 8;
}

/* fd @fd's file position in thread @tid now (tracee_fdinfo()), or -1. */
static int64_t
fd_pos(pid_t tid, int fd)
{
	int64_t pos;

	return tracee_fdinfo(tid, fd, &pos, NULL) < 0 ? -1 : pos;
}

/* Look at fd @f->fd of @t: keep its file by a link if it is a
 * package-managed regular file (rec_fd_is_system_file()). */
static void
look(struct recorder *rec, const struct rthread *t, struct ref_fd *f)
{
	struct rec_fd_look l;
	int file, r;

	f->looked = true;
	rec_fd_look(t->tid, f->fd, &l);
	if (!l.st_ok || !S_ISREG(l.st.st_mode) || !rec_fd_is_system_file(&l))
		return;
	file = open(l.path, O_RDONLY | O_CLOEXEC);
	if (file < 0)
		return;
	r = trace_writer_keep_file(rec->w, file, l.target, TRACE_KEEP_LINK_ONLY, &f->id);
	if (r < 0) {
		log_debug("reads of %s keep their bytes: %s", l.target, strerror(-r));
		close(file);
		return;
	}
	f->ok = true;
	f->file = file;
	f->size = (uint64_t)l.st.st_size;
}

/* Whether the @len bytes at @bytes are those of @f's file at @offset: the
 * offset found from the records may be wrong where another fd shares the
 * open file (dup, fork: a read through it moves the position too, which
 * the records of @fd do not show) or another process read from it. A read
 * from the page cache and a compare: 20-40 ms of a recording of cp -r
 * /usr/include (91 MB) when made for every read, so only for offsets that
 * are not sure. */
static bool
same_bytes(struct recorder *rec, const struct ref_fd *f, const uint8_t *bytes, uint32_t len, uint64_t offset)
{
	size_t got = 0;
	ssize_t n;

	if (UTIL_GROW(rec->sb.ref_check, rec->sb.ref_check_cap, len) < 0)
		return false;
	while (got < len) {
		n = pread(f->file, rec->sb.ref_check + got, len - got, (off_t)(offset + got));
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return memcmp(rec->sb.ref_check, bytes, len) == 0;
}

static struct ref_fd *
find_fd(struct ref_fd *fds, size_t n, int fd)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i].fd == fd)
			return &fds[i];
	return NULL;
}

uint32_t
rec_syscallbuf_ref_reads(struct recorder *rec, const struct rthread *t, uint8_t *recs, uint32_t len,
			 uint32_t *sinks)
{
	struct ref_fd fds[REF_FDS];
	size_t nfds = 0, nrecs = 0, ncand = 0;
	uint32_t in, out;

	/* the candidates and their fds */
	for (uint32_t off = 0; off < len; nrecs++) {
		const struct uprr_rec *r = (const void *)(recs + off);
		int fd = (int)r->args[0];
		struct ref_fd *f;

		off += r->size;
		if (!candidate(r, sinks[nrecs]))
			continue;
		ncand++;
		f = find_fd(fds, nfds, fd);
		if (!f && nfds < REF_FDS) {
			f = &fds[nfds++];
			*f = (struct ref_fd){ .fd = fd, .file = -1 };
		}
	}
	if (!ncand)
		return len;
	if (UTIL_GROW(rec->sb.ref_offs, rec->sb.ref_offs_cap, nrecs * 3) < 0)
		return len;
	/* [3k] where record k starts, [3k + 1] its offset in its file + 1 (0:
	 * its bytes stay), [3k + 2] 1 if that offset is sure (below) */
	{
		uint64_t *o = rec->sb.ref_offs;
		uint32_t off = 0;

		for (size_t k = 0; k < nrecs; k++) {
			o[3 * k] = off;
			o[3 * k + 1] = 0;
			o[3 * k + 2] = 0;
			off += ((const struct uprr_rec *)(recs + off))->size;
		}
	}
	/* Per fd, forward: its position is known after a record that made
	 * the fd (openat, accept4: 0) and after an lseek (its result); each
	 * read starts there and moves it by what it read. An open file made
	 * in this batch and not dup'ed in it (fresh) is this fd's alone: no
	 * other fd or process moved its position, and its reads' offsets are
	 * sure; the others' are compared with the file (same_bytes()). */
	for (size_t i = 0; i < nfds; i++) {
		struct ref_fd *f = &fds[i];
		int64_t pos = -1;
		bool fresh = false;

		for (size_t k = 0; k < nrecs; k++) {
			const struct uprr_rec *r = (const void *)(recs + rec->sb.ref_offs[3 * k]);
			enum ref_effect e = effect(r, f->fd);

			if (e == REF_GONE) {
				pos = r->nr == __NR_close || r->ret != f->fd || r->nr == __NR_fcntl ? -1 : 0;
				fresh = pos == 0;
				continue;
			}
			/* F_DUPFD, F_DUPFD_CLOEXEC: another fd shares it */
			if (r->nr == __NR_fcntl && (int)r->args[0] == f->fd &&
			    ((int)r->args[1] == F_DUPFD || (int)r->args[1] == F_DUPFD_CLOEXEC))
				fresh = false;
			if (r->nr == __NR_lseek && (int)r->args[0] == f->fd) {
				pos = r->ret >= 0 ? r->ret : pos;
				continue;
			}
			if (e == REF_LOST) {
				pos = -1;
				continue;
			}
			if (candidate(r, sinks[k]) && (int)r->args[0] == f->fd)
				rec->sb.ref_offs[3 * k + 2] = fresh && (pos >= 0 || r->nr == __NR_pread64);
			if (candidate(r, sinks[k]) && (int)r->args[0] == f->fd && r->nr != __NR_pread64 && pos >= 0)
				rec->sb.ref_offs[3 * k + 1] = (uint64_t)pos + 1;
			else if (candidate(r, sinks[k]) && (int)r->args[0] == f->fd && r->nr != __NR_pread64)
				f->need_pos = true;
			if (e == REF_MOVE && pos >= 0 && r->ret > 0)
				pos += r->ret;
		}
	}
	/* Per fd, from the last record back: its position now (fdinfo),
	 * before each read the position after it less what it read, for the
	 * reads the forward walk left; a record that moves it otherwise ends
	 * that. A read followed by a record that closes or makes the fd keeps
	 * its bytes: the fd names another file at the flush. No other thread
	 * ran since the first record: the supervisor flushes a thread's buffer
	 * at each of its events, before another one runs. */
	for (size_t i = 0; i < nfds; i++) {
		struct ref_fd *f = &fds[i];
		int64_t pos = f->need_pos ? fd_pos(t->tid, f->fd) : -1;
		bool pos_ok = pos >= 0, same = true;

		for (size_t k = nrecs; k-- > 0;) {
			const struct uprr_rec *r = (const void *)(recs + rec->sb.ref_offs[3 * k]);
			enum ref_effect e = effect(r, f->fd);

			if (e == REF_GONE)
				same = false;
			if (e == REF_LOST || e == REF_GONE) {
				pos_ok = false;
				continue;
			}
			if (e == REF_MOVE && pos_ok && r->ret > 0) {
				pos -= r->ret;
				pos_ok = pos >= 0;
			}
			if (!candidate(r, sinks[k]) || (int)r->args[0] != f->fd)
				continue;
			if (!same) {
				rec->sb.ref_offs[3 * k + 1] = 0;
				continue;
			}
			if (r->nr == __NR_pread64)
				rec->sb.ref_offs[3 * k + 1] = r->args[3] + 1;
			else if (!rec->sb.ref_offs[3 * k + 1] && pos_ok)
				rec->sb.ref_offs[3 * k + 1] = (uint64_t)pos + 1;
			if (!rec->sb.ref_offs[3 * k + 1])
				continue;
			if (!f->looked)
				look(rec, t, f);
			/* bytes past the file's end now: it shrank since */
			if (!f->ok || rec->sb.ref_offs[3 * k + 1] - 1 + (uint64_t)r->ret > f->size)
				rec->sb.ref_offs[3 * k + 1] = 0;
		}
	}
	/* the records, those kept by reference shorter, moved down */
	in = out = 0;
	for (size_t k = 0; k < nrecs; k++) {
		struct uprr_rec *r = (void *)(recs + in);
		uint32_t size = r->size;
		struct ref_fd *f = find_fd(fds, nfds, (int)r->args[0]);

		if (rec->sb.ref_offs[3 * k + 1] && f &&
		    (rec->sb.ref_offs[3 * k + 2] ||
		     same_bytes(rec, f, recs + in + sizeof(*r), (uint32_t)r->ret, rec->sb.ref_offs[3 * k + 1] - 1))) {
			struct trace_sb_ref ref = { .len = (uint32_t)r->ret, .file = f->id,
						    .offset = rec->sb.ref_offs[3 * k + 1] - 1 };

			trace_hash128(recs + in + sizeof(*r), ref.len, ref.hash);
			memcpy(ref.last, recs + in + size - sizeof(ref.last), sizeof(ref.last));
			memmove(recs + out, recs + in, sizeof(*r));
			r = (void *)(recs + out);
			r->size = (uint32_t)(sizeof(*r) + sizeof(ref));
			memcpy(recs + out + sizeof(*r), &ref, sizeof(ref));
			sinks[k] |= TRACE_SB_REF;
			rec->sb.ref_reads++;
			rec->sb.ref_bytes += ref.len;
			out += r->size;
		} else {
			if (out != in)
				memmove(recs + out, recs + in, size);
			out += size;
		}
		in += size;
	}
	for (size_t i = 0; i < nfds; i++)
		if (fds[i].file >= 0)
			close(fds[i].file);
	return out;
}
