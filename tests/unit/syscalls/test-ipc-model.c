/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the syscall model's rows for IPC, pidfds, other processes'
 * memory, perf events and signal-driven I/O: each output test runs the real
 * syscall in this process on buffers inside a canary-filled arena and checks
 * that the ranges sc_outputs() gives cover every byte the kernel
 * changed, stay in the buffer, and have the man pages' sizes. Then the
 * per-command checks and the flags.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <linux/sockios.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "syscalls/syscalls.h"

#include "model-arena.h"

/* The model's outputs of one call, alone in the ranges. */
static void
outputs_alone(long nr, const uint64_t args[6], int64_t result)
{
	ranges.n = 0;
	outputs(nr, args, result);
}

static char why[256];

static int
check(long nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	why[0] = '\0';
	return sc_check(nr, (uint64_t[6]){ a0, a1, a2 }, why, sizeof(why));
}

TestSuite(ipc_model, .init = arena_init, .fini = arena_fini, .timeout = 30);

/* ---- SysV ---- */

Test(ipc_model, shmctl_stat_and_info_cover_their_structs)
{
	int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	static const struct {
		int cmd;
		size_t size;
	} cmds[] = {
		{ IPC_STAT, sizeof(struct shmid_ds) },
		{ IPC_INFO, sizeof(struct shminfo) },
		{ SHM_INFO, sizeof(struct shm_info) },
	};

	cr_assert_geq(id, 0, "shmget: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		int64_t r;

		arena_init();
		snapshot();
		r = raw(syscall(SYS_shmctl, id, cmds[i].cmd, arena + 64));
		cr_assert_geq(r, 0, "shmctl %d: %s", cmds[i].cmd, strerror(errno));
		cr_assert_eq(check(SYS_shmctl, id, cmds[i].cmd, at(64)), 0, "%s", why);
		outputs_alone(SYS_shmctl, (uint64_t[6]){ id, cmds[i].cmd, at(64) }, r);
		assert_covers_writes(&ranges);
		cr_assert_eq(covered(&ranges), cmds[i].size, "shmctl %d", cmds[i].cmd);
		sc_ranges_free(&ranges);
	}
	cr_assert_eq(shmctl(id, IPC_RMID, NULL), 0);
	outputs_alone(SYS_shmctl, (uint64_t[6]){ id, IPC_RMID, 0 }, 0);
	cr_assert_eq(ranges.n, 0, "IPC_RMID writes nothing");
}

Test(ipc_model, semctl_getall_covers_one_short_per_semaphore)
{
	int id = semget(IPC_PRIVATE, 5, IPC_CREAT | 0600);
	unsigned short vals[5] = { 1, 2, 3, 4, 5 };
	int64_t r;

	cr_assert_geq(id, 0, "semget: %s", strerror(errno));
	cr_assert_eq(semctl(id, 0, SETALL, vals), 0);
	snapshot();
	r = raw(syscall(SYS_semctl, id, 0, GETALL, arena + 10));
	cr_assert_eq(r, 0, "GETALL: %s", strerror(errno));
	cr_assert_eq(check(SYS_semctl, id, 0, GETALL), 0, "%s", why);
	outputs_alone(SYS_semctl, (uint64_t[6]){ id, 0, GETALL, at(10) }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), 5 * sizeof(unsigned short));

	arena_init();
	snapshot();
	r = raw(syscall(SYS_semctl, id, 0, IPC_STAT, arena + 8));
	cr_assert_eq(r, 0);
	outputs_alone(SYS_semctl, (uint64_t[6]){ id, 0, IPC_STAT, at(8) }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), sizeof(struct semid_ds));

	arena_init();
	snapshot();
	r = raw(syscall(SYS_semctl, id, 0, SEM_INFO, arena + 8));
	cr_assert_geq(r, 0);
	outputs_alone(SYS_semctl, (uint64_t[6]){ id, 0, SEM_INFO, at(8) }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), sizeof(struct seminfo));

	/* values and counts come back as the result only */
	outputs_alone(SYS_semctl, (uint64_t[6]){ id, 2, GETVAL, at(8) }, 3);
	cr_assert_eq(ranges.n, 0);
	cr_assert_eq(semctl(id, 0, IPC_RMID), 0);
}

Test(ipc_model, msgrcv_covers_type_and_result_bytes)
{
	int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	struct {
		long mtype;
		char text[16];
	} m = { 7, "hello, queue" };
	int64_t r;

	cr_assert_geq(id, 0, "msgget: %s", strerror(errno));
	cr_assert_eq(msgsnd(id, &m, 13, 0), 0);
	snapshot();
	/* a buffer larger than the message: only mtype + 13 bytes are written */
	r = raw(syscall(SYS_msgrcv, id, arena + 128, 100, 0, 0));
	cr_assert_eq(r, 13, "msgrcv: %s", strerror(errno));
	outputs_alone(SYS_msgrcv, (uint64_t[6]){ id, at(128), 100, 0, 0 }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), sizeof(long) + 13);
	/* still running: never past msgsz */
	outputs_alone(SYS_msgrcv, (uint64_t[6]){ id, at(128), 100, 0, 0 }, INT64_MAX);
	cr_assert_eq(covered(&ranges), sizeof(long) + 100);
	outputs_alone(SYS_msgrcv, (uint64_t[6]){ id, at(128), 100, 0, 0 }, -ENOMSG);
	cr_assert_eq(ranges.n, 0);

	arena_init();
	snapshot();
	r = raw(syscall(SYS_msgctl, id, IPC_STAT, arena + 8));
	cr_assert_eq(r, 0);
	outputs_alone(SYS_msgctl, (uint64_t[6]){ id, IPC_STAT, at(8) }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), sizeof(struct msqid_ds));
	arena_init();
	snapshot();
	r = raw(syscall(SYS_msgctl, id, MSG_INFO, arena + 8));
	cr_assert_geq(r, 0);
	outputs_alone(SYS_msgctl, (uint64_t[6]){ id, MSG_INFO, at(8) }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), sizeof(struct msginfo));
	cr_assert_eq(msgctl(id, IPC_RMID, NULL), 0);
}

Test(ipc_model, ipc_ctl_commands_are_named_when_unknown)
{
	cr_assert_eq(check(SYS_semctl, 0, 0, 99), -ENOSYS);
	cr_assert(strstr(why, "semctl request 99"), "message: '%s'", why);
	cr_assert_eq(check(SYS_shmctl, 0, 99, 0), -ENOSYS);
	cr_assert(strstr(why, "shmctl request 99"), "message: '%s'", why);
	cr_assert_eq(check(SYS_msgctl, 0, 99, 0), -ENOSYS);
	cr_assert(strstr(why, "msgctl request 99"), "message: '%s'", why);
	/* IPC_64 is a version, not another command */
	cr_assert_eq(check(SYS_msgctl, 0, IPC_STAT | 0x100, 0), 0);
	cr_assert_eq(check(SYS_shmctl, 0, IPC_RMID, 0), 0);
	cr_assert_eq(check(SYS_semctl, 0, 0, SETALL), 0);
}

/* ---- POSIX message queues ---- */

Test(ipc_model, mq_timedreceive_covers_message_and_priority)
{
	struct mq_attr attr = { .mq_maxmsg = 2, .mq_msgsize = 64 };
	char name[64];
	unsigned prio_off = 512;
	int64_t r;
	mqd_t q;

	snprintf(name, sizeof(name), "/uprr-test-model-%d", (int)getpid());
	q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
	if (q == (mqd_t)-1)
		cr_skip_test("no POSIX message queues here: %s", strerror(errno));
	mq_unlink(name);
	cr_assert_eq(mq_send(q, "twelve bytes", 12, 5), 0);
	snapshot();
	r = raw(syscall(SYS_mq_timedreceive, q, arena + 64, 64, arena + prio_off, NULL));
	cr_assert_eq(r, 12, "mq_timedreceive: %s", strerror(errno));
	outputs_alone(SYS_mq_timedreceive, (uint64_t[6]){ q, at(64), 64, at(prio_off), 0 }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), 12 + sizeof(unsigned));

	arena_init();
	snapshot();
	r = raw(syscall(SYS_mq_getsetattr, q, NULL, arena + 128));
	cr_assert_eq(r, 0);
	outputs_alone(SYS_mq_getsetattr, (uint64_t[6]){ q, 0, at(128) }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), sizeof(struct mq_attr));
	mq_close(q);
}

/* ---- other processes' memory ---- */

Test(ipc_model, process_vm_readv_covers_local_iovecs)
{
	static char source[32] = "bytes from another process";
	struct iovec local[2] = { { arena + 100, 10 }, { arena + 300, 50 } };
	struct iovec remote = { source, 27 };
	int64_t r;

	snapshot();
	r = raw(syscall(SYS_process_vm_readv, getpid(), local, 2, &remote, 1, 0));
	cr_assert_eq(r, 27, "process_vm_readv: %s", strerror(errno));
	outputs_alone(SYS_process_vm_readv,
		(uint64_t[6]){ getpid(), (uint64_t)(uintptr_t)local, 2, (uint64_t)(uintptr_t)&remote, 1 }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), 27, "the result's bytes, over the local iovecs");
}

Test(ipc_model, process_vm_writev_passes_out_its_local_iovecs)
{
	struct iovec local[2] = { { arena + 100, 10 }, { arena + 300, 50 } };

	ranges.n = 0;
	cr_assert_eq(sc_inputs(SYS_process_vm_writev,
			       (uint64_t[6]){ 1, (uint64_t)(uintptr_t)local, 2, 0, 0 },
			       self_read, NULL, &ranges),
		     0);
	cr_assert_eq(covered(&ranges), 60);
}

/* ---- signal-driven I/O and perf events ---- */

Test(ipc_model, owner_queries_cover_their_outputs)
{
	int sv[2], me = getpid(), on = 1;
	int64_t r;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(ioctl(sv[0], FIOSETOWN, &me), 0, "FIOSETOWN: %s", strerror(errno));
	cr_assert_eq(check(SYS_ioctl, sv[0], FIOASYNC, (uint64_t)(uintptr_t)&on), 0, "%s", why);
	cr_assert_eq(check(SYS_ioctl, sv[0], SIOCSPGRP, 0), 0, "%s", why);
	for (int i = 0; i < 2; i++) {
		unsigned long req = i ? SIOCGPGRP : FIOGETOWN;

		arena_init();
		snapshot();
		r = raw(syscall(SYS_ioctl, sv[0], req, arena + 40));
		cr_assert_eq(r, 0, "ioctl 0x%lx: %s", req, strerror(errno));
		cr_assert_eq(check(SYS_ioctl, sv[0], req, at(40)), 0, "%s", why);
		outputs_alone(SYS_ioctl, (uint64_t[6]){ sv[0], req, at(40) }, r);
		assert_covers_writes(&ranges);
		cr_assert_eq(covered(&ranges), sizeof(int));
		cr_assert_eq(*(int *)(arena + 40), me);
		sc_ranges_free(&ranges);
	}
	arena_init();
	snapshot();
	r = raw(syscall(SYS_fcntl, sv[0], F_GETOWN_EX, arena + 40));
	cr_assert_eq(r, 0, "F_GETOWN_EX: %s", strerror(errno));
	outputs_alone(SYS_fcntl, (uint64_t[6]){ sv[0], F_GETOWN_EX, at(40) }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), sizeof(struct f_owner_ex));
	for (int cmd = F_SETOWN; cmd <= F_GETSIG; cmd++)
		cr_assert_eq(check(SYS_fcntl, 0, (uint64_t)cmd, 0), 0, "fcntl %d: %s", cmd, why);
	outputs_alone(SYS_fcntl, (uint64_t[6]){ sv[0], F_GETSIG, 0 }, 0);
	cr_assert_eq(ranges.n, 0, "F_GETSIG answers in its result");
	close(sv[0]);
	close(sv[1]);
}

Test(ipc_model, perf_ioc_id_covers_the_id)
{
	struct perf_event_attr attr = { .type = PERF_TYPE_SOFTWARE, .size = sizeof(attr),
					.config = PERF_COUNT_SW_TASK_CLOCK, .disabled = 1,
					.exclude_kernel = 1 };
	int fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	int64_t r;

	if (fd < 0)
		cr_skip_test("no software perf events here: %s", strerror(errno));
	snapshot();
	r = raw(syscall(SYS_ioctl, fd, PERF_EVENT_IOC_ID, arena + 24));
	cr_assert_eq(r, 0, "PERF_EVENT_IOC_ID: %s", strerror(errno));
	outputs_alone(SYS_ioctl, (uint64_t[6]){ fd, PERF_EVENT_IOC_ID, at(24) }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), 8);
	for (int i = 0; i < 3; i++) {
		unsigned long req = (unsigned long[]){ PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_DISABLE,
						       PERF_EVENT_IOC_RESET }[i];

		cr_assert_eq(check(SYS_ioctl, fd, req, 0), 0, "%s", why);
		outputs_alone(SYS_ioctl, (uint64_t[6]){ fd, req, 0 }, 0);
		cr_assert_eq(ranges.n, 0);
	}
	/* the overflow signal's refresh is not modelled */
	cr_assert_eq(check(SYS_ioctl, fd, PERF_EVENT_IOC_REFRESH, 1), -ENOSYS);
	close(fd);
}

/* ---- flags ---- */

Test(ipc_model, flags)
{
	uint64_t args[6] = { 0 };

	cr_assert(sc_flags(SYS_semop, args) & SC_MAY_BLOCK);
	cr_assert(sc_flags(SYS_semtimedop, args) & SC_MAY_BLOCK);
	cr_assert(sc_flags(SYS_msgrcv, args) & SC_MAY_BLOCK);
	cr_assert(sc_flags(SYS_msgsnd, args) & SC_MAY_BLOCK);
	cr_assert(sc_flags(SYS_mq_timedreceive, args) & SC_MAY_BLOCK);
	cr_assert(sc_flags(SYS_mq_timedsend, args) & SC_MAY_BLOCK);
	/* shmat shapes the address space: replay attaches at the recorded address */
	cr_assert(sc_flags(SYS_shmat, args) & SC_REPLAY_EXEC);
	cr_assert(sc_flags(SYS_shmat, args) & SC_MAPS);
	cr_assert(sc_flags(SYS_shmdt, args) & SC_REPLAY_EXEC);
	cr_assert(sc_flags(SYS_process_vm_writev, args) & SC_REPLAY_EXEC);
	/* ids and counts are the recording's */
	cr_assert_not(sc_flags(SYS_shmget, args) & SC_REPLAY_EXEC);
	cr_assert_not(sc_flags(SYS_pidfd_getfd, args) & SC_REPLAY_EXEC);
	cr_assert_not(sc_flags(SYS_perf_event_open, args) & SC_REPLAY_EXEC);
	cr_assert_not(sc_flags(SYS_process_vm_readv, args) & SC_REPLAY_EXEC);
}
