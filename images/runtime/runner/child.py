# The program's own process for python (runner protocol 3; see supervisor.cjs). The
# supervisor boots it under the sandbox uid before any request exists; it waits for
# one job on fd 3 ({ script, env, files, code }), writes the request's files and the
# program into the working directory (as the program's uid, before any of its code
# runs), then becomes the program: the environment is replaced and the script runs
# as __main__ in this interpreter, which then exits as
# `python3 main.py` would (SystemExit, atexit, threads). It holds no protocol
# secret: the nonce never leaves the supervisor.
import base64
import builtins
import json
import os
import sys
import types

JOB_FD = 3
WORKDIR = '/workspace'


def read_job():
    chunks = []
    while True:
        chunk = os.read(JOB_FD, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(JOB_FD)
    return json.loads(b''.join(chunks))


def inside_workdir(relative):
    # The host sent normalised relative paths; this re-checks, as workdir.cjs does.
    normal = os.path.normpath(str(relative))
    if os.path.isabs(normal) or normal in ('.', '..') or normal.startswith('../'):
        raise ValueError(f'file path {relative!r} is not inside the working directory')
    return os.path.join(WORKDIR, normal)


def write_program(files, code, script):
    for relative, content in files:
        target = inside_workdir(relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, 'wb') as handle:
            handle.write(base64.b64decode(content))
    with open(script, 'w', encoding='utf-8') as handle:
        handle.write(code)


def run(script, env):
    os.environ.clear()
    os.environ.update(env)
    with open(script, 'rb') as handle:
        source = handle.read()
    module = types.ModuleType('__main__')
    module.__file__ = script
    module.__builtins__ = builtins
    sys.modules['__main__'] = module
    sys.argv = [script]
    sys.path[0] = os.path.dirname(script)
    try:
        exec(compile(source, script, 'exec'), module.__dict__)
    except SystemExit:
        raise
    except BaseException as error:  # noqa: BLE001 - reported as the interpreter would, without this frame
        error.__traceback__ = error.__traceback__.tb_next
        sys.excepthook(type(error), error, error.__traceback__)
        sys.exit(1)


def main():
    job = read_job()
    write_program(job['files'], job['code'], job['script'])
    # Only the script and env stay referenced: the files' bytes are not the program's memory to pay for.
    script, env = job['script'], job['env']
    del job
    run(script, env)


main()
