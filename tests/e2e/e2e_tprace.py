# SPDX-License-Identifier: MIT
"""End-to-end cases of `uprr record --mode=tp --epoch=20` on the racy
programs (issue 15, Tests: "Racy programs..."): tests/progs/tp_race (a
counter incremented without a lock), racy_crash (the bundled racy crash),
racy_compute (appends to an array through a plain index), spsc_queue (a
lock-free queue) and order_violation. Their TP run (every thread at once)
and its EP run (one thread at a time) take other interleavings, so the EP
run diverges: at an epoch's end (memory), or at a syscall whose bytes or
arguments the race changed.

The cases registered in meson (tprace-*) check what is true before
rollback: uprr never hangs (each recording has a timeout); a divergence is
said by uprr and counted by `uprr info` (its epochs add up, "diverged at an
epoch's end" with a "divergence:" line, or "diverged at a syscall");
the trace, which holds the EP run's execution, replays identically: a
complete one as recorded (exit status, crash line, stdout), one that ends
at the divergence to its last event and no further ("trace ends early",
nothing else said), one whose divergence was found at the program's end
(the EP run's program crashed before another thread made calls the TP
run's had made) to that end, its status and crash; the replay's stdout
then a prefix of the recording's (the TP run's, released).

The tprace-rollback-* cases check what rollback must make true (the EP
run's divergence rolled back, the recording going on to the program's
end), all three registered: tp_race's at an epoch's end (lock-step
verdicts at the epoch's own end, doc/uniparallel.md), racy_crash's and
spsc_queue's at a syscall, re-run from the program's start
(recorder/record-rerun.c) when it comes before any output went out (held
until an epoch is verified, and epoch 0, the loader's, is never checked),
else from the last checkpoint the EP run stood at
(recorder/record-ep-live.c); a recording whose re-run from a checkpoint
is refused (exit 124, named) is recorded again. tprace-rerun-* (one
epoch) and tp-rerun-* check the re-run too.

e2e.py imports this module after its own cases.
"""

import os
import re
import signal
import socket
import threading
import time

from e2e import CRASH_RE, Fail, case, compare, compare_bytes, log, native_run, run, tail
from e2e_tpmode import epoch_counts

TP_EPOCHS = ['--mode=tp', '--epoch=20']
# uprr never hangs: a recording of these (each under a second) that takes
# this long is a failure
RECORD_TIMEOUT = 120
DIVERGED = 124  # uprr record: the EP run diverged and could not go on
# a divergence at a syscall after output went out whose re-run from a
# checkpoint is refused, named (record-rerun.c, tp_rerun_allowed(),
# tp/rerun.c: the EP run stood at no checkpoint after the output that went
# out, or a thread stood in a synchronization operation there)
LATE_RE = re.compile(r'not re-run: epoch \d+: the output of the epochs before it went out '
                     r'\(\d+ bytes\), and a re-run from a checkpoint is refused: ')
SEGV = 128 + signal.SIGSEGV


def record_tp(h, prog, name, args=(), options=None):
    """Record tests/progs/@prog @args with @options (else --mode=tp
    --epoch=20). Returns (trace, recording, uprr info's text)."""
    trace = h.new_trace_path(name)
    options = TP_EPOCHS if options is None else options
    r = run([h.uprr, 'record', '-o', trace] + options + ['--', h.prog(prog)] + list(args),
            timeout=RECORD_TIMEOUT, what='uprr record', cwd=h.tmp)
    info = run([h.uprr, 'info', trace], timeout=60, what='uprr info')
    if info.status != 0:
        raise Fail(f'uprr info failed on the trace\n  {info.explain()}')
    return trace, r, info.stdout.decode(errors='replace')


def info_value(text, key):
    """The value of uprr info's line @key, or ''."""
    m = re.search(r'^' + re.escape(key) + r': +(.*)$', text, re.M)
    return m.group(1) if m else ''


def check_racy(h, prog, name, statuses, args=()):
    """One recording of @prog: the checks of the module's docstring. The
    program's own status (EP run's) must be in @statuses. Returns a dict:
    kind ('verified', 'at an end' of an epoch, 'at a syscall', 'at the
    end': calls of the log not made when the program ended), tp_crashed,
    status."""
    trace, rec, text = record_tp(h, prog, name, args)
    err = rec.stderr.decode(errors='replace')
    if not re.search(r'^mode: +tp,', text, re.M):
        raise Fail('uprr info does not say mode tp:\n' + text)
    epochs, verified, diverged, unchecked = epoch_counts(text)
    line = info_value(text, 'epochs')
    tp_crashed = 'killed by SIGSEGV' in err
    if rec.status == DIVERGED:
        kind = 'at a syscall'
        if 'the EP run diverged from the TP run' not in err:
            raise Fail('uprr exited 124 without saying the EP run diverged:\n' + err)
        if 'ep run diverged at a syscall: the trace ends at the divergence' not in line:
            raise Fail('uprr info does not say the EP run diverged at a syscall:\n' + text)
        end = info_value(text, 'end')
        if not end.startswith('the recording stopped: '):
            # found at the program's end: the EP run's program ended (a
            # crash, while the TP run's other threads had made calls more
            # before the kill reached them) with calls of the log not made
            if 'the program ended with' not in err:
                raise Fail('uprr info does not say where the recording stopped:\n' + text)
            kind = 'at the end'
    elif rec.status in statuses and 're-run' in line:
        # an epoch diverged at a syscall before any output went out and
        # was re-run: an UP recording of the program from its start
        kind = 're-run'
        if not re.match(r'epoch \d+ diverged at a syscall', info_value(text, 're-run')):
            raise Fail('uprr info does not say which epoch was re-run:\n' + text)
    elif rec.status in statuses:
        if diverged:
            kind = 'at an end'
            if 'ep run diverged at an epoch\'s end' not in line:
                raise Fail(f'uprr info counts {diverged} diverged epochs but does not say the EP '
                           'run diverged at an epoch\'s end:\n' + text)
            where = info_value(text, 'divergence')
            # memory, or a register named: "thread 0 (5190, 5198): r13 0x385f in A, ..."
            if 'memory' not in where and 'register' not in where and \
                    not re.search(r'thread \d+ \(\d+, \d+\): [a-z0-9_]+ 0x[0-9a-f]+ in A', where):
                raise Fail('uprr info does not say where the epoch diverged:\n' + text)
        else:
            kind = 'verified'
            if 'ep run verified: no divergence' not in line:
                raise Fail('uprr info counts no divergence but does not say the EP run was '
                           'verified:\n' + text)
    else:
        raise Fail(f'uprr record of {prog}: expected one of {sorted(statuses)} or 124 (a '
                   f'divergence)\n  {rec.explain()}')
    log(f'  {name}: {describe(kind, epochs, verified, diverged, unchecked, tp_crashed)}')
    rep = h.replay(trace)
    if kind in ('verified', 'at an end', 're-run'):
        compare(rec, rep)
        return {'kind': kind, 'tp_crashed': tp_crashed, 'status': rec.status}
    if kind == 'at the end':
        # a whole trace: replayed to the end it holds (its exit status, or
        # its crash, said once), nothing else said
        end = info_value(text, 'end')
        m = re.match(r'(exit status (\d+)|killed by (SIG[A-Z0-9]+))$', end)
        want = (int(m.group(2)) if m and m.group(2) else
                128 + getattr(signal, m.group(3)) if m else None)
        others = [ln for ln in rep.uprr_lines() if not CRASH_RE.match(ln)]
        if (want is None or rep.status != want or others or
                len(rep.crash_lines()) != (1 if m.group(3) else 0)):
            raise Fail(f'the replay did not end as the trace does ("{end}")\n  {rep.explain()}')
        if not rec.stdout.startswith(rep.stdout):
            raise Fail('the replay printed what the recording (the TP run) did not:\n'
                       f'  replay:\n{tail(rep.stdout)}\n  recording:\n{tail(rec.stdout)}')
        return {'kind': kind, 'tp_crashed': tp_crashed, 'status': rec.status}
    # the trace ends at the divergence: replayed to its last event
    events = re.search(r'^events: +(\d+)', text, re.M)
    lines = [ln.decode(errors='replace') for ln in rep.uprr_lines()]
    if (rep.status != 125 or len(lines) != 1 or not events or
            not lines[0].startswith(f'uprr: trace ends early at event {int(events.group(1)) - 1} '
                                    '(the recording stopped: ')):
        raise Fail('the replay of a trace that ends at the EP run\'s divergence did not run to '
                   f'its last event ({events.group(1) if events else "?"} events) and say so '
                   f'alone\n  {rep.explain()}')
    if not rec.stdout.startswith(rep.stdout):
        raise Fail('the replay printed what the recording (the TP run) did not:\n'
                   f'  replay:\n{tail(rep.stdout)}\n  recording:\n{tail(rec.stdout)}')
    return {'kind': kind, 'tp_crashed': tp_crashed, 'status': rec.status}


def describe(kind, epochs, verified, diverged, unchecked, tp_crashed):
    return (f'{epochs} epochs ({verified} verified, {diverged} diverged, {unchecked} not '
            f'checked), the EP run {"diverged " + kind if kind != "verified" else "verified"}'
            f'{", the TP run crashed" if tp_crashed else ""}')


@case('tprace-tp_race')
def c_tprace_tp_race(h):
    """tp_race (6000 rounds, the race from the start): the TP run loses
    increments in most recordings (natively in every run), the EP run
    none: an epoch diverges at its end (found at least once in up to 20
    recordings, the case stopping at the first after the second); each
    trace replays as recorded. At 2000 rounds (some 40 ms, all of it in
    epoch 1) the TP run lost some in 5 of 20 recordings here and in 0 of
    20 in one CI run; at 6000, in 19 of 20."""
    seen = 0
    for i in range(20):
        r = check_racy(h, 'tp_race', f'tp_race-{i}', {0}, args=('6000',))
        seen += r['kind'] != 'verified'
        if seen and i >= 1:
            return
    raise Fail('no recording of tp_race diverged in 20: the checks do not see its race')


@case('tprace-racy_crash')
def c_tprace_racy_crash(h):
    """racy_crash until its TP run crashed (SIGSEGV, in 4 of 10 runs; up to
    15 recordings): every trace replays identically; one whose EP run got
    to the crash too replays to the same SIGSEGV at the same instruction
    (compare(), or, when the TP run's other threads had made calls more
    before the kill, a divergence found at the end: to that crash); one
    that diverged before ends there."""
    for i in range(15):
        r = check_racy(h, 'racy_crash', f'racy_crash-{i}', {0, SEGV})
        if r['tp_crashed']:
            return
    raise Fail('racy_crash\'s TP run did not crash in 15 recordings (natively a third of the '
               'runs crash)')


@case('tprace-racy_compute')
def c_tprace_racy_compute(h):
    """racy_compute, twice: the order of its appends, printed, is the
    interleaving (the EP run's other bytes replace the TP run's held
    write, a divergence of output only); the traces replay."""
    for i in range(2):
        check_racy(h, 'racy_compute', f'racy_compute-{i}', {0})


@case('tprace-spsc_queue')
def c_tprace_spsc_queue(h):
    """spsc_queue, twice: the consumer's batches depend on the
    interleaving (its figures take another number of lines: the EP run
    diverges at a syscall); the traces replay."""
    for i in range(2):
        check_racy(h, 'spsc_queue', f'spsc_queue-{i}', {0})


@case('tprace-order_violation')
def c_tprace_order_violation(h):
    """order_violation, twice: its worker yields until main has published
    (the bug does not show in either run); the traces replay."""
    for i in range(2):
        check_racy(h, 'order_violation', f'order_violation-{i}', {0})


@case('tprace-crash')
def c_tprace_crash(h):
    """tests/progs/tp_crash: two threads compute and make syscalls at once,
    then one dereferences NULL while the other waits (no race: the crash
    comes at a fixed point). The TP run and its EP run die of it; uprr
    says the crash once, naming the thread as the trace does (the EP
    run's, with the log's id: it said the TP run's and the EP run's
    before, with the EP run's own tid), and each replay dies at the same
    instruction of the same thread."""
    trace, rec = h.record([h.prog('tp_crash')], name='tp_crash', expect_status=SEGV,
                          options=TP_EPOCHS, timeout=RECORD_TIMEOUT)
    info = run([h.uprr, 'info', trace], timeout=60, what='uprr info')
    text = info.stdout.decode(errors='replace')
    epochs, verified, diverged, unchecked = epoch_counts(text)
    if 'ep run verified: no divergence' not in info_value(text, 'epochs') or diverged:
        raise Fail('the EP run of tp_crash (no race) was not verified:\n' + text)
    if info_value(text, 'end') != 'killed by SIGSEGV':
        raise Fail('the trace does not end with the crash:\n' + text)
    if len(rec.crash_lines()) != 1:
        raise Fail(f'uprr record said the crash {len(rec.crash_lines())} times:\n'
                   f'{tail(rec.stderr)}')
    log(f'  {epochs} epochs; {rec.crash_lines()[0].decode()}')
    for _ in range(2):
        compare(rec, h.replay(trace))


# ---- what rollback must make true (tp_race's in meson) ----
# (racy_compute has none: its race shows in its output only, which the EP
# run's bytes replace; order_violation's bug does not show)

ROLLBACKS_RE = re.compile(r'^rollbacks: +(\d+)', re.M)


def rollback_case(h, prog, statuses, tries=6, options=None, args=()):
    """Record @prog (with @options, else TP_EPOCHS) until uprr info counts
    a rollback (up to @tries): the recording goes on to the program's end,
    exits with its status (0, or a crash in @statuses that the replay shows
    at the same instruction), no epoch is left diverged past its rollback
    (merged and verified when checked again, or re-run), and the trace
    replays as recorded."""
    late = 0
    for i in range(tries):
        trace, rec, text = record_tp(h, prog, f'{prog}-rollback-{i}', args=args, options=options)
        err = rec.stderr.decode(errors='replace')
        if rec.status == DIVERGED and LATE_RE.search(err):
            # the race came after output went out and its re-run from a
            # checkpoint was refused, named (exit 124): recorded again
            late += 1
            log(f'  {prog} {i}: the race came after output went out, its re-run refused: '
                + LATE_RE.split(err)[-1].splitlines()[0][:200])
            continue
        if rec.status == DIVERGED or rec.status not in statuses:
            raise Fail(f'expected the program\'s status {sorted(statuses)} with rollback\n  '
                       f'{rec.explain()}')
        end = info_value(text, 'end')
        if not (end == 'exit status 0' or (SEGV in statuses and end == 'killed by SIGSEGV')):
            raise Fail(f'the trace does not end at the program\'s end: "{end}"\n' + text)
        m = ROLLBACKS_RE.search(text)
        if not m:
            raise Fail('uprr info does not count rollbacks ("rollbacks: N"):\n' + text)
        # every divergence rolled back and verified when checked again,
        # none refused
        n = int(m.group(1))
        again = re.search(r'^rollbacks: +\d+ \((\d+) checked again: verified, (\d+) still '
                          r'diverged; (\d+) refused(?:; (\d+) re-run, (\d+) not)?\)', text, re.M)
        _, _, diverged, _ = epoch_counts(text)
        rerun = int(again.group(4) or 0) if again else 0
        if (not again or int(again.group(1)) + rerun != n or int(again.group(2)) or
                int(again.group(3)) or int(again.group(5) or 0)):
            raise Fail('a divergence was not rolled back and verified, or re-run:\n' + text)
        if diverged != n:
            raise Fail(f'{diverged} epochs diverged, {n} rolled back:\n' + text)
        compare(rec, h.replay(trace))
        if int(m.group(1)) >= 1:
            log(f'  {prog}: {m.group(1)} rollbacks, {end}')
            return
    raise Fail(f'no recording of {prog} rolled back in {tries} ({late} diverged after output '
               'went out, their re-run from a checkpoint refused)')


@case('tprace-rollback-tp_race')
def c_tprace_rollback_tp_race(h):
    """tp_race: its divergence rolled back, exit 0, replays identically
    (up to 30 recordings: its TP run loses increments in ~1 of 4,
    tprace-tp_race)."""
    # quiet rounds first, a few epochs of them (its writes to /dev/null
    # no longer stop it: with the default 1000 the race came before the
    # first check, or not at all, in 20 recordings of a full run)
    rollback_case(h, 'tp_race', {0}, tries=30, args=('35000', '30000'))


@case('tprace-rollback-racy_crash')
def c_tprace_rollback_racy_crash(h):
    """racy_crash: rolled back; the recording ends with exit 0 or its
    SIGSEGV, which the replay shows at the same instruction."""
    rollback_case(h, 'racy_crash', {0, SEGV})


@case('tprace-rollback-spsc_queue')
def c_tprace_rollback_spsc_queue(h):
    """spsc_queue: rolled back, exit 0, replays identically."""
    rollback_case(h, 'spsc_queue', {0})


# ---- the re-run of a first epoch that diverged at a syscall ----

RERUN_RE = re.compile(r'^re-run: +epoch 0 diverged at a syscall \(divergence from the log: ', re.M)


def rerun_case(h, prog, statuses, tries=8):
    """Record @prog with --mode=tp --epoch=0 (one epoch, this case's
    subject: its checkpoint is the program's start) until its EP run
    diverges at a syscall (up to @tries; a verified recording replays as
    recorded and is made again): that divergence is re-run, never refused
    (the program writes to stdout only, held, and dropped): the TP run's
    output is not shown, the program is recorded again from its start as
    an UP recording, to its end (its status in @statuses), uprr info says
    the re-run, and the trace replays as recorded, stdout and crash
    included."""
    for i in range(tries):
        trace, rec, text = record_tp(h, prog, f'{prog}-rerun-{i}',
                                     options=['--mode=tp', '--epoch=0'])
        if rec.status not in statuses:
            raise Fail(f'expected the program\'s status {sorted(statuses)} (a divergence '
                       f're-run)\n  {rec.explain()}\n' + text)
        compare(rec, h.replay(trace))
        if not RERUN_RE.search(text):
            if 'verified: no divergence' not in info_value(text, 'epochs'):
                raise Fail('neither verified nor re-run:\n' + text)
            log(f'  {prog}: verified; again')
            continue
        err = rec.stderr.decode(errors='replace')
        if 'is released though' in err or 'released unverified' in err:
            raise Fail('the TP run\'s output was released before its re-run:\n' + err)
        end = info_value(text, 'end')
        log(f'  {prog}: re-run, {end}; ' + info_value(text, 're-run')[:120])
        return
    raise Fail(f'no recording of {prog} diverged at a syscall in {tries}')


@case('tprace-rerun-racy_crash')
def c_tprace_rerun_racy_crash(h):
    """racy_crash in one epoch: its divergence at a syscall re-run; the
    recording ends as the program does (exit 0 or its SIGSEGV, replayed at
    the same instruction)."""
    rerun_case(h, 'racy_crash', {0, SEGV})


@case('tprace-rerun-spsc_queue')
def c_tprace_rerun_spsc_queue(h):
    """spsc_queue in one epoch: its divergence at a syscall re-run, exit 0,
    replays as recorded."""
    rerun_case(h, 'spsc_queue', {0})


@case('tp-rerun-forced')
def c_tp_rerun_forced(h):
    """A divergence at a syscall forced in a later epoch (UPRR_EP_DIVERGE=
    1:syscall, --epoch=10) of tests/progs/tp_race with no race (every round
    quiet: its writes go to /dev/null, its one line of output comes at its
    end): nothing was shown before it and the TP run changed nothing
    outside, so the epoch is re-run. In lock-step the TP run stands at its
    next end: it stops there (killed, its children too), and the program
    is recorded again from its start as an UP recording, to its end (exit
    0); uprr info says the re-run and counts it; the trace replays as
    recorded; the program's line is shown once."""
    argv = [h.prog('tp_race'), '400000', '400000']
    env = dict(os.environ, UPRR_EP_DIVERGE='1:syscall')
    trace, rec = h.record(argv, name='tp_race-rerun', options=['--mode=tp', '--epoch=10', '-v'],
                          timeout=RECORD_TIMEOUT, env=env)
    err = rec.stderr.decode(errors='replace')
    # the re-run's line alone (the TP run's, held, dropped)
    if not re.fullmatch(rb'tp_race: 2 threads, 400000 rounds each, the counter at 0x[0-9a-f]+\n?',
                        rec.stdout):
        raise Fail('the recording did not print its one line once:\n' + tail(rec.stdout))
    text = run([h.uprr, 'info', trace], timeout=60, what='uprr info').stdout.decode(errors='replace')
    rr = info_value(text, 're-run')
    if not re.match(r'epoch [1-9]\d* diverged at a syscall \(divergence from the log: .*made to '
                    r'diverge \(UPRR_EP_DIVERGE=1:syscall\)\); nothing shown before it', rr):
        raise Fail('uprr info does not say the re-run:\n' + text)
    if not re.search(r'^rollbacks: +1 \(0 checked again: verified, 0 still diverged; 0 refused; '
                     r'1 re-run, 0 not\)', text, re.M) or info_value(text, 'end') != 'exit status 0':
        raise Fail('uprr info does not count the re-run, or the trace does not end with the '
                   'program:\n' + text)
    log('  re-run: ' + rr[:160])
    compare(rec, h.replay(trace))



@case('tp-rerun-pipeline')
def c_tp_rerun_pipeline(h):
    """A shell pipeline (`bash -c 'tp_parallel | sort | tail -2'`) with a
    divergence forced at the EP run's first call (UPRR_EP_DIVERGE=0:syscall,
    one epoch): tail reads its pipe as fd 0, which the re-run's judge took,
    by its number alone, for the stdin uprr was started with (`input read
    from fd 0, which it started with`, exit 124). The judge now follows each
    process's fds from the log (dup2, close, pipe...: record-rerun.c
    fds_after()): the program is recorded again from its start, its output
    as natively (exit 0), the trace replayed as recorded. And `cat | sort`
    reading uprr's own stdin (a pipe from outside) is still refused: its
    bytes are gone (exit 124, fd 0 named)."""
    env = dict(os.environ, UPRR_EP_DIVERGE='0:syscall')
    argv = ['/bin/bash', '-c', f'{h.prog("tp_parallel")} | sort | tail -2']
    native = native_run(argv, 'pipeline', cwd=h.tmp)
    trace, rec = h.record(argv, name='pipeline-rerun', options=['--mode=tp', '--epoch=0'],
                          timeout=RECORD_TIMEOUT, env=env)
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    text = run([h.uprr, 'info', trace], timeout=60, what='uprr info').stdout.decode(errors='replace')
    if 'UPRR_EP_DIVERGE=0:syscall' not in info_value(text, 're-run'):
        raise Fail('uprr info does not say the re-run:\n' + text)
    compare(rec, h.replay(trace))
    # uprr's stdin a pipe from outside, written and closed
    rd, wr = os.pipe()
    os.write(wr, b'b\na\n')
    os.close(wr)
    with os.fdopen(rd, 'rb') as stdin:
        trace, rec = h.record(['/bin/bash', '-c', 'cat | sort'], name='stdin-rerun',
                              options=['--mode=tp', '--epoch=0'], timeout=RECORD_TIMEOUT, env=env,
                              stdin=stdin, expect_status=124)
    err = rec.stderr.decode(errors='replace')
    if not re.search(r'not re-run: .*(read of fd 0|input read from fd 0)', err):
        raise Fail('the re-run of a read of uprr\'s own stdin was not refused, naming fd 0:\n' + err)
    log('  the pipeline re-run from its start; the read of uprr\'s stdin refused')

def send_signal(pidfile, sig):
    """Send @sig to the pid in @pidfile (the recorded program's), from
    outside the recording: True if a live process took it. A re-run starts
    the program again with the same pid: while the pid is a zombie (the
    TP run killed) or gone, wait (at most 5 s)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(pidfile) as f:
                pid = int(f.read())
            with open(f'/proc/{pid}/stat') as f:
                state = f.read().rsplit(')', 1)[1].split()[0]
            if state not in ('Z', 'X'):
                os.kill(pid, sig)
                return True
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.01)
    return False


def stdin_echo_record(h, name, data, diverge, args=(), pace=0.0, signal_every=0):
    """Record tests/progs/stdin_echo @args with --mode=tp --epoch=20, its EP
    run made to diverge at a syscall in epoch @diverge, its stdin a pipe
    that a thread of the harness (outside the recording) fills with @data,
    a line every @pace seconds; with @signal_every, SIGRTMIN to the program
    after each @signal_every lines (its pid from --pid=FILE). Returns
    (trace, Result), and with @signal_every the signals sent."""
    trace = h.new_trace_path(name)
    env = dict(os.environ, UPRR_EP_DIVERGE=f'{diverge}:syscall')
    rd, wr = os.pipe()
    pidfile = h.path(name + '.pid')
    if signal_every:
        args = [f'--pid={pidfile}'] + list(args)
    sent = [0]

    def feed():
        try:
            for i, line in enumerate(data.splitlines(keepends=True)):
                os.write(wr, line)
                time.sleep(pace)
                if signal_every and i % signal_every == signal_every - 1:
                    sent[0] += send_signal(pidfile, signal.SIGRTMIN)
        finally:
            os.close(wr)
    writer = threading.Thread(target=feed)
    writer.start()
    try:
        r = run([h.uprr, 'record', '-o', trace, '--mode=tp', '--epoch=20', '--', h.prog('stdin_echo')]
                + list(args), timeout=RECORD_TIMEOUT, what='uprr record', cwd=h.tmp, env=env, stdin=rd)
    finally:
        os.close(rd)
        writer.join()
    return (trace, r, sent[0]) if signal_every else (trace, r)


def rerun_echo_checked(h, trace, r, data, more=False):
    """The checks every stdin_echo re-run case makes of recording @r of
    @trace fed @data: exit 0; what went out is @data once, in order, and its
    count (then more lines if @more); `uprr info` says a re-run from a
    checkpoint. Returns (the bytes checked, uprr info's re-run: value)."""
    if r.status != 0:
        raise Fail(f'expected the program\'s exit 0 with the re-run\n  {r.explain()}')
    want = data + b'stdin_echo: %d bytes\n' % len(data)
    if not (r.stdout.startswith(want) if more else r.stdout == want):
        raise Fail('what went out is not the input once, in order:\n' + tail(r.stdout))
    return want, rerun_from_checkpoint_said(h, trace)


def rerun_from_checkpoint_said(h, trace):
    """`uprr info` of @trace says a re-run from a checkpoint: its re-run:
    value."""
    text = run([h.uprr, 'info', trace], timeout=60, what='uprr info').stdout.decode(errors='replace')
    rr = info_value(text, 're-run')
    if not re.search(r'the program recorded again following the log to checkpoint \d+ and live from '
                     r'there', rr):
        raise Fail('uprr info does not say the re-run from a checkpoint:\n' + text)
    return rr


@case('tp-rerun-redeliver')
def c_tp_rerun_redeliver(h):
    """Input re-delivered (issue 15, "Rollback": "Input that the discarded
    speculation consumed is re-delivered from the log"): tests/progs/
    stdin_echo echoes its stdin, a pipe a writer outside the recording
    fills a line every 5 ms, --epoch=20, its EP run made to diverge at a
    syscall in epoch 8 (UPRR_EP_DIVERGE=8:syscall) after output of earlier
    epochs went out: re-run from a checkpoint, whose first reads are given
    the bytes the TP run had read since (kmerge_epoch_redeliver()), then
    read live. What went out is the input, once, in order, and its count;
    uprr info says the re-run; the trace replays as recorded."""
    data = b''.join(b'line %d\n' % i for i in range(200))
    trace, r = stdin_echo_record(h, 'stdin_echo-redeliver', data, 8, pace=0.005)
    _, rr = rerun_echo_checked(h, trace, r, data)
    log('  re-run: ' + rr[:200])
    compare(r, h.replay(trace))


def conn_echo_record(h, name, diverge_at, args=()):
    """Record tests/progs/stdin_echo --conn (two TCP connections from a
    client outside the recording, each 100 lines, one each 5 ms, then the
    client's end, the second made as the first is ended; once both saw
    the program's close, the client closes the program's stdin) with
    --mode=tp --epoch=20, its EP run made
    to diverge at the program's one call @diverge_at (UPRR_EP_DIVERGE=
    NAME:syscall), @args before --conn. Returns (trace, the recording,
    what the client got: echo per connection, ends seen, error)."""
    lines = [b''.join(b'conn %d line %d\n' % (c, i) for i in range(100)) for c in range(2)]
    trace = h.new_trace_path(name)
    portfile = h.path(name + '.port')
    env = dict(os.environ, UPRR_EP_DIVERGE=f'{diverge_at}:syscall')
    rd, wr = os.pipe()
    got = {'echo': [b'', b''], 'ends': 0, 'error': None}

    def one(c, port):
        """Connection @c: its lines sent, its end; the thread that reads
        its echo to the program's close, and closes it."""
        s = socket.create_connection(('127.0.0.1', port), timeout=30)

        def reader():
            try:
                while True:
                    b = s.recv(4096)
                    if not b:
                        got['ends'] += 1
                        return
                    got['echo'][c] += b
            except OSError as e:
                got['error'] = f'connection {c}: reading the echo: {e}'
            finally:
                s.close()
        rt = threading.Thread(target=reader)
        rt.start()
        for line in lines[c].splitlines(keepends=True):
            s.sendall(line)
            time.sleep(0.005)
        s.shutdown(socket.SHUT_WR)
        return rt

    def client():
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    with open(portfile) as f:
                        port = int(f.read())
                    break
                except (OSError, ValueError):
                    time.sleep(0.01)
            else:
                raise OSError('no port written')
            # the second comes as the first is ended: the program accepts
            # it as soon as it closed the first
            for rt in [one(c, port) for c in range(2)]:
                rt.join()
        except OSError as e:
            got['error'] = got['error'] or str(e)
        finally:
            os.close(wr)
    th = threading.Thread(target=client)
    th.start()
    try:
        r = run([h.uprr, 'record', '-o', trace, '--mode=tp', '--epoch=20', '--', h.prog('stdin_echo')]
                + list(args) + [f'--conn={portfile}'], timeout=RECORD_TIMEOUT, what='uprr record',
                cwd=h.tmp, env=env, stdin=rd)
    finally:
        os.close(rd)
        th.join()
    return trace, r, got, lines


def conn_echo_rerun(h, name, diverge_at):
    """conn_echo_record(), whose divergence is re-run from a checkpoint: the
    client must get every line back once, in order, on the connection it
    sent it on, then that connection's end; the program counts its input
    once; uprr info says the re-run from a checkpoint; the trace replays as
    recorded. Returns uprr info's re-run: value."""
    trace, r, got, lines = conn_echo_record(h, name, diverge_at)
    if r.status != 0:
        raise Fail(f'expected the program\'s exit 0 with the re-run\n  {r.explain()}')
    if got['error'] or got['ends'] != 2:
        raise Fail(f'the client did not see both connections end ({got["error"] or "%d ends" % got["ends"]}) '
                   f'after {[len(e) for e in got["echo"]]} bytes')
    if got['echo'] != lines:
        raise Fail('the client did not get its lines back once, in order:\n' + tail(b''.join(got['echo'])))
    if r.stdout != b'stdin_echo: %d bytes\n' % sum(len(x) for x in lines):
        raise Fail('the program did not count its input once:\n' + tail(r.stdout))
    rr = rerun_from_checkpoint_said(h, trace)
    log('  re-run: ' + rr[:200])
    compare(r, h.replay(trace))
    return rr


@case('tp-rerun-conn')
def c_tp_rerun_conn(h):
    """A connection the TP run closed after the checkpoint, given to the
    re-run (issue 15, "Rollback": the TP run's kernel state at checkpoint
    k): conn_echo_rerun() forced to diverge at the program's close of its
    first connection (a dup2 of /dev/null over it): the epoch is re-run
    from the checkpoint before it, where the connection was open; the TP
    run has closed it since (and, as the client's next connection came at
    once, accepted the second). The connection's description is kept from
    each checkpoint (a process with no epoll instance), and uprr lets it go
    once the re-run went live, so the re-run's close reaches the client.
    Before, the re-run was refused ("fd N (a socket) was closed or replaced
    after the checkpoint"), exit 124; without the let-go the client never
    saw the end."""
    conn_echo_rerun(h, 'stdin_echo-conn', 'dup2')


@case('tp-rerun-accept')
def c_tp_rerun_accept(h):
    """A connection the TP run accepted after the checkpoint, given to the
    re-run's accept (issue 15, "Rollback": input the discarded speculation
    consumed is re-delivered): conn_echo_rerun() forced to diverge at the
    program's accept(2) of its second connection, which the TP run had
    made (its client connects as the first ends): the re-run from the
    checkpoint before it gets that connection from the TP run's process
    (it stood held) and gives it to its accept, with the peer's address
    (the program checks it: 127.0.0.1); the lines the TP run read from it
    given again, the rest read live. Before, a connection accepted refused
    the re-run ("a change outside its processes"), exit 124."""
    conn_echo_rerun(h, 'stdin_echo-accept', 'accept')


@case('tp-rerun-accept-refused')
def c_tp_rerun_accept_refused(h):
    """tp-rerun-accept with a non-blocking listening socket, each accept
    after a poll(2) (stdin_echo --nonblock): the connection the TP run
    took from its queue would not be shown to the re-run's poll, which
    would wait for ever; the re-run is refused, named, and the recording
    ends at the divergence (exit 124) as before."""
    trace, r, _, _ = conn_echo_record(h, 'stdin_echo-accept-nb', 'accept', ['--nonblock'])
    err = r.stderr.decode(errors='replace')
    if r.status != DIVERGED or 'non-blocking listening socket' not in err:
        raise Fail(f'expected exit 124 and the re-run refused for the non-blocking listening socket\n  '
                   f'{r.explain()}')
    text = run([h.uprr, 'info', trace], timeout=60, what='uprr info').stdout.decode(errors='replace')
    why = info_value(text, 'no re-run')
    if 'non-blocking listening socket' not in why:
        raise Fail('uprr info does not name why the re-run was refused:\n' + text)
    log('  no re-run: ' + why[:240])


@case('tp-rerun-signals')
def c_tp_rerun_signals(h):
    """Signals from outside given again (issue 15, "Rollback": input the
    discarded speculation consumed is re-delivered): tp-rerun-redeliver's
    stdin_echo, sent SIGRTMIN (queued: none merges) by the harness after
    every 2 lines (a line each 5 ms), its EP run made to diverge in epoch
    8. The signals its TP
    run took after the checkpoint (and one pending when it was killed, or
    come while the re-run followed the log) are sent again once the re-run
    went live: the program counts the signals sent (a known 1 or 2 in 100
    lost, below); what went out is the input once, in order; the trace
    replays as recorded."""
    data = b''.join(b'line %d\n' % i for i in range(200))
    trace, r, sent = stdin_echo_record(h, 'stdin_echo-signals', data, 8, pace=0.005,
                                       signal_every=2)
    want, rr = rerun_echo_checked(h, trace, r, data, more=True)
    m = re.fullmatch(rb'stdin_echo: (\d+) signals\n', r.stdout[len(want):])
    got = int(m.group(1)) if m else 0
    # Known: 1 or 2 of 100 are lost around the TP run's end (not found:
    # neither taken by its loop nor pending when it is killed; 98-99 of
    # 100 in 8 recordings); the re-run without them lost 5-6 (94-95)
    if not sent - 3 <= got <= sent:
        raise Fail(f'the program took {got} signals of the {sent} sent (at least {sent - 3}):\n' +
                   tail(r.stdout))
    m = re.search(r'(\d+) signals from outside sent again', rr)
    if not m:
        raise Fail('uprr info does not say the re-run\'s signals sent again:\n' + rr)
    log(f'  {sent} signals sent, {got} taken, {m.group(1)} of them sent again by the re-run; '
        f're-run: {rr[:160]}')
    compare(r, h.replay(trace))


@case('tp-rerun-selfpipe')
def c_tp_rerun_selfpipe(h):
    """Kernel state a re-run from checkpoint k needs that the TP run closed
    after it (issue 15, "Rollback with kernel-merge": "A new TP state is
    built from EP memory ... plus the TP's kernel state at the same point:
    descriptors"): tp-rerun-redeliver's stdin_echo with --selfpipe waits in
    epoll_wait(2) on an instance that watches its stdin and a self-pipe
    holding one byte, and makes the self-pipe anew before each read (the
    old one's ends closed: gone by the time the TP run is killed). Its EP
    run made to diverge in epoch 5, the re-run from a checkpoint gets a new
    pipe with the old one's byte at the numbers the program had, and a new
    epoll instance with the interest list of the checkpoint (the program
    checks both at its next turn, exit 3 if either is wrong), and an
    eventfd, a timerfd and a signalfd made anew with their counter,
    setting and mask there (each turn sets them again: the TP run's had
    moved on; checked too): exit 0, the input once, in order, uprr info
    counts the objects made anew (5 at least), and the trace replays as
    recorded."""
    # (epoch 5 of 300 lines: a loaded machine's checks make the TP run
    # stand long, and the writer fills the pipe meanwhile: fewer epochs)
    data = b''.join(b'line %d\n' % i for i in range(300))
    trace, r = stdin_echo_record(h, 'stdin_echo-selfpipe', data, 5, args=['--selfpipe'], pace=0.005)
    _, rr = rerun_echo_checked(h, trace, r, data)
    # the self-pipe, the eventfd, the epoll instance, the timerfd, the
    # signalfd
    m = re.search(r'(\d+) objects made anew', rr)
    if not m or int(m.group(1)) < 5:
        raise Fail('uprr info does not say the re-run made the self-pipe, the eventfd, the epoll '
                   'instance, the timerfd and the signalfd anew:\n' + rr)
    log(f'  re-run: {rr[:160]}')
    compare(r, h.replay(trace))


@case('tp-rerun-refused')
def c_tp_rerun_refused(h):
    """A divergence at a syscall forced in epoch 8 (UPRR_EP_DIVERGE=
    8:syscall, --epoch=20) of tests/progs/stdin_echo COUNT_FILE, which
    after each read makes COUNT_FILE anew (O_TRUNC): by then output of
    earlier epochs went out (only a re-run from a checkpoint could be
    right), and the TP run cut that file after the checkpoint, which is not
    put back. The re-run is refused, named (`no re-run:` names the open),
    and the recording ends at the divergence as before (exit 124); what
    went out is a beginning of the input."""
    data = b''.join(b'line %d\n' % i for i in range(200))
    trace, r = stdin_echo_record(h, 'stdin_echo-refused', data, 8, args=[h.path('count.txt')],
                                 pace=0.005)
    err = r.stderr.decode(errors='replace')
    if r.status != DIVERGED or 'not re-run: ' not in err:
        raise Fail(f'expected exit 124 and the re-run refused, named\n  {r.explain()}')
    text = run([h.uprr, 'info', trace], timeout=60, what='uprr info').stdout.decode(errors='replace')
    why = info_value(text, 'no re-run')
    if not re.search(r'from (a )?checkpoint.*(an open that creates or truncates|O_TRUNC|a name made, '
                     r'removed or a file cut)', why):
        raise Fail('uprr info does not name why the re-run was refused:\n' + text)
    if not r.stdout or not (data.startswith(r.stdout) or r.stdout.startswith(data)):
        raise Fail('what went out is not a beginning of the program\'s input:\n' + tail(r.stdout))
    log('  no re-run: ' + why[:240])


# ---- the re-run and files the run made and took every name of ----

SEMFILE_ROUNDS = '3000'


def semfile_record(h, mode, name):
    """Record tests/progs/tp_semfile in @mode (sem, keep, noexcl) in a
    directory of its own with --mode=tp -v, one epoch (--epoch=0: this
    case's subject), its EP run made to diverge at its first syscall: the
    TP run made the whole program, every name given and taken, before the
    judge looks (with epochs, the TP run may stand at an end before a name
    is taken, and a re-run is refused rightly: the name would be left).
    Returns (trace, result, its directory)."""
    work = h.path(name + '-dir')
    os.makedirs(work, exist_ok=True)
    trace = h.new_trace_path(name)
    env = dict(os.environ, UPRR_EP_DIVERGE='0:syscall')
    r = run([h.uprr, 'record', '-o', trace, '--mode=tp', '--epoch=0', '-v', '--',
             h.prog('tp_semfile'), work, SEMFILE_ROUNDS, mode], timeout=RECORD_TIMEOUT,
            what='uprr record', cwd=h.tmp, env=env)
    return trace, r, work


@case('tp-rerun-semfile')
def c_tp_rerun_semfile(h):
    """tests/progs/tp_semfile: the TP run made 3 files with O_CREAT |
    O_EXCL (sem_open(3)'s in /dev/shm, sem_unlink(3)ed; one per thread, two
    threads racing, made as sem_open makes its: written, ftruncated, mapped
    shared, linked, the temporary name unlinked, renamed with
    RENAME_NOREPLACE, that name unlinked). A divergence at a syscall forced
    (UPRR_EP_DIVERGE=0:syscall) is re-run all the same (uprr main refused
    it: `the TP run made thread N's write of fd M (a file)`): -v says the 3
    files pass, with the 14 name calls; the program is recorded again from
    its start (exit 0), its line shown once, no file left behind; uprr info
    counts the re-run; the trace replays as recorded."""
    trace, rec, work = semfile_record(h, 'sem', 'tp_semfile-rerun')
    err = rec.stderr.decode(errors='replace')
    if rec.status != 0:
        raise Fail(f'expected the re-run to record the program to its end (exit 0)\n  '
                   f'{rec.explain()}')
    m = re.search(r're-run: (\d+) files the TP run made with O_EXCL and took every name of '
                  r'pass \((\d+) name calls', err)
    if not m or m.group(1) != '3' or m.group(2) != '14':
        raise Fail('uprr record -v does not say the 3 files and their 14 name calls passed:\n' +
                   tail(rec.stderr))
    want = (f'tp_semfile: 2 threads, {SEMFILE_ROUNDS} rounds each, counters {SEMFILE_ROUNDS} '
            f'{SEMFILE_ROUNDS} (sem)\n').encode()
    if rec.stdout != want:
        raise Fail('the recording did not print its one line once:\n' + tail(rec.stdout))
    if os.listdir(work):
        raise Fail(f'files left behind in {work}: {os.listdir(work)}')
    text = run([h.uprr, 'info', trace], timeout=60, what='uprr info').stdout.decode(errors='replace')
    if not re.match(r'epoch 0 diverged at a syscall \(divergence from the log: .*made to '
                    r'diverge \(UPRR_EP_DIVERGE=0:syscall\)\); nothing shown before it',
                    info_value(text, 're-run')) or \
            're-run: the trace is an UP recording' not in info_value(text, 'epochs') or \
            info_value(text, 'end') != 'exit status 0':
        raise Fail('uprr info does not say and count the re-run, or the trace does not end with '
                   'the program:\n' + text)
    compare(rec, h.replay(trace))


@case('tp-rerun-semfile-refused')
def c_tp_rerun_semfile_refused(h):
    """tests/progs/tp_semfile as tp-rerun-semfile, but thread 0's file
    keeps its last name (keep), or the threads make theirs with O_CREAT and
    no O_EXCL (noexcl: the name may have been a file before): the re-run is
    refused, named (the open and the name the file keeps; the write of a
    file not made with O_EXCL), and the recording ends at the divergence
    (exit 124)."""
    wants = {
        'keep': r'not re-run: the TP run\'s thread \d+ made openat of (/\S+)/semfile\.tmp\.0 \(a '
                r'file created with O_EXCL that keeps the name \1/semfile\.0\.sem; it made thread '
                r'\d+\'s write of fd \d+\)',
        'noexcl': r'not re-run: the TP run made thread \d+\'s write of fd \d+ \(a file\), not '
                  r'held: it is not undone yet',
    }
    for mode, want in wants.items():
        _, r, work = semfile_record(h, mode, f'tp_semfile-{mode}')
        err = r.stderr.decode(errors='replace')
        if r.status != DIVERGED or not re.search(want, err):
            raise Fail(f'{mode}: expected exit 124 and the re-run refused, named\n  {r.explain()}')
        log(f'  {mode}: ' + re.search(want, err).group(0)[:200])
