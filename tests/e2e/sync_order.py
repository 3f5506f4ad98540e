#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The synchronization-order log on its own (doc/sync-order.md): a case of
tests/progs/sync_order runs under libuprr-sync.so in LOG mode (uprr-sync
log), its log must check (uprr-sync check), then it runs in FOLLOW mode
--runs times and each output must be the LOG run's byte for byte. The
control: native runs of the same case must differ from the LOG run's
output at least once in --controls runs, or the comparison could not fail.

Case `diverge`: a FOLLOW run given another case's log stops with exit 125
and says so. Cases `pigz` and `xz`: real programs (`pigz -p 2`, `xz -T2` (1 MiB blocks)
on 8 MB of text) logged with --heap (malloc and free ordered too) follow
their log 3 times without a divergence, with the same output. Case
`uprr` (needs --uprr): FOLLOW runs of mutex, cond, barrier and once made
under `uprr record`, which runs one thread at a time as an EP run will
(a thread waiting for its turn is blocked in a futex wait, and the
scheduler runs another), give the LOG run's output, and their traces
replay it.

    sync_order.py --uprr-sync BUILD/tp/uprr-sync --progs BUILD/tests/progs CASE...
"""

import argparse
import os
import subprocess
import sys
import tempfile

CASES = ['mutex', 'trylock', 'cond', 'sem', 'barrier', 'once', 'rwlock', 'spin', 'futex', 'timed',
         'fork']
REAL = {'pigz': ['pigz', '-p', '2', '-c'], 'xz': ['xz', '-1', '-T2', '--block-size=1MiB', '-c']}
DIVERGED = 125
SKIP = 77


class Fail(Exception):
    pass


def run(argv, timeout):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode(errors='replace')


def one_case(args, name, tmp, heap=False):
    prog = os.path.join(args.progs, 'sync_order')
    log = os.path.join(tmp, name + ('-heap' if heap else '') + '.log')
    rc, want, err = run([args.uprr_sync] + (['--heap'] if heap else []) +
                        ['log', log, '--', prog, name], args.timeout)
    if rc != 0:
        raise Fail(f'LOG run exited {rc}: {err.strip()}')
    rc, out, err = run([args.uprr_sync, 'check', log], args.timeout)
    if rc != 0:
        raise Fail(f'the log does not check: {err.strip()}')
    print(f'  {name}: LOG run: {out.decode().strip()}')
    for i in range(args.runs):
        rc, got, err = run([args.uprr_sync, 'follow', log, '--', prog, name], args.timeout)
        if rc != 0:
            raise Fail(f'FOLLOW run {i} exited {rc}: {err.strip()}')
        if got != want:
            raise Fail(f'FOLLOW run {i}: output differs from the LOG run\'s:\n'
                       f'--- LOG\n{want.decode()}--- FOLLOW\n{got.decode()}')
    print(f'  {name}: {args.runs} FOLLOW runs gave the LOG run\'s output')
    for i in range(args.controls):
        rc, got, err = run([prog, name], args.timeout)
        if rc != 0:
            raise Fail(f'native run exited {rc}: {err.strip()}')
        if got != want:
            print(f'  {name}: control: native run {i + 1} differs from the LOG run')
            return
    raise Fail(f'control: {args.controls} native runs all gave the LOG run\'s output: '
               'this case cannot show that FOLLOW forces the order')


def diverge(args, tmp):
    prog = os.path.join(args.progs, 'sync_order')
    log = os.path.join(tmp, 'mutex.log')
    rc, _, err = run([args.uprr_sync, 'log', log, '--', prog, 'mutex'], args.timeout)
    if rc != 0:
        raise Fail(f'LOG run exited {rc}: {err.strip()}')
    rc, _, err = run([args.uprr_sync, 'follow', log, '--', prog, 'trylock'], args.timeout)
    if rc != DIVERGED or 'divergence' not in err:
        raise Fail(f'FOLLOW of another program\'s log exited {rc}, not {DIVERGED}: {err.strip()}')
    print(f'  diverge: {err.strip()}')


def real_program(args, name, tmp):
    """@name's command logged with --heap, checked, followed 3 times"""
    import shutil
    if not shutil.which(REAL[name][0]):
        raise Skip(f'{REAL[name][0]} is not installed (scripts/setup.sh installs it)')
    data = os.path.join(tmp, 'input.txt')
    if not os.path.exists(data):
        with open(data, 'wb') as f:
            # compressible but not trivially: numbered lines of a hash chain
            import hashlib
            h = b'seed'
            for i in range(120000):
                h = hashlib.sha1(h).digest()
                f.write(b'%d %s\n' % (i, h.hex().encode()))
    argv = REAL[name] + [data]
    log = os.path.join(tmp, name + '.log')
    rc, want, err = run([args.uprr_sync, '--heap', '--recs', '1000000', 'log', log, '--'] + argv,
                        args.timeout)
    if rc != 0:
        raise Fail(f'LOG run exited {rc}: {err.strip()}')
    rc, out, err = run([args.uprr_sync, 'check', log], args.timeout)
    if rc != 0:
        raise Fail(f'the log does not check: {err.strip()}')
    print(f'  {name}: LOG run: {out.decode().strip()}')
    for i in range(3):
        rc, got, err = run([args.uprr_sync, 'follow', log, '--'] + argv, args.timeout)
        if rc != 0:
            raise Fail(f'FOLLOW run {i} exited {rc}: {err.strip()}')
        if got != want:
            raise Fail(f'FOLLOW run {i}: output differs from the LOG run\'s')
    print(f'  {name}: 3 FOLLOW runs followed the log')


class Skip(Exception):
    pass


def under_uprr(args, tmp):
    """FOLLOW under the uniprocessor recorder, then replay"""
    if not args.uprr:
        raise Skip('no --uprr')
    prog = os.path.join(args.progs, 'sync_order')
    lib = os.path.join(os.path.dirname(args.uprr_sync), '..', 'preload', 'libuprr-sync.so')
    for name in ('mutex', 'cond', 'barrier', 'once'):
        log = os.path.join(tmp, 'uprr-' + name + '.log')
        trace = os.path.join(tmp, 'trace-' + name)
        rc, want, err = run([args.uprr_sync, 'log', log, '--', prog, name], args.timeout)
        if rc != 0:
            raise Fail(f'{name}: LOG run exited {rc}: {err.strip()}')
        rc, got, err = run([args.uprr, 'record', '-o', trace, 'env', 'LD_PRELOAD=' + lib,
                            'UPRR_SYNC_MODE=follow', 'UPRR_SYNC_LOG=' + log, prog, name],
                           args.timeout)
        if rc != 0:
            raise Fail(f'{name}: FOLLOW under uprr record exited {rc}: {err.strip()}')
        if got != want:
            raise Fail(f'{name}: FOLLOW under uprr record: output differs from the LOG run\'s')
        rc, rep, err = run([args.uprr, 'replay', trace], args.timeout)
        if rc != 0 or rep != want:
            raise Fail(f'{name}: replay exited {rc} or its output differs: {err.strip()}')
        print(f'  uprr: {name}: FOLLOW recorded and replayed with the LOG run\'s output')


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--uprr-sync', required=True)
    ap.add_argument('--progs', required=True)
    ap.add_argument('--uprr', help='uprr, for case uprr')
    ap.add_argument('--runs', type=int, default=20, help='FOLLOW runs per case')
    ap.add_argument('--controls', type=int, default=20, help='native runs at most')
    ap.add_argument('--timeout', type=int, default=60, help='seconds per run')
    ap.add_argument('--list', action='store_true')
    ap.add_argument('cases', nargs='*')
    args = ap.parse_args()
    if args.list:
        print('\n'.join(CASES + ['fork-heap', 'diverge'] + list(REAL) + ['uprr']))
        return 0
    failed = skipped = 0
    with tempfile.TemporaryDirectory(prefix='uprr-sync-') as tmp:
        for name in args.cases or CASES + ['fork-heap', 'diverge'] + list(REAL) + ['uprr']:
            try:
                if name == 'fork-heap':
                    # the forks in the heap's order (UPRR_SYNC_FORK)
                    one_case(args, 'fork', tmp, heap=True)
                elif name == 'diverge':
                    diverge(args, tmp)
                elif name == 'uprr':
                    under_uprr(args, tmp)
                elif name in REAL:
                    real_program(args, name, tmp)
                elif name in CASES:
                    one_case(args, name, tmp)
                else:
                    raise Fail('unknown case')
                print(f'PASS {name}')
            except Skip as e:
                print(f'SKIP {name}: {e}')
                skipped += 1
            except (Fail, subprocess.TimeoutExpired) as e:
                print(f'FAIL {name}: {e}')
                failed += 1
    return 1 if failed else SKIP if skipped else 0


if __name__ == '__main__':
    sys.exit(main())
