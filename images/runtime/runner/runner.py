# cordon's in-container runner for python (protocol 1; the framing is described in
# runner.cjs). Booted before any request exists, it reads one payload from fd 0,
# writes the files into the tmpfs working directory, runs the program in this
# interpreter as __main__ (no second interpreter boot), then writes the trailers.
import base64
import json
import os
import re
import sys
import time
import traceback
import types

WORKDIR = '/workspace'
BASE_ENV = {'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME': WORKDIR}


def read_exactly(length):
    chunks = []
    remaining = length
    while remaining > 0:
        try:
            chunk = os.read(0, remaining)
        except BlockingIOError:
            time.sleep(0.002)
            continue
        if not chunk:
            raise EOFError(f'stdin ended after {length - remaining} of {length} payload bytes')
        chunks.append(chunk)
        remaining -= len(chunk)
    return b''.join(chunks)


def write_fully(fd, data):
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            time.sleep(0.002)
            continue
        view = view[written:]


def glob_to_regex(pattern):
    out = ''
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == '*':
            if i + 1 < len(pattern) and pattern[i + 1] == '*':
                i += 1
                if i + 1 < len(pattern) and pattern[i + 1] == '/':
                    i += 1
                    out += '(?:.*/)?'
                else:
                    out += '.*'
            else:
                out += '[^/]*'
        elif char == '?':
            out += '[^/]'
        else:
            out += re.escape(char)
        i += 1
    return re.compile(f'^{out}$', re.DOTALL)


def collect(patterns, max_bytes):
    """Regular files under the working directory matching any pattern; symlinks are never followed."""
    files = []
    truncated = False
    if not patterns:
        return files, truncated
    matchers = [glob_to_regex(p) for p in patterns]
    total = 0
    visited = 0
    stack = [(WORKDIR, '')]
    while stack:
        directory, prefix = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        for entry in entries:
            visited += 1
            if visited > 100_000:
                return files, True
            relative = f'{prefix}/{entry.name}' if prefix else entry.name
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, relative))
                continue
            if not entry.is_file(follow_symlinks=False) or not any(m.match(relative) for m in matchers):
                continue
            try:
                size = entry.stat(follow_symlinks=False).st_size
                if total + size > max_bytes:
                    truncated = True
                    continue
                with open(entry.path, 'rb') as handle:
                    content = handle.read()
            except OSError:
                continue
            total += len(content)
            files.append([relative, base64.b64encode(content).decode('ascii')])
    files.sort(key=lambda f: f[0])
    return files, truncated


def finish(payload, exit_code):
    files, truncated = collect(payload['collect'], payload['collectMaxBytes'])
    marker = f"\0cordon:{payload['nonce']}:".encode()
    body = json.dumps({'exitCode': exit_code, 'signal': None, 'files': files, 'filesTruncated': truncated})
    write_fully(1, marker + b'\0')
    write_fully(2, marker + base64.b64encode(body.encode()) + b'\0')


def exit_code_of(exit):
    code = exit.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def main():
    try:
        length = int.from_bytes(read_exactly(4), 'big')
        payload = json.loads(read_exactly(length))
        if payload.get('v') != 1:
            raise ValueError(f"unsupported payload version {payload.get('v')}")
        if payload['language'] != 'python':
            raise ValueError(f"runner.py does not run {payload['language']}")
        for relative, content in payload['files']:
            target = os.path.join(WORKDIR, relative)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, 'wb') as handle:
                handle.write(base64.b64decode(content))
        script = os.path.join(WORKDIR, 'main.py')
        with open(script, 'w', encoding='utf-8') as handle:
            handle.write(payload['code'])
        os.chdir(WORKDIR)
        os.environ.clear()
        os.environ.update(BASE_ENV)
        os.environ.update(payload['env'])
        compiled_source = payload['code']
    except Exception:  # the runner itself failed (bad payload): exit 125 like docker run does
        sys.stderr.write('cordon runner: ' + traceback.format_exc())
        sys.stderr.flush()
        os._exit(125)

    module = types.ModuleType('__main__')
    module.__file__ = script
    module.__builtins__ = __builtins__
    sys.modules['__main__'] = module
    sys.argv = [script]
    sys.path[0] = WORKDIR
    exit_code = 0
    try:
        exec(compile(compiled_source, script, 'exec'), module.__dict__)
    except SystemExit as exit:
        exit_code = exit_code_of(exit)
    except BaseException as error:  # noqa: BLE001 - the program's own uncaught error, as python reports it
        traceback.print_exception(type(error), error, error.__traceback__.tb_next)
        exit_code = 1
    # As the interpreter does at exit: wait for non-daemon threads, run atexit, flush.
    try:
        import threading
        threading._shutdown()
    except Exception:
        pass
    try:
        import atexit
        atexit._run_exitfuncs()
    except Exception:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    finish(payload, exit_code)
    os._exit(exit_code)


main()
