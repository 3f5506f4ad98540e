#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Hostile traces, one per kind of damage, and what uprr answers to each.

Records /bin/true, turns the trace into fuzz inputs (fuzz-seed), damages
them one way each (frame level, zstd level, header, catalogue and event
records, and well-formed events that make no sense), writes each back into a
trace directory (fuzz-seed --materialize) and runs `uprr replay` and `uprr
info` on it. Every answer must be uprr's convention for a bad trace: exit
125 and one line on stderr starting with "uprr: ", no crash, no hang, no
sanitizer report; an events stream cut in a frame is what a killed recorder
leaves, which replay runs to its last whole frame and ends with exit 123 and
one line. With --markdown, prints the table of doc/hardening.md.

Usage: bad-inputs.py --uprr PATH --seed-tool PATH [--markdown]
Exit status: 0 passed, 1 failed.
"""

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

MARKER = b'@UZ'
UPRR_FAILURE = 125
# uprr replay of a trace the recorder did not finish: replayed to where it
# is good, then one line
CUT_SHORT = 123
CUT_SHORT_CASES = {'events cut mid-frame'}
# zstd data with a byte flipped, its frame sealed again with a valid
# checksum, may still decompress (the payload has no checksum of its own
# since format 12): to records that read as a trace without its end (with
# /bin/true's trace: its exec, then nothing)
CUT_SHORT_OR_FAILURE = {'zstd data corrupt'}
# Replay ends where the recorded program ended and reads no further.
ENDS_CLEAN = {'events after the end'}
SANITIZER_RE = re.compile(rb'(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:)')


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7f) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def read_varint(b, pos):
    v = shift = 0
    while True:
        byte = b[pos]
        pos += 1
        v |= (byte & 0x7f) << shift
        shift += 7
        if not byte & 0x80:
            return v, pos


def read_str(b, pos):
    n, pos = read_varint(b, pos)
    return b[pos:pos + n], pos + n


def split(data):
    """The chunks of a fuzz input: a list of [kind, bytes]."""
    parts = data.split(MARKER)
    return [[chr(p[0]), p[1:]] for p in parts[1:] if p]


def join(chunks):
    return b''.join(MARKER + k.encode() + b for k, b in chunks)


def only(chunks, kind):
    return [c for c in chunks if c[0] == kind]


def replace(chunks, kind, index, fn):
    """Apply fn to the bytes of the index-th chunk of this kind."""
    out, seen = [], 0
    for k, b in chunks:
        if k == kind:
            if seen == index:
                b = fn(b)
            seen += 1
        if b is not None:
            out.append([k, b])
    return out


def set_byte(off, value):
    return lambda b: b[:off] + bytes([value]) + b[off + 1:]


def set_u32(off, value):
    return lambda b: b[:off] + struct.pack('<I', value) + b[off + 4:]


def record(rtype, tid=1, values=(), regs=None, blobs=(), bits=None):
    """An event record (doc/trace-format.md)."""
    out = bytes([rtype, (1 if regs is not None else 0) if bits is None else bits])
    out += varint(tid) + varint(0) + bytes([len(values)])
    out += b''.join(varint(v) for v in values)
    if regs is not None:
        out += b''.join(varint(r) for r in regs)
    out += varint(len(blobs))
    for addr, data in blobs:
        out += varint(addr) + varint(len(data)) + data
    return out


def header_fields(p):
    """Offsets in a header payload: (end of uprr_version, end of argv)."""
    _, pos = read_str(p, 4)
    ver_end = pos
    n, pos = read_varint(p, pos)
    for _ in range(n):
        _, pos = read_str(p, pos)
    return ver_end, pos


def catalogue_entry(id_, size, original, copy, first):
    return (varint(id_) + varint(size) + varint(len(original)) + original + varint(len(copy))
            + copy + varint(first))


def first_tid(events):
    """The thread id of the first event record."""
    tid, _ = read_varint(events, 2)
    return tid


def cases(frames, raw, zstd):
    """(name, what uprr is given, chunks) for every case."""
    ev0 = only(frames, 'E')[0][1]
    tid = first_tid(ev0)
    hdr = only(frames, 'H')[0][1]
    ver_end, argv_end = header_fields(hdr)
    base = [c for c in frames if c[0] != 'E']
    events = lambda *recs: base + [['E', b''.join(recs)]]
    z_events = only(zstd, '2')[0][1]
    zbase = [c for c in frames if c[0] != 'E']

    yield 'empty directory', 'no files at all', []
    yield 'no catalogue', 'header and events only', [c for c in frames if c[0] != 'C']
    yield 'no events file', 'header and catalogue only', [c for c in frames if c[0] != 'E']
    # frame level: the files as they are, damaged
    yield 'empty header file', 'header file of 0 bytes', replace(raw, 'h', 0, lambda b: b'')
    yield 'header cut', 'first 20 bytes of the header frame', replace(raw, 'h', 0, lambda b: b[:20])
    yield 'bad magic', 'header frame starts "XPRF"', replace(raw, 'h', 0, set_byte(0, ord('X')))
    yield 'frame version 2', 'frame header byte 5 = 2', replace(raw, 'h', 0, set_byte(5, 2))
    yield 'reserved field set', 'frame header byte 6 = 1', replace(raw, 'h', 0, set_byte(6, 1))
    yield 'wrong stream', 'header frame says stream 2', replace(raw, 'h', 0, set_byte(4, 2))
    yield 'wrong sequence number', 'header frame number 1', replace(raw, 'h', 0, set_u32(8, 1))
    yield 'raw length over 64 MiB', 'raw length field 0x7fffffff', \
        replace(raw, 'h', 0, set_u32(16, 0x7fffffff))
    yield 'compressed length past the file', 'compressed length + 100', \
        replace(raw, 'h', 0, lambda b: set_u32(12, struct.unpack_from('<I', b, 12)[0] + 100)(b))
    yield 'bad checksum', 'one payload byte flipped', \
        replace(raw, 'h', 0, lambda b: b[:40] + bytes([b[40] ^ 0xff]) + b[41:])
    yield 'bytes after the header frame', 'a 0 byte appended', replace(raw, 'h', 0, lambda b: b + b'\0')
    yield 'events cut mid-frame', 'events file less its last 10 bytes', \
        replace(raw, 'e', 0, lambda b: b[:-10])
    yield 'events frame of another stream', 'events frame 0 says stream 3', \
        replace(raw, 'e', 0, set_byte(4, 3))
    yield 'catalogue cut mid-frame', 'catalogue file less its last 3 bytes', \
        replace(raw, 'c', 0, lambda b: b[:-3])
    # zstd level: frames with a valid checksum around bad zstd data
    yield 'payload not zstd', 'events frame 0: 64 bytes of 0x55, checksum valid', \
        zbase + [['2', struct.pack('<I', 64) + b'\x55' * 64]]
    yield 'zstd size differs from frame', 'events frame 0: raw length field + 1', \
        zbase + [['2', set_u32(0, struct.unpack_from('<I', z_events)[0] + 1)(z_events)]]
    yield 'zstd data corrupt', 'events frame 0: a byte in the middle flipped', \
        zbase + [['2', z_events[:len(z_events) // 2] + bytes([z_events[len(z_events) // 2] ^ 0xff])
                  + z_events[len(z_events) // 2 + 1:]]]
    yield 'two zstd frames in one', 'events frame 0: its zstd frame twice', \
        zbase + [['2', z_events + z_events[4:]]]
    # the header's contents
    yield 'format version 0', 'header payload version 0', replace(frames, 'H', 0, set_u32(0, 0))
    yield 'newer format version', 'header payload version 99', replace(frames, 'H', 0, set_u32(0, 99))
    yield 'header payload cut', 'half the header payload', \
        replace(frames, 'H', 0, lambda b: b[:len(b) // 2])
    yield 'header string too long', 'uprr_version of 40 bytes (field holds 31)', \
        replace(frames, 'H', 0, lambda b: b[:4] + varint(40) + b'9' * 40 + b[ver_end:])
    yield 'NUL inside a string', 'uprr_version "\\0.1.0"', replace(frames, 'H', 0, set_byte(5, 0))
    yield 'argc 2^62', 'argv count 2^62', \
        replace(frames, 'H', 0, lambda b: b[:ver_end] + varint(1 << 62) + b[argv_end:])
    yield 'header trailing byte', 'a byte after start_time_ns', replace(frames, 'H', 0, lambda b: b + b'\0')
    # the catalogue
    yield 'copy name leaves files/', 'catalogue entry 0 copy "../../../etc/passwd"', \
        replace(frames, 'C', 0, lambda b: catalogue_entry(0, 0, b'/bin/true', b'../../../etc/passwd', 0))
    yield 'copy name "."', 'catalogue entry 0 copy "."', \
        replace(frames, 'C', 0, lambda b: catalogue_entry(0, 0, b'/bin/true', b'.', 0))
    yield 'entry id out of order', 'catalogue frame 0 holds id 5', \
        replace(frames, 'C', 0, lambda b: varint(5) + b[1:])
    yield 'first version after itself', 'catalogue entry 0 first id 1', \
        replace(frames, 'C', 0, lambda b: b[:-1] + varint(1))
    yield 'copy missing', 'catalogue entry 0 names files/0-gone', \
        replace(frames, 'C', 0, lambda b: catalogue_entry(0, 0, b'/bin/true', b'0-gone', 0))
    # event records that do not decode
    yield 'record type 0', 'events: one record of type 0', events(record(0, tid))
    yield 'unknown record bits', 'events: bits 0x80', events(record(2, tid, bits=0x80))
    yield '13 values', 'events: nvalues 13', events(bytes([2, 0]) + varint(tid) + b'\0' + bytes([13]))
    yield 'blob count 2^40', 'events: nblobs 2^40', \
        events(bytes([2, 0]) + varint(tid) + b'\0\0' + varint(1 << 40))
    yield 'blob past the frame', 'events: blob of 1000 bytes, 10 present', \
        events(bytes([2, 0]) + varint(tid) + b'\0\0' + varint(1) + b'\0' + varint(1000) + b'x' * 10)
    yield 'varint of 11 bytes', 'events: tid 0xff x10, 0x01', events(bytes([2, 0]) + b'\xff' * 10 + b'\x01')
    yield 'tid over 32 bits', 'events: tid 2^33', events(record(2, 1 << 33))
    # well-formed records that make no sense
    yield 'unknown event type', 'events: one record of type 200', events(record(200, tid))
    yield 'first event not an exec', 'events: a syscall exit first', \
        events(record(3, tid, values=(0, 0), regs=[0] * 27))
    yield 'exec without stack', 'events: exec, no blobs, no registers', events(record(1, tid, values=(0, 0, tid)))
    yield 'exec of an unknown file', 'events: exec of file id 999', \
        events(record(1, tid, values=(999, 0, tid), regs=[0] * 27, blobs=((0, b'\0' * 16), (0, b''))))
    yield 'exec with registers of 0', 'events: exec of the real file, all registers 0', \
        events(record(1, tid, values=(0, 0, tid), regs=[0] * 27, blobs=((0x7ffffffde000, b'\0' * 64), (0, b''))))
    yield 'events after the end', 'events: a 2nd process-exit record after the trace end', \
        base + [c for c in frames if c[0] == 'E'] + [['E', record(8, tid, values=(0, 0))]]


def run(argv, timeout=60):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--uprr', required=True)
    ap.add_argument('--seed-tool', required=True)
    ap.add_argument('--markdown', action='store_true')
    args = ap.parse_args()

    failures = 0
    rows = []
    with tempfile.TemporaryDirectory(prefix='uprr-bad-inputs-') as tmp:
        trace = os.path.join(tmp, 'true')
        rc, _, err = run([args.uprr, 'record', '-o', trace, '--', '/bin/true'])
        if rc != 0:
            print(f'bad-inputs: cannot record /bin/true: {err.decode(errors="replace")}')
            return 1
        rc, _, err = run([args.seed_tool, '--max-events', '100000', '--max-raw', '100000000',
                          trace, os.path.join(tmp, 'seed')])
        if rc != 0:
            print(f'bad-inputs: fuzz-seed failed: {err.decode(errors="replace")}')
            return 1
        forms = {}
        for form in ('frames', 'raw', 'zstd'):
            with open(os.path.join(tmp, 'seed.' + form), 'rb') as f:
                forms[form] = split(f.read())

        for n, (name, what, chunks) in enumerate(cases(forms['frames'], forms['raw'], forms['zstd'])):
            inp = os.path.join(tmp, f'case-{n}')
            d = os.path.join(tmp, f'trace-{n}')
            with open(inp, 'wb') as f:
                f.write(join(chunks))
            # the kept files, so that replay gets as far as the damage
            shutil.copytree(os.path.join(trace, 'files'), os.path.join(d, 'files'))
            rc, _, err = run([args.seed_tool, '--materialize', inp, d])
            if rc != 0:
                print(f'bad-inputs: {name}: cannot write the trace: {err.decode(errors="replace")}')
                return 1
            answers = []
            for cmd in ('replay', 'info'):
                try:
                    rc, _, err = run([args.uprr, cmd, d])
                except subprocess.TimeoutExpired:
                    rc, err = 'timeout', b''
                lines = err.decode(errors='replace').replace(d, 'T').splitlines()
                want = {UPRR_FAILURE}
                if cmd == 'replay' and name in CUT_SHORT_CASES:
                    want = {CUT_SHORT}
                elif cmd == 'replay' and name in CUT_SHORT_OR_FAILURE:
                    want = {CUT_SHORT, UPRR_FAILURE}
                ok = (rc in want and len(lines) == 1 and lines[0].startswith('uprr: ')
                      and not SANITIZER_RE.search(err))
                if (cmd == 'info' or name in ENDS_CLEAN) and rc == 0 and not SANITIZER_RE.search(err):
                    ok = True  # info summarises what it can read of the events
                if not ok:
                    failures += 1
                    print(f'bad-inputs: FAIL {name}: uprr {cmd} exit {rc}, stderr:\n  '
                          + '\n  '.join(lines[:20]))
                answers.append((rc, lines[0] if lines else ''))
            rows.append((name, what, answers[0]))
            if not args.markdown:
                print(f'{name}: uprr replay -> exit {answers[0][0]}: {answers[0][1]}')

    if args.markdown:
        print('| damage | input | `uprr replay T` exit | message |')
        print('|---|---|---:|---|')
        for name, what, (rc, msg) in rows:
            print(f'| {name} | {what} | {rc} | `{msg}` |')
    print(f'{len(rows) * 2 - failures} passed, {failures} failed')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
