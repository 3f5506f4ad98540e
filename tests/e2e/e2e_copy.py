# SPDX-License-Identifier: MIT
"""End-to-end cases of the syscall buffer's copy slice (issue 14): the
calls `cp -r` and `tar -x` made on the ptrace path (sendfile,
copy_file_range, FICLONE, mkdirat, fchmod, fchown, utimensat, mmap,
munmap, madvise), through tests/progs/copy_calls and Debian's tar.

e2e.py imports this module after its own cases; the cases register in the
same table (e2e.CASES), so `e2e.py CASE` and `--list` see them.
"""

import os
import shutil

import e2e
from e2e import Fail, case, compare, compare_bytes, log, need, run


def copy_calls_traced(h, trace):
    """{name: traced entries from the preload library} of the calls
    tests/progs/copy_calls buffers, in @trace (`uprr dump`)."""
    names = {0x28: 'sendfile', 0x146: 'copy_file_range', 0x102: 'mkdirat', 0x10: 'ioctl',
             0x9: 'mmap', 0xb: 'munmap', 0x1c: 'madvise', 0x5b: 'fchmod', 0x5d: 'fchown',
             0x118: 'utimensat'}
    got = e2e.fdcalls_traced(h, trace)
    return {name: got[nr] for nr, name in names.items()}


def check_copy_calls_buffered(h, trace):
    """The calls of tests/progs/copy_calls went through the buffer: each
    traced from the library only where the program asks what the buffer
    leaves to the traced call (sendfile without an offset, from a pipe, to
    an O_APPEND, bad or read-only fd, to a full socket; MADV_FREE) or
    before its buffer was known, or while a thread ran (restore points)."""
    traced = copy_calls_traced(h, trace)
    records = e2e.buffered_calls(h, trace)[0]
    log(f'  {records} buffered calls; traced from the library: {traced}')
    for name, most in (('sendfile', 10), ('copy_file_range', 0), ('mkdirat', 0), ('ioctl', 0),
                       ('mmap', 30), ('munmap', 30), ('madvise', 2), ('fchmod', 0), ('fchown', 0),
                       ('utimensat', 0)):
        if traced[name] > most:
            raise Fail(f'copy_calls: {traced[name]} {name} calls traced from the library '
                       f'(at most {most}): not buffered')
    if records < 6000:
        raise Fail(f'copy_calls: only {records} buffered calls: its 3,000 mmap/munmap pairs '
                   'were not buffered')


@case('syscallbuf-copy')
def c_syscallbuf_copy(h):
    """tests/progs/copy_calls recorded with the syscall buffer: sendfile (to
    a file, a socket, stdout; errors; a full socket), copy_file_range,
    FICLONE, FICLONERANGE, mkdirat, fchmod, fchown, utimensat, and 3,000
    mmap/munmap pairs, madvise, through it; the replay, its directory gone, gives the same output
    (stdout shows what sendfile sent there), and so does a native run."""
    exe = h.prog('copy_calls')
    os.mkdir(h.path('native'))
    native = e2e.native_run([exe, h.path('native')], 'copy_calls')
    os.mkdir(h.path('dir'))
    trace, rec = h.record_replay([exe, h.path('dir')], options=['--syscall-buffer'],
                                 remove=[h.path('dir')], replays=2)
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    e2e.expect_output(rec, b'copy_calls: ok\n', 'did not get through its calls')
    check_copy_calls_buffered(h, trace)


@case('syscallbuf-copy-stdout-file')
def c_syscallbuf_copy_stdout_file(h):
    """tests/progs/copy_calls with uprr's stdout a regular file: sendfile
    and copy_file_range into it through the buffer (the bytes
    copy_file_range copied are not in its record: the recorder reads them
    back from the file at the flush). The replay shows them, as the
    recording and a native run do."""
    prog = h.prog('copy_calls')
    os.mkdir(h.path('native'))
    native = e2e.run_to_files(h, [prog, h.path('native'), 'stdout-file'], 'native', 60)
    os.mkdir(h.path('dir'))
    trace = h.new_trace_path('copy-stdout-file')
    rec = e2e.run_to_files(h, [h.uprr, 'record', '-o', trace, '--', prog, h.path('dir'), 'stdout-file'],
                       'record', e2e.RECORD_TIMEOUT)
    e2e.check_record(rec, trace, 0)
    e2e.remove_input(h.path('dir'))
    rep = e2e.run_to_files(h, [h.uprr, 'replay', trace], 'replay', e2e.REPLAY_TIMEOUT)
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    compare_bytes(rec.stdout, rep.stdout, 'stdout', 'the recording', 'the replay')
    if b'\nahovcjqxelszgnubipwdkryfmtahovcjqxelszgn\nubipwdkryfmtahovcjqxelszgn\n' not in rep.stdout:
        raise Fail('copy_calls: the replay lost what copy_file_range copied to stdout')
    check_copy_calls_buffered(h, trace)


@case('tar-x')
def c_tar_x(h):
    """Debian's tar -xvf of 60 files (as root it sets owner, mode and times
    of each: fchown, fchmod, utimensat, through the syscall buffer with
    mkdirat, openat, write and close): recorded, the tree is whole, the
    listing is a native run's, and the replay ends as the recording did
    with the archive and the tree gone."""
    src = h.path('tree')
    for i in range(60):
        os.makedirs(os.path.join(src, f'd{i % 6}'), exist_ok=True)
        e2e.make_text(os.path.join(src, f'd{i % 6}', f'f{i}'), 100 + 97 * i, seed=i)
        os.utime(os.path.join(src, f'd{i % 6}', f'f{i}'), (1_000_000_000 + i, 1_000_000_000 + i))
    archive = h.path('a.tar')
    r = run([need('tar'), '-cf', archive, '-C', h.tmp, 'tree'], timeout=60, what='tar -c')
    if r.status != 0:
        raise Fail(f'tar -c failed\n  {r.explain()}')
    os.mkdir(h.path('native'))
    os.mkdir(h.path('x'))
    argv = [need('tar'), '-xvf', archive, '--sort=none']
    native = run(argv, timeout=60, what='tar -x (native)', cwd=h.path('native'))
    trace, rec = h.record(argv + ['-C', h.path('x')], name='tar-x')
    compare_bytes(native.stdout, rec.stdout, 'stdout', 'the native run', 'the recording')
    for i in range(60):
        rel = os.path.join('tree', f'd{i % 6}', f'f{i}')
        with open(os.path.join(h.tmp, rel), 'rb') as f, open(os.path.join(h.path('x'), rel), 'rb') as g:
            compare_bytes(f.read(), g.read(), rel, 'the source', 'the extracted file')
        if os.stat(os.path.join(h.path('x'), rel)).st_mtime != 1_000_000_000 + i:
            raise Fail(f'tar -x: {rel} did not get its time')
    e2e.remove_input(archive)
    e2e.remove_input(src)
    shutil.rmtree(h.path('x'))
    compare(rec, h.replay(trace))
