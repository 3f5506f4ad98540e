# SPDX-License-Identifier: MIT
"""End-to-end cases of the rollback of an end-of-epoch divergence (issue 15,
item 5; doc/uniparallel.md, "Divergence and rollback"): with the test
switch UPRR_EP_DIVERGE=K[:WHERE], the EP run of `uprr record --mode=tp`
is made to diverge at the end of epoch K (a byte of its memory, or a
callee-saved register, changed before the check; or a page mapped in the
checkpoint's copy only), the EP process is merged into checkpoint K+1's
copy (rec_ep_merge()) and the epoch checked again, then the change is
taken back in the EP run.

Each case checks what `uprr info` counts (1 diverged, 1 rollback verified
when checked again, or 1 refused with its reason), that the merge copied
only the pages that differed, and that the trace replays as recorded, the
output that of a native run.

e2e.py imports this module after its own cases.
"""

import os
import re

from e2e import Fail, case, compare, compare_bytes, log, native_run, run, tail
from e2e_tpmode import epoch_counts
from e2e_respawn import tp_record

ROLLBACKS_RE = re.compile(
    r'^rollbacks: +(\d+) \((\d+) checked again: verified, (\d+) still diverged; (\d+) refused(?:; \d+ re-run, \d+ not)?\), '
    r'(\d+) pages copied of (\d+) compared, (\d+) threads\' registers', re.M)


def rollback_record(h, name, where, epoch=3):
    """Record tests/progs/tp_rollback with --mode=tp --epoch=20 and
    UPRR_EP_DIVERGE=@epoch[:@where]; its output is a native run's and the
    replay's. Returns (info text, epoch counts, rollback counts)."""
    argv = [h.prog('tp_rollback')]
    native = native_run(argv, 'tp_rollback', cwd=h.tmp)
    env = dict(os.environ, UPRR_EP_DIVERGE=f'{epoch}:{where}' if where else str(epoch))
    trace, rec = h.record(argv, name=name, options=['--mode=tp', '--epoch=20'], timeout=600, env=env)
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    info = run([h.uprr, 'info', trace], timeout=60, what='uprr info')
    text = info.stdout.decode(errors='replace')
    counts = epoch_counts(text)
    m = ROLLBACKS_RE.search(text)
    if not m:
        raise Fail('uprr info does not count the rollbacks:\n' + text)
    rb = tuple(int(x) for x in m.groups())
    log(f'  {counts[0]} epochs: {counts[1]} verified, {counts[2]} diverged, {counts[3]} not checked')
    for line in text.splitlines():
        if line.startswith(('divergence:', 'rollbacks:', 'no rollback:')):
            log('  ' + line)
    # the change was taken back in the EP run: the trace is its execution
    compare(rec, h.replay(trace))
    return text, counts, rb


def rolled_back(h, name, where, what):
    """A forced divergence of kind @what (a pattern of the divergence line)
    at @where: 1 diverged, merged, verified when checked again; the later
    epochs are checked and verify."""
    text, (epochs, verified, diverged, _), rb = rollback_record(h, name, where)
    rollbacks, again_ok, again_bad, refused, copied, compared, threads = rb
    if diverged != 1:
        raise Fail(f'{diverged} epochs diverged, expected the one forced:\n' + text)
    m = re.search(r'^divergence: +(.*)$', text, re.M)
    if not m or not re.search(what, m.group(1)):
        raise Fail(f'the divergence is not the one forced ({what}):\n' + text)
    if (rollbacks, again_ok, again_bad, refused) != (1, 1, 0, 0):
        raise Fail('expected 1 rollback, verified when checked again:\n' + text)
    if threads != 3:
        raise Fail(f'{threads} threads\' registers merged, expected 3 (main and 2 workers):\n' + text)
    # checked again and verified: the checks went on past it
    if verified < 2:
        raise Fail(f'{verified} epochs verified: the checks did not go on after the rollback:\n' + text)
    return copied, compared


@case('tp-rollback-merge')
def c_tp_rollback_merge(h):
    """tp_rollback (2 threads, a counter under a mutex, 1 ms sleeps) with
    --epoch=20, a byte of the EP process's memory changed at epoch 3's end
    (the first byte the check compares): the check diverges at it, the
    merge copies that page alone of those compared, the epoch checked again
    verifies; uprr info counts 1 diverged and 1 rollback; replay as
    recorded, output as natively."""
    copied, compared = rolled_back(h, 'rollback-memory', '', r'memory: 1 of \d+ written pages differ')
    if copied != 1 or compared < 2:
        raise Fail(f'the merge copied {copied} pages of {compared}: expected the one that differed')


@case('tp-rollback-merge-regs')
def c_tp_rollback_merge_regs(h):
    """The same with a callee-saved register (r12 of the first thread)
    changed: the check diverges at it, the merge copies no page and sets
    every thread's registers; checked again, verified."""
    copied, _ = rolled_back(h, 'rollback-regs', 'r12', r'thread 0 \(\d+, \d+\): r12 ')
    if copied != 0:
        raise Fail(f'the merge copied {copied} pages: no page differed')


@case('tp-rollback-refused')
def c_tp_rollback_refused(h):
    """A page mapped in checkpoint 4's copy only: the check diverges at a
    mapping, which the merge does not make: refused, named in one line
    (uprr info: "no rollback: ... mapping 0x...-0x... in A only: a
    rollback does not change mappings"), no crash; the later epochs are
    not checked (the TP run past it is the diverged one), the trace
    replays as recorded."""
    text, (epochs, verified, diverged, unchecked), rb = rollback_record(h, 'rollback-refused', 'map')
    rollbacks, again_ok, again_bad, refused, copied, compared, threads = rb
    if diverged != 1 or (rollbacks, refused) != (0, 1):
        raise Fail('expected 1 divergence and 1 refused rollback:\n' + text)
    m = re.search(r'^no rollback: +epoch \d+: mapping (0x[0-9a-f]+)-(0x[0-9a-f]+) in A only: '
                  r'a rollback does not change mappings$', text, re.M)
    if not m or int(m.group(2), 16) - int(m.group(1), 16) != 4096:
        raise Fail('uprr info does not name the page mapped as the reason:\n' + text)


@case('tp-rollback-race')
def c_tp_rollback_race(h):
    """tests/progs/tp_race (a counter two threads add to without a lock)
    with UPRR_EP_DIVERGE=merge (nothing forced): the race's divergence,
    found by an epoch's check at the counter, is merged into the
    checkpoint's copy, the counter's page the one copied, and the epoch
    checked again verifies; the trace replays as recorded. Up to 30
    recordings, as the race may lose nothing (tp-epochs-race; 6 missed it
    in a full run)."""
    argv = [h.prog('tp_race'), '4000', '1000']
    env = dict(os.environ, UPRR_EP_DIVERGE='merge')
    for attempt in range(30):
        trace, rec = h.record(argv, name=f'rollback-race-{attempt}', options=['--mode=tp', '--epoch=10'],
                              timeout=600, env=env)
        text = run([h.uprr, 'info', trace], timeout=60, what='uprr info').stdout.decode(errors='replace')
        _, _, diverged, _ = epoch_counts(text)
        m = ROLLBACKS_RE.search(text)
        if not m:
            raise Fail('uprr info does not count the rollbacks:\n' + text)
        rollbacks, again_ok, again_bad, refused, copied, compared, _ = (int(x) for x in m.groups())
        log(f'  attempt {attempt + 1}: {diverged} diverged; ' + m.group(0))
        compare(rec, h.replay(trace))
        if not diverged:
            continue
        c = re.search(rb'the counter at (0x[0-9a-f]+)', rec.stdout)
        at = re.search(r'^divergence: .*first at (0x[0-9a-f]+)', text, re.M)
        if not c or not at or not 0 <= int(at.group(1), 16) - int(c.group(1), 16) < 8:
            log('  (not the counter: a difference of another kind; recording again)')
            continue
        if (rollbacks, again_ok, again_bad, refused) != (1, 1, 0, 0):
            raise Fail('the race\'s divergence was not merged and verified when checked again:\n' + text)
        if copied != 1:
            raise Fail(f'{copied} pages copied, expected the counter\'s alone:\n' + text)
        return
    raise Fail('no epoch of tp_race diverged at its counter in 30 recordings')


def rollback_io_setup(h, runs):
    """tests/progs/rollback_io's input file, its output file for each of
    @runs and for a native run, which is made: (argv(run), outs, native)."""
    data = bytes((i * 131 + 17) & 0xff for i in range(20000))
    infile = os.path.join(h.tmp, 'rollback-in.bin')
    with open(infile, 'wb') as f:
        f.write(data)
    outs = {k: os.path.join(h.tmp, f'rollback-out-{k}.txt') for k in ('native',) + tuple(runs)}
    argv = lambda k: [h.prog('rollback_io'), infile, outs[k]]
    return argv, outs, native_run(argv('native'), 'rollback_io', cwd=h.tmp)


def rollback_io_record(h, argv, outs, native, run_name, env):
    """Record rollback_io's run @run_name (rollback_io_setup()) with
    --mode=tp --epoch=20 and @env: its stdout (what it read) and the file
    it appended to are the native run's. Returns (trace, recording, uprr
    info's text)."""
    trace, rec = h.record(argv(run_name), name='rollback-io-' + run_name,
                          options=['--mode=tp', '--epoch=20'], timeout=600, env=env)
    compare_bytes(native.stdout, rec.stdout, 'stdout (what it read)', 'the native run', 'the recording')
    with open(outs['native'], 'rb') as a, open(outs[run_name], 'rb') as b:
        compare_bytes(a.read(), b.read(), 'the file appended to', 'the native run', 'the recording')
    text = run([h.uprr, 'info', trace], timeout=60, what='uprr info').stdout.decode(errors='replace')
    return trace, rec, text


def rollback_io_state(h, argv):
    """Where rollback_io's state is, as its plain recording says (no
    address randomization under uprr): '0x...'."""
    _, plain = h.record(argv('plain'), name='rollback-io-plain', options=['--mode=tp', '--epoch=20'],
                        timeout=600)
    m = re.search(rb'rollback_io: state at (0x[0-9a-f]+)', plain.stderr)
    if not m:
        raise Fail('rollback_io did not say where its state is:\n' + tail(plain.stderr))
    return m.group(1).decode()


@case('tp-rollback-live')
def c_tp_rollback_live(h):
    """Rollback with kernel state, for an end-of-epoch divergence (issue
    15's test): tests/progs/rollback_io reads a file, a pipe and a socket a
    thread fills and appends a line per chunk to a file, over about 7 epochs of
    --epoch=20. UPRR_EP_DIVERGE=3:live:ADDR changes a byte of its state in
    the TP run (and checkpoint 4's copy) while it stands at epoch 3's end:
    the check diverges there, the TP run is rolled back to the EP run's
    state and goes on. The file's lines, what it read and its output are a
    native run's (without the rollback, every line after epoch 3 differs);
    uprr info counts 1 diverged, 1 rollback verified again, none refused;
    later epochs verify; the trace replays as recorded."""
    argv, outs, native = rollback_io_setup(h, ('plain', 'live'))
    state = rollback_io_state(h, argv)
    env = dict(os.environ, UPRR_EP_DIVERGE='3:live:' + state)
    trace, rec, text = rollback_io_record(h, argv, outs, native, 'live', env)
    epochs, verified, diverged, _ = epoch_counts(text)
    rb = ROLLBACKS_RE.search(text)
    if not rb:
        raise Fail('uprr info does not count the rollbacks:\n' + text)
    rollbacks, again_ok, again_bad, refused = (int(x) for x in rb.groups()[:4])
    for line in text.splitlines():
        if line.startswith(('epoch checks:', 'divergence:', 'rollbacks:', 'no rollback:')):
            log('  ' + line)
    if diverged != 1 or (rollbacks, again_ok, again_bad, refused) != (1, 1, 0, 0):
        raise Fail('expected 1 divergence, rolled back and verified again, none refused:\n' + text)
    # at epoch 3, or the first epoch checked after it (an epoch whose
    # threads never all reached their ends is not checked)
    d = re.search(r'^divergence: +epoch (\d+): .*memory: 1 of \d+ written pages differ, first at '
                  + state, text, re.M)
    if not d or int(d.group(1)) < 3:
        raise Fail('the divergence is not the byte changed:\n' + text)
    if verified < 2:
        raise Fail(f'{verified} epochs verified: the checks did not go on after the rollback:\n' + text)
    compare(rec, h.replay(trace))


@case('tp-rerun-at-end')
def c_tp_rerun_at_end(h):
    """An end-of-epoch divergence whose rollback into the TP run is
    refused (its verdict came after the TP run went on, or a mapping
    differs), after output went out: rather than the TP run going on as it
    diverged (its later epochs unchecked, their output shown unverified),
    the EP run stops at that end and the program is re-run from that
    checkpoint (recorder/record-ep-merge.c rerun_instead(),
    record-ep-live.c). UPRR_EP_DIVERGE=3:late:ADDR changes a byte of
    rollback_io's state in the TP run at epoch 3's end, as K:live does
    (tp-rollback-live), and takes the rollback as late. The file's lines,
    what it read and its output are a native run's (the re-run goes on
    from the EP run's state, the TP run's kernel state put back); uprr
    info says the re-run at the epoch's end; the trace replays as
    recorded."""
    argv, outs, native = rollback_io_setup(h, ('plain', 'late'))
    env = dict(os.environ, UPRR_EP_DIVERGE='3:late:' + rollback_io_state(h, argv))
    trace, rec, text = rollback_io_record(h, argv, outs, native, 'late', env)
    rr = re.search(r'^re-run: +epoch (\d+) diverged at its end, not rolled back \(divergence from '
                   r'the TP run at the end of epoch \1, not rolled back \(the TP run went on past '
                   r'checkpoint (\d+) before the check \(UPRR_EP_DIVERGE=K:late\)\).*\); the TP run '
                   r'killed, its output of epoch \2 on dropped .* the program recorded again '
                   r'following the log to checkpoint \2 and live from there', text, re.M)
    if not rr or int(rr.group(1)) < 3 or int(rr.group(2)) != int(rr.group(1)) + 1:
        raise Fail('uprr info does not say the re-run from the end of the diverged epoch:\n' + text)
    log(f'  epoch {rr.group(1)} diverged at its end, re-run from checkpoint {rr.group(2)}')
    compare(rec, h.replay(trace))


@case('tp-rollback-syscall')
def c_tp_rollback_syscall(h):
    """Rollback with kernel state, for a divergence at a syscall (issue
    15's test: "a program that reads a socket and a file and appends to a
    file across a forced divergence ... The file's final bytes and
    everything read match a native run"). tests/progs/rollback_io reads a
    pipe, a stream socket and a file and appends a line per chunk to a
    file; UPRR_EP_DIVERGE=3:syscall (h-rerun's test switch) makes the EP
    run diverge at its first call of epoch 3, after output of earlier
    epochs went out. The program is re-run from the last checkpoint its
    EP run stood at (recorder/record-ep-live.c, tp/rerun.c) after the
    undo (kernel-merge.h, kmerge_epoch_undo(): the lines the TP run
    appended since taken back; the offsets put back), with the pipe and
    the socket pair, its own, holding what they held at the checkpoint
    (kmerge_epoch_queues_restore()). Without the undo the epoch's lines
    are in the file twice; without the refill the program reads other
    bytes and its state differs. The recording
    ends with the program (exit 0), not at the divergence; the trace
    replays as recorded."""
    argv, outs, native = rollback_io_setup(h, ('rerun',))
    env = dict(os.environ, UPRR_EP_DIVERGE='3:syscall')
    # under load the EP run may have checked no epoch before the forced
    # one (a thread's end before a buffered call, not placeable): its
    # re-run is refused, named; recorded again (up to 3 times)
    for attempt in range(3):
        try:
            trace, rec, text = rollback_io_record(h, argv, outs, native, 'rerun', env)
            break
        except Fail as e:
            if 'the EP run stood at no checkpoint before epoch' not in str(e) or attempt == 2:
                raise
            log(f'  attempt {attempt}: no epoch before the divergence was checked: again')
    for line in text.splitlines():
        if line.startswith(('epochs:', 'epoch checks:', 'divergence:', 'rollbacks:', 'no rollback:', 'end:')):
            log('  ' + line)
    if 'the trace ends at the divergence' in text or re.search(r'^end: .*divergence', text, re.M):
        raise Fail('the recording ended at the divergence, not rolled back:\n' + text)
    compare(rec, h.replay(trace))


@case('tp-rerun-timers')
def c_tp_rerun_timers(h):
    """A re-run from a checkpoint of a program whose timers run: signal_async
    (a periodic ITIMER_REAL whose SIGALRMs it waits for in pause(2), then
    alarm(2), then a thread it starts), --epoch=20, its EP run made to
    diverge at a syscall in epoch 2 (UPRR_EP_DIVERGE=2:syscall). The EP run
    answered its setitimer(2) from the log, so the re-run's process had no
    timer where it went live: it waited in pause(2) for good (uprr hung)
    until the TP run's timers at the checkpoint were given to it; and its
    reader thread, started after the cut, had no slot in the order
    (libuprr-sync: "a thread the log does not have", exit 125) until such a
    thread went unordered. The recording ends as natively, the replay as
    recorded. Under load nothing may have gone out by epoch 2 and the
    program is re-run from its start: recorded again, up to 4 times."""
    argv = [h.prog('signal_async')]
    env = dict(os.environ, UPRR_EP_DIVERGE='2:syscall')
    for attempt in range(4):
        trace, rec = tp_record(h, argv, f'signal_async-rerun-{attempt}', ('-v', '--mode=tp', '--epoch=20'),
                               env)
        if b'signal_async: ok' not in rec.stdout:
            raise Fail('signal_async re-run: its signals went wrong\n' + tail(rec.stdout))
        compare(rec, h.replay(trace))
        m = re.search(rb'the re-run went live at checkpoint (\d+)', rec.stderr)
        if m:
            log(f'  re-run from checkpoint {m.group(1).decode()}')
            return
        log(f'  attempt {attempt}: re-run from the program\'s start (no output out yet)')
    raise Fail('signal_async was never re-run from a checkpoint in 4 recordings')


@case('tp-rerun-posix-timer')
def c_tp_rerun_posix_timer(h):
    """The same with a POSIX timer (tests/progs/posix_timer: timer_create(2),
    SIGRTMIN every 2 ms, waited for in sigsuspend(2)), which a re-run cannot
    make again (its EP run answered timer_create from the log): live from
    the checkpoint it waited for good, and uprr hung. Its re-run from a
    checkpoint is refused now, named (exit 124). Recorded natively and
    in tp mode with no forced divergence, it records and replays as any."""
    argv = [h.prog('posix_timer')]
    native = native_run(argv, 'posix_timer')
    _, rec = h.record(argv, name='posix_timer-up')
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    trace, rec = h.record(argv, name='posix_timer-tp', options=['--mode=tp', '--epoch=20'], timeout=300)
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    compare(rec, h.replay(trace))
    env = dict(os.environ, UPRR_EP_DIVERGE='2:syscall')
    for attempt in range(4):
        trace, rec = h.record(argv, name=f'posix_timer-rerun-{attempt}', expect_status=None,
                              options=['-v', '--mode=tp', '--epoch=20'], timeout=300, env=env)
        if rec.status == 124 and re.search(rb'process \d+ had a POSIX timer \(timer_create\(2\)\) at '
                                           rb'checkpoint \d+, which a re-run cannot make again',
                                           rec.stderr):
            return
        if rec.status != 0:
            raise Fail(f'posix_timer: neither re-run from its start nor refused, named\n  '
                       f'{rec.explain()}')
        log(f'  attempt {attempt}: re-run from the program\'s start (no output out yet)')
    raise Fail('posix_timer\'s re-run from a checkpoint was never refused in 4 recordings')
