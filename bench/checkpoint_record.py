#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Issue 15's checkpoint pause in real recordings, by part.

usage: bench/checkpoint_record.py [-B BUILD_DIR] [-n RUNS] [-e EPOCH_MS] [NAME...]

Records each program (default: all; -l lists them) RUNS times (3) with
`uprr record --mode=tp --epoch=EPOCH_MS -v` (50) and prints, for the run with
the shortest mean pause, the figures `-v` gives (recorder/record-epoch.c,
rec_epoch_log_stats()): checkpoints, the resident memory at them, the pause
(every thread stopped, from all held at their end to all let go; the
lock-step's EP steps are not in it) mean and min, ms per 100 MiB resident,
and the pause's parts (doc/checkpoints.md, "Cost"). Not a test: nothing
here asserts a time. The machine's load is in the header: with other work
running the figures are noisy, the best of the runs less so.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))
import e2e  # noqa: E402  (make_text, make_project, make_env, POOL_SCRIPT)

PROGRAMS = ['pigz', 'xz', 'sort', 'make_j2', 'pool', 'resident400']

# the -v lines read, and what each figure is called here
PAUSE = re.compile(r'checkpoint pause .*: mean (\d+) us, min (\d+) us, max (\d+) us, '
                   r'at (\d+) MiB resident.*stopping the threads took (\d+) us')
COUNT = re.compile(r'epochs of \d+ ms: (\d+) checkpoints')
PARTS = re.compile(r'of the pauses, on average: settling (\d+) us; copying (\d+) us \(reading '
                   r'the threads (\d+) us, of which injected queries (\d+) us; the fork (\d+) us; '
                   r"the threads' clones (\d+) us; setting their state (\d+) us\); dirty logs "
                   r'(\d+) us; buffers flushed and ends logged (\d+) us;.*resuming (\d+) us')
# what a uprr before checkpoint_copy_times() said of the pauses
OLD_PARTS = re.compile(r'of the pauses: copying (\d+) us, dirty logs (\d+) us')
PART_NAMES = ['settle', 'copy', 'read', 'query', 'fork', 'clone', 'set', 'dirty', 'ends', 'resume']


def command(name, work, build):
    progs = os.path.join(build, 'tests', 'progs')
    text = os.path.join(work, 'input-8M.txt')
    return {
        'pigz': ['/usr/bin/pigz', '-p', '2', '-c', text],
        'xz': ['/usr/bin/xz', '-T2', '-1', '-c', text],
        'sort': ['/usr/bin/sort', '--parallel=2', '-S', '64M', '-T', os.path.join(work, 'tmp'), text],
        'make_j2': ['/usr/bin/make', '-B', '-j2', '-C', os.path.join(work, 'project')],
        'pool': ['/usr/bin/python3', '-B', '-I', os.path.join(work, 'pool.py')],
        # 400 MiB resident, every page rewritten between checkpoints
        'resident400': [os.path.join(progs, 'tp_resident'), '400', '2', '20'],
    }[name]


def record(uprr, argv, epoch, work, env):
    trace = os.path.join(work, 'trace')
    shutil.rmtree(trace, ignore_errors=True)
    shutil.rmtree(trace + '.tp', ignore_errors=True)
    p = subprocess.run([uprr, 'record', '-v', '--mode=tp', f'--epoch={epoch}', '-o', trace, '--'] + argv,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       env=env, cwd=work, timeout=600)
    err = p.stderr.decode(errors='replace')
    m, c, parts = PAUSE.search(err), COUNT.search(err), PARTS.search(err)
    last = [l for l in err.splitlines() if l.startswith('uprr')][-1:] or ['(no uprr line)']
    why = f'exit {p.returncode}: {last[0][:160]}' if p.returncode != 0 else None
    # a recording that failed after its TP run (an EP run's verdict, the
    # TP log's) still measured its checkpoints: kept, and said
    if not m or not c or not int(c.group(1)):
        return None, why or 'no checkpoint taken'
    fig = {'n': int(c.group(1)), 'mean': int(m.group(1)), 'min': int(m.group(2)),
           'max': int(m.group(3)), 'mib': int(m.group(4)), 'stop': int(m.group(5)), 'why': why}
    old = OLD_PARTS.search(err)
    if parts:
        fig.update(zip(PART_NAMES, map(int, parts.groups())))
    elif old:
        fig.update(copy=int(old.group(1)), dirty=int(old.group(2)))
    return fig, None


def main():
    ap = argparse.ArgumentParser(usage=__doc__.split('\n\n')[1])
    ap.add_argument('-B', default='build')
    ap.add_argument('-n', type=int, default=3)
    ap.add_argument('-e', type=int, default=50)
    ap.add_argument('-l', action='store_true')
    ap.add_argument('names', nargs='*')
    a = ap.parse_args()
    if a.l:
        print('\n'.join(PROGRAMS))
        return 0
    for n in a.names:
        if n not in PROGRAMS:
            print(f'checkpoint_record.py: unknown program {n} (-l lists them)', file=sys.stderr)
            return 2
    build = os.path.abspath(a.B)
    uprr = os.path.join(build, 'cli', 'uprr')
    if not os.access(uprr, os.X_OK):
        print(f'checkpoint_record.py: no {uprr}: build first', file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix='uprr-ckpt.')
    try:
        e2e.make_text(os.path.join(work, 'input-8M.txt'), 8 << 20, e2e.WORDS_SEED)
        os.mkdir(os.path.join(work, 'tmp'))
        with open(os.path.join(work, 'pool.py'), 'w') as f:
            f.write(e2e.POOL_SCRIPT)
        e2e.make_project(os.path.join(work, 'project'))
        env = e2e.make_env(os.path.join(work, 'cctmp'))
        env['LC_ALL'] = 'C'
        with open('/proc/loadavg') as f:
            load = ' '.join(f.read().split()[:3])
        print(f'# {os.uname().release}, {os.cpu_count()} CPUs, load {load}; --epoch={a.e}, '
              f'best of {a.n} by mean pause; times in ms')
        print('| program | checkpoints | resident MiB | pause mean | min | per 100 MiB (mean) | '
              + ' | '.join(PART_NAMES) + ' | stop |')
        print('|---' * (7 + len(PART_NAMES)) + '|')
        notes = []
        for name in a.names or PROGRAMS:
            best, why, failed = None, None, 0
            for _ in range(a.n):
                fig, err = record(uprr, command(name, work, build), a.e, work, env)
                if fig and (not best or fig['mean'] < best['mean']):
                    best = fig
                failed += bool(err or fig['why'])
                why = why or err or fig['why']
            if failed:
                notes.append(f'{name}: {failed} of {a.n} recordings failed or took no checkpoint '
                             f'(the first: {why})')
            if not best:
                print(f'| {name} | — |')
                continue
            per = best['mean'] / 10 / best['mib'] if best['mib'] else 0
            parts = ' | '.join(f"{best.get(k, 0) / 1000:.2f}" for k in PART_NAMES)
            print(f"| {name} | {best['n']} | {best['mib']} | {best['mean'] / 1000:.2f} | "
                  f"{best['min'] / 1000:.2f} | {per:.2f} | {parts} | {best['stop'] / 1000:.2f} |",
                  flush=True)
        for note in notes:
            print(f'# {note}')
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
