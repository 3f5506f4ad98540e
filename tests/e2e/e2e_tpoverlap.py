# SPDX-License-Identifier: MIT
"""End-to-end cases of `uprr record --mode=tp --ep-overlap` (issue 15,
"Epoch-parallel runs"; doc/uniparallel.md, "Overlap"): the TP run goes on
while its EP run checks the epochs behind it, in the same thread of uprr
(tp/lockstep.c, recorder/record-stash.c), instead of standing at each
epoch's end. Each case records, checks what the EP run found, and replays
the trace with the inputs gone; where the program's output is
deterministic, it equals a native run's.

e2e.py imports this module after its own cases.
"""

import re

from e2e import Fail, case, check_record, compare, compare_bytes, log, native_run, run
from e2e_output import ACK_READER, run_acked
from e2e_tpchecked import KNOWN, unchecked_reasons
from e2e_tpmode import (c_tp_mode_sig_unblock_epoch5, epoch_counts, real_program, same_lines,
                        text_input, tp_record_replay)
from e2e_tprace import info_value, record_tp

OVERLAP = ['--ep-overlap']
# "overlap:     the ep run went on beside the tp run, N times back from it
# to the tp run; V verdicts before the tp run's end (A before its next
# checkpoint), ..."
OVERLAP_RE = re.compile(r'^overlap: +the ep run went on beside the tp run, (\d+) times back from '
                        r'it to the tp run; (\d+) verdicts before the tp run\'s end', re.M)


def overlap_counts(text):
    """(swaps back to the TP run, verdicts before its end) from `uprr
    info`'s overlap line; Fail when it has none."""
    m = OVERLAP_RE.search(text)
    if not m:
        raise Fail('uprr info does not say the EP run went on beside the TP run:\n' + text)
    return int(m.group(1)), int(m.group(2))


@case('tp-overlap-pigz')
def c_tp_overlap_pigz(h):
    """pigz -p 2 of 16 MB with --ep-overlap --epoch=30: the output a native
    run's, byte for byte; the EP run verified; the replay, the input gone,
    the recording. The EP run went on beside the TP run: this thread went
    back from its loop to the TP run's (an event of the TP run came while
    the EP run ran), and it gave verdicts before the TP run's end (in
    lock-step too; without overlap the TP run stands meanwhile)."""
    pigz = real_program('pigz')
    path = text_input(h, 'pigz-overlap-input', 16 << 20)
    argv = [pigz, '-p', '2', '-c', path]
    native = native_run(argv, 'pigz -p 2', cwd=h.tmp)
    _, rec, text = tp_record_replay(h, argv, 'pigz-overlap', remove=[path],
                                    options=OVERLAP + ['--epoch=30'])
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    swaps, verdicts = overlap_counts(text)
    epochs = epoch_counts(text)[0]
    log(f'  {epochs} epochs, {swaps} swaps back to the TP run, {verdicts} verdicts before its end')
    if epochs < 3 or not swaps or not verdicts:
        raise Fail(f'{epochs} epochs, {swaps} swaps, {verdicts} verdicts before the TP run\'s end: '
                   'the EP run did not go on beside the TP run')


@case('tp-overlap-output')
def c_tp_overlap_output(h):
    """Output commit with --ep-overlap: ack_lines writes line 0 and waits
    (at most 20 s) for the reader outside the recording to acknowledge it
    before it writes the rest. With --epoch=50 the reader gets line 0 once
    the EP run verified its epoch, while the TP run goes on (the program
    could not end otherwise: "ack_lines: acked"); every line once, in
    order; the trace replays as recorded."""
    prog = h.prog('ack_lines')
    n = 10
    want = b''.join(b'line %d\n' % i for i in range(n)) + b'ack_lines: acked\n'
    trace = h.new_trace_path('ack_lines-overlap')
    rec, first = run_acked(h, [h.uprr, 'record', '-o', trace, '--mode=tp', '--epoch=50'] + OVERLAP,
                           [prog, str(n), '20', h.path('ack-overlap')], 'record', ACK_READER,
                           h.path('ack-overlap'))
    check_record(rec, trace, 0)
    compare_bytes(want, rec.stdout, 'what the reader got', 'ack_lines\'s design',
                  'the recording with --ep-overlap')
    text = run([h.uprr, 'info', trace], timeout=60, what='uprr info').stdout.decode(errors='replace')
    overlap_counts(text)
    log(f'  line 0 after {first:.3f}s recorded (--epoch=50, overlap)')
    compare(rec, h.replay(trace))


@case('tprace-overlap-tp_race')
def c_tprace_overlap_tp_race(h):
    """tp_race (6000 rounds, increments without a lock) with --ep-overlap
    --epoch=20, up to 20 recordings until one diverged: the EP run's check
    finds the TP run's lost increments after the TP run went on past the
    epoch's end, so the epoch is re-run, from its checkpoint or, with
    nothing shown yet, from the program's start, one thread at a time
    (uprr info's re-run line says which). Every recording ends as the
    program does (exit 0) and replays as recorded."""
    for i in range(20):
        trace, rec, text = record_tp(h, 'tp_race', f'tp_race-overlap-{i}', args=('6000',),
                                     options=['--mode=tp', '--epoch=20'] + OVERLAP)
        if rec.status != 0:
            raise Fail(f'uprr record --ep-overlap of tp_race: exit {rec.status}\n  {rec.explain()}')
        overlap_counts(text)
        compare(rec, h.replay(trace))
        if not epoch_counts(text)[2]:
            continue
        rr = info_value(text, 're-run')
        if not re.match(r'epoch \d+ diverged at ', rr) or \
                not re.search(r'the program recorded again (from its start|following the log to '
                              r'checkpoint \d+ and live from there)', rr):
            raise Fail('a divergence with --ep-overlap, not re-run:\n' + text)
        log(f'  recording {i}: re-run: {rr[:160]}')
        return
    raise Fail('no recording of tp_race diverged in 20 with --ep-overlap')


@case('tp-overlap-sig_unblock')
def c_tp_overlap_sig_unblock(h):
    """tp-mode-sig_unblock-epoch5 with --ep-overlap: sig_unblock `catch`
    and `thread`, --epoch=5, 10 recordings each, every one ends as a
    native run does and replays as recorded. With overlap, before the TP
    run's end waited for its own waiting events (rec_stash_own_pending()),
    a thread whose stop had waited while the EP run had uprr's thread was
    held and rewound at the entry of the same close() at every end: 2 in
    40 under another recording's load never ended (990 epochs); 0 in 320
    after."""
    c_tp_mode_sig_unblock_epoch5(h, extra=OVERLAP)


@case('tp-overlap-cond_idle')
def c_tp_overlap_cond_idle(h):
    """tests/progs/cond_idle with --ep-overlap --epoch=20 (tp-checked-
    cond_idle's program): two threads idle in condition waits at nearly
    every end. The EP run, epochs behind its TP run, is shown the
    synchronization order as it stood at the checkpoint of the epoch it
    checks (uprr_sync_head.view, doc/uniparallel.md, "Overlap"), so it
    finds those ends in libuprr-sync's wait for the acquisition as
    lock-step's EP run does. Before, it found the acquisitions the TP run
    completed later, followed them into waits for threads parked at their
    own ends, and gave those epochs up as stalled all along the run: 2-10
    of 21-28 in 10 of 12 recordings (0-1 in the other 2). After, only in
    the program's last epochs, where its workers exit and main joins them (the
    hazard lock-step has there too, tp-checked-cond_idle): 0 given up in
    10 of 16 recordings, 1 in 6, each in the last 4 epochs (and, before
    an end at glibc's futex call in a condition wait was found where
    libuprr-sync waits, 1 in ~100 stalled at every epoch). None given
    up before the last 5 epochs, or the last quarter of them (under load
    the program runs more epochs, its end too: 31 of 37, 26 of 32, with
    two more recordings beside it; -v's lines name them), at most 2 in all,
    at least half verified, every other reason a known one; the last line
    a native run's; the replay the recording. An epoch may diverge at its
    end near the program's end (main's stack: say()'s buffer holds, past
    its line, what the TP run's pthread_join left there, 1 in 12-20
    recordings): then it is re-run from its checkpoint, and the epochs
    before it are counted."""
    argv = [h.prog('cond_idle')]
    native = native_run(argv, 'cond_idle', cwd=h.tmp)
    trace, rec = h.record(argv, name='cond_idle-overlap',
                          options=['--mode=tp', '--epoch=20', '-v'] + OVERLAP, timeout=600)
    same_lines(native, rec, rb'^cond_idle: ', 'last line')
    text = run([h.uprr, 'info', trace], timeout=60, what='uprr info').stdout.decode(errors='replace')
    overlap_counts(text)
    epochs, verified, diverged, unchecked = epoch_counts(text)
    reasons = unchecked_reasons(text)
    log(f'  {epochs} epochs: {verified} verified, {diverged} diverged, {unchecked} not checked '
        f'{reasons}')
    upto = epochs
    if diverged:
        rr = info_value(text, 're-run')
        m = re.match(r'epoch (\d+) diverged at its end, .*following the log to checkpoint \d+ and '
                     r'live from there', rr)
        if not m:
            raise Fail('a divergence of cond_idle with --ep-overlap, not an end\'s re-run from '
                       'its checkpoint:\n' + text)
        upto = int(m.group(1))
        log(f'  re-run: {rr[:160]}')
    err = rec.stderr.decode(errors='replace')
    given_up = sorted({int(n) for n in re.findall(
        r'epoch (\d+) not checked: (?:its threads did not all reach their ends|thread \d+ went past)',
        err)})
    count = reasons.get('went-past', 0) + reasons.get('stalled', 0)
    last = max(5, epochs // 4)
    log(f'  epochs given up: {given_up}')
    if count > 2 or any(k < epochs - last for k in given_up):
        raise Fail(f'{count} epochs given up (went-past, stalled; {given_up} of {epochs}), expected '
                   f'at most 2, in the last {last}:\n' + text)
    odd = sorted(set(reasons) - KNOWN - {'went-past', 'stalled'})
    if odd:
        raise Fail(f'epochs not checked for {odd}, not among those expected:\n' + text)
    if verified < 0.5 * upto:
        raise Fail(f'{verified} epochs verified of the {upto} before the end or the divergence, '
                   'expected at least half:\n' + text)
    compare(rec, h.replay(trace))
