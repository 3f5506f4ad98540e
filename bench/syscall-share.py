#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Share of each recorded program's syscalls that issue 14's in-process
syscall buffer is to take.

Counts the syscall-entry events of each trace by name (`uprr dump`) and
prints, per program, how many syscalls it made, the share in the buffered
list below, and the unbuffered syscalls it made most. The list is issue
14's, exactly: futex counts for its wait and wake operations only (WAIT,
WAKE and their BITSET forms), ioctl for FIONREAD only. The syscalls uprr
leaves untraced (rt_sigreturn, set_robust_list, arch_prctl) are not in a
trace and not counted.

Traces come from directories given on the command line (any directory
under them that holds a trace; bench/bench14.sh keeps its recordings in
BENCH_KEEP=DIR), or, with --record, from running the e2e cases of the
programs uprr is tested with (tests/e2e/e2e.py with UPRR_E2E_KEEP=1): each
case's traces count together, as one program.

Prints a markdown table on stdout, progress on stderr. Not a test.

usage: bench/syscall-share.py [-B BUILD_DIR] [-t SECONDS] TRACE_DIR...
       bench/syscall-share.py [-B BUILD_DIR] [-t SECONDS] --record [CASE...]
"""
import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Issue 14, "Deliver", item 1: the syscalls the buffer covers at least.
BUFFERED = {
    'read', 'write', 'pread64', 'pwrite64', 'readv', 'writev', 'recvfrom', 'sendto',
    'recvmsg', 'sendmsg', 'epoll_wait', 'epoll_pwait', 'poll', 'ppoll', 'select',
    'pselect6', 'futex WAIT', 'futex WAKE', 'futex WAIT_BITSET', 'futex WAKE_BITSET',
    'clock_gettime', 'gettimeofday', 'getpid', 'gettid', 'lseek', 'fstat', 'newfstatat',
    'statx', 'openat', 'close', 'access', 'getdents64', 'madvise', 'getrandom',
    'nanosleep', 'clock_nanosleep', 'accept4', 'fcntl', 'ioctl FIONREAD',
}

# futex operations (include/uapi/linux/futex.h); the command is op & 0x7f
# once FUTEX_PRIVATE_FLAG (128) and FUTEX_CLOCK_REALTIME (256) are off
FUTEX_OPS = {0: 'WAIT', 1: 'WAKE', 2: 'FD', 3: 'REQUEUE', 4: 'CMP_REQUEUE', 5: 'WAKE_OP',
             6: 'LOCK_PI', 7: 'UNLOCK_PI', 8: 'TRYLOCK_PI', 9: 'WAIT_BITSET',
             10: 'WAKE_BITSET', 11: 'WAIT_REQUEUE_PI', 12: 'CMP_REQUEUE_PI', 13: 'LOCK_PI2'}
FIONREAD = 0x541b

# The e2e cases whose recordings are real programs or tests/progs programs
# (not checks of the harness, bad traces or uprr's own options); every
# prog-* case is added to these.
REAL_CASES = [
    'sqlite3', 'sqlite3-wal', 'python3', 'python3-timer', 'pigz', 'sort', 'od-urandom',
    'date', 'memcached', 'nginx-dump-sent', 'nginx-workers', 'sh-pipeline', 'make-j2',
    'python-multiprocessing', 'prefork-server', 'cp-r', 'node-pkeys', 'script-pty',
    'go-vdso', 'go-goroutines',
]


def syscall_names():
    """Number -> name, from the kernel's uapi header and the numbers
    syscalls/syscallent.h defines for syscalls newer than that header."""
    names = {}
    sources = ['/usr/include/x86_64-linux-gnu/asm/unistd_64.h',
               '/usr/include/asm/unistd_64.h',
               os.path.join(ROOT, 'syscalls', 'syscallent.h')]
    for path in sources:
        try:
            text = open(path).read()
        except OSError:
            continue
        for name, nr in re.findall(r'#define __NR_(\w+)\s+(\d+)', text):
            names.setdefault(int(nr), name)
    if not names:
        sys.exit('syscall-share: no unistd_64.h: apt-get install linux-libc-dev')
    return names


def count_trace(uprr, trace, names):
    """Counter of syscall names (futex and ioctl split by operation)."""
    counts = collections.Counter()
    p = subprocess.Popen([uprr, 'dump', trace], stdout=subprocess.PIPE, text=True,
                         errors='replace')
    for line in p.stdout:
        f = line.split()
        if len(f) < 6 or f[2] != 'syscall-entry':
            continue
        nr, arg1 = int(f[3], 16), int(f[5], 16)
        name = names.get(nr, f'syscall {nr}')
        if name == 'futex':
            name = 'futex ' + FUTEX_OPS.get(arg1 & 0x7f, str(arg1 & 0x7f))
        elif name == 'ioctl':
            name = 'ioctl FIONREAD' if arg1 == FIONREAD else f'ioctl {arg1:#x}'
        counts[name] += 1
    if p.wait() != 0:
        print(f'syscall-share: uprr dump {trace} failed (status {p.returncode}); '
              'counted what it printed', file=sys.stderr)
    return counts


def find_traces(top):
    """Every trace directory (a header and events) at or under @top."""
    found = []
    for d, subdirs, files in os.walk(top):
        if 'header' in files and 'events' in files:
            found.append(d)
            subdirs[:] = []
        subdirs.sort()
    return sorted(found)


def trace_command(uprr, trace):
    r = subprocess.run([uprr, 'info', trace], capture_output=True, text=True,
                       errors='replace')
    for line in r.stdout.splitlines():
        if line.startswith('command:'):
            return line.split(':', 1)[1].strip()
    return os.path.basename(trace)


def e2e_cases():
    r = subprocess.run([sys.executable, os.path.join(ROOT, 'tests/e2e/e2e.py'), '--list'],
                       capture_output=True, text=True, check=True)
    listed = [c.split()[0] for c in r.stdout.split('\n') if c.strip()]
    return [c for c in listed if c.startswith('prog-')] + \
        [c for c in REAL_CASES if c in listed]


def record_cases(build, cases, timeout, keep):
    """Runs each e2e case keeping its work directory under @keep; returns
    [(case, status, [trace dirs])]."""
    out = []
    for case in cases:
        tmp = os.path.join(keep, case)
        os.makedirs(tmp, exist_ok=True)
        env = dict(os.environ, UPRR_E2E_KEEP='1', TMPDIR=tmp)
        print(f'syscall-share: e2e case {case}', file=sys.stderr)
        argv = [sys.executable, os.path.join(ROOT, 'tests/e2e/e2e.py'),
                '--uprr', os.path.join(build, 'cli/uprr'),
                '--progs', os.path.join(build, 'tests/progs'),
                '--craft', os.path.join(build, 'tests/e2e/trace-craft'),
                '--timeout', str(timeout), case]
        try:
            r = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, errors='replace',
                               timeout=timeout + 30)
            status = {0: 'pass', 77: 'skip'}.get(r.returncode, f'fail ({r.returncode})')
        except subprocess.TimeoutExpired:
            status = 'timeout'
        out.append((case, status, find_traces(tmp)))
    return out


def pct(a, b):
    return f'{100.0 * a / b:.1f} %' if b else '–'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('-B', dest='build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('-t', dest='timeout', type=int, default=300,
                    help='seconds each e2e case may take (--record)')
    ap.add_argument('--record', action='store_true',
                    help='record the e2e cases named (default: the programs) instead')
    ap.add_argument('--top', type=int, default=4,
                    help='unbuffered syscalls named per program (default 4)')
    ap.add_argument('args', nargs='*', metavar='TRACE_DIR|CASE')
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    uprr = os.path.join(build, 'cli/uprr')
    if not os.access(uprr, os.X_OK):
        sys.exit(f'syscall-share: build first (scripts/setup.sh); no {uprr}')
    names = syscall_names()

    keep = None
    rows = []  # (program, note, [traces])
    try:
        if a.record:
            keep = tempfile.mkdtemp(prefix='uprr-syscall-share.')
            for case, status, traces in record_cases(build, a.args or e2e_cases(),
                                                     a.timeout, keep):
                rows.append((case, '' if status == 'pass' else status, traces))
        else:
            if not a.args:
                ap.error('give trace directories, or --record')
            for top in a.args:
                traces = find_traces(top)
                if not traces:
                    print(f'syscall-share: no trace under {top}', file=sys.stderr)
                for t in traces:
                    cmd = trace_command(uprr, t)
                    cmd = cmd if len(cmd) <= 50 else cmd[:49] + '…'
                    rows.append((f'{os.path.basename(t)}: `{cmd}`', '', [t]))

        total = collections.Counter()
        print('| program | traces | syscalls | buffered | share | most frequent unbuffered | note |')
        print('|---|---:|---:|---:|---:|---|---|')
        for program, note, traces in rows:
            counts = collections.Counter()
            for t in traces:
                print(f'syscall-share: counting {t}', file=sys.stderr)
                counts += count_trace(uprr, t, names)
            total += counts
            n = sum(counts.values())
            b = sum(v for k, v in counts.items() if k in BUFFERED)
            top = ', '.join(f'{k} {v}' for k, v in counts.most_common()
                            if k not in BUFFERED)
            top = ', '.join(top.split(', ')[:a.top]) if top else ''
            print(f'| {program} | {len(traces)} | {n} | {b} | {pct(b, n)} | {top} | {note} |')
        n = sum(total.values())
        b = sum(v for k, v in total.items() if k in BUFFERED)
        top = ', '.join(f'{k} {v}' for k, v in total.most_common() if k not in BUFFERED)
        print(f'| all | {sum(len(r[2]) for r in rows)} | {n} | {b} | {pct(b, n)} | '
              f'{", ".join(top.split(", ")[:8])} | |')
    finally:
        if keep:
            shutil.rmtree(keep, ignore_errors=True)


if __name__ == '__main__':
    main()
