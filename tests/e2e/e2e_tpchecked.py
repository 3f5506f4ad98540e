# SPDX-License-Identifier: MIT
"""End-to-end cases of the EP run's checks of the epochs of real CPU-bound
programs under `uprr record --mode=tp --epoch=50` (issue 15;
doc/uniparallel.md, "Measured: epochs checked"). Each records once, checks
that the output is a native run's, that no epoch diverged (the programs
have no race), that `uprr info` names a reason for every epoch not checked
(its "not checked:" line: the counts add up to the epochs not checked) and
that each reason is one the case expects, that at least the measured
fraction of the epochs was checked, and that the trace replays as recorded
with the input gone.

e2e.py imports this module after its own cases.
"""

import os
import re

from e2e import Fail, case, compare, compare_bytes, log, native_run, tail
from e2e_tpmode import epoch_counts, real_program, same_lines, text_input, tp_record_replay

NOT_CHECKED_RE = re.compile(r'^not checked: (.*)$', re.M)

# reasons where an EP run knows it cannot find or compare an end (doc/
# uniparallel.md, "Why an epoch is not checked"), and the loader's epoch
# and the program's end; not among them: an EP run that gave an epoch up
# (went-past, stalled, check-failed, no-end, after-divergence), an end the
# log shows at no call (no-call), a reason uprr info cannot name
KNOWN = {'loader', 'program-end', 'program-exit', 'library-futex', 'library-frames', 'interposer-call',
         'redirected-call',
         'in-buffered-call', 'before-buffered-call', 'exit-first', 'after-futex',
         'unmatched-call'}


def unchecked_reasons(text):
    """{reason: count} from `uprr info`'s "not checked:" line ({} if none)."""
    m = NOT_CHECKED_RE.search(text)
    if not m:
        return {}
    reasons = {}
    for part in m.group(1).split(', '):
        n, _, name = part.partition(' ')
        if not n.isdigit() or not name:
            raise Fail(f'uprr info\'s "not checked:" line does not parse: {m.group(0)!r}')
        reasons[name] = int(n)
    return reasons


def checked_case(h, argv, name, min_checked, allowed, remove=(), env=None):
    """Record @argv with --mode=tp --epoch=50: output as natively, none
    diverged, at least @min_checked of the epochs (a fraction) verified,
    every epoch not checked named by a reason in @allowed; the replay
    (@remove gone) is the recording."""
    native = native_run(argv, name, cwd=h.tmp, env=env)
    _, rec, text = tp_record_replay(h, argv, name, remove=remove, options=['--epoch=50'],
                                    env=env)
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    check_counts(text, name, min_checked, allowed)


def check_counts(text, name, min_checked, allowed, gave_up_max=0):
    """`uprr info`'s @text of a recording of @name: none diverged, at least
    @min_checked of the epochs verified, every epoch not checked named by a
    reason in @allowed, or given up by the EP run, went-past or stalled (at
    most @gave_up_max of those)."""
    epochs, verified, diverged, unchecked = epoch_counts(text)
    reasons = unchecked_reasons(text)
    log(f'  {epochs} epochs: {verified} verified, {diverged} diverged, {unchecked} not checked '
        f'{reasons}')
    if diverged:
        raise Fail(f'{diverged} epochs diverged at their end; {name} has no race:\n' + text)
    if sum(reasons.values()) != unchecked:
        raise Fail(f'{unchecked} epochs not checked, but uprr info names reasons for '
                   f'{sum(reasons.values())}:\n' + text)
    gave_up = {'went-past', 'stalled'} if gave_up_max else set()
    if sum(reasons.get(r, 0) for r in gave_up) > gave_up_max:
        raise Fail(f'epochs given up (went-past, stalled): more than the {gave_up_max} '
                   f'expected of {name}:\n' + text)
    odd = sorted(set(reasons) - set(allowed) - gave_up)
    if odd:
        raise Fail(f'epochs not checked for {odd}, not among those expected of {name} '
                   f'({sorted(allowed)}):\n' + text)
    if verified < min_checked * epochs:
        raise Fail(f'{verified} of {epochs} epochs verified, expected at least '
                   f'{min_checked:.0%}:\n' + text)


@case('tp-checked-sort')
def c_tp_checked_sort(h):
    """sort --parallel=2 of 4 MB (1 MiB buffer): its threads end epochs at
    the traced calls the syscall buffer's library makes under the end's
    request, which the EP run (running the library too) finds. Measured
    (2026-12-07): 7-10 of 9-12 epochs verified, the others the loader's
    and the program's end; before, 2-7 of 14-16 (the library's calls not
    found). At least half must be."""
    sort = real_program('sort')
    path = text_input(h, 'sort-input', 4 << 20)
    argv = [sort, '--parallel=2', '-S', '1M', '-T', h.tmp, path]
    checked_case(h, argv, 'checked-sort', 0.5, KNOWN, remove=[path])


@case('tp-checked-pigz')
def c_tp_checked_pigz(h):
    """pigz -p 2 of 8 MB: every epoch not checked has a named reason, and
    only those known (doc/uniparallel.md, "Measured: epochs checked"): a
    thread waits in a condition variable's futex wait, which the EP run's
    FOLLOW does not make (library-futex); the loader's epoch; the
    program's end. None is checked yet: the fraction is not asserted."""
    pigz = real_program('pigz')
    path = text_input(h, 'pigz-input', 8 << 20)
    argv = [pigz, '-p', '2', '-c', path]
    checked_case(h, argv, 'checked-pigz', 0.0, KNOWN, remove=[path])


@case('tp-checked-xz')
def c_tp_checked_xz(h):
    """xz -T2 with 1 MiB blocks of 2 MB: its workers compute for longer
    than an end waits for a syscall (its ends are given up: uprr info's
    checkpoints line counts them); the epochs there are have named,
    known reasons. None is checked yet: the fraction is not asserted."""
    xz = real_program('xz')
    path = text_input(h, 'xz-input', 2 << 20)
    argv = [xz, '-T2', '--block-size=1MiB', '-c', path]
    checked_case(h, argv, 'checked-xz', 0.0, KNOWN, remove=[path])


@case('tp-checked-cond_idle')
def c_tp_checked_cond_idle(h):
    """tests/progs/cond_idle with 20 ms epochs: two threads idle in
    pthread_cond_wait(3) and pthread_cond_timedwait(3) at nearly every
    end while two workers compute, lock, signal and print
    (doc/uniparallel.md, "Ends in a condition wait or a lock"): the EP run
    finds those ends in libuprr-sync's wait for the acquisition's record.
    Measured (2026-12-07, 3 recordings): 14-17 of 17-20 epochs verified;
    before, none (15-17 library-futex). At least half must be, none
    diverged, every epoch not checked named by a known reason, or at most
    one given up (went-past or stalled: 7 and 2 of 15 recordings), at the
    program's last epochs, where its workers exit and main joins them: an
    end in pthread_join(3)'s futex wait on a tid word, which the EP run's
    main does not make when it let the thread exit first (the hazard of
    an end in a shared futex wait, "Why an epoch is not checked"; not
    traced further). Its last line is a native run's; the replay is the
    recording."""
    argv = [h.prog('cond_idle')]
    native = native_run(argv, 'cond_idle', cwd=h.tmp)
    _, rec, text = tp_record_replay(h, argv, 'checked-cond_idle', options=['--epoch=20'])
    same_lines(native, rec, rb'^cond_idle: ', 'last line')
    check_counts(text, 'cond_idle', 0.5, KNOWN, gave_up_max=1)


@case('tp-rerun-cond_idle')
def c_tp_rerun_cond_idle(h):
    """cond_idle with --epoch=20 and a divergence forced at a syscall in
    epoch 12 (UPRR_EP_DIVERGE=12:syscall, lock-step): epoch 12 is re-run
    from its checkpoint, by an EP run that follows the log and the order
    cut at checkpoint 12 and goes live there. It stands at each end before
    as the EP run that diverged stood: shown the order as at each end's
    checkpoint (rec_options.ep_order), it finds its idle threads' ends in
    libuprr-sync's wait for the acquisition. Before, it found the whole
    cut order, followed each acquisition into a wait for a thread parked
    at its end, and gave such ends up after 200 ms each (9-10 of 11, its
    output to a pipe: the re-run took 2.2-2.3 s, now 0.37-0.40 s). At
    most one given up (-v's "did not all reach their ends" after the
    re-run starts), the re-run went live, the last line a native run's,
    the replay the recording."""
    argv = [h.prog('cond_idle')]
    native = native_run(argv, 'cond_idle', cwd=h.tmp)
    env = dict(os.environ, UPRR_EP_DIVERGE='12:syscall')
    trace, rec = h.record(argv, name='cond_idle-rerun', options=['--mode=tp', '--epoch=20', '-v'],
                          timeout=300, env=env)
    same_lines(native, rec, rb'^cond_idle: ', 'last line')
    err = rec.stderr.decode(errors='replace')
    start = err.find('re-run from checkpoint 12')
    if start < 0 or 'the re-run went live at checkpoint 12' not in err[start:]:
        raise Fail('the epoch was not re-run from checkpoint 12, live from there:\n' + tail(rec.stderr))
    stalled = err[start:].count('did not all reach their ends')
    log(f'  the re-run gave {stalled} of its ends up')
    if stalled > 1:
        raise Fail(f'the re-run gave {stalled} ends before checkpoint 12 up, expected at most 1:\n' +
                   tail(rec.stderr))
    compare(rec, h.replay(trace))
