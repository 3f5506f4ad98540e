/* SPDX-License-Identifier: MIT */
/*
 * The syscall model: what each syscall writes into and reads out of tracee
 * memory, from the table in syscallent.h plus the request tables of the
 * multiplexers (subcmdent.h: ioctl, fcntl, futex, prctl, keyctl...) and the
 * checks of clone and ptrace. What no table knows runs in the kernel: the
 * recorder records its failure and stops at its success (sc_check).
 */
#define LOG_PREFIX "model"
#include <asm/unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <linux/futex.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/quota.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <termios.h>

#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif

#include "common/log.h"
#include "syscalls/syscalls.h"

enum out_kind {
	OUT_NONE = 0, OUT_FIXED, OUT_RET, OUT_ARGVAL, OUT_SOCKADDR, OUT_OPTVAL,
	OUT_FDSET, OUT_IOV, OUT_MSGHDR, OUT_MMSG, OUT_MMSG_LEN, OUT_DEDUPE, OUT_STRZ,
	OUT_NODEMASK, OUT_FHANDLE, OUT_MSGBUF, OUT_SEMALL, OUT_IOVEC
};
enum in_kind { IN_NONE = 0, IN_BUF, IN_IOV, IN_MSGHDR, IN_MMSG };

struct out_spec {
	uint8_t kind, arg, sarg;
	uint32_t size;
};

struct in_spec {
	uint8_t kind, arg, sarg;
};

#define SC_KNOWN (1u << 31)

struct syscall_row {
	uint32_t flags;
	struct out_spec out[4];
	struct in_spec in;
};

#include "syscalls/syscallent.h"

static const char *const syscall_names[] = {
#include "syscall-names.h"
};

/* Largest iovec count the kernel accepts (UIO_MAXIOV). */
#define MAX_IOV 1024

/* Syscalls newer than the build's headers (Debian 12: Linux 6.1), from
 * arch/x86/entry/syscalls/syscall_64.tbl. */
static const char *const newer_names[] = {
	[451] = "cachestat", [452] = "fchmodat2", [453] = "map_shadow_stack",
	[454] = "futex_wake", [455] = "futex_wait", [456] = "futex_requeue",
	[457] = "statmount", [458] = "listmount", [459] = "lsm_get_self_attr",
	[460] = "lsm_set_self_attr", [461] = "lsm_list_modules", [462] = "mseal",
	[463] = "setxattrat", [464] = "getxattrat", [465] = "listxattrat",
	[466] = "removexattrat", [467] = "open_tree_attr", [468] = "file_getattr",
	[469] = "file_setattr",
};

const char *
sc_name(long nr)
{
	if (nr < 0)
		return NULL;
	if ((size_t)nr < ARRAY_SIZE(syscall_names) && syscall_names[nr])
		return syscall_names[nr];
	if ((size_t)nr < ARRAY_SIZE(newer_names))
		return newer_names[nr];
	return NULL;
}

static const struct syscall_row *
row_of(long nr)
{
	if (nr < 0 || (size_t)nr >= ARRAY_SIZE(syscall_table))
		return NULL;
	if (!(syscall_table[nr].flags & SC_KNOWN))
		return NULL;
	return &syscall_table[nr];
}

bool
sc_known(long nr)
{
	return row_of(nr) != NULL;
}

bool
sc_futex_wakes(long nr, const uint64_t args[6])
{
	if (nr != __NR_futex)
		return false;
	switch (args[1] & FUTEX_CMD_MASK) {
	case FUTEX_WAKE:
	case FUTEX_WAKE_BITSET:
	case FUTEX_WAKE_OP:
	case FUTEX_REQUEUE:
	case FUTEX_CMP_REQUEUE:
	case FUTEX_UNLOCK_PI:
		return true;
	default:
		return false;
	}
}

/* One request of a multiplexing syscall (subcmdent.h). */
struct sub_row {
	uint64_t cmd;
	const char *name;
	uint32_t flags;		/* SUB_OK if recorded; SC_MAY_BLOCK, SC_REPLAY_EXEC */
	struct out_spec out;	/* what the kernel writes when it succeeds */
	const char *why;	/* without SUB_OK: why uprr does not record it */
};

static uint64_t
futex_cmd(const uint64_t args[6])
{
	return args[1] & FUTEX_CMD_MASK;
}

/* SysV control commands: IPC_64 (0x100) is the only version there is on
 * x86-64, and glibc may pass it (ipc/util.h ipc_parse_version) */
static uint64_t
ipcctl_cmd(const uint64_t args[6])
{
	return (uint32_t)args[1] & ~0x100u;
}

static uint64_t
semctl_cmd(const uint64_t args[6])
{
	return (uint32_t)args[2] & ~0x100u;
}

static uint64_t
quotactl_cmd(const uint64_t args[6])
{
	return (uint32_t)args[0] >> 8;
}

static uint64_t
quotactl_fd_cmd(const uint64_t args[6])
{
	return (uint32_t)args[1] >> 8;
}

#include "syscalls/subcmdent.h"

/* Syscalls that have a name in messages but no row: they run in the kernel
 * like any unknown syscall, and stop the recording if they succeed. */
static const struct refused_row {
	long nr;
	const char *why;
} refused_syscalls[] = {
	{ __NR_io_uring_setup, "its rings are memory the kernel shares with the program" },
	{ __NR_io_uring_enter, "its rings are memory the kernel shares with the program" },
	{ __NR_io_uring_register, "its rings are memory the kernel shares with the program" },
	{ __NR_userfaultfd, "page faults the program serves itself are not modelled" },
	{ __NR_memfd_secret, "its memory is hidden from the supervisor (/proc/PID/mem)" },
	{ __NR_io_setup, "its completion ring is memory the kernel writes behind the supervisor" },
};

static const struct sub_table *
sub_table_of(long nr)
{
	for (size_t i = 0; i < ARRAY_SIZE(sub_tables); i++)
		if (sub_tables[i].nr == nr)
			return &sub_tables[i];
	return NULL;
}

static uint64_t
sub_cmd(const struct sub_table *st, const uint64_t args[6])
{
	if (st->cmd_of)
		return st->cmd_of(args);
	/* fcntl's, prctl's and syslog's commands are int: ignore the upper half */
	return st->ioc ? (uint64_t)(unsigned int)args[st->cmd_arg] : (uint64_t)(int)args[st->cmd_arg];
}

/* The row of @nr's request in @args, known or refused, or NULL. */
static const struct sub_row *
sub_lookup(long nr, const uint64_t args[6], const struct sub_table **ret_table)
{
	const struct sub_table *st = sub_table_of(nr);
	uint64_t cmd;

	if (ret_table)
		*ret_table = st;
	if (!st)
		return NULL;
	cmd = sub_cmd(st, args);
	for (size_t i = 0; i < st->n; i++)
		if (st->rows[i].cmd == cmd)
			return &st->rows[i];
	return NULL;
}

/* A request of @nr that uprr records, or NULL. */
static const struct sub_row *
sub_known(long nr, const uint64_t args[6])
{
	const struct sub_row *sr = sub_lookup(nr, args, NULL);

	return sr && (sr->flags & SUB_OK) ? sr : NULL;
}

uint32_t
sc_flags(long nr, const uint64_t args[6])
{
	const struct syscall_row *row = row_of(nr);
	const struct sub_row *sr;
	uint32_t flags;

	if (!row)
		return 0;
	flags = row->flags & ~SC_KNOWN;
	if ((flags & SC_SPECIAL) && (sr = sub_lookup(nr, args, NULL)))
		flags |= sr->flags & (SC_MAY_BLOCK | SC_REPLAY_EXEC);
	return flags;
}

/* "'T'" or "0x94": the type byte of an ioctl request. */
static void
ioc_type(unsigned type, char *buf, size_t len)
{
	if (type >= 0x20 && type < 0x7f && type != '\'' && type != '\\')
		snprintf(buf, len, "'%c'", type);
	else
		snprintf(buf, len, "0x%02x", type);
}

/* Name the request of multiplexer @st in @args: "ioctl FIOASYNC (0x5452) on
 * fd 3: why", or its decoded number when no table knows it. */
static void
name_request(const struct sub_table *st, const struct sub_row *sr, const uint64_t args[6],
	     char *why, size_t len)
{
	uint64_t cmd = sub_cmd(st, args);
	char fd[32] = "", type[8];

	if (st->nr == __NR_ioctl || st->nr == __NR_fcntl)
		snprintf(fd, sizeof(fd), " on fd %d", (int)args[0]);
	if (sr) {
		snprintf(why, len, "%s %s (%#" PRIx64 ")%s: %s", st->what, sr->name, cmd, fd,
			 sr->why ? sr->why : "not modelled");
		return;
	}
	if (st->ioc) {
		static const char *const dirs[] = { "_IO", "_IOW", "_IOR", "_IOWR" };
		unsigned dir = (unsigned)_IOC_DIR(cmd), size = (unsigned)_IOC_SIZE(cmd);
		unsigned nr = (unsigned)_IOC_NR(cmd);

		ioc_type((unsigned)_IOC_TYPE(cmd), type, sizeof(type));
		if (dir == _IOC_NONE && size == 0)
			snprintf(why, len, "ioctl %#" PRIx64 " (_IO type %s nr %#x)%s", cmd, type, nr,
				 fd);
		else
			snprintf(why, len, "ioctl %#" PRIx64 " (%s type %s nr %#x size %u)%s", cmd,
				 dirs[dir & 3], type, nr, size, fd);
		return;
	}
	snprintf(why, len, "%s request %" PRId64 "%s", st->what, (int64_t)cmd, fd);
}

/*
 * The sandboxing calls that must never run: seccomp strict mode
 * (seccomp(2) SECCOMP_SET_MODE_STRICT, prctl PR_SET_SECCOMP), which fails
 * under uprr's filter (EINVAL) where it works natively, and a filter with
 * SECCOMP_FILTER_FLAG_NEW_LISTENER; named in @why. Returns 0 or -ENOSYS.
 */
static int
sandbox_check(long nr, const uint64_t args[6], char *why, size_t len)
{
	switch (nr) {
	case __NR_seccomp:
		/* strict mode cannot follow uprr's filter (EINVAL: one mode per
		 * thread, seccomp_may_assign_mode()), where it works natively;
		 * with flags or a pointer it fails anyway (libseccomp probes so) */
		if (args[0] == SECCOMP_SET_MODE_STRICT && !args[1] && !args[2]) {
			snprintf(why, len, "seccomp SECCOMP_SET_MODE_STRICT (uprr's own filter "
				 "excludes strict mode)");
			return -ENOSYS;
		}
		/* a supervisor process would answer the program's syscalls
		 * through the listener fd: uprr does not model that (without
		 * a filter, EFAULT, as libseccomp probes: fine) */
		if (args[0] == SECCOMP_SET_MODE_FILTER && (args[1] & SECCOMP_FILTER_FLAG_NEW_LISTENER) &&
		    args[2]) {
			snprintf(why, len, "seccomp with SECCOMP_FILTER_FLAG_NEW_LISTENER");
			return -ENOSYS;
		}
		return 0;
	case __NR_prctl:
		if (args[0] == PR_SET_SECCOMP && args[1] == SECCOMP_MODE_STRICT) {
			snprintf(why, len, "prctl PR_SET_SECCOMP with SECCOMP_MODE_STRICT (uprr's "
				 "own filter excludes strict mode)");
			return -ENOSYS;
		}
		return 0;
	default:
		return 0;
	}
}

int
sc_check(long nr, const uint64_t args[6], char *why, size_t len)
{
	const struct syscall_row *row = row_of(nr);
	const char *name = sc_name(nr);
	const struct sub_table *st;
	const struct sub_row *sr;

	if (!row) {
		for (size_t i = 0; i < ARRAY_SIZE(refused_syscalls); i++)
			if (refused_syscalls[i].nr == nr) {
				snprintf(why, len, "syscall %s (%ld): %s", name, nr,
					 refused_syscalls[i].why);
				return -ENOSYS;
			}
		if (name)
			snprintf(why, len, "syscall %s (%ld)", name, nr);
		else
			snprintf(why, len, "syscall %ld", nr);
		return -ENOSYS;
	}
	if (!(row->flags & SC_SPECIAL))
		return 0;
	/* seccomp strict mode, a listener fd: never run */
	if (sandbox_check(nr, args, why, len) < 0)
		return -EPERM;
	switch (nr) {
	case __NR_clone:
		/* a thread, a process (fork), or a process sharing its parent's
		 * memory until it execs (vfork); an untraced child would escape
		 * even if the recording stopped at once: never run it */
		if (args[0] & CLONE_UNTRACED) {
			snprintf(why, len, "clone with CLONE_UNTRACED");
			return -EPERM;
		}
		if ((args[0] & CLONE_THREAD) && !(args[0] & CLONE_VM)) {
			snprintf(why, len, "clone of a thread without CLONE_VM");
			return -EPERM;
		}
		return 0;
	default:
		break;
	}
	sr = sub_lookup(nr, args, &st);
	if (!st || (sr && (sr->flags & SUB_OK)))
		return 0;
	name_request(st, sr, args, why, len);
	return -ENOSYS;
}

int
sc_ranges_add(struct sc_ranges *rs, uint64_t addr, uint64_t len)
{
	if (len == 0 || addr == 0)
		return 0;
	if (UTIL_GROW(rs->v, rs->cap, rs->n + 1) < 0)
		return -ENOMEM;
	rs->v[rs->n++] = (struct sc_range){ addr, len };
	return 0;
}

void
sc_ranges_free(struct sc_ranges *rs)
{
	free(rs->v);
	rs->v = NULL;
	rs->n = rs->cap = 0;
}

/* Add up to @total bytes scattered over @cnt iovecs at @iov_addr. */
static int
add_iov(uint64_t iov_addr, uint64_t cnt, uint64_t total, sc_mem_read_fn read, void *ctx,
	struct sc_ranges *out)
{
	struct iovec iov[64];
	uint64_t done = 0;
	int r;

	cnt = MIN(cnt, (uint64_t)MAX_IOV);
	for (uint64_t i = 0; i < cnt && done < total; i += ARRAY_SIZE(iov)) {
		size_t n = MIN(cnt - i, ARRAY_SIZE(iov));

		r = read(ctx, iov_addr + i * sizeof(struct iovec), iov, n * sizeof(struct iovec));
		if (r < 0)
			return r;
		for (size_t j = 0; j < n && done < total; j++) {
			uint64_t l = MIN((uint64_t)iov[j].iov_len, total - done);

			r = sc_ranges_add(out, (uint64_t)(uintptr_t)iov[j].iov_base, l);
			if (r < 0)
				return r;
			done += l;
		}
	}
	return 0;
}

/* One struct iovec at @iov_addr and the iov_len bytes at its iov_base, as the
 * call left them (PTRACE_GETREGSET stores the size it wrote in iov_len). */
static int
add_iovec(uint64_t iov_addr, sc_mem_read_fn read, void *ctx, struct sc_ranges *out)
{
	struct iovec iov;
	int r = read(ctx, iov_addr, &iov, sizeof(iov));

	if (r < 0)
		return r;
	r = sc_ranges_add(out, iov_addr, sizeof(iov));
	if (r < 0 || !iov.iov_len)
		return r;
	return sc_ranges_add(out, (uint64_t)(uintptr_t)iov.iov_base, iov.iov_len);
}

/*
 * The length at @len_addr and the bytes the kernel wrote at @addr: the new
 * length, but never more than the caller's buffer (@entry), since the kernel
 * reports the full length of a truncated value; @cap without an entry state.
 */
static int
add_inout(uint64_t addr, uint64_t len_addr, const struct sc_entry *entry, uint32_t cap,
	  sc_mem_read_fn read, void *ctx, struct sc_ranges *out)
{
	uint32_t len;
	int r;

	if (!len_addr)
		return 0;
	r = read(ctx, len_addr, &len, sizeof(len));
	if (r < 0)
		return r;
	r = sc_ranges_add(out, len_addr, sizeof(len));
	if (r < 0)
		return r;
	return sc_ranges_add(out, addr, MIN(len, entry && entry->has_len ? entry->len : cap));
}

static int
add_msghdr(uint64_t addr, int64_t result, bool for_output, const struct sc_entry *entry,
	   sc_mem_read_fn read, void *ctx, struct sc_ranges *out)
{
	struct msghdr msg;
	int r;

	r = read(ctx, addr, &msg, sizeof(msg));
	if (r < 0)
		return r;
	if (for_output) {
		/* the kernel updates msg_namelen, msg_controllen and msg_flags */
		r = sc_ranges_add(out, addr, sizeof(msg));
		if (r == 0)
			r = sc_ranges_add(out, (uint64_t)(uintptr_t)msg.msg_name,
					  MIN(msg.msg_namelen, entry && entry->has_len
								    ? entry->len
								    : (socklen_t)sizeof(struct sockaddr_storage)));
		if (r == 0)
			r = sc_ranges_add(out, (uint64_t)(uintptr_t)msg.msg_control,
					  msg.msg_controllen);
		if (r < 0)
			return r;
	}
	return add_iov((uint64_t)(uintptr_t)msg.msg_iov, msg.msg_iovlen, (uint64_t)result, read,
		       ctx, out);
}

void
sc_entry_state(long nr, const uint64_t args[6], sc_mem_read_fn read, void *ctx,
	       struct sc_entry *ret_entry)
{
	const struct syscall_row *row = row_of(nr);
	uint32_t len;

	ret_entry->has_len = false;
	if (!row)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(row->out); i++) {
		const struct out_spec *o = &row->out[i];

		if (o->kind == OUT_SOCKADDR || o->kind == OUT_OPTVAL) {
			if (args[o->sarg] && read(ctx, args[o->sarg], &len, sizeof(len)) == 0) {
				ret_entry->has_len = true;
				ret_entry->len = len;
			}
			return;
		}
		if (o->kind == OUT_MSGHDR) {
			struct msghdr msg;

			if (read(ctx, args[o->arg], &msg, sizeof(msg)) == 0) {
				ret_entry->has_len = true;
				ret_entry->len = msg.msg_namelen;
			}
			return;
		}
	}
}

/* FIDEDUPERANGE copies struct file_dedupe_range back whole: 24 bytes and
 * dest_count struct file_dedupe_range_info of 32 (ioctl_file_dedupe_range(),
 * fs/ioctl.c; include/uapi/linux/fs.h). */
static int
add_dedupe(uint64_t addr, sc_mem_read_fn read, void *ctx, struct sc_ranges *out)
{
	uint16_t count;
	int r = read(ctx, addr + 16, &count, sizeof(count));

	if (r < 0)
		return r;
	return sc_ranges_add(out, addr, 24 + 32 * (uint64_t)count);
}

/* A NUL-terminated string the kernel wrote at @addr (sysfs(2) option 2: a
 * filesystem type's name), read back a few bytes at a time: the string may
 * end near the end of a mapping. */
static int
add_strz(uint64_t addr, sc_mem_read_fn read, void *ctx, struct sc_ranges *out)
{
	char buf[16];

	for (uint64_t off = 0; off < 4096; off += sizeof(buf)) {
		int r = read(ctx, addr + off, buf, sizeof(buf));

		if (r < 0)
			return r;
		for (size_t i = 0; i < sizeof(buf); i++)
			if (!buf[i])
				return sc_ranges_add(out, addr, off + i + 1);
	}
	return sc_ranges_add(out, addr, 4096);
}

/* The first @n struct mmsghdr of @addr (64 bytes each: a msghdr and the
 * msg_len the kernel writes back): recvmmsg(2) writes each like recvmsg(2)
 * (@full), sendmmsg(2) only msg_len. */
static int
add_mmsg(uint64_t addr, uint64_t n, bool full, sc_mem_read_fn read, void *ctx,
	 struct sc_ranges *out)
{
	const uint64_t size = sizeof(struct mmsghdr);
	int r = 0;

	n = MIN(n, (uint64_t)MAX_IOV); /* UIO_MAXIOV bounds vlen too */
	for (uint64_t i = 0; i < n && r >= 0; i++) {
		uint32_t len;

		if (!full) {
			r = sc_ranges_add(out, addr + i * size + offsetof(struct mmsghdr, msg_len), 4);
			continue;
		}
		r = read(ctx, addr + i * size + offsetof(struct mmsghdr, msg_len), &len, sizeof(len));
		if (r == 0)
			r = sc_ranges_add(out, addr + i * size, size);
		if (r == 0)
			r = add_msghdr(addr + i * size, len, true, NULL, read, ctx, out);
	}
	return r;
}

/*
 * get_mempolicy(2)'s node mask: ALIGN(maxnode - 1, 64) / 8 bytes, the
 * kernel's nodes then zeros (copy_nodes_to_user(), mm/mempolicy.c).
 */
static int
add_nodemask(uint64_t addr, uint64_t maxnode, struct sc_ranges *out)
{
	if (!maxnode)
		return 0;
	return sc_ranges_add(out, addr, MIN((maxnode - 1 + 63) / 64 * 8, (uint64_t)4096));
}

/*
 * name_to_handle_at(2): struct file_handle's 8-byte header and
 * handle_bytes of handle, and the mount id (an int, a u64 with
 * AT_HANDLE_MNT_ID_UNIQUE, Linux 6.12). When the handle does not fit
 * (EOVERFLOW) the kernel writes the header with the size needed, and the
 * mount id (do_sys_name_to_handle(), fs/fhandle.c).
 */
static int
add_fhandle(const uint64_t args[6], int64_t result, sc_mem_read_fn read, void *ctx,
	    struct sc_ranges *out)
{
	uint32_t bytes = 0;
	int r;

	if (result != 0 && result != -EOVERFLOW)
		return 0;
	if (result == 0) {
		r = read(ctx, args[2], &bytes, sizeof(bytes));
		if (r < 0)
			return r;
	}
	r = sc_ranges_add(out, args[2], 8 + MIN(bytes, 128u)); /* MAX_HANDLE_SZ */
	if (r == 0)
		r = sc_ranges_add(out, args[3], (args[4] & 1) ? 8 : 4);
	return r;
}

/* semctl(2) GETALL: one unsigned short per semaphore of set @id, whose
 * size uprr asks the kernel itself (it shares the tracee's IPC namespace:
 * recorder/ipc.c refuses another). */
static int
add_semall(uint64_t addr, uint64_t id, struct sc_ranges *out)
{
	struct semid_ds ds;

	if (semctl((int)id, 0, IPC_STAT, &ds) < 0)
		return 0;
	return sc_ranges_add(out, addr, (uint64_t)ds.sem_nsems * sizeof(unsigned short));
}

/* Add the memory that output @o of syscall @nr describes. */
static int
add_output(long nr, const struct out_spec *o, const uint64_t args[6], int64_t result,
	   const struct sc_entry *entry, sc_mem_read_fn read, void *ctx,
	   struct sc_ranges *out)
{
	uint64_t a = args[o->arg];

	switch (o->kind) {
	case OUT_NONE:
		return 0;
	case OUT_FIXED:
		return sc_ranges_add(out, a, o->size);
	case OUT_RET:
		/* never past the buffer: a result may say more (MSG_TRUNC),
		 * or be INT64_MAX, for a syscall still running */
		if (result <= 0)
			return 0;
		return sc_ranges_add(out, a, MIN(MIN((uint64_t)result, args[o->sarg]),
						 UINT64_MAX / o->size) * o->size);
	case OUT_ARGVAL:
		if (nr == __NR_mincore)
			return sc_ranges_add(out, a, (args[1] + 4095) / 4096);
		return sc_ranges_add(out, a, MIN(args[o->sarg], (uint64_t)1 << 26) * o->size);
	case OUT_SOCKADDR:
		return add_inout(a, args[o->sarg], entry, sizeof(struct sockaddr_storage), read, ctx,
				 out);
	case OUT_OPTVAL:
		return add_inout(a, args[o->sarg], entry, 1u << 16, read, ctx, out);
	case OUT_FDSET:
		/* FDS_BYTES(nfds) of fs/select.c: whole longs */
		return sc_ranges_add(out, a, (MIN(args[o->sarg], 1024 * 1024u) + 63) / 64 * 8);
	case OUT_IOV:
		return result > 0 ? add_iov(a, args[o->sarg], (uint64_t)result, read, ctx, out) : 0;
	case OUT_MSGHDR:
		return add_msghdr(a, result, true, entry, read, ctx, out);
	case OUT_MMSG:
		return result > 0 ? add_mmsg(a, (uint64_t)result, true, read, ctx, out) : 0;
	case OUT_MMSG_LEN:
		return result > 0 ? add_mmsg(a, (uint64_t)result, false, read, ctx, out) : 0;
	case OUT_DEDUPE:
		return add_dedupe(a, read, ctx, out);
	case OUT_STRZ:
		return add_strz(a, read, ctx, out);
	case OUT_NODEMASK:
		return add_nodemask(a, args[o->sarg], out);
	case OUT_FHANDLE:
		return add_fhandle(args, result, read, ctx, out);
	case OUT_MSGBUF:
		/* msgrcv(2)'s struct msgbuf: the type, then the result's bytes
		 * of text, never more than msgsz (a syscall still running) */
		if (result < 0)
			return 0;
		return sc_ranges_add(out, a, sizeof(long) + MIN((uint64_t)result, args[o->sarg]));
	case OUT_SEMALL:
		return add_semall(a, args[0], out);
	case OUT_IOVEC:
		return add_iovec(a, read, ctx, out);
	}
	return 0;
}

int
sc_outputs(long nr, const uint64_t args[6], int64_t result,
	   const struct sc_entry *entry, sc_mem_read_fn read, void *ctx,
	   struct sc_ranges *out)
{
	const struct syscall_row *row = row_of(nr);
	const struct sub_row *sr;
	int r = 0;

	if (!row)
		return 0;
	if (result < 0 && !(row->flags & SC_OUT_ON_ERROR))
		return 0;
	if ((row->flags & SC_SPECIAL) && result >= 0 && (sr = sub_known(nr, args)))
		r = add_output(nr, &sr->out, args, result, entry, read, ctx, out);
	for (size_t i = 0; i < ARRAY_SIZE(row->out) && r >= 0; i++)
		r = add_output(nr, &row->out[i], args, result, entry, read, ctx, out);
	return r;
}

int
sc_inputs(long nr, const uint64_t args[6], sc_mem_read_fn read, void *ctx,
	  struct sc_ranges *out)
{
	const struct syscall_row *row = row_of(nr);

	if (!row)
		return 0;
	switch (row->in.kind) {
	case IN_BUF:
		return sc_ranges_add(out, args[row->in.arg], MIN(args[row->in.sarg], (uint64_t)1 << 30));
	case IN_IOV:
		return add_iov(args[row->in.arg], args[row->in.sarg], UINT64_MAX, read, ctx, out);
	case IN_MSGHDR:
		return add_msghdr(args[row->in.arg], INT64_MAX, false, NULL, read, ctx, out);
	case IN_MMSG: {
		/* every message of the vector: what the kernel sends of each */
		uint64_t n = MIN(args[row->in.sarg], (uint64_t)MAX_IOV);
		int r = 0;

		for (uint64_t i = 0; i < n && r >= 0; i++)
			r = add_msghdr(args[row->in.arg] + i * sizeof(struct mmsghdr), INT64_MAX,
				       false, NULL, read, ctx, out);
		return r;
	}
	default:
		return 0;
	}
}

bool
sc_is_send(long nr)
{
	return nr == __NR_sendto || nr == __NR_sendmsg;
}

bool
sc_is_write(long nr)
{
	switch (nr) {
	case __NR_write:
	case __NR_writev:
	case __NR_pwrite64:
	case __NR_pwritev:
	case __NR_pwritev2:
		return true;
	default:
		return false;
	}
}

int
sc_written_fd(long nr, const uint64_t args[6])
{
	switch (nr) {
	case __NR_ftruncate:
	case __NR_fallocate:
	case __NR_sendfile:
		return (int)args[0];
	case __NR_splice:
	case __NR_copy_file_range:
		return (int)args[2];
	case __NR_ioctl:
		/* a reflink replaces the destination's contents (ioctl_ficlone(2)) */
		if ((unsigned int)args[1] == FICLONE || (unsigned int)args[1] == FICLONERANGE)
			return (int)args[0];
		return -1;
	default:
		return sc_is_write(nr) ? (int)args[0] : -1;
	}
}

int
sc_wait_mask(long nr, const uint64_t args[6], int64_t result, sc_mem_read_fn read,
	     void *ctx, uint64_t *ret_mask)
{
	uint64_t addr, size, ptr_size[2];

	if (result != -EINTR && result != -SC_ERESTARTNOHAND)
		return 0;
	switch (nr) {
	case __NR_rt_sigsuspend:
		addr = args[0], size = args[1];
		break;
	case __NR_ppoll:
		addr = args[3], size = args[4];
		break;
	case __NR_epoll_pwait:
	case __NR_epoll_pwait2:
		addr = args[4], size = args[5];
		break;
	case __NR_pselect6:
		/* the sixth argument points to { const sigset_t *ss; size_t ss_len } */
		if (!args[5])
			return 0;
		if (read(ctx, args[5], ptr_size, sizeof(ptr_size)) < 0)
			return -EFAULT;
		addr = ptr_size[0], size = ptr_size[1];
		break;
	default:
		return 0;
	}
	if (!addr || size != sizeof(*ret_mask))
		return 0;
	if (read(ctx, addr, ret_mask, sizeof(*ret_mask)) < 0)
		return -EFAULT;
	return 1;
}
