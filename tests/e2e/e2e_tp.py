# SPDX-License-Identifier: MIT
"""End-to-end cases of the TP run alone (issue 15, item 1): `uprr record
--mode=tp-log` runs every thread at once and writes a log of their
syscalls, which `uprr dump` shows and `uprr replay` refuses.

A TP log does not replay, so each case compares the TP run with a native
run of the same program: its exit status, and its stdout where the program
makes it the same in every run (else the lines that are). The log is
checked to hold every thread's calls (tests/progs/tp_parallel makes an
exact number of pwrite64(2) per thread).

e2e.py imports this module after its own cases; the cases register in the
same table (e2e.CASES), so `e2e.py CASE` and `--list` see them.
"""

import collections
import os
import re

from e2e import Fail, Skip, case, compare_bytes, log, native_run, run, tail

TP = ['--mode=tp-log']
NR_PWRITE64 = 0x12
RECORD_RE = re.compile(r'(0x[0-9a-f]+|0)=(0x[0-9a-f]+|0)')


class Log:
    """What `uprr dump` shows of a TP log: per thread, the syscalls it made
    (traced exits and buffered records, by number); the threads started
    and the processes that ended."""

    def __init__(self, h, trace):
        r = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump')
        if r.status != 0:
            raise Fail(f'uprr dump of the TP log failed\n  {r.explain()}')
        self.calls = collections.defaultdict(collections.Counter)
        self.started = []
        self.process_exits = 0
        self.events = 0
        for line in r.stdout.decode(errors='replace').splitlines():
            f = line.split()
            if len(f) < 3:
                continue
            self.events += 1
            tid, kind = int(f[1]), f[2]
            if kind == 'syscall-exit':
                self.calls[tid][int(f[3], 16)] += 1
            elif kind == 'syscallbuf' and '{' in line:
                for nr, _ in RECORD_RE.findall(line[line.index('{'):]):
                    self.calls[tid][int(nr, 16)] += 1
            elif kind == 'thread-start':
                self.started.append(tid)
            elif kind == 'process-exit':
                self.process_exits += 1

    def threads_making(self, nr):
        """{tid: count} of the threads that made syscall @nr."""
        return {tid: c[nr] for tid, c in self.calls.items() if c[nr]}


def record_tp(h, argv, name, expect_status=0, options=()):
    """Record @argv in a TP run; check that replay refuses the log in one
    line. Returns (trace, run)."""
    trace, rec = h.record(argv, name=name, expect_status=expect_status,
                          options=TP + list(options))
    info = run([h.uprr, 'info', trace], timeout=60, what='uprr info')
    if b'mode:        tp-log' not in info.stdout:
        raise Fail('uprr info does not say the trace is a TP log:\n' + tail(info.stdout))
    rep = run([h.uprr, 'replay', trace], timeout=60, what='uprr replay')
    lines = rep.stderr.decode(errors='replace').strip().splitlines()
    if rep.status == 0 or len(lines) != 1 or 'TP log' not in lines[0] or rep.stdout:
        raise Fail('uprr replay of a TP log should refuse it in one line, exit non-zero and '
                   f'run nothing; it exited {rep.status}\n  {rep.explain()}')
    log(f'  replay refused: {lines[0]}')
    return trace, rec


def same_lines(native, rec, pattern, what):
    """The lines of stdout matching @pattern are the same in both runs."""
    want = [ln for ln in native.stdout.splitlines() if re.search(pattern, ln)]
    got = [ln for ln in rec.stdout.splitlines() if re.search(pattern, ln)]
    if not want:
        raise Fail(f'the native run printed no {what}:\n' + tail(native.stdout))
    compare_bytes(b'\n'.join(want), b'\n'.join(got), what, 'the native run', 'the TP run')


@case('tp-threads_mutex')
def c_tp_threads_mutex(h):
    """tests/progs/threads_mutex in a TP run: its totals as natively (which
    thread won each increment differs from run to run, natively too); the
    log holds the futex calls of its 4 threads."""
    argv = [h.prog('threads_mutex')]
    native = native_run(argv, 'threads_mutex', cwd=h.tmp)
    trace, rec = record_tp(h, argv, 'threads_mutex')
    same_lines(native, rec, rb'^total ', 'total line')
    tplog = Log(h, trace)
    if len(tplog.started) != 4:
        raise Fail(f'the log shows {len(tplog.started)} threads started, not 4')
    silent = [t for t in tplog.started if not tplog.calls[t]]
    if silent:
        raise Fail(f'the log holds no syscall of threads {silent}')


@case('tp-pipe_threads')
def c_tp_pipe_threads(h):
    """tests/progs/pipe_threads in a TP run: a producer and a consumer
    thread, which blocks in read(2) on their pipe while the producer runs,
    pass 10,000 messages; both checksums agree (they come from random
    seeds, so they differ from the native run's). Both threads' reads and
    writes are in the log."""
    argv = [h.prog('pipe_threads')]
    native_run(argv, 'pipe_threads', cwd=h.tmp)
    trace, rec = record_tp(h, argv, 'pipe_threads')
    if b'pipe_threads: ok\n' not in rec.stdout or b'10000 messages' not in rec.stdout:
        raise Fail('the TP run lost or corrupted messages:\n' + tail(rec.stdout))
    tplog = Log(h, trace)
    readers, writers = tplog.threads_making(0), tplog.threads_making(1)
    if not set(tplog.started) & set(readers) or not set(tplog.started) & set(writers):
        raise Fail(f'the log lacks the threads\' reads ({readers}) or writes ({writers}); '
                   f'threads started: {tplog.started}')


def cpus_and_ratios(r):
    """The 'cpus: LIST' and 'WHO: cpu/wall R' lines tests/progs/tp_parallel
    prints on stderr."""
    err = r.stderr.decode(errors='replace')
    cpus = re.findall(r'^cpus: (.*)$', err, re.M)
    ratios = [float(x) for x in re.findall(r'cpu/wall ([0-9.]+)$', err, re.M)]
    return cpus, ratios


@case('tp-parallel')
def c_tp_parallel(h):
    """tests/progs/tp_parallel: 2 threads compute apart and make exactly 50
    pwrite64 calls each. The TP run prints what the native run prints, its
    threads may use the CPUs they have natively (Cpus_allowed_list: a UP
    recording pins them to one), and the log holds 50 pwrite64 of each of
    the 2 threads, traced or buffered, and of no other. The recorder let
    both run user code at once (`uprr record -v`: a UP recording runs one
    at a time)."""
    argv = [h.prog('tp_parallel'), '2', '50', '100']
    native = native_run(argv, 'tp_parallel', cwd=h.tmp)
    trace, rec = record_tp(h, argv, 'tp_parallel', options=['-v'])
    at_once = re.search(rb'at most ([0-9]+) threads in user code at once', rec.stderr)
    if not at_once or int(at_once.group(1)) < 2:
        raise Fail('the recorder did not let 2 threads run user code at once:\n' +
                   tail(rec.stderr))
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the TP run')
    ncpus, _ = cpus_and_ratios(native)
    tcpus, _ = cpus_and_ratios(rec)
    if not ncpus or ncpus != tcpus:
        raise Fail(f'the TP run\'s threads may use CPUs {tcpus}, natively {ncpus}')
    tplog = Log(h, trace)
    made = tplog.threads_making(NR_PWRITE64)
    log(f'  pwrite64 per thread in the log: {made}')
    if sorted(made.values()) != [50, 50] or set(made) - set(tplog.started):
        raise Fail(f'the log should hold 50 pwrite64 of each of the 2 threads started '
                   f'({tplog.started}); it holds {made}')


@case('tp-fork')
def c_tp_fork(h):
    """tests/progs/tp_parallel with a child process: the child's 2 threads,
    then the parent's 2, 20 pwrite64 each. Output and exit status as
    natively; the log holds both processes' threads and calls, and both
    processes' ends."""
    argv = [h.prog('tp_parallel'), '2', '20', '40', 'fork']
    native = native_run(argv, 'tp_parallel fork', cwd=h.tmp)
    trace, rec = record_tp(h, argv, 'tp_parallel-fork')
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the TP run')
    if b'child exited with 3\n' not in rec.stdout:
        raise Fail('the child did not end as natively:\n' + tail(rec.stdout))
    tplog = Log(h, trace)
    made = tplog.threads_making(NR_PWRITE64)
    log(f'  pwrite64 per thread in the log: {made}; {tplog.process_exits} processes ended')
    if sorted(made.values()) != [20] * 4 or tplog.process_exits != 2:
        raise Fail(f'the log should hold 20 pwrite64 of each of 4 threads and 2 process '
                   f'exits; it holds {made}, {tplog.process_exits}')


@case('tp-parallel-cpu')
def c_tp_parallel_cpu(h):
    """Two CPU-bound threads of a TP run run at once: the process's CPU
    time over its threads' wall time is above 1.5 on a machine with 2 CPUs
    (a UP recording gets at most 1). A property, not a timing: it holds
    where native runs show it too. Each try puts the TP run between two
    native runs; a try counts only if both reach 1.7 (the machine let 2
    threads run at once just before and after). Passes at the first TP run
    above 1.5; fails after 2 tries that count without one; skipped, with
    the figures, when the machine is too busy for 2 tries to count in 5."""
    argv = [h.prog('tp_parallel'), '2', '20', '300']

    def native():
        return cpus_and_ratios(native_run(argv, 'tp_parallel', cwd=h.tmp))[1][-1]

    seen, counted = [], 0
    for _ in range(5):
        before = native()
        _, rec = h.record(argv, name='tp_parallel-cpu', options=TP)
        t = cpus_and_ratios(rec)[1][-1]
        after = native()
        seen.append((before, t, after))
        log(f'  cpu/wall: native {before:.2f}, TP run {t:.2f}, native {after:.2f}')
        if t > 1.5:
            return
        if min(before, after) >= 1.7:
            counted += 1
            if counted == 2:
                raise Fail('the TP run\'s threads did not run at once where native runs did: '
                           f'cpu/wall (native, TP run, native) {seen}')
    raise Skip('the machine is too busy to show 2 threads running at once: cpu/wall '
               f'(native, TP run, native) {seen}')


@case('tp-alarm_flag')
def c_tp_alarm_flag(h):
    """tests/progs/alarm_flag in a TP run: `while (!flag)` loops that make no
    syscall end when their SIGALRM handler runs, and a computation takes
    SIGPROF samples. A signal waits for an event of its thread only so long
    (record-tp.c): the thread is interrupted where it stands, and the log
    has each signal with the registers there (kind TRACE_SIGNAL_AT_REGS, 5)."""
    argv = [h.prog('alarm_flag')]
    native = native_run(argv, 'alarm_flag', cwd=h.tmp)
    trace, rec = record_tp(h, argv, 'alarm_flag')
    same_lines(native, rec, rb'alarms$|^alarm_flag: ', 'alarm lines')
    r = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump')
    alarms = re.findall(rb'\tsignal 0xe (0x[0-9a-f]+|0) rip=', r.stdout)
    log(f'  SIGALRM in the log, by kind: {collections.Counter(alarms)}')
    if len(alarms) != 3 or b'0x5' not in alarms:
        raise Fail(f'the log should hold the 3 SIGALRM, at least one delivered where its '
                   f'thread was interrupted (kind 0x5); it holds {alarms}')


# ---- epochs and checkpoints (issue 15, item 2; recorder/record-epoch.c) ----

EPOCHS = ['--epoch=5', '--epoch-check', '-v']
# preload/uprr-preload.h: the syscall buffer's library
PRELOAD_ADDR, PRELOAD_END = 0x6d000000, 0x6d000000 + 0x10000
ERESTARTSYS = 512


def check_epochs(h, trace, rec, anywhere=False):
    """The TP run's epochs: every copy the recorder made was checked against
    its process, still stopped, and found equal (--epoch-check: memory,
    mappings, each thread's registers, XSAVE state and mask); the log holds
    an epoch event per thread of each checkpoint, its count of syscalls
    being those of that thread before it in the log (traced exits and
    buffered records), registers for a thread in user code. Unless the run
    had --epoch-anywhere (@anywhere), every end is at a syscall (values[2]
    = 2, TRACE_EPOCH_SYSCALL): the ends an EP run can find by counting a
    thread's calls (record-epoch.c). Returns {k: [(tid, at, copy pid)]}."""
    err = rec.stderr.decode(errors='replace')
    bad = [ln for ln in err.splitlines() if 'differs from it' in ln or 'cannot check it' in ln]
    if bad:
        raise Fail('a checkpoint differs from its process:\n' + '\n'.join(bad[:5]))
    m = re.search(r'copies checked against their process: ([0-9]+), ([0-9]+) differed', err)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) != 0:
        raise Fail('the recorder checked no copy, or some differed:\n' + tail(rec.stderr))
    r = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump')
    if r.status != 0:
        raise Fail(f'uprr dump of the TP log failed\n  {r.explain()}')
    seen = collections.Counter()
    held = {}  # tid: records its next syscallbuf event must hold at least
    epochs = collections.defaultdict(list)
    for line in r.stdout.decode(errors='replace').splitlines():
        f = line.split()
        if len(f) < 3:
            continue
        tid, kind = int(f[1]), f[2]
        if kind == 'syscall-exit':
            seen[tid] += 1
        elif kind == 'syscallbuf' and '{' in line:
            n = len(RECORD_RE.findall(line[line.index('{'):]))
            if n < held.pop(tid, 0):
                raise Fail(f'thread {tid}: its buffer held fewer records than its epoch '
                           f'event counted: {line[:200]}')
            seen[tid] += n
        if kind != 'epoch':
            continue
        k, count, at, copy = (int(x, 16) for x in f[3:7])
        # values[4] (doc/trace-format.md): 3, held at a call's entry, with
        # that call's registers
        hint = int(f[7], 16) if len(f) > 7 and not f[7].startswith('rip=') else 0
        rip = re.search(r'rip=(0x[0-9a-f]+)', line)
        in_library = rip and PRELOAD_ADDR <= int(rip.group(1), 16) < PRELOAD_END
        if count != seen[tid] and not (in_library and count - seen[tid] >= held.get(tid, 0)):
            raise Fail(f'epoch event of thread {tid} at checkpoint {k} counts {count} syscalls; '
                       f'the log holds {seen[tid]} of it before: {line}')
        if count != seen[tid]:
            # in a buffered syscall: the records its buffer holds are
            # counted, and its next syscallbuf event logs them (it may
            # still be in it at the next checkpoint)
            held[tid] = count - seen[tid]
        if at not in (1, 2) or (at == 1 or hint == 3) != ('rip=' in line):
            raise Fail(f'epoch event with a wrong place or registers: {line}')
        if at != 2 and not anywhere:
            raise Fail(f'epoch event of thread {tid} at checkpoint {k} in user code, in a run '
                       f'whose ends must all be at syscalls: {line[:200]}')
        epochs[k].append((tid, at, copy))
    if not epochs or sorted(epochs) != list(range(1, len(epochs) + 1)):
        raise Fail(f'the log should hold checkpoints 1..N; it holds {sorted(epochs)}')
    log(f'  {len(epochs)} checkpoints, {m.group(1)} copies checked equal')
    return epochs


@case('tp-epochs-threads_mutex')
def c_tp_epochs_threads_mutex(h):
    """tests/progs/threads_mutex in a TP run with 1 ms epochs: totals as
    natively; each checkpoint equals its process; epoch events of its
    threads (check_epochs())."""
    argv = [h.prog('threads_mutex')]
    native = native_run(argv, 'threads_mutex', cwd=h.tmp)
    trace, rec = record_tp(h, argv, 'epochs-threads_mutex',
                           options=['--epoch=1'] + EPOCHS[1:])
    same_lines(native, rec, rb'^total ', 'total line')
    # it runs for 30-120 ms, its threads' part shorter: whether a
    # checkpoint falls among them varies (tp-epochs-parallel checks that)
    check_epochs(h, trace, rec)


def ends_figures(rec):
    """(taken, given up) from `uprr record -v`'s line on ends at syscalls."""
    m = re.search(rb'ends at syscalls: ([0-9]+) taken(?: \([0-9]+ at [^)]*\))?, ([0-9]+) given up',
                  rec.stderr)
    if not m:
        raise Fail('uprr record -v says nothing of ends at syscalls:\n' + tail(rec.stderr))
    return int(m.group(1)), int(m.group(2))


@case('tp-epochs-parallel')
def c_tp_epochs_parallel(h):
    """tests/progs/tp_parallel, 2 threads computing, in a TP run with 5 ms
    epochs and every syscall traced: stdout as natively, 50 pwrite64 per
    thread in the log; each checkpoint equals its process; every end is at
    a syscall (the threads in user code were let go to their next pwrite64
    and held at its entry, the main thread stands in its join's futex
    wait), and ends still come several times a second, some with all 3
    threads."""
    argv = [h.prog('tp_parallel'), '2', '50', '100']
    native = native_run(argv, 'tp_parallel', cwd=h.tmp)
    trace, rec = record_tp(h, argv, 'epochs-tp_parallel',
                           options=EPOCHS + ['--no-syscall-buffer'])
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the TP run')
    made = Log(h, trace).threads_making(NR_PWRITE64)
    if sorted(made.values()) != [50, 50]:
        raise Fail(f'the log should hold 50 pwrite64 of each of 2 threads; it holds {made}')
    epochs = check_epochs(h, trace, rec)
    taken, given_up = ends_figures(rec)
    log(f'  {taken} ends taken, {given_up} given up, in {rec.seconds:.2f} s')
    if len(epochs) < 3 or max(len(v) for v in epochs.values()) < 3:
        raise Fail(f'expected 3 checkpoints or more, one of all 3 threads: {dict(epochs)}')
    # tp/epoch.c keeps the last two, alive, and freed the others
    n = len(epochs)
    want = f'checkpoints kept at the end: {n - 1} to {n}, 2 copies (2 alive)'.encode()
    if want not in rec.stderr:
        raise Fail(f'expected "{want.decode()}" from uprr record -v:\n' + tail(rec.stderr))


@case('tp-epochs-given-up')
def c_tp_epochs_given_up(h):
    """tests/progs/tp_parallel with 2 long rounds per thread (about 0.1 s
    of computing between two syscalls), in a TP run with 5 ms epochs and
    every syscall traced: a thread in user code does not reach a syscall
    within the bound (record-epoch.c, 10 ms), so those ends are given up
    and the threads let go; the run ends as natively, and the ends taken
    (at the threads' starts and ends) are all at syscalls."""
    argv = [h.prog('tp_parallel'), '2', '2', '100']
    native = native_run(argv, 'tp_parallel', cwd=h.tmp)
    trace, rec = record_tp(h, argv, 'epochs-tp_parallel-given-up',
                           options=EPOCHS + ['--no-syscall-buffer'])
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the TP run')
    taken, given_up = ends_figures(rec)
    log(f'  {taken} ends taken, {given_up} given up, in {rec.seconds:.2f} s')
    if given_up < 3:
        raise Fail(f'expected ends given up while the threads compute; {given_up} were')
    if taken:
        check_epochs(h, trace, rec)


@case('tp-epochs-anywhere')
def c_tp_epochs_anywhere(h):
    """tests/progs/tp_parallel with 2 long rounds per thread (about 0.1 s
    of computing between two syscalls: a buffered call goes traced while an
    end is due, UPRR_CTL_EPOCH_END, but these threads make none), with
    --epoch-anywhere: a thread that reaches no syscall in time is stopped
    where it stands, its end logged in user code with its registers
    (TRACE_EPOCH_USER); each checkpoint equals its process."""
    argv = [h.prog('tp_parallel'), '2', '2', '100']
    native = native_run(argv, 'tp_parallel', cwd=h.tmp)
    trace, rec = record_tp(h, argv, 'epochs-tp_parallel-anywhere',
                           options=EPOCHS + ['--epoch-anywhere'])
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the TP run')
    epochs = check_epochs(h, trace, rec, anywhere=True)
    if len(epochs) < 3 or not any(at == 1 for v in epochs.values() for _, at, _ in v):
        raise Fail(f'expected 3 checkpoints or more, some in user code: {dict(epochs)}')


@case('tp-epochs-blocked')
def c_tp_epochs_blocked(h):
    """tests/progs/pipe_threads with every syscall traced, in a TP run with
    5 ms epochs: the consumer blocks in read(2); a checkpoint that catches
    it there interrupts the read, the copy rewinds it, and the TP thread's
    read ends with -ERESTARTSYS in the log and is entered again, as the
    kernel restarts it. No message is lost; each checkpoint equals its
    process."""
    argv = [h.prog('pipe_threads')]
    native_run(argv, 'pipe_threads', cwd=h.tmp)
    trace, rec = record_tp(h, argv, 'epochs-pipe_threads',
                           options=EPOCHS + ['--no-syscall-buffer'])
    if b'pipe_threads: ok\n' not in rec.stdout or b'10000 messages' not in rec.stdout:
        raise Fail('the TP run lost or corrupted messages:\n' + tail(rec.stdout))
    epochs = check_epochs(h, trace, rec)
    in_syscall = [(k, tid) for k, v in epochs.items() for tid, at, _ in v if at == 2]
    if not in_syscall:
        raise Fail(f'no checkpoint caught a thread in a syscall: {dict(epochs)}')
    r = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump')
    restarts = sum(1 for ln in r.stdout.decode(errors='replace').splitlines()
                   if re.search(rf'\tsyscall-exit 0 {hex(2**64 - ERESTARTSYS)}$', ln))
    log(f'  {len(in_syscall)} threads caught in a syscall; {restarts} reads ended -ERESTARTSYS')
    if not restarts:
        raise Fail('no read(2) in the log ended with -ERESTARTSYS')


@case('tp-epochs-fork')
def c_tp_epochs_fork(h):
    """tests/progs/tp_parallel with a child process, in a TP run with 5 ms
    epochs and every syscall traced: output and exit status as natively; the parent (uprr's child)
    is copied at each checkpoint and equals its copy; the child, which is
    not uprr's child (its copy would be the program's), has its threads'
    epoch ends logged without a copy."""
    argv = [h.prog('tp_parallel'), '2', '20', '40', 'fork']
    native = native_run(argv, 'tp_parallel fork', cwd=h.tmp)
    # every syscall traced: the threads' pwrite64 are where they end (the
    # buffer takes them: the child's computing threads would give none)
    trace, rec = record_tp(h, argv, 'epochs-tp_parallel-fork',
                           options=EPOCHS + ['--no-syscall-buffer'])
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the TP run')
    epochs = check_epochs(h, trace, rec)
    copied = {tid for v in epochs.values() for tid, _, copy in v if copy}
    uncopied = {tid for v in epochs.values() for tid, _, copy in v if not copy}
    log(f'  threads copied {sorted(copied)}, not copied {sorted(uncopied)}')
    if not copied or not uncopied:
        raise Fail(f'expected checkpoints of the parent and uncopied ends of the child: {dict(epochs)}')


@case('tp-epochs-exec')
def c_tp_epochs_exec(h):
    """tests/progs/exec_loop, 200 execs in a row, in a TP run with 1 ms
    epochs and every syscall traced: an end that finds the process in
    execve(2) would stop it at the exec's exit, where its copy had PKRU 0
    (the process its default, 0x55555554): such ends are put off
    (record-epoch.c), and every checkpoint equals its process."""
    argv = [h.prog('exec_loop'), '200']
    trace, rec = record_tp(h, argv, 'epochs-exec_loop',
                           options=['--epoch=1'] + EPOCHS[1:] + ['--no-syscall-buffer'])
    if rec.stdout != b'exec_loop: 200 execs\n':
        raise Fail('the TP run did not exec 200 times:\n' + tail(rec.stdout))
    epochs = check_epochs(h, trace, rec)
    if len(epochs) < 10:
        raise Fail(f'expected 10 checkpoints or more: {len(epochs)}')


@case('tp-epochs-sort')
def c_tp_epochs_sort(h):
    """sort --parallel=2 of 4 MB with a 1 MiB buffer, the syscall buffer on,
    in a TP run with 5 ms epochs: output as natively; each checkpoint
    equals its process and every end is at a syscall. Its threads' reads
    and writes are buffered; they stop at traced futex waits the buffer's
    library makes, where an end holds them blocked (a thread let go to its
    next syscall that blocks in such a call is held there too)."""
    from e2e_tpmode import real_program, text_input
    sort = real_program('sort')
    path = text_input(h, 'sort-input', 4 << 20)
    argv = [sort, '--parallel=2', '-S', '1M', '-T', h.tmp, path]
    native = native_run(argv, 'sort', cwd=h.tmp)
    trace, rec = record_tp(h, argv, 'epochs-sort', options=EPOCHS)
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the TP run')
    epochs = check_epochs(h, trace, rec)
    taken, given_up = ends_figures(rec)
    m = re.search(rb'\(([0-9]+) of them held blocked in a call on the way\)', rec.stderr)
    log(f'  {taken} ends taken, {given_up} given up, {m.group(1).decode() if m else "?"} '
        f'threads held blocked on their way, in {rec.seconds:.2f} s')
    if len(epochs) < 2:
        raise Fail(f'expected 2 checkpoints or more: {dict(epochs)}')


@case('tp-epochs-buffered')
def c_tp_epochs_buffered(h):
    """tests/progs/tp_parallel, 2 threads computing, with the syscall
    buffer on (their pwrite64 are buffered: they reach no traced syscall
    of their own), in a TP run with 5 ms epochs: an end due sets
    UPRR_CTL_EPOCH_END in the process's control page, the threads' next
    buffered call goes the traced way and they are held at its entry
    (record-epoch.c). Stdout as natively; ends are taken (none were
    before), every one at syscalls, each checkpoint equal to its process."""
    argv = [h.prog('tp_parallel'), '2', '50', '100']
    native = native_run(argv, 'tp_parallel', cwd=h.tmp)
    trace, rec = record_tp(h, argv, 'epochs-tp_parallel-buffered', options=EPOCHS)
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the TP run')
    taken, given_up = ends_figures(rec)
    log(f'  {taken} ends taken, {given_up} given up, in {rec.seconds:.2f} s')
    epochs = check_epochs(h, trace, rec)
    # without the request, ends came only where a worker was not running
    # (starting, or gone): 3-6 taken, none of all 3 threads
    full = [k for k, v in epochs.items() if len(v) == 3]
    log(f'  {len(full)} checkpoints of all 3 threads')
    if len(full) < 3:
        raise Fail(f'expected 3 checkpoints or more of all 3 threads, the workers held at a '
                   f'call their buffer would have taken: {dict(epochs)}')


@case('tp-epochs-resident')
def c_tp_epochs_resident(h):
    """tests/progs/tp_resident, 16 MiB resident written by 2 threads, in a
    TP run with 5 ms epochs: stdout as natively; each checkpoint equals its
    process, and the dirty log is right: every page it did not list as
    written in an epoch is unchanged since the checkpoint before (the copy
    k - 1, still kept, against the process at k)."""
    argv = [h.prog('tp_resident'), '16', '2', '400']
    native = native_run(argv, 'tp_resident', cwd=h.tmp)
    # every syscall traced: its threads' pwrite64 are where they end
    trace, rec = record_tp(h, argv, 'epochs-tp_resident',
                           options=EPOCHS + ['--no-syscall-buffer'])
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the TP run')
    epochs = check_epochs(h, trace, rec)
    m = re.search(rb'([0-9]+) pages not written by the dirty logs\' account found unchanged',
                  rec.stderr)
    w = re.search(rb'([0-9]+) pages written per epoch', rec.stderr)
    if len(epochs) < 2 or not m or int(m.group(1)) == 0 or not w or int(w.group(1)) == 0:
        raise Fail('expected 2 checkpoints or more, pages written in each epoch and unwritten '
                   'pages checked:\n' + tail(rec.stderr))
    log(f'  {int(w.group(1))} pages written per epoch, {int(m.group(1))} unwritten pages checked')


# ---- EP runs from a log with epochs (issue 15; ep/syscall-log.c) ----

EPOCH_LOG = ['--no-syscall-buffer', '--epoch=2']
ERESTART = {0xfffffffffffffe00: 'ERESTARTSYS', 0xfffffffffffffe01: 'ERESTARTNOINTR',
            0xfffffffffffffe02: 'ERESTARTNOHAND', 0xfffffffffffffdfc: 'ERESTART_RESTARTBLOCK'}
DUMP_RE = re.compile(r'\d+\t(\d+)\t(\S+)(?: (\S+))?(?: (\S+))?(?: (\S+))?')


def interrupts(h, trace):
    """The calls in @trace that returned -ERESTART* (`uprr dump`), as
    (the TP run's, signals', put off): the TP run's interrupt is followed by
    no signal of its thread (it comes right after the thread's epoch event
    in a syscall, values[2] = 2, or at an end the recorder put off after
    interrupting the threads, which logs none: counted in put off too); a
    signal's is followed by its delivery. Counters of (syscall number,
    ERESTART name)."""
    dump = run([h.uprr, 'dump', trace], timeout=120, what='uprr dump')
    tp, signal, put_off = (collections.Counter() for _ in range(3))
    in_epoch, pending = set(), {}
    for line in dump.stdout.decode(errors='replace').split('\n'):
        m = DUMP_RE.match(line)
        if not m:
            continue
        tid, kind, a, b, c = m.groups()
        if tid in pending:
            key, was_epoch = pending.pop(tid)
            if kind == 'signal':
                signal[key] += 1
            else:
                tp[key] += 1
                put_off[key] += not was_epoch
        if kind == 'epoch':
            if c == '0x2':
                in_epoch.add(tid)
            continue
        if kind == 'syscall-exit' and b and int(b, 16) in ERESTART:
            pending[tid] = ((int(a, 16), ERESTART[int(b, 16)]), tid in in_epoch)
        in_epoch.discard(tid)
    for tid, (key, was_epoch) in pending.items():
        tp[key] += 1
        put_off[key] += not was_epoch
    return tp, signal, +put_off


def names(counter):
    return ', '.join(f'{n} {kind} of call {nr:#x}'
                     for (nr, kind), n in sorted(counter.items())) or 'none'


@case('ep-order')
def c_ep_order(h):
    """An EP run follows the TP log's order of shared-state calls
    (recorder/record-order.c) where the log's numbers are taken apart
    (trace-craft order): dup_output's log with number 2 taken away (no
    thread comes with it) is followed to the end, the number jumped over
    after the run waited, and the trace replays with the log's output;
    with numbers 1 and another thread's first swapped (an order no run can
    meet) the EP run diverges in one line (exit 124), not hangs."""
    import shutil
    from e2e import EP_DIVERGED, compare
    if not h.craft or not os.access(h.craft, os.X_OK):
        raise Fail('tests/e2e/trace-craft is not built')
    d = h.path('order-inputs')
    os.mkdir(d)
    argv = [h.prog('dup_output'), d]
    log_trace, rec = record_tp(h, argv, 'order-log', options=['--no-syscall-buffer'])
    for how in ('gap', 'swap'):
        crafted = h.path(f'order-log-{how}')
        shutil.copytree(log_trace, crafted)
        r = run([h.craft, 'order', crafted, how], timeout=60, what='trace-craft')
        if r.status != 0:
            raise Fail('trace-craft failed\n  ' + r.explain())
        log('  ' + r.stdout.decode().strip())
        trace, ep = h.record(argv, name=f'order-ep-{how}', expect_status=None, timeout=120,
                             options=['--no-syscall-buffer', '-v',
                                      f'--syscalls-from={crafted}'])
        if how == 'gap':
            if ep.status != 0:
                raise Fail(f'the EP run of a log without number 2 did not end as the log did\n'
                           f'  {ep.explain()}')
            if not re.search(rb'EP run: \d+ shared-state calls in the log\'s order; \d+ held '
                             rb'at their entry for it; 1 numbers no thread came with', ep.stderr):
                raise Fail('the EP run did not say it jumped over one number:\n'
                           + tail(ep.stderr))
            compare(rec, h.replay(trace))
            continue
        lines = [ln for ln in ep.stderr.split(b'\n') if b'divergence' in ln]
        if ep.status != EP_DIVERGED or len(lines) != 1 or not re.match(
                rb'uprr: record: divergence from the log: thread \d+ \(the log\'s \d+\), '
                rb'syscall \w+: it is number \d+ of the log\'s order of shared-state calls',
                lines[0]):
            raise Fail(f'the EP run of a swapped order did not diverge in one line\n'
                       f'  {ep.explain()}')
        log('  ' + lines[0].decode())


@case('ep-epochs')
def c_ep_epochs(h):
    """EP runs follow TP logs with epochs: pipe_threads, sleep_loop (nanosleep,
    clock_nanosleep and poll restarted as restart_syscall, select as
    -ERESTARTNOHAND, a blocking read) and ep_signals, each logged by a TP run
    with 2 ms epochs (--mode=tp-log --no-syscall-buffer --epoch=2): the log
    shows the epochs' interrupts (-ERESTART* exits after an epoch event, or
    at an end put off, no signal delivered), which the EP knob's log reader
    folds into the calls the program made. Re-recorded from the log under 2 chaos seeds, each
    trace replays with the log's output (a native run's where it does not
    depend on the schedule), keeps the log's signal interrupts and holds
    none of the epochs'."""
    from e2e import compare, ep_record, signal_events
    progs = [('pipe_threads', False, None), ('sleep_loop', True, 'ERESTART_RESTARTBLOCK'),
             ('ep_signals', True, None)]
    for prog, same_as_native, must in progs:
        argv = [h.prog(prog)]
        log_trace, rec = record_tp(h, argv, f'epochs-ep-{prog}', options=EPOCH_LOG)
        if same_as_native:
            native = native_run(argv, prog, cwd=h.tmp)
            compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the TP run')
        by_epoch, by_signal, put_off = interrupts(h, log_trace)
        if not by_epoch or (must and not any(k == must for _, k in by_epoch)):
            raise Fail(f'the log of {prog} shows no epoch interrupt of a call'
                       f'{" with " + must if must else ""}: the test shows nothing')
        nsigs = len(signal_events(h, log_trace))
        log(f'  {prog} log: epochs interrupted {names(by_epoch)} ({names(put_off)} at ends put '
            f'off); signals {names(by_signal)}')
        for seed in (1, 2):
            trace, ep = ep_record(h, log_trace, argv, seed, f'epochs-ep-{prog}-{seed}')
            if ep.status != rec.status:
                raise Fail(f'the EP run of seed {seed} of {prog} did not end as the log did\n'
                           f'  {ep.explain()}')
            compare(rec, h.replay(trace))
            ep_epoch, ep_signal, _ = interrupts(h, trace)
            if ep_epoch or ep_signal != by_signal:
                raise Fail(f'the EP run of seed {seed} of {prog} has interrupts {names(ep_epoch)} '
                           f'without a signal and {names(ep_signal)} with one; the log '
                           f'{names(by_signal)} with one')
            if len(signal_events(h, trace)) != nsigs:
                raise Fail(f'the EP run of seed {seed} of {prog} delivered '
                           f'{len(signal_events(h, trace))} asynchronous signals, its log {nsigs}')
        log(f'  {prog}: 2 EP runs replay with the log\'s output')
