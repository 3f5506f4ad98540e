/* SPDX-License-Identifier: MIT */
/*
 * The syscall buffer's contract (preload/uprr-preload.h) with the real
 * preload image: its fixed offsets, and in a child under uprr's own seccomp
 * filter (no tracer: a traced syscall fails with ENOSYS, seccomp(2)) that
 * maps the image as the supervisor does, the buffer's records as the
 * library writes them, the untraced instruction allowed by address, a full
 * buffer, a locked one, an interrupted one, and replay mode (recorded
 * results, the end marker).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "preload/uprr-preload.h"
#include "recorder/recorder.h"

typedef long (*entry_fn)(long, long, long, long, long, long, long);

Test(syscallbuf, image_layout)
{
	uint32_t ctl_replay = (uint32_t)(UPRR_PRELOAD_CTL_ADDR + offsetof(struct uprr_ctl, replay));

	cr_assert_leq(rec_preload_image_len, UPRR_PRELOAD_CODE_SIZE);
	cr_assert(rec_preload_image[UPRR_PRELOAD_ENTRY_SYSCALL] == 0xe9 ||
		  rec_preload_image[UPRR_PRELOAD_ENTRY_SYSCALL] == 0xeb, "the entry is a jmp");
	cr_assert(rec_preload_image[UPRR_PRELOAD_ENTRY_SYSCALL_ABI] == 0xe9 ||
		  rec_preload_image[UPRR_PRELOAD_ENTRY_SYSCALL_ABI] == 0xeb, "the ABI entry is a jmp");
	cr_assert_eq(rec_preload_image[UPRR_PRELOAD_UNTRACED_OFF], 0x0f);
	cr_assert_eq(rec_preload_image[UPRR_PRELOAD_UNTRACED_OFF + 1], 0x05, "syscall at the untraced offset");
	/* the stub reads ctl.replay at its absolute address: mov disp32, %ecx */
	cr_assert_eq(memcmp(rec_preload_image + 0x50 + 3, &ctl_replay, 4), 0,
		     "the stub reads ctl.replay where the header puts it");
	cr_assert_eq(offsetof(struct uprr_ctl, replay), 8);
	cr_assert_eq(sizeof(struct uprr_rec), 64);
}

static int g_report = -1;

/* The child runs where every syscall but the library's fails: no sanitizer
 * runtime may need one there (ASan's fake stacks are mmap'd on demand). */
#define NO_SANITIZE __attribute__((no_sanitize("address", "undefined")))

/* Under the filter even exit_group(2) fails: the child tells its result
 * through the library's buffered write (untraced) and waits to be killed. */
static void NO_SANITIZE __attribute__((noreturn))
report(unsigned char code)
{
	entry_fn sys = (entry_fn)(UPRR_PRELOAD_ADDR + UPRR_PRELOAD_ENTRY_SYSCALL);
	struct uprr_ctl *ctl = (struct uprr_ctl *)UPRR_PRELOAD_CTL_ADDR;
	struct uprr_buf *buf = (struct uprr_buf *)UPRR_PRELOAD_BUF(0);

	if (g_report < 0)
		_exit(code); /* the filter is not installed yet */
	ctl->replay = 0;
	buf->used = 0;
	buf->locked = 0;
	buf->interrupt = 0;
	sys(__NR_write, g_report, (long)&code, 1, 0, 0, 0);
	for (;;)
		;
}

#define CHECK(cond, code)            \
	do {                         \
		if (!(cond))         \
			report(code); \
	} while (0)

static NO_SANITIZE struct uprr_rec *
record(unsigned slot, uint32_t off)
{
	return (struct uprr_rec *)(UPRR_PRELOAD_BUF(slot) + sizeof(struct uprr_buf) + off);
}

/* What a write record holds after its bytes (struct uprr_write_probe of
 * preload/uprr-preload.h): the RWF_NOWAIT attempt's result, fstat's,
 * fstatfs's, then st_mode and f_type, st_dev, st_ino */
#define WRITE_PROBE UPRR_WRITE_PROBE_SIZE

static int64_t *
probe(struct uprr_rec *r, uint32_t data)
{
	return (int64_t *)((char *)(r + 1) + data);
}

/*
 * long scrub_probe(entry_fn f, long nr): calls f(nr) (the library's C
 * entry) with the stack pointer S 16-aligned and a5 at S, then counts the
 * nonzero quadwords in [S - 8 - UPRR_PRELOAD_STACK_SCRUB - 8, S - 8): the
 * stack the library's frames of that call used, under the slot of the
 * call's return address (preload/entry.S, SCRUB_STACK: the pushed flags'
 * slot too). Reads under its own stack pointer: no signal comes here.
 */
long scrub_probe(entry_fn f, long nr);
#define SCRUB_STR(x) #x
#define SCRUB_XSTR(x) SCRUB_STR(x)
__asm__(".text\n"
	".globl scrub_probe\n"
	".type scrub_probe, @function\n"
	"scrub_probe:\n"
	"\tpush %rbx\n"
	"\tpush %r12\n"
	"\tsub $8, %rsp\n"
	"\tmovq $0, (%rsp)\n"
	"\tmov %rdi, %rax\n"
	"\tmov %rsi, %rdi\n"
	"\txor %esi, %esi\n"
	"\txor %edx, %edx\n"
	"\txor %ecx, %ecx\n"
	"\txor %r8d, %r8d\n"
	"\txor %r9d, %r9d\n"
	"\tmov %rsp, %rbx\n"
	"\tcall *%rax\n"
	"\tlea -(16 + " SCRUB_XSTR(UPRR_PRELOAD_STACK_SCRUB) ")(%rbx), %rdi\n"
	"\tlea -8(%rbx), %rsi\n"
	"\txor %eax, %eax\n"
	"1:\tcmpq $0, (%rdi)\n"
	"\tje 2f\n"
	"\tinc %rax\n"
	"2:\tadd $8, %rdi\n"
	"\tcmp %rsi, %rdi\n"
	"\tjb 1b\n"
	"\tadd $8, %rsp\n"
	"\tpop %r12\n"
	"\tpop %rbx\n"
	"\tret\n"
	".size scrub_probe, .-scrub_probe\n");

static char g_fifo[64];
static char g_wfile[64];
static int g_mem = -1;
static int g_listen = -1;

static void NO_SANITIZE
child(int rep)
{
	const struct sock_fprog *prog = rec_seccomp_filter();
	struct uprr_ctl *ctl = (struct uprr_ctl *)UPRR_PRELOAD_CTL_ADDR;
	struct uprr_buf *buf = (struct uprr_buf *)UPRR_PRELOAD_BUF(0);
	entry_fn sys = (entry_fn)(UPRR_PRELOAD_ADDR + UPRR_PRELOAD_ENTRY_SYSCALL);
	long pid = syscall(__NR_getpid), tid = syscall(__NR_gettid), n;
	uint64_t fs;
	int fds[2], sv[2], ep;
	struct epoll_event evs[4], eev = { .events = EPOLLIN, .data.u64 = 0x1122334455667788ull };
	char got[16];
	struct uprr_rec *r;

	CHECK(pipe(fds) == 0, 2);
	snprintf(g_fifo, sizeof(g_fifo), "/tmp/uprr-unit-fifo-%ld", (long)pid);
	CHECK(mkfifo(g_fifo, 0600) == 0, 2);
	snprintf(g_wfile, sizeof(g_wfile), "/tmp/uprr-unit-write-%ld", (long)pid);
	g_mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	CHECK(g_mem >= 0, 2);
	g_listen = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	{
		/* an abstract address of the kernel's choice (unix(7), autobind) */
		sa_family_t fam = AF_UNIX;

		CHECK(g_listen >= 0 && bind(g_listen, (struct sockaddr *)&fam, sizeof(fam)) == 0 &&
		      listen(g_listen, 1) == 0, 2);
	}
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, 2);
	ep = epoll_create1(0);
	CHECK(ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &eev) == 0, 2);
	CHECK(mmap((void *)UPRR_PRELOAD_ADDR, UPRR_PRELOAD_MAP_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == (void *)UPRR_PRELOAD_ADDR, 3);
	memcpy((void *)UPRR_PRELOAD_ADDR, rec_preload_image, rec_preload_image_len);
	CHECK(mprotect((void *)UPRR_PRELOAD_ADDR, UPRR_PRELOAD_CODE_SIZE, PROT_READ | PROT_EXEC) == 0, 4);
	*ctl = (struct uprr_ctl){ .magic = UPRR_PRELOAD_MAGIC, .version = UPRR_PRELOAD_VERSION,
				  .flags = UPRR_CTL_FSGSBASE };
	__asm__ __volatile__("rdfsbase %0" : "=r"(fs));
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, 5);
	CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog) == 0, 6);
	g_report = rep;

	/* from here every syscall but the library's untraced one fails */
	CHECK(syscall(__NR_getppid) == -1 && errno == ENOSYS, 7);
	CHECK(sys(__NR_getpid, 0, 0, 0, 0, 0, 0) == pid, 8);
	CHECK(ctl->keys[0] == fs && buf->used == sizeof(struct uprr_rec), 9);
	r = record(0, 0);
	CHECK(r->nr == __NR_getpid && r->ret == pid && r->size == sizeof(*r), 10);
	/* not buffered: the traced path */
	CHECK(sys(__NR_getppid, 0, 0, 0, 0, 0, 0) == -ENOSYS, 11);
	/* write and read through a pipe: the bytes in the records */
	CHECK(sys(__NR_write, fds[1], (long)"abc", 3, 0, 0, 0) == 3, 12);
	r = record(0, sizeof(*r));
	CHECK(r->nr == __NR_write && r->ret == 3 && r->size == sizeof(*r) + 8 + WRITE_PROBE &&
	      memcmp(r + 1, "abc", 3) == 0 && r->args[2] == 3, 13);
	/* a pipe takes RWF_NOWAIT: no fstat, no fstatfs (1: not made) */
	CHECK(probe(r, 8)[0] == 3 && probe(r, 8)[1] == 1 && probe(r, 8)[2] == 1, 90);
	CHECK(sys(__NR_read, fds[0], (long)got, sizeof(got), 0, 0, 0) == 3 && memcmp(got, "abc", 3) == 0, 14);
	r = record(0, 2 * sizeof(*r) + 8 + WRITE_PROBE);
	CHECK(r->nr == __NR_read && r->ret == 3 && r->size == sizeof(*r) + 8 && memcmp(r + 1, "abc", 3) == 0, 15);
	/* an empty pipe: the attempt is a record, the read goes traced */
	CHECK(sys(__NR_read, fds[0], (long)got, sizeof(got), 0, 0, 0) == -ENOSYS, 16);
	r = record(0, 3 * sizeof(*r) + 16 + WRITE_PROBE);
	CHECK(r->nr == __NR_read && r->ret == -EAGAIN && r->size == sizeof(*r), 17);
	/* send and recv on a socket pair: the bytes in the records, the
	 * program's flags in the arguments */
	n = buf->used;
	CHECK(sys(__NR_sendto, sv[0], (long)"hello", 5, MSG_NOSIGNAL, 0, 0) == 5, 27);
	r = record(0, (uint32_t)n);
	CHECK(r->nr == __NR_sendto && r->ret == 5 && r->size == sizeof(*r) + 8 &&
	      r->args[3] == MSG_NOSIGNAL && memcmp(r + 1, "hello", 5) == 0, 28);
	CHECK(sys(__NR_recvfrom, sv[1], (long)got, 2, MSG_PEEK, 0, 0) == 2 && memcmp(got, "he", 2) == 0, 29);
	CHECK(sys(__NR_recvfrom, sv[1], (long)got, sizeof(got), 0, 0, 0) == 5 &&
	      memcmp(got, "hello", 5) == 0, 30);
	r = record(0, (uint32_t)n + 2 * sizeof(*r) + 16);
	CHECK(r->nr == __NR_recvfrom && r->ret == 5 && r->size == sizeof(*r) + 8 && r->args[3] == 0 &&
	      memcmp(r + 1, "hello", 5) == 0, 31);
	/* nothing to receive: the attempt is a record, the recv goes traced,
	 * unless the program asked not to wait */
	CHECK(sys(__NR_recvfrom, sv[1], (long)got, sizeof(got), 0, 0, 0) == -ENOSYS, 32);
	r = record(0, (uint32_t)n + 3 * sizeof(*r) + 24);
	CHECK(r->nr == __NR_recvfrom && r->ret == -EAGAIN && r->size == sizeof(*r), 33);
	CHECK(sys(__NR_recvfrom, sv[1], (long)got, sizeof(got), MSG_DONTWAIT, 0, 0) == -EAGAIN, 34);
	/* with an address, or MSG_WAITALL: traced, nothing recorded */
	n = buf->used;
	CHECK(sys(__NR_recvfrom, sv[1], (long)got, sizeof(got), MSG_WAITALL, 0, 0) == -ENOSYS &&
	      buf->used == n, 35);
	CHECK(sys(__NR_sendto, sv[0], (long)"x", 1, 0, (long)got, 2) == -ENOSYS && buf->used == n, 36);
	/* epoll_wait: an attempt with timeout 0; the events in the record */
	n = buf->used;
	CHECK(sys(__NR_epoll_wait, ep, (long)evs, 4, 0, 0, 0) == 0 && buf->used == n + sizeof(*r), 40);
	CHECK(sys(__NR_sendto, sv[0], (long)"z", 1, 0, 0, 0) == 1, 41);
	n = buf->used;
	CHECK(sys(__NR_epoll_wait, ep, (long)evs, 4, -1, 0, 0) == 1 && evs[0].data.u64 == eev.data.u64, 42);
	r = record(0, (uint32_t)n);
	CHECK(r->nr == __NR_epoll_wait && r->ret == 1 && r->size == sizeof(*r) + 16 && (int)r->args[3] == -1 &&
	      memcmp(r + 1, evs, 12) == 0, 43);
	CHECK(sys(__NR_recvfrom, sv[1], (long)got, sizeof(got), 0, 0, 0) == 1, 44);
	/* nothing ready and a timeout: the attempt, then the traced wait */
	n = buf->used;
	CHECK(sys(__NR_epoll_pwait, ep, (long)evs, 4, 100, 0, 8) == -ENOSYS && buf->used == n + sizeof(*r), 45);
	CHECK(record(0, (uint32_t)n)->ret == 0, 46);
	/* a signal mask: traced, nothing recorded */
	n = buf->used;
	CHECK(sys(__NR_epoll_pwait, ep, (long)evs, 4, 0, (long)&eev, 8) == -ENOSYS && buf->used == n, 47);
	/* writev: the iovecs' bytes one after the other in the record */
	{
		struct iovec v[3] = { { "ab", 2 }, { "", 0 }, { "cde", 3 } };

		n = buf->used;
		CHECK(sys(__NR_writev, sv[0], (long)v, 3, 0, 0, 0) == 5, 48);
		r = record(0, (uint32_t)n);
		CHECK(r->nr == __NR_writev && r->ret == 5 && r->size == sizeof(*r) + 8 + WRITE_PROBE &&
		      memcmp(r + 1, "abcde", 5) == 0, 49);
		CHECK(sys(__NR_recvfrom, sv[1], (long)got, sizeof(got), 0, 0, 0) == 5 &&
		      memcmp(got, "abcde", 5) == 0, 50);
		/* sendmsg without an address or control data: the same */
		{
			struct msghdr mh = { .msg_iov = v, .msg_iovlen = 3 };

			n = buf->used;
			CHECK(sys(__NR_sendmsg, sv[0], (long)&mh, MSG_NOSIGNAL, 0, 0, 0) == 5, 57);
			r = record(0, (uint32_t)n);
			CHECK(r->nr == __NR_sendmsg && r->ret == 5 && r->size == sizeof(*r) + 8 &&
			      memcmp(r + 1, "abcde", 5) == 0, 58);
			CHECK(sys(__NR_recvfrom, sv[1], (long)got, sizeof(got), 0, 0, 0) == 5, 59);
			/* control data: traced */
			mh.msg_control = got;
			mh.msg_controllen = sizeof(got);
			n = buf->used;
			CHECK(sys(__NR_sendmsg, sv[0], (long)&mh, 0, 0, 0, 0) == -ENOSYS && buf->used == n, 60);
		}
		/* more iovecs than the library takes: traced */
		n = buf->used;
		CHECK(sys(__NR_writev, sv[0], (long)v, 1000, 0, 0, 0) == -ENOSYS && buf->used == n, 51);
	}
	/* ioctl FIONREAD: the int in the record; another ioctl is traced */
	{
		int avail = -1;

		CHECK(sys(__NR_sendto, sv[0], (long)"xyz", 3, 0, 0, 0) == 3, 52);
		n = buf->used;
		CHECK(sys(__NR_ioctl, sv[1], FIONREAD, (long)&avail, 0, 0, 0) == 0 && avail == 3, 53);
		r = record(0, (uint32_t)n);
		CHECK(r->nr == __NR_ioctl && r->ret == 0 && r->size == sizeof(*r) + 8 &&
		      memcmp(r + 1, &avail, 4) == 0, 54);
		n = buf->used;
		CHECK(sys(__NR_ioctl, sv[1], TIOCGPGRP, (long)&avail, 0, 0, 0) == -ENOSYS && buf->used == n, 55);
		CHECK(sys(__NR_recvfrom, sv[1], (long)got, sizeof(got), 0, 0, 0) == 3, 56);
	}
	/* gettimeofday: a timeval and a timezone where the program asked */
	{
		struct timeval tv = { 0 };
		struct timezone tz = { .tz_minuteswest = -1, .tz_dsttime = -1 };

		n = buf->used;
		CHECK(sys(__NR_gettimeofday, (long)&tv, (long)&tz, 0, 0, 0, 0) == 0 && tv.tv_sec > 0 &&
		      tz.tz_minuteswest != -1, 37);
		r = record(0, (uint32_t)n);
		CHECK(r->nr == __NR_gettimeofday && r->ret == 0 && r->size == sizeof(*r) + 24 &&
		      memcmp(r + 1, &tv, sizeof(tv)) == 0 && memcmp((char *)(r + 1) + 16, &tz, sizeof(tz)) == 0,
		      38);
		CHECK(sys(__NR_gettimeofday, 0, 0, 0, 0, 0, 0) == 0 && buf->used == n + 2 * (sizeof(*r) + 24), 39);
	}
	/* the fd calls (preload/buffered-fd.c) */
	{
		struct sockaddr_un sa;
		socklen_t len = sizeof(sa);
		int dfd;

		/* a directory with O_DIRECTORY: no stat first */
		n = buf->used;
		dfd = (int)sys(__NR_openat, AT_FDCWD, (long)"/", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
		r = record(0, (uint32_t)n);
		CHECK(dfd >= 0 && r->nr == __NR_openat && r->ret == dfd && r->size == sizeof(*r), 61);
		CHECK(sys(__NR_fcntl, dfd, F_GETFD, 0, 0, 0, 0) == FD_CLOEXEC, 62);
		/* F_DUPFD_CLOEXEC buffered (a new fd, as openat makes); fcntl's
		 * other fd commands, openat for writing or under /proc: traced */
		n = buf->used;
		{
			long dup = sys(__NR_fcntl, dfd, F_DUPFD_CLOEXEC, 0, 0, 0, 0);

			r = record(0, (uint32_t)n);
			CHECK(dup > dfd && r->nr == __NR_fcntl && r->ret == dup && buf->used == n + sizeof(*r) &&
			      sys(__NR_close, dup, 0, 0, 0, 0, 0) == 0, 63);
		}
		CHECK(sys(__NR_fcntl, dfd, F_GETLEASE, 0, 0, 0, 0) == -ENOSYS, 86);
		n = buf->used;
		CHECK(sys(__NR_openat, AT_FDCWD, (long)"/proc/self/comm", O_WRONLY, 0, 0, 0) == -ENOSYS &&
		      buf->used == n, 64);
		CHECK(sys(__NR_openat, AT_FDCWD, (long)"/proc/self/maps", O_RDONLY, 0, 0, 0) == -ENOSYS &&
		      buf->used == n, 65);
		CHECK(sys(__NR_close, dfd, 0, 0, 0, 0, 0) == 0 && buf->used == n + sizeof(*r), 66);
		/* without O_DIRECTORY: a stat first, its result and struct stat
		 * in the record; a FIFO is an attempt (-EAGAIN), then traced */
		n = buf->used;
		dfd = (int)sys(__NR_openat, AT_FDCWD, (long)"/", O_RDONLY, 0, 0, 0);
		r = record(0, (uint32_t)n);
		CHECK(dfd >= 0 && r->ret == dfd && r->size == sizeof(*r) + 8 + UPRR_STAT_SIZE &&
		      *(int64_t *)(r + 1) == 0, 67);
		CHECK(sys(__NR_close, dfd, 0, 0, 0, 0, 0) == 0, 68);
		n = buf->used;
		CHECK(sys(__NR_openat, AT_FDCWD, (long)g_fifo, O_RDONLY, 0, 0, 0) == -ENOSYS, 69);
		r = record(0, (uint32_t)n);
		CHECK(r->nr == __NR_openat && r->ret == -EAGAIN && *(int64_t *)(r + 1) == 0, 70);
		/* a close of an fd a record of this batch wrote to: traced (its
		 * entry flushes first); once the batch is flushed, buffered */
		CHECK(sys(__NR_write, fds[1], (long)"q", 1, 0, 0, 0) == 1, 71);
		n = buf->used;
		CHECK(sys(__NR_close, fds[1], 0, 0, 0, 0, 0) == -ENOSYS && buf->used == n, 72);
		CHECK(sys(__NR_read, fds[0], (long)got, 1, 0, 0, 0) == 1, 73);
		/* accept4 on a non-blocking listener: EAGAIN, buffered; on a
		 * blocking socket: an attempt, then traced */
		n = buf->used;
		CHECK(sys(__NR_accept4, g_listen, (long)&sa, (long)&len, 0, 0, 0) == -EAGAIN &&
		      buf->used == n + sizeof(*r) + 16 + 128 && len == sizeof(sa), 74);
		CHECK(sys(__NR_accept4, sv[1], 0, 0, 0, 0, 0) == -ENOSYS, 75);
		/* access, statx, getrandom, pread64 */
		CHECK(sys(__NR_access, (long)"/", R_OK, 0, 0, 0, 0) == 0, 76);
		n = buf->used;
		CHECK(sys(__NR_getrandom, (long)got, 8, 0, 0, 0, 0) == 8 && buf->used == n + sizeof(*r) + 8, 77);
		CHECK(sys(__NR_getrandom, (long)got, 8, 0x100, 0, 0, 0) == -ENOSYS, 78);
		CHECK(sys(__NR_pread64, fds[0], (long)got, 1, 0, 0, 0) == -ESPIPE, 79);
	}
	/* openat for writing and writes to a regular file, in the buffer: the
	 * RWF_NOWAIT attempt is refused (ext4, tmpfs: EOPNOTSUPP), fstat and
	 * fstatfs show a regular file of a local file system, a plain write */
	{
		int wfd;
		char back[16] = { 0 };
		struct iovec v[2] = { { "!", 1 }, { "?", 1 } };

		n = buf->used;
		wfd = (int)sys(__NR_openat, AT_FDCWD, (long)g_wfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600, 0,
			       0);
		r = record(0, (uint32_t)n);
		CHECK(wfd >= 0 && r->nr == __NR_openat && r->ret == wfd && *(int64_t *)(r + 1) == -ENOENT, 87);
		n = buf->used;
		CHECK(sys(__NR_write, wfd, (long)"hello", 5, 0, 0, 0) == 5, 88);
		r = record(0, (uint32_t)n);
		CHECK(r->nr == __NR_write && r->ret == 5 && r->size == sizeof(*r) + 8 + WRITE_PROBE, 89);
		CHECK(probe(r, 8)[0] == -EOPNOTSUPP && probe(r, 8)[1] == 0 && probe(r, 8)[2] == 0 &&
		      ((uint32_t)probe(r, 8)[3] & S_IFMT) == S_IFREG, 91);
		n = buf->used;
		CHECK(sys(__NR_pwrite64, wfd, (long)"XY", 2, 1, 0, 0) == 2 && sys(__NR_writev, wfd, (long)v, 2, 0, 0, 0) == 2 &&
		      buf->used == n + 2 * (sizeof(*r) + 8 + WRITE_PROBE), 92);
		/* written plainly in this batch, but a regular file: its
		 * record has dev and ino, the close is buffered */
		CHECK(probe(r, 8)[4] != 0 && probe(r, 8)[5] != 0, 100);
		n = buf->used;
		CHECK(sys(__NR_close, wfd, 0, 0, 0, 0, 0) == 0 && buf->used == n + sizeof(*r), 93);
		n = buf->used;
		CHECK(sys(__NR_openat, AT_FDCWD, (long)g_wfile, O_WRONLY | O_CREAT | O_EXCL, 0600, 0, 0) == -EEXIST &&
		      buf->used > n, 94);
		wfd = (int)sys(__NR_openat, AT_FDCWD, (long)g_wfile, O_WRONLY | O_APPEND, 0, 0, 0);
		CHECK(wfd >= 0 && sys(__NR_write, wfd, (long)"Z", 1, 0, 0, 0) == 1, 95);
		wfd = (int)sys(__NR_openat, AT_FDCWD, (long)g_wfile, O_RDONLY, 0, 0, 0);
		CHECK(wfd >= 0 && sys(__NR_read, wfd, (long)back, sizeof(back), 0, 0, 0) == 8 &&
		      memcmp(back, "hXYlo!?Z", 8) == 0, 96);
		/* /proc/self/mem is "regular" but procfs: an attempt, traced */
		n = buf->used;
		CHECK(sys(__NR_pwrite64, g_mem, (long)back, 1, (long)back, 0, 0) == -ENOSYS, 97);
		r = record(0, (uint32_t)n);
		CHECK(r->nr == __NR_pwrite64 && r->ret == -EOPNOTSUPP && probe(r, 8)[1] == 0 &&
		      ((uint32_t)probe(r, 8)[3] & S_IFMT) == S_IFREG && ((uint32_t *)probe(r, 8))[7] == 0x9fa0, 98);
		/* a file mapped shared: an open for writing is traced */
		ctl->flags |= UPRR_CTL_NO_WRITES;
		n = buf->used;
		CHECK(sys(__NR_openat, AT_FDCWD, (long)g_wfile, O_WRONLY, 0, 0, 0) == -ENOSYS && buf->used == n, 99);
		ctl->flags &= ~UPRR_CTL_NO_WRITES;
	}
	/* a locked buffer (a handler inside the library): traced */
	buf->locked = 1;
	CHECK(sys(__NR_getpid, 0, 0, 0, 0, 0, 0) == -ENOSYS, 18);
	buf->locked = 0;
	/* writes out of the buffer (a file is mapped MAP_SHARED): traced */
	ctl->flags |= UPRR_CTL_NO_WRITES;
	n = buf->used;
	CHECK(sys(__NR_write, fds[1], (long)"abc", 3, 0, 0, 0) == -ENOSYS && buf->used == n, 25);
	CHECK(sys(__NR_getpid, 0, 0, 0, 0, 0, 0) == pid && buf->used == n + sizeof(*r), 26);
	ctl->flags &= ~UPRR_CTL_NO_WRITES;
	/* the supervisor's interrupt: traced, nothing recorded */
	buf->interrupt = 1;
	n = buf->used;
	CHECK(sys(__NR_getpid, 0, 0, 0, 0, 0, 0) == -ENOSYS && buf->used == n, 24);
	buf->interrupt = 0;
	/* a buffer that fills: the call that does not fit goes traced (the
	 * old records cleared: a stale UPRR_REC_STOP where a record header
	 * lands, an argument -1, would send that call traced too) */
	buf->used = 0;
	memset(record(0, 0), 0, UPRR_PRELOAD_REC_ROOM);
	for (n = 0; n < 100000; n++)
		if (sys(__NR_gettid, 0, 0, 0, 0, 0, 0) != tid)
			break;
	CHECK(n == UPRR_PRELOAD_REC_ROOM / sizeof(struct uprr_rec), 19);
	CHECK(sys(__NR_gettid, 0, 0, 0, 0, 0, 0) == -ENOSYS, 20);
	/* replay: the recorded result, then the marker sends it traced */
	ctl->replay = 1;
	buf->used = 0;
	r = record(0, 0);
	*r = (struct uprr_rec){ .size = sizeof(*r), .nr = __NR_getpid, .ret = 4242 };
	record(0, sizeof(*r))->size = UPRR_REC_STOP;
	CHECK(sys(__NR_getpid, 0, 0, 0, 0, 0, 0) == 4242, 21);
	CHECK(buf->used == sizeof(*r) && r->ret == 4242, 22);
	CHECK(sys(__NR_getpid, 0, 0, 0, 0, 0, 0) == -ENOSYS, 23);
	/* replay: accept4's address length is the trace's, not the one the
	 * program passed in (recording_only: a cmov, no branch) */
	buf->used = 0;
	{
		unsigned char addr[128] = { 0 }, *d;
		uint32_t len = 110;

		r = record(0, 0);
		*r = (struct uprr_rec){ .size = sizeof(*r) + 16 + 128, .nr = __NR_accept4, .ret = 9 };
		d = (unsigned char *)(r + 1);
		*(int64_t *)d = O_RDWR | O_NONBLOCK; /* F_GETFL */
		((uint32_t *)(d + 8))[1] = 3;	     /* the length the kernel wrote */
		memcpy(d + 16, "\1\2x", 3);
		record(0, r->size)->size = UPRR_REC_STOP;
		CHECK(sys(__NR_accept4, 77, (long)addr, (long)&len, 0, 0, 0) == 9 && len == 3 &&
		      memcmp(addr, "\1\2x", 3) == 0, 80);
		CHECK(((uint32_t *)(d + 8))[0] == 110 && ((uint32_t *)(d + 8))[1] == 3, 81);
	}
	/* a re-run after a rollback (the buffer's own replay flag): the
	 * records' results and output bytes (the pipe is empty: no syscall
	 * runs), then, right after the last, live again (the notify call is
	 * traced: ENOSYS here, unseen), appending after them */
	ctl->replay = 0;
	buf->used = 0;
	r = record(0, 0);
	*r = (struct uprr_rec){ .size = sizeof(*r), .nr = __NR_getpid, .ret = 4343 };
	r = record(0, sizeof(*r));
	*r = (struct uprr_rec){ .size = sizeof(*r) + 8, .nr = __NR_read, .ret = 3 };
	memcpy(r + 1, "xyz", 3);
	record(0, 2 * sizeof(*r) + 8)->size = UPRR_REC_RESUME;
	buf->replay = 1;
	CHECK(sys(__NR_getpid, 0, 0, 0, 0, 0, 0) == 4343 && buf->replay == 1, 82);
	memset(got, 0, sizeof(got));
	CHECK(sys(__NR_read, fds[0], (long)got, sizeof(got), 0, 0, 0) == 3 && memcmp(got, "xyz", 3) == 0,
	      83);
	CHECK(buf->replay == 0 && buf->used == 2 * sizeof(*r) + 8 && r->args[0] == (uint64_t)fds[0], 84);
	CHECK(sys(__NR_getpid, 0, 0, 0, 0, 0, 0) == pid && buf->used == 3 * sizeof(*r) + 8 &&
	      record(0, 2 * sizeof(*r) + 8)->ret == pid, 85);
	/* UPRR_CTL_SCRUB (TP and EP runs, their replay): the stack the
	 * library's frames used is zeroed on its way out; without it, what
	 * they left stays (the probe can tell) */
	buf->used = 0;
	CHECK(scrub_probe(sys, __NR_getpid) > 0, 86);
	ctl->flags |= UPRR_CTL_SCRUB;
	CHECK(scrub_probe(sys, __NR_getpid) == 0 && scrub_probe(sys, __NR_getppid) == 0, 87);
	ctl->flags &= ~(uint32_t)UPRR_CTL_SCRUB;
	report(0);
}

Test(syscallbuf, library_under_the_filter, .timeout = 20)
{
	struct pollfd pfd;
	unsigned char code = 255;
	int status, rep[2];
	pid_t pid;

	if (!(rec_syscallbuf_machine_flags() & UPRR_CTL_FSGSBASE))
		cr_skip_test("this machine does not let programs use rdfsbase (HWCAP2_FSGSBASE)");
	cr_assert_eq(pipe(rep), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(rep[0]);
		child(rep[1]);
	}
	close(rep[1]);
	pfd = (struct pollfd){ .fd = rep[0], .events = POLLIN };
	if (poll(&pfd, 1, 10000) == 1 && read(rep[0], &code, 1) == 1) {
		kill(pid, SIGKILL);
		cr_assert_eq(waitpid(pid, &status, 0), pid);
	} else {
		/* it ended before the filter (its exit status is the check), or
		 * hangs */
		kill(pid, SIGKILL);
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFEXITED(status), "the child died of signal %d", WTERMSIG(status));
		code = (unsigned char)WEXITSTATUS(status);
	}
	close(rep[0]);
	snprintf(g_fifo, sizeof(g_fifo), "/tmp/uprr-unit-fifo-%ld", (long)pid);
	unlink(g_fifo);
	snprintf(g_wfile, sizeof(g_wfile), "/tmp/uprr-unit-write-%ld", (long)pid);
	unlink(g_wfile);
	cr_assert_eq(code, 0, "check %d failed", code);
}
