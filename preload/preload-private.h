/* SPDX-License-Identifier: MIT */
/*
 * What the library's C files share (preload/syscallbuf.c, buffered-fd.c,
 * buffered-wait.c): the kernel's structures they read, the control page,
 * the ways to make a syscall (traced, or through the stub every buffered
 * call goes through), and the entry points of buffered-fd.c and
 * buffered-wait.c. Inside the tracee only, freestanding; the contract with
 * the supervisor is preload/uprr-preload.h.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "preload/uprr-preload.h"

#define HIDDEN __attribute__((visibility("hidden")))

/* What buffered() returns for a call that takes the traced path untouched
 * (never a syscall result) */
#define NOT_BUFFERED (-4096l - 1)

#define barrier() __asm__ __volatile__("" ::: "memory")

/* errno values, without libc's headers */
#define UPRR_EAGAIN 11
#define UPRR_EOPNOTSUPP 95
#define UPRR_EPIPE 32
/* recv(2)/send(2) flags (include/linux/socket.h) */
#define UPRR_MSG_PEEK 0x2
#define UPRR_MSG_DONTWAIT 0x40
#define UPRR_MSG_NOSIGNAL 0x4000
/* preadv2(2)'s RWF_NOWAIT (include/uapi/linux/fs.h, Linux 4.14; pipes
 * honour it since 5.x) */
#define UPRR_RWF_NOWAIT 0x8
/* ioctl(2) FICLONE and FICLONERANGE (include/uapi/linux/fs.h: _IOW(0x94,
 * 9, int) and _IOW(0x94, 13, struct file_clone_range)) */
#define UPRR_FICLONE 0x40049409u
#define UPRR_FICLONERANGE 0x4020940du
#define UPRR_IOCTL_CLONE(req) ((uint32_t)(req) == UPRR_FICLONE || (uint32_t)(req) == UPRR_FICLONERANGE)
/* st_mode's file types (include/uapi/linux/stat.h) and its offset in
 * x86-64's struct stat (arch/x86/include/uapi/asm/stat.h) */
#define K_S_IFMT 0170000
#define K_S_IFIFO 0010000
#define K_S_IFCHR 0020000
#define K_S_IFDIR 0040000
#define K_S_IFREG 0100000
#define K_S_IFSOCK 0140000
#define K_STAT_MODE_OFF 24
/* st_rdev's offset there, and /dev/null's device number as fstat(2) gives
 * it (mem(4): character device 1:3; fs/stat.c's cp_new_stat() encodes it
 * with new_encode_dev(): minor | major << 8 here) */
#define K_STAT_RDEV_OFF 40
#define K_DEV_NULL 0x103
/* The most iovecs of a buffered writev, readv, preadv, sendmsg or recvmsg */
#define UPRR_IOV_MAX 64

/* Records are 8-byte aligned. */
static inline uint32_t
align8(uint64_t n)
{
	return (uint32_t)((n + 7) & ~7ull);
}

struct kiovec {
	const void *base;
	uint64_t len;
};

/* struct msghdr (x86-64, include/linux/socket.h's user_msghdr) */
struct kmsghdr {
	void *name;
	int32_t namelen;
	int32_t pad;
	struct kiovec *iov;
	uint64_t iovlen;
	void *control;
	uint64_t controllen;
	int32_t flags;
	int32_t pad2;
};

void *memcpy(void *dst, const void *src, size_t n) HIDDEN;
void *memset(void *dst, int c, size_t n) HIDDEN;

static inline struct uprr_ctl *
ctl(void)
{
	return (struct uprr_ctl *)UPRR_PRELOAD_CTL_ADDR;
}

/* A syscall the supervisor traces: an ordinary recorded syscall. */
long uprr_traced(long nr, long a0, long a1, long a2, long a3, long a4, long a5) HIDDEN;

/* The call through the stub (entry.S) for @buf's thread: the kernel's
 * result in recording, *@retp (the recorded one) in replay (ctl.replay) and
 * in a re-run after a rollback (@buf's own replay flag). Built without a
 * red zone: the call pushes below the stack pointer. */
static inline long
stub_in(struct uprr_buf *buf, long nr, long a0, long a1, long a2, long a3, long a4, long a5,
	int64_t *retp)
{
	register long r10 __asm__("r10") = a3;
	register long r8 __asm__("r8") = a4;
	register long r9 __asm__("r9") = a5;
	register int64_t *r12 __asm__("r12") = retp;
	register struct uprr_buf *r13 __asm__("r13") = buf;
	long ret;

	__asm__ __volatile__("call uprr_stub"
			     : "=a"(ret)
			     : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9), "r"(r12),
			       "r"(r13)
			     : "rcx", "r11", "memory");
	return ret;
}

/* stub_in() for the thread's buffer @buf in scope (every buffered call has it) */
#define stub(...) stub_in(buf, __VA_ARGS__)

/* *@p = @v in recording; in replay and in a re-run after a rollback
 * (@buf's own replay flag) *@p keeps what the trace has there: a field
 * the kernel reads and then overwrites with its output (accept4's address
 * length, recvmsg's msg_namelen), or what the library learnt in recording
 * only (a write's probe). No branch: a cmov on ctl.replay | buf->replay
 * (the PMU counts branches, and the library's must be the same in both). */
static inline void
recording_only(const struct uprr_buf *buf, uint64_t *p, uint64_t v)
{
	uint64_t cur = *p;
	uint32_t replay = ctl()->replay | buf->replay;

	__asm__("testl %[replay], %[replay]\n\tcmove %[v], %[cur]"
		: [cur] "+r"(cur)
		: [v] "r"(v), [replay] "r"(replay)
		: "cc");
	*p = cur;
}

/* recording_only() of 32 bits */
static inline void
recording_only32(const struct uprr_buf *buf, uint32_t *p, uint32_t v)
{
	uint64_t cur = *p;

	recording_only(buf, &cur, v);
	*p = (uint32_t)cur;
}

/* Add record @rec of call @nr to @buf, its result @ret and size @size
 * (its bytes written already): @fd (-1: none) is the fd a write or send
 * sent bytes to (uprr_fd_commit()); a re-run after a rollback that consumed
 * its last record goes live there and tells the recorder (syscallbuf.c).
 * Returns @ret. */
long uprr_commit(struct uprr_buf *buf, struct uprr_rec *rec, long nr, long fd, long ret, uint32_t size)
	HIDDEN;

/* buffered-fd.c, called from buffered() in syscallbuf.c: */
/* The most bytes of data a record of call @nr (@a) needs, or UINT64_MAX
 * if it takes the traced path untouched. */
uint64_t uprr_fd_data_max(struct uprr_buf *buf, long nr, const long a[6]) HIDDEN;
/* Make call @nr in record @rec (its header filled, @size bytes at most),
 * add the record to @buf, and return the call's result; or NOT_BUFFERED
 * after the record of an attempt that could not finish it (it would wait),
 * for uprr_syscall() to make the program's call traced. That call is made
 * there, in the frame where a thread that meets the buffer's end marker
 * makes it: an EP run, whose buffer holds no attempt (the marker instead,
 * record-ep-sb.c), stands in it with the same stack pointer and stack as
 * the TP run at an epoch's end (fifo_open's blocked openat: "rsp
 * 0x7fffffffdf58 in A, 0x7fffffffdfe8 in B", 0x90 apart, from here). */
long uprr_fd_call(struct uprr_buf *buf, struct uprr_rec *rec, long nr, const long a[6], uint32_t size)
	HIDDEN;
/* Right before a record of call @nr on fd @fd with result @ret is added to
 * @buf: the batch's first clears buf->fds_written, a write that sent bytes
 * marks its fd (not a plain write to a regular file, UPRR_WRITE_PLAIN():
 * the recorder finds its sinks from the record, whatever the fd is then). */
void uprr_fd_commit(struct uprr_buf *buf, long nr, long fd, long ret) HIDDEN;

/* Write @len bytes at @base to fd @fd at offset @off (-1: the file
 * position) without waiting: a pwritev2 with RWF_NOWAIT; if the file
 * refuses it (EOPNOTSUPP: ext4, tmpfs) and is a regular file of a local
 * file system, a plain pwritev2 there. Fills the record's probe at
 * @probe_at; returns the result (rec->ret's, in replay, for the plain one). */
long uprr_fd_write(struct uprr_buf *buf, struct uprr_rec *rec, long fd, const void *base, uint64_t len, long off,
		   void *probe_at) HIDDEN;
/*
 * The calls that may wait (preload/buffered-wait.c): poll, ppoll, select,
 * pselect6, recvmsg, futex. uprr_wait_size() puts in *ret_data_max the
 * most bytes of data the call's record needs and in *ret_wake whether it
 * is a futex wake (buffered only while uprr_buf.wakes is set); returns
 * -1 if the arguments keep it on the traced path. uprr_wait_call() makes
 * the attempt that never waits, through @buf's stub, with its record's
 * data at @data (@data_max bytes), copies the results out to the program,
 * puts the record's size in *ret_size and returns the call's result;
 * *ret_wait set: the program would wait, and the traced call (its own
 * arguments) must follow the record.
 */
int uprr_wait_size(long nr, const long a[6], uint64_t *ret_data_max, uint32_t *ret_wake) HIDDEN;
long uprr_wait_call(struct uprr_buf *buf, long nr, const long a[6], struct uprr_rec *rec,
		    unsigned char *data, uint64_t data_max, uint32_t *ret_size, int *ret_wait) HIDDEN;

/*
 * The calls that change mappings (preload/buffered-maps.c): mmap of private
 * anonymous memory, munmap, madvise (UPRR_BUFFERED_MAPS), only while
 * buf->maps is set (buffered() checks it with the full buffer, in one
 * branch). uprr_maps_ok() says whether the arguments allow it;
 * uprr_maps_call() makes the call in recording and in replay alike (at the
 * recorded address, in replay), adds its record and returns the result.
 */
int uprr_maps_ok(long nr, const long a[6]) HIDDEN;
long uprr_maps_call(struct uprr_buf *buf, struct uprr_rec *rec, long nr, const long a[6], uint32_t size) HIDDEN;
