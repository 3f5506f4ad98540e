/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the syscall model's newer rows and request tables (issue 13):
 * each runs the real syscall on buffers in the canary arena (model-arena.h)
 * and checks the ranges; a call the kernel or this machine's permissions
 * refuse is skipped, saying why. Then the names and the verdicts of
 * sc_check for what the model does not know.
 */
#include <inttypes.h>
#include <linux/fs.h>
#include <linux/futex.h>
#include <linux/keyctl.h>
#include <linux/quota.h>
#include <linux/random.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

#include "model-arena.h"

#ifndef PR_GET_AUXV
#define PR_GET_AUXV 0x41555856 /* Linux 6.4 */
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* Linux 6.6 */
#endif

TestSuite(rows, .init = arena_init, .fini = arena_fini, .timeout = 30);

/* Run syscall @nr on @a (set up in the arena already), then check that its
 * ranges cover what it wrote; the kernel's result (-errno on failure). */
static int64_t
run_checked(long nr, const uint64_t a[6])
{
	int64_t r;

	snapshot();
	r = raw(syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]));
	outputs(nr, a, r);
	assert_covers_writes(&ranges);
	return r;
}

/* Skip the test when the kernel refused the call the test needs. */
static void
need(int64_t r, const char *what)
{
	if (r < 0)
		cr_skip_test("%s fails here: %s", what, strerror((int)-r));
}

static int
pty_pair(int *ret_slave)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (master < 0)
		cr_skip_test("no pseudo-terminals here: %s", strerror(errno));
	cr_assert_eq(grantpt(master), 0);
	cr_assert_eq(unlockpt(master), 0);
	*ret_slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(*ret_slave, 0);
	return master;
}

/* ---- ioctl ---- */

Test(rows, pty_ioctls_cover_what_they_write)
{
	/* request, on the master (else the slave), bytes written (asm-generic/
	 * termbits.h, ioctls.h; drivers/tty/pty.c, tty_io.c, tty_ioctl.c) */
	static const struct {
		unsigned long req;
		bool master;
		uint64_t size;
	} reqs[] = {
		{ TIOCGPTN, true, 4 },	   { TIOCGPTLCK, true, 4 }, { TIOCGPKT, true, 4 },
		{ TIOCOUTQ, false, 4 },	   { FIONREAD, false, 4 },  { TIOCGEXCL, false, 4 },
		{ TIOCGETD, false, 4 },	   { TIOCGWINSZ, false, 8 }, { TCGETS, false, 36 },
		{ 0x802c542a /* TCGETS2 */, false, 44 }, { TCGETA, false, 18 },
	};
	int slave, master = pty_pair(&slave);

	for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
		uint64_t a[6] = { reqs[i].master ? master : slave, reqs[i].req, at(256) };
		int64_t r;
		char why[160];

		cr_assert_eq(sc_check(SYS_ioctl, a, why, sizeof(why)), 0,
			     "ioctl %#lx: %s", reqs[i].req, why);
		sc_ranges_free(&ranges);
		r = run_checked(SYS_ioctl, a);
		cr_assert_eq(r, 0, "ioctl %#lx: %s", reqs[i].req, strerror((int)-r));
		cr_assert_eq(covered(&ranges), reqs[i].size, "ioctl %#lx", reqs[i].req);
	}
}

Test(rows, pty_ioctls_that_set_write_nothing)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	struct termios tio;
	int slave, master = pty_pair(&slave), zero = 0, peer;
	const struct {
		int fd;
		unsigned long req;
		uint64_t arg;
	} reqs[] = {
		{ master, TIOCSPTLCK, (uint64_t)(uintptr_t)&zero },
		{ slave, TIOCSWINSZ, (uint64_t)(uintptr_t)&ws },
		{ slave, TCSETS, (uint64_t)(uintptr_t)&tio },
		{ slave, TCSETSW, (uint64_t)(uintptr_t)&tio },
		{ slave, TCFLSH, TCIOFLUSH },
		{ slave, TCXONC, TCOON },
		{ slave, TCSBRK, 1 }, /* tcdrain(3) */
		{ slave, TIOCEXCL, 0 },
		{ slave, TIOCNXCL, 0 },
		{ master, TIOCPKT, (uint64_t)(uintptr_t)&zero },
	};

	cr_assert_eq(tcgetattr(slave, &tio), 0);
	for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
		uint64_t a[6] = { reqs[i].fd, reqs[i].req, reqs[i].arg };
		char why[160];

		cr_assert_eq(sc_check(SYS_ioctl, a, why, sizeof(why)), 0, "%s", why);
		sc_ranges_free(&ranges);
		cr_assert_eq(run_checked(SYS_ioctl, a), 0, "ioctl %#lx", reqs[i].req);
		cr_assert_eq(ranges.n, 0, "ioctl %#lx writes nothing", reqs[i].req);
	}
	/* a new fd for the slave, opened through the master (Linux 4.13) */
	peer = (int)run_checked(SYS_ioctl, (uint64_t[6]){ master, TIOCGPTPEER, O_RDWR | O_NOCTTY });
	need(peer, "TIOCGPTPEER");
	cr_assert_eq(ranges.n, 0);
	close(peer);
	cr_assert(sc_flags(SYS_ioctl, (uint64_t[6]){ slave, TCSBRK }) & SC_MAY_BLOCK,
		  "tcdrain waits for the reader");
	cr_assert(sc_flags(SYS_ioctl, (uint64_t[6]){ slave, TCSETSW }) & SC_MAY_BLOCK);
	cr_assert_not(sc_flags(SYS_ioctl, (uint64_t[6]){ slave, TCSETS }) &
		      SC_MAY_BLOCK);
}

Test(rows, tiocgsid_and_tiocmget_fail_on_a_pty_with_no_outputs)
{
	int slave, master = pty_pair(&slave);

	/* not our controlling terminal: ENOTTY; ptys have no modem lines */
	cr_assert_lt(run_checked(SYS_ioctl, (uint64_t[6]){ slave, TIOCGSID, at(64) }), 0);
	cr_assert_eq(ranges.n, 0);
	if (run_checked(SYS_ioctl, (uint64_t[6]){ slave, TIOCMGET, at(64) }) == 0)
		cr_assert_eq(covered(&ranges), 4);
	else
		cr_assert_eq(ranges.n, 0);
	close(master);
	close(slave);
}

Test(rows, file_ioctls_cover_an_int)
{
	int fd = tmp_file_with("flags");
	int64_t r;

	r = run_checked(SYS_ioctl, (uint64_t[6]){ fd, FS_IOC_GETFLAGS, at(100) });
	need(r, "FS_IOC_GETFLAGS on /tmp");
	cr_assert_eq(covered(&ranges), 4);
	sc_ranges_free(&ranges);
	r = run_checked(SYS_ioctl, (uint64_t[6]){ fd, FS_IOC_GETVERSION, at(200) });
	need(r, "FS_IOC_GETVERSION on /tmp");
	cr_assert_eq(covered(&ranges), 4, "ext4 writes an int, whatever _IOR says");
	sc_ranges_free(&ranges);
	r = run_checked(SYS_ioctl, (uint64_t[6]){ fd, FIOQSIZE, at(300) });
	cr_assert_eq(r, 0);
	cr_assert_eq(covered(&ranges), 8);
	sc_ranges_free(&ranges);
	r = run_checked(SYS_ioctl, (uint64_t[6]){ fd, FIGETBSZ, at(400) });
	need(r, "FIGETBSZ");
	cr_assert_eq(covered(&ranges), 4);
	close(fd);
}

Test(rows, rndgetentcnt_covers_an_int)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		cr_skip_test("no /dev/urandom: %s", strerror(errno));
	cr_assert_eq(run_checked(SYS_ioctl, (uint64_t[6]){ fd, RNDGETENTCNT, at(32) }), 0);
	cr_assert_eq(covered(&ranges), 4);
	close(fd);
}

Test(rows, ficlone_writes_nothing)
{
	int src = tmp_file_with("clone me"), dst = tmp_file_with("");
	int64_t r = run_checked(SYS_ioctl, (uint64_t[6]){ dst, FICLONE, src });

	cr_assert_eq(ranges.n, 0);
	cr_assert_eq(sc_check(SYS_ioctl, (uint64_t[6]){ dst, FICLONE, src },
			      (char[64]){ 0 }, 64), 0);
	cr_assert_eq(sc_check(SYS_ioctl, (uint64_t[6]){ dst, FICLONERANGE, 0 },
			      (char[64]){ 0 }, 64), 0);
	need(r, "FICLONE on /tmp (ext4 has no reflinks)");
}

Test(rows, fideduperange_covers_the_info_array)
{
	int src = tmp_file_with("same bytes, same bytes"), dst = tmp_file_with("same bytes, same bytes");
	struct file_dedupe_range *fdr = (void *)(arena + 512);
	int64_t r;

	memset(fdr, 0, sizeof(*fdr) + 2 * sizeof(fdr->info[0]));
	fdr->src_length = 4;
	fdr->dest_count = 2;
	fdr->info[0].dest_fd = dst;
	fdr->info[1].dest_fd = dst;
	fdr->info[1].dest_offset = 12;
	r = run_checked(SYS_ioctl, (uint64_t[6]){ src, FIDEDUPERANGE, at(512) });
	if (r == 0) {
		cr_assert_eq(covered(&ranges), 24 + 2 * 32);
	} else {
		/* ext4 cannot share blocks: the model's size, from the struct */
		cr_assert_eq(ranges.n, 0);
		cr_assert_eq(sc_outputs(SYS_ioctl, (uint64_t[6]){ src, FIDEDUPERANGE, at(512) },
					0, NULL, self_read, NULL, &ranges), 0);
		cr_assert_eq(covered(&ranges), 24 + 2 * 32);
		assert_ranges_within(&ranges, 512, sizeof(*fdr) + 2 * sizeof(fdr->info[0]),
				     "file_dedupe_range");
		cr_skip_test("FIDEDUPERANGE fails on /tmp (%s): only the model's size checked",
			     strerror((int)-r));
	}
}

Test(rows, siocgif_requests_cover_struct_ifreq)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq *ifr = (void *)(arena + 128);
	unsigned long reqs[] = { SIOCGIFFLAGS, SIOCGIFINDEX, SIOCGIFMTU };

	cr_assert_geq(fd, 0);
	for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
		memset(ifr, 0, sizeof(*ifr));
		strcpy(ifr->ifr_name, "lo");
		sc_ranges_free(&ranges);
		need(run_checked(SYS_ioctl, (uint64_t[6]){ fd, reqs[i], at(128) }), "an ioctl on lo");
		cr_assert_eq(covered(&ranges), sizeof(struct ifreq));
	}
	close(fd);
}

/* ---- fcntl and prctl ---- */

Test(rows, fcntl_hints_and_leases)
{
	int fd = tmp_file_with("hint");
	int64_t r;

	r = run_checked(SYS_fcntl, (uint64_t[6]){ fd, F_GET_RW_HINT, at(8) });
	cr_assert_eq(r, 0);
	cr_assert_eq(covered(&ranges), 8, "a u64 hint");
	sc_ranges_free(&ranges);
	*(uint64_t *)(arena + 64) = RWH_WRITE_LIFE_SHORT;
	cr_assert_eq(run_checked(SYS_fcntl, (uint64_t[6]){ fd, F_SET_RW_HINT, at(64) }), 0);
	cr_assert_eq(ranges.n, 0);
	/* gone since Linux 5.17: EINVAL, nothing written */
	r = run_checked(SYS_fcntl, (uint64_t[6]){ fd, F_GET_FILE_RW_HINT, at(128) });
	cr_assert(r == 0 ? covered(&ranges) == 8 : ranges.n == 0);
	r = run_checked(SYS_fcntl, (uint64_t[6]){ fd, F_GETLEASE });
	cr_assert_eq(r, F_UNLCK);
	cr_assert_eq(ranges.n, 0);
	r = run_checked(SYS_fcntl, (uint64_t[6]){ fd, F_SETLEASE, F_RDLCK });
	cr_assert_eq(ranges.n, 0);
	close(fd);
	/* a directory of its own: a file another test creates in /tmp while
	 * the notification is armed would raise SIGIO, which kills */
	char dir[] = "/tmp/uprr-test-dnotify-XXXXXX";
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = run_checked(SYS_fcntl, (uint64_t[6]){ fd, F_NOTIFY, DN_CREATE });
	cr_assert_eq(ranges.n, 0);
	close(fd);
	rmdir(dir);
	need(r, "F_NOTIFY (dnotify)");
}

Test(rows, prctl_getters_cover_what_they_write)
{
	int64_t r;

	r = run_checked(SYS_prctl, (uint64_t[6]){ PR_GET_CHILD_SUBREAPER, at(16) });
	cr_assert_eq(r, 0);
	cr_assert_eq(covered(&ranges), 4);
	sc_ranges_free(&ranges);
	r = run_checked(SYS_prctl, (uint64_t[6]){ PR_GET_TID_ADDRESS, at(64) });
	need(r, "PR_GET_TID_ADDRESS (CONFIG_CHECKPOINT_RESTORE)");
	cr_assert_eq(covered(&ranges), 8);
}

Test(rows, prctl_requests_that_return_a_value_write_nothing)
{
	uint64_t opts[][2] = {
		{ PR_GET_KEEPCAPS, 0 }, { PR_GET_SECUREBITS, 0 }, { PR_GET_NO_NEW_PRIVS, 0 },
		{ PR_GET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS }, { 66 /* PR_GET_MDWE */, 0 },
		{ PR_CAPBSET_READ, 0 }, { PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET },
		{ PR_GET_IO_FLUSHER, 0 }, { PR_MCE_KILL_GET, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		uint64_t a[6] = { opts[i][0], opts[i][1] };
		char why[160];
		int64_t r;

		cr_assert_eq(sc_check(SYS_prctl, a, why, sizeof(why)), 0, "%s", why);
		r = run_checked(SYS_prctl, a);
		cr_assert_eq(ranges.n, 0, "prctl %" PRIu64 " returned %" PRId64, opts[i][0], r);
	}
}

Test(rows, prctl_set_no_new_privs_and_keepcaps_in_a_child)
{
	pid_t pid = fork();
	int status;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		bool ok = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
			  prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 &&
			  prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0 &&
			  prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1 &&
			  /* EINVAL without the Yama LSM */
			  (prctl(PR_SET_PTRACER, 0, 0, 0, 0) == 0 || errno == EINVAL);
		_exit(ok ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (uint64_t opt = 0; opt < 3; opt++) {
		uint64_t o[] = { PR_SET_NO_NEW_PRIVS, PR_SET_KEEPCAPS, PR_SET_PTRACER };
		uint64_t a[6] = { o[opt], 1 };

		cr_assert_eq(sc_check(SYS_prctl, a, (char[64]){ 0 }, 64), 0);
		outputs(SYS_prctl, a, 0);
		cr_assert_eq(ranges.n, 0);
	}
}

Test(rows, prctl_get_auxv_covers_what_fits)
{
	int64_t r = run_checked(SYS_prctl, (uint64_t[6]){ PR_GET_AUXV, at(0), 16 });

	need(r, "PR_GET_AUXV (Linux 6.4)");
	cr_assert_gt(r, 16, "the result is the whole vector's size");
	cr_assert_eq(covered(&ranges), 16, "only what fit in the buffer");
	sc_ranges_free(&ranges);
	r = run_checked(SYS_prctl, (uint64_t[6]){ PR_GET_AUXV, at(1024), 4096 });
	cr_assert_eq(covered(&ranges), (uint64_t)r);
}

/* ---- memory ---- */

Test(rows, pkeys_write_nothing_and_replay_runs_them)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int64_t key;

	cr_assert(sc_flags(SYS_pkey_alloc, (uint64_t[6]){ 0 }) & SC_REPLAY_EXEC,
		  "replay allocates the same key");
	cr_assert(sc_flags(SYS_pkey_free, (uint64_t[6]){ 0 }) & SC_REPLAY_EXEC);
	cr_assert(sc_flags(SYS_pkey_mprotect, (uint64_t[6]){ 0 }) & SC_MAPS,
		  "like mprotect");
	key = run_checked(SYS_pkey_alloc, (uint64_t[6]){ 0, 0 });
	cr_assert_eq(ranges.n, 0);
	need(key, "pkey_alloc (no protection keys)");
	cr_assert_eq(run_checked(SYS_pkey_mprotect,
				 (uint64_t[6]){ (uintptr_t)p, 4096, PROT_READ, (uint64_t)key }), 0);
	cr_assert_eq(ranges.n, 0);
	cr_assert_eq(run_checked(SYS_pkey_free, (uint64_t[6]){ (uint64_t)key }), 0);
	cr_assert_eq(ranges.n, 0);
	munmap(p, 4096);
}

Test(rows, get_mempolicy_covers_mode_and_node_mask)
{
	/* a mask of 1025 bits: ALIGN(1024, 64) / 8 = 128 bytes, zeros past
	 * the kernel's nodes (copy_nodes_to_user()) */
	int64_t r = run_checked(SYS_get_mempolicy, (uint64_t[6]){ at(0), at(64), 1025, 0, 0 });

	need(r, "get_mempolicy (CONFIG_NUMA)");
	cr_assert_eq(covered(&ranges), 4 + 128);
	assert_ranges_within(&ranges, 0, 64 + 128, "mode and mask");
}

Test(rows, move_pages_covers_the_status_array)
{
	void *page = arena + 4096;
	uint64_t *pages = (uint64_t *)(arena + 64);
	int64_t r;

	pages[0] = (uintptr_t)page;
	pages[1] = (uintptr_t)page + 4096;
	r = run_checked(SYS_move_pages, (uint64_t[6]){ 0, 2, at(64), 0, at(128), 0 });
	need(r, "move_pages (CONFIG_MIGRATION)");
	cr_assert_eq(covered(&ranges), 2 * 4);
}

/* ---- sockets, pipes ---- */

Test(rows, sendmmsg_and_recvmmsg_cover_each_message)
{
	struct sockaddr_in addr;
	int rx = udp_socket(&addr), tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct mmsghdr *out = (void *)(arena + 0), *in = (void *)(arena + 1024);
	struct iovec *iov = (void *)(arena + 512);
	int64_t r;

	cr_assert_eq(connect(tx, (struct sockaddr *)&addr, sizeof(addr)), 0);
	memcpy(arena + 600, "first", 5);
	memcpy(arena + 640, "second!", 7);
	iov[0] = (struct iovec){ arena + 600, 5 };
	iov[1] = (struct iovec){ arena + 640, 7 };
	memset(out, 0, 2 * sizeof(*out));
	out[0].msg_hdr = (struct msghdr){ .msg_iov = &iov[0], .msg_iovlen = 1 };
	out[1].msg_hdr = (struct msghdr){ .msg_iov = &iov[1], .msg_iovlen = 1 };
	cr_assert_eq(sc_inputs(SYS_sendmmsg, (uint64_t[6]){ tx, at(0), 2 }, self_read, NULL,
			       &ranges), 0);
	cr_assert_eq(covered(&ranges), 5 + 7, "the data of both messages");
	sc_ranges_free(&ranges);
	r = run_checked(SYS_sendmmsg, (uint64_t[6]){ tx, at(0), 2, 0 });
	cr_assert_eq(r, 2);
	cr_assert_eq(covered(&ranges), 2 * 4, "msg_len of each");

	/* receive both into buffers of 16, with the senders' addresses */
	iov[2] = (struct iovec){ arena + 2048, 16 };
	iov[3] = (struct iovec){ arena + 2100, 16 };
	memset(in, 0, 3 * sizeof(*in));
	for (int i = 0; i < 3; i++)
		in[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[2 + (i & 1)], .msg_iovlen = 1,
						 .msg_name = arena + 2200 + 32 * i,
						 .msg_namelen = 16 };
	sc_ranges_free(&ranges);
	r = run_checked(SYS_recvmmsg, (uint64_t[6]){ rx, at(1024), 3, MSG_DONTWAIT, 0 });
	cr_assert_eq(r, 2);
	cr_assert(in_ranges(&ranges, at(2048 + 4)) && in_ranges(&ranges, at(2100 + 6)));
	cr_assert_not(in_ranges(&ranges, at(2100 + 7)), "past the second datagram");
	cr_assert_not(in_ranges(&ranges, at(1024 + 2 * 64)), "the third header: no message");
	close(rx);
	close(tx);
}

Test(rows, splice_covers_offsets_and_vmsplice_the_iovecs)
{
	int p[2], fd = tmp_file_with("");
	struct iovec *iov = (void *)(arena + 0);
	int64_t r;

	make_pipe(p);
	memcpy(arena + 100, "gift", 4);
	iov[0] = (struct iovec){ arena + 100, 4 };
	cr_assert_eq(sc_inputs(SYS_vmsplice, (uint64_t[6]){ p[1], at(0), 1 }, self_read,
			       NULL, &ranges), 0);
	cr_assert_eq(covered(&ranges), 4, "what goes to the pipe");
	sc_ranges_free(&ranges);
	cr_assert_eq(run_checked(SYS_vmsplice, (uint64_t[6]){ p[1], at(0), 1, 0 }), 4);
	*(int64_t *)(arena + 200) = 3;
	sc_ranges_free(&ranges);
	r = run_checked(SYS_splice, (uint64_t[6]){ p[0], 0, fd, at(200), 4, 0 });
	cr_assert_eq(r, 4);
	cr_assert_eq(covered(&ranges), 8, "the file offset it advanced");
	/* vmsplice from the read end fills the iovecs */
	cr_assert_eq(write(p[1], "back", 4), 4);
	iov[1] = (struct iovec){ arena + 300, 16 };
	sc_ranges_free(&ranges);
	r = run_checked(SYS_vmsplice, (uint64_t[6]){ p[0], at(16), 1, 0 });
	cr_assert_eq(r, 4);
	cr_assert(in_ranges(&ranges, at(303)) && !in_ranges(&ranges, at(304)));
	sc_ranges_free(&ranges);
	cr_assert_eq(write(p[1], "tee", 3), 3);
	{
		int q[2];

		make_pipe(q);
		cr_assert_eq(run_checked(SYS_tee, (uint64_t[6]){ p[0], q[1], 3, 0 }), 3);
		cr_assert_eq(ranges.n, 0);
	}
	cr_assert_eq(run_checked(SYS_sync_file_range, (uint64_t[6]){ fd, 0, 0, 0 }), 0);
	cr_assert_eq(ranges.n, 0);
}

/* ---- files ---- */

Test(rows, file_syscalls_that_write_nothing)
{
	char dir[] = "/tmp/uprr-test-rows-XXXXXX";
	int dfd;

	cr_assert_not_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(dfd, 0);
	strcpy((char *)arena + 100, "f");
	memset(arena + 200, 0, 24); /* struct open_how */
	*(uint64_t *)(arena + 200) = O_CREAT | O_RDWR | O_CLOEXEC;
	*(uint64_t *)(arena + 208) = 0600;
	cr_assert_geq(run_checked(SYS_openat2, (uint64_t[6]){ dfd, at(100), at(200), 24 }), 0);
	cr_assert_eq(ranges.n, 0);
	strcpy((char *)arena + 300, "fifo");
	cr_assert_eq(run_checked(SYS_mknodat, (uint64_t[6]){ dfd, at(300), S_IFIFO | 0600, 0 }), 0);
	cr_assert_eq(ranges.n, 0);
	if (run_checked(SYS_fchmodat2, (uint64_t[6]){ dfd, at(100), 0644, 0 }) != -ENOSYS)
		cr_assert_eq(ranges.n, 0);
	strcpy((char *)arena + 400, "user.uprr");
	memcpy(arena + 500, "value", 5);
	snprintf((char *)arena + 600, 100, "%s/f", dir);
	need(run_checked(SYS_setxattr, (uint64_t[6]){ at(600), at(400), at(500), 5, 0 }),
	     "user xattrs on /tmp");
	cr_assert_eq(ranges.n, 0);
	cr_assert_eq(run_checked(SYS_removexattr, (uint64_t[6]){ at(600), at(400) }), 0);
	cr_assert_eq(ranges.n, 0);
	cr_assert_geq(run_checked(SYS_inotify_init, (uint64_t[6]){ 0 }), 0);
	cr_assert_eq(ranges.n, 0);
	unlinkat(dfd, "f", 0);
	unlinkat(dfd, "fifo", 0);
	rmdir(dir);
}

Test(rows, name_to_handle_at_covers_handle_and_mount_id)
{
	/* first with no room: EOVERFLOW tells the size needed */
	int64_t r;

	strcpy((char *)arena + 16, "/tmp");
	memset(arena + 256, 0, 8);
	r = run_checked(SYS_name_to_handle_at, (uint64_t[6]){ AT_FDCWD, at(16), at(256), at(128), 0 });
	need(r == -EOVERFLOW ? 0 : r, "name_to_handle_at on /tmp");
	cr_assert_eq(r, -EOVERFLOW);
	cr_assert_gt(*(uint32_t *)(arena + 256), 0, "the size needed");
	cr_assert(in_ranges(&ranges, at(256)) && in_ranges(&ranges, at(128)));
	sc_ranges_free(&ranges);
	r = run_checked(SYS_name_to_handle_at, (uint64_t[6]){ AT_FDCWD, at(16), at(256), at(128), 0 });
	cr_assert_eq(r, 0);
	cr_assert_eq(covered(&ranges), 8 + *(uint32_t *)(arena + 256) + 4);
}

Test(rows, ustat_and_sysfs)
{
	struct stat st;
	int64_t r;

	cr_assert_eq(stat("/", &st), 0);
	r = run_checked(SYS_ustat, (uint64_t[6]){ st.st_dev, at(64) });
	if (r == 0)
		cr_assert_eq(covered(&ranges), 32);
	else
		cr_assert_eq(ranges.n, 0);
	sc_ranges_free(&ranges);
	r = run_checked(SYS_sysfs, (uint64_t[6]){ 2, 0, at(512) });
	need(r, "sysfs(2) (CONFIG_SYSFS_SYSCALL)");
	cr_assert_eq(covered(&ranges), strlen((char *)arena + 512) + 1);
}

/* ---- time, scheduling, keys, logs ---- */

Test(rows, adjtimex_and_clock_adjtime_cover_struct_timex)
{
	struct timex *tx = (void *)(arena + 64);

	memset(tx, 0, sizeof(*tx)); /* modes 0: read only */
	cr_assert_geq(run_checked(SYS_adjtimex, (uint64_t[6]){ at(64) }), 0);
	cr_assert_eq(covered(&ranges), sizeof(struct timex));
	sc_ranges_free(&ranges);
	memset(tx, 0, sizeof(*tx));
	cr_assert_geq(run_checked(SYS_clock_adjtime, (uint64_t[6]){ CLOCK_REALTIME, at(64) }), 0);
	cr_assert_eq(covered(&ranges), sizeof(struct timex));
}

Test(rows, sched_getattr_and_rr_interval)
{
	int64_t r = run_checked(SYS_sched_getattr, (uint64_t[6]){ 0, at(0), 56, 0 });

	cr_assert_eq(r, 0);
	cr_assert_eq(covered(&ranges), 56, "SCHED_ATTR_SIZE_VER1");
	sc_ranges_free(&ranges);
	cr_assert_eq(run_checked(SYS_sched_rr_get_interval, (uint64_t[6]){ 0, at(128) }), 0);
	cr_assert_eq(covered(&ranges), 16);
}

Test(rows, keyctl_read_and_describe_cover_what_fits)
{
	int64_t key, r;

	key = raw(syscall(SYS_add_key, "user", "uprr-test", "secret", 6, KEY_SPEC_PROCESS_KEYRING));
	need(key, "add_key");
	r = run_checked(SYS_keyctl, (uint64_t[6]){ KEYCTL_READ, (uint64_t)key, at(100), 64 });
	cr_assert_eq(r, 6);
	cr_assert_eq(covered(&ranges), 6);
	sc_ranges_free(&ranges);
	r = run_checked(SYS_keyctl, (uint64_t[6]){ KEYCTL_DESCRIBE, (uint64_t)key, at(200), 256 });
	cr_assert_gt(r, 0);
	cr_assert_eq(covered(&ranges), (uint64_t)r);
	sc_ranges_free(&ranges);
	/* too small: the size needed, nothing past the buffer */
	r = run_checked(SYS_keyctl, (uint64_t[6]){ KEYCTL_DESCRIBE, (uint64_t)key, at(600), 4 });
	cr_assert_gt(r, 4);
	assert_ranges_within(&ranges, 600, 4, "describe");
	sc_ranges_free(&ranges);
	cr_assert_eq(run_checked(SYS_keyctl, (uint64_t[6]){ KEYCTL_REVOKE, (uint64_t)key }), 0);
	cr_assert_eq(ranges.n, 0);
}

Test(rows, syslog_read_all_covers_the_result)
{
	int64_t r = run_checked(SYS_syslog, (uint64_t[6]){ 3 /* READ_ALL */, at(0), 2048 });

	need(r, "syslog(SYSLOG_ACTION_READ_ALL)");
	cr_assert_eq(covered(&ranges), (uint64_t)r);
	cr_assert(sc_flags(SYS_syslog, (uint64_t[6]){ 2 }) & SC_MAY_BLOCK,
		  "SYSLOG_ACTION_READ waits for messages");
	sc_ranges_free(&ranges);
	cr_assert_geq(run_checked(SYS_syslog, (uint64_t[6]){ 10 /* SIZE_BUFFER */ }), 0);
	cr_assert_eq(ranges.n, 0);
}

Test(rows, quotactl_getters_cover_their_structs)
{
	/* no quota on this machine's filesystems: the model's sizes, from the
	 * structs of linux/quota.h, and a failure with nothing written */
	static const struct {
		uint32_t cmd;
		uint64_t size;
	} cmds[] = {
		{ (uint64_t)((unsigned)Q_GETFMT << SUBCMDSHIFT | USRQUOTA), 4 },
		{ QCMD(Q_GETINFO, USRQUOTA), sizeof(struct if_dqinfo) },
		{ QCMD(Q_GETQUOTA, USRQUOTA), sizeof(struct if_dqblk) },
		{ QCMD(Q_GETNEXTQUOTA, GRPQUOTA), sizeof(struct if_nextdqblk) },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		sc_ranges_free(&ranges);
		outputs(SYS_quotactl, (uint64_t[6]){ cmds[i].cmd, 0, 0, at(64) }, 0);
		cr_assert_eq(covered(&ranges), cmds[i].size, "quotactl %#x", cmds[i].cmd);
	}
	sc_ranges_free(&ranges);
	strcpy((char *)arena + 16, "/dev/vda");
	cr_assert_lt(run_checked(SYS_quotactl, (uint64_t[6]){ (uint64_t)((unsigned)Q_GETFMT << SUBCMDSHIFT | USRQUOTA), at(16), 0,
							       at(64) }), 0);
	cr_assert_eq(ranges.n, 0);
}

/* ---- names and verdicts ---- */

static int
verdict(long nr, const uint64_t a[6], char *why, size_t len)
{
	why[0] = '\0';
	return sc_check(nr, a, why, len);
}

Test(rows, refused_requests_are_named_with_their_number)
{
	char why[160];

	cr_assert_eq(verdict(SYS_ioctl, (uint64_t[6]){ 3, TIOCCONS }, why, sizeof(why)), -ENOSYS);
	cr_assert(strstr(why, "ioctl TIOCCONS (0x541d) on fd 3"), "message: '%s'", why);
	cr_assert_eq(verdict(SYS_fcntl, (uint64_t[6]){ 4, 1234 }, why, sizeof(why)), -ENOSYS);
	cr_assert(strstr(why, "fcntl request 1234 on fd 4"), "message: '%s'", why);
	cr_assert_eq(verdict(SYS_prctl, (uint64_t[6]){ PR_SET_MM }, why, sizeof(why)), -ENOSYS);
	cr_assert(strstr(why, "prctl PR_SET_MM (0x23)"), "message: '%s'", why);
	cr_assert_eq(verdict(SYS_futex, (uint64_t[6]){ 0, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG }, why,
			     sizeof(why)), -ENOSYS);
	cr_assert(strstr(why, "futex FUTEX_LOCK_PI (0x6)"), "message: '%s'", why);
	cr_assert_eq(verdict(SYS_io_uring_setup, (uint64_t[6]){ 0 }, why, sizeof(why)), -ENOSYS);
	cr_assert(strstr(why, "io_uring_setup (425): "), "named with why: '%s'", why);
}

Test(rows, unknown_ioctls_are_decoded)
{
	char why[160];

	cr_assert_eq(verdict(SYS_ioctl, (uint64_t[6]){ 0, 0xdead }, why, sizeof(why)), -ENOSYS);
	cr_assert_str_eq(why, "ioctl 0xdead (_IO type 0xde nr 0xad) on fd 0");
	cr_assert_eq(verdict(SYS_ioctl, (uint64_t[6]){ 5, _IOR('x', 7, char[64]) }, why,
			     sizeof(why)), -ENOSYS);
	cr_assert_str_eq(why, "ioctl 0x80407807 (_IOR type 'x' nr 0x7 size 64) on fd 5");
	cr_assert_eq(verdict(SYS_ioctl, (uint64_t[6]){ 5, _IOWR(0x94, 99, int) }, why, sizeof(why)),
		     -ENOSYS);
	cr_assert_str_eq(why, "ioctl 0xc0049463 (_IOWR type 0x94 nr 0x63 size 4) on fd 5");
	cr_assert_eq(verdict(SYS_fcntl, (uint64_t[6]){ 5, 9999 }, why, sizeof(why)), -ENOSYS);
	cr_assert_str_eq(why, "fcntl request 9999 on fd 5");
	cr_assert_eq(verdict(500, (uint64_t[6]){ 0 }, why, sizeof(why)), -ENOSYS);
	cr_assert_str_eq(why, "syscall 500");
}

Test(rows, newer_syscalls_have_names)
{
	cr_assert_str_eq(sc_name(452), "fchmodat2");
	cr_assert_str_eq(sc_name(462), "mseal");
	cr_assert(sc_known(452));
	cr_assert_null(sc_name(470));
}

Test(rows, new_rows_are_known)
{
	static const long nrs[] = {
		SYS_pkey_alloc, SYS_pkey_free, SYS_pkey_mprotect, SYS_recvmmsg, SYS_sendmmsg,
		SYS_splice, SYS_tee, SYS_vmsplice, SYS_sync_file_range, SYS_openat2, SYS_mknod,
		SYS_mknodat, SYS_setxattr, SYS_lsetxattr, SYS_fsetxattr, SYS_removexattr,
		SYS_lremovexattr, SYS_fremovexattr, SYS_inotify_init, SYS_fanotify_init,
		SYS_fanotify_mark, SYS_sched_getattr, SYS_sched_setattr, SYS_sched_setparam,
		SYS_sched_rr_get_interval, SYS_ioprio_set, SYS_mbind, SYS_set_mempolicy,
		SYS_get_mempolicy, SYS_set_mempolicy_home_node, SYS_kcmp, SYS_open_tree,
		SYS_move_mount, SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_fspick, SYS_mount_setattr,
		SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chroot, SYS_add_key, SYS_request_key,
		SYS_keyctl, SYS_clock_settime, SYS_clock_adjtime, SYS_adjtimex, SYS_settimeofday,
		SYS_acct, SYS_quotactl, SYS_syslog, SYS_sethostname, SYS_setdomainname,
		SYS_name_to_handle_at, SYS_open_by_handle_at, SYS_ustat, SYS_sysfs,
	};

	for (size_t i = 0; i < ARRAY_SIZE(nrs); i++)
		cr_assert(sc_known(nrs[i]), "%s", sc_name(nrs[i]));
	cr_assert_not(sc_known(SYS_io_uring_setup));
	cr_assert_not(sc_known(SYS_userfaultfd));
}

Test(rows, cachestat_covers_struct_cachestat)
{
	int fd = tmp_file_with("cached");
	uint64_t *range = (uint64_t *)(arena + 0);
	int64_t r;

	range[0] = 0;
	range[1] = 0; /* to the end */
	r = run_checked(451 /* cachestat */, (uint64_t[6]){ fd, at(0), at(64), 0 });
	need(r, "cachestat (Linux 6.5)");
	cr_assert_eq(covered(&ranges), 40);
	close(fd);
}

Test(rows, futex2_and_mseal_write_nothing)
{
	void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int64_t r;

	*(uint32_t *)(arena + 64) = 1;
	/* FUTEX2_SIZE_U32 (2): no waiters, so none woken */
	r = run_checked(454 /* futex_wake */, (uint64_t[6]){ at(64), 0xffffffffull, 1, 2 });
	need(r, "futex_wake (Linux 6.7)");
	cr_assert_eq(r, 0);
	cr_assert_eq(ranges.n, 0);
	/* the value differs: EAGAIN at once */
	cr_assert_eq(run_checked(455 /* futex_wait */, (uint64_t[6]){ at(64), 0, 0xffffffffull, 2, 0, 0 }),
		     -EAGAIN);
	cr_assert_eq(ranges.n, 0);
	cr_assert(sc_flags(455, (uint64_t[6]){ 0 }) & SC_MAY_BLOCK);
	cr_assert(sc_flags(SYS_futex_waitv, (uint64_t[6]){ 0 }) & SC_MAY_BLOCK);
	cr_assert(sc_flags(462, (uint64_t[6]){ 0 }) & SC_REPLAY_EXEC,
		  "replay seals the mapping too");
	r = run_checked(462 /* mseal */, (uint64_t[6]){ (uintptr_t)p, 4096, 0 });
	need(r, "mseal (Linux 6.10)");
	cr_assert_eq(ranges.n, 0);
	cr_assert_eq(munmap(p, 4096), -1, "sealed");
}

Test(rows, prctl_set_mdwe_is_replayed)
{
	uint64_t a[6] = { 65 /* PR_SET_MDWE */, 1 };

	cr_assert_eq(sc_check(SYS_prctl, a, (char[64]){ 0 }, 64), 0);
	cr_assert(sc_flags(SYS_prctl, a) & SC_REPLAY_EXEC,
		  "replay denies write-execute too");
	cr_assert_not(sc_flags(SYS_prctl, (uint64_t[6]){ 66 }) &
		      SC_REPLAY_EXEC);
}

Test(rows, reflinks_change_their_destination_file)
{
	cr_assert_eq(sc_written_fd(SYS_ioctl, (uint64_t[6]){ 7, FICLONE, 3 }), 7);
	cr_assert_eq(sc_written_fd(SYS_ioctl, (uint64_t[6]){ 7, FICLONERANGE, 0 }), 7);
	cr_assert_eq(sc_written_fd(SYS_ioctl, (uint64_t[6]){ 7, TCGETS, 0 }), -1);
}

/* The rows that write no memory, run where that harms nothing: each
 * succeeds (or fails, when noted) and the model gives no range. */
Test(rows, rows_that_write_nothing)
{
	int fd = tmp_file_with("nothing"), memfd;
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t pg = (uintptr_t)page;
	char path[64];
	pid_t pid;
	int status;
	int64_t r;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	strcpy((char *)arena + 1024, path);
	memset(arena + 2048, 0, 56);
	cr_assert_eq(syscall(SYS_sched_getattr, 0, arena + 2048, 56, 0), 0);
	struct {
		long nr;
		uint64_t a[6];
		bool may_fail; /* the kernel may refuse it here: still no outputs */
	} calls[] = {
		{ SYS_mlock2, { pg, 4096, 0 }, false },
		{ SYS_utimes, { at(1024), 0 }, false },
		{ SYS_utime, { at(1024), 0 }, false },
		{ SYS_futimesat, { AT_FDCWD, at(1024), 0 }, false },
		{ SYS_sched_setattr, { 0, at(2048), 0 }, false },
		{ SYS_sched_setparam, { 0, at(2100) }, false },
		{ SYS_ioprio_set, { 1 /* IOPRIO_WHO_PROCESS */, 0, 0 }, false },
		{ SYS_set_mempolicy, { 0 /* MPOL_DEFAULT */, 0, 0 }, false },
		{ SYS_mbind, { pg, 4096, 0, 0, 0, 0 }, false },
		{ SYS_set_mempolicy_home_node, { pg, 4096, 0, 0 }, true },
		{ SYS_migrate_pages, { 0, 0, 0, 0 }, true },
		{ SYS_kcmp, { (uint64_t)getpid(), (uint64_t)getpid(), 0 /* KCMP_FILE */, fd, fd }, true },
		{ SYS_request_key, { (uintptr_t)"user", (uintptr_t)"uprr-none", 0, 0 }, true },
		{ SYS_fanotify_init, { 0, O_RDONLY }, true },
		{ SYS_timer_getoverrun, { 12345 }, true },
		{ SYS_fsopen, { (uintptr_t)"tmpfs", 1 /* FSOPEN_CLOEXEC */ }, true },
		{ SYS_open_tree, { AT_FDCWD, (uintptr_t)"/tmp", 1u << 19 /* OPEN_TREE_CLOEXEC */ }, true },
		{ SYS_fspick, { AT_FDCWD, (uintptr_t)"/tmp", 1 /* FSPICK_CLOEXEC */ }, true },
	};
	*(int *)(arena + 2100) = 0;
	for (size_t i = 0; i < ARRAY_SIZE(calls); i++) {
		char why[160];

		cr_assert_eq(sc_check(calls[i].nr, calls[i].a, why, sizeof(why)), 0, "%s", why);
		sc_ranges_free(&ranges);
		r = run_checked(calls[i].nr, calls[i].a);
		cr_assert(r >= 0 || calls[i].may_fail, "%s: %s", sc_name(calls[i].nr),
			  strerror((int)-r));
		cr_assert_eq(ranges.n, 0, "%s", sc_name(calls[i].nr));
		if (r > 0 && (calls[i].nr == SYS_fanotify_init || calls[i].nr == SYS_fsopen ||
			      calls[i].nr == SYS_open_tree || calls[i].nr == SYS_fspick))
			close((int)r);
	}
	munmap(page, 4096);
	memfd = (int)run_checked(SYS_signalfd, (uint64_t[6]){ (uint64_t)-1, at(3000), 8 });
	cr_assert_geq(memfd, 0);
	cr_assert_eq(ranges.n, 0);
	close(memfd);
	/* chroot and mknod, in a child: they change the process, or /tmp */
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(syscall(SYS_chroot, "/") == 0 ? 0 : 1);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "chroot / as root");
	close(fd);
}

/* Rows that change the machine (time, names, accounting, swap, mounts,
 * pivot_root, vhangup) are not run: the model alone says they write nothing,
 * even when they succeed. */
Test(rows, rows_that_change_the_machine_write_nothing)
{
	static const long nrs[] = {
		SYS_clock_settime, SYS_settimeofday, SYS_sethostname, SYS_setdomainname, SYS_acct,
		SYS_swapon, SYS_swapoff, SYS_mount, SYS_umount2, SYS_pivot_root, SYS_move_mount,
		SYS_fsconfig, SYS_fsmount, SYS_mount_setattr, SYS_vhangup, SYS_capset, SYS_mknod,
		SYS_open_by_handle_at, SYS_fanotify_mark, SYS_add_key,
	};

	for (size_t i = 0; i < ARRAY_SIZE(nrs); i++) {
		uint64_t a[6] = { at(0), at(64), at(128), at(192), at(256), at(320) };

		sc_ranges_free(&ranges);
		outputs(nrs[i], a, 0);
		cr_assert_eq(ranges.n, 0, "%s", sc_name(nrs[i]));
		cr_assert_not(sc_flags(nrs[i], a) & SC_REPLAY_EXEC,
			      "%s: replay must not change the machine", sc_name(nrs[i]));
	}
}
