# The program's own process for python (runner protocol 2; see supervisor.cjs). The
# supervisor boots it under the sandbox uid before any request exists; it waits for
# one job on fd 3 ({ script, env }), then becomes the program: the environment is
# replaced and the script runs as __main__ in this interpreter, which then exits as
# `python3 main.py` would (SystemExit, atexit, threads). It holds no protocol
# secret: the nonce never leaves the supervisor.
import builtins
import json
import os
import sys
import types

JOB_FD = 3


def read_job():
    chunks = []
    while True:
        chunk = os.read(JOB_FD, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(JOB_FD)
    return json.loads(b''.join(chunks))


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


job = read_job()
run(job['script'], job['env'])
