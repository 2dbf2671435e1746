# The supervisor's collection of the program's files, for supervisor.py: a faithful
# port of collect.cjs (read that file's header; every rule there holds here), so an
# image with python3 and no node collects exactly as the runtime image does. Run
# after every process of the sandbox uid is gone, with the program's effective uid:
# lstat walk, O_NOFOLLOW opens, no symbolic link followed, no other device entered.
#
# Where JavaScript and Python differ, JavaScript's meaning is kept: string lengths,
# slices and path order count UTF-16 code units, JSON is JSON.stringify's, and the
# host's regular expressions (JavaScript syntax, from picomatch) are translated so
# `$` and `.` mean what they mean there.
import base64
import json
import os
import re
import stat as stat_module
import warnings as python_warnings

# Core's MAX_COLLECT_WARNINGS: warnings kept; the rest are counted in one line.
MAX_WARNINGS = 20
MAX_WARNING_CHARS = 500
# Core's MAX_COLLECT_ENTRIES and MAX_COLLECT_LISTING_BYTES, for a host that sends no such bounds.
DEFAULT_MAX_ENTRIES = 100_000
DEFAULT_MAX_LISTING_BYTES = 8 * 1024 * 1024

ELLIPSIS = '\u2026'
_LONE_SURROGATE = re.compile('[\ud800-\udfff]')


def js_length(text):
    """JavaScript's string length: UTF-16 code units."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def js_slice(text, units):
    """JavaScript's text.slice(0, units): may end in half of a surrogate pair, as there."""
    encoded = text.encode('utf-16-le', 'surrogatepass')[: units * 2]
    return encoded.decode('utf-16-le', 'surrogatepass')


def utf16_key(text):
    """Sorts as JavaScript's < does on strings (UTF-16 code units)."""
    return text.encode('utf-16-be', 'surrogatepass')


def js_stringify(value):
    """JSON.stringify: no ASCII escaping, compact, lone surrogates as \\udxxx."""
    text = json.dumps(value, ensure_ascii=False, separators=(',', ':'))
    return _LONE_SURROGATE.sub(lambda match: '\\u%04x' % ord(match.group()), text)


def warning_file(quoted, why):
    return f'collected file {quoted} left out: {why}'


def warning_under(quoted, why):
    return f'collected files under {quoted} left out: {why}'


def too_deep(max_depth):
    return f'deeper than {max_depth} directory levels'


UNREADABLE = 'the directory could not be opened'
OTHER_FILESYSTEM = 'another filesystem is mounted there'
INVALID_NAME = 'its name is not valid UTF-8'


def special(kind):
    return f'a {kind}, not a regular file' + (' (links are never followed)' if kind == 'symbolic link' else '')


def cut_short(max_entries, max_listing_bytes):
    return (
        f'collected files: the working directory holds more than {max_entries} entries '
        f'(or {max_listing_bytes} bytes of paths); files past them were not looked at'
    )


def more(count):
    return f'collected files: {count} more left out (not listed)'


# JavaScript's `.` (no s flag): anything but a line terminator.
_JS_DOT = '[^\\n\\r\\u2028\\u2029]'
_JS_CLASS_ESCAPES = {'d': '0-9', 'w': 'A-Za-z0-9_'}
_JS_ESCAPES = {'d': '[0-9]', 'D': '[^0-9]', 'w': '[A-Za-z0-9_]', 'W': '[^A-Za-z0-9_]'}


def translate_js_regex(source):
    """A JavaScript regular expression (no m, s or u flag) as Python's re reads it alike."""
    out = []
    in_class = False
    index = 0
    while index < len(source):
        char = source[index]
        if char == '\\' and index + 1 < len(source):
            escaped = source[index + 1]
            if in_class and escaped in _JS_CLASS_ESCAPES:
                out.append(_JS_CLASS_ESCAPES[escaped])
            elif not in_class and escaped in _JS_ESCAPES:
                out.append(_JS_ESCAPES[escaped])
            else:
                out.append(char + escaped)
            index += 2
            continue
        if in_class:
            if char == ']':
                in_class = False
            out.append(char)
        elif char == '[':
            in_class = True
            out.append(char)
            if source.startswith('^', index + 1):
                out.append('^')
                index += 1
        elif char == '$':
            out.append('\\Z')
        elif char == '.':
            out.append(_JS_DOT)
        else:
            out.append(char)
        index += 1
    return ''.join(out)


def compile_matcher(patterns):
    """The host's patterns (glob, source, flags): a path is selected by the same rule as collect.cjs."""

    def compile_form(form):
        glob, source, flags = form
        with python_warnings.catch_warnings():
            python_warnings.simplefilter('ignore')
            regex = re.compile(translate_js_regex(source), re.IGNORECASE if 'i' in flags else 0)
        return lambda path: path == glob or regex.search(path) is not None

    include = [compile_form(form) for form in patterns['include']]
    exclude = [compile_form(form) for form in patterns['exclude']]
    return lambda path: any(match(path) for match in include) and not any(match(path) for match in exclude)


def collect(root, root_dev, patterns, bounds):
    kept = []
    more_warnings = [0]

    def warn(text):
        if len(kept) < MAX_WARNINGS:
            kept.append(js_slice(text, MAX_WARNING_CHARS) + ELLIPSIS if js_length(text) > MAX_WARNING_CHARS else text)
        else:
            more_warnings[0] += 1

    def all_warnings():
        return kept + [more(more_warnings[0])] if more_warnings[0] > 0 else kept

    if len(patterns['include']) == 0:
        return {'files': [], 'truncated': False, 'warnings': []}
    selected = compile_matcher(patterns)
    max_entries = bounds.get('maxEntries')
    if max_entries is None:
        max_entries = DEFAULT_MAX_ENTRIES
    max_listing_bytes = bounds.get('maxListingBytes')
    if max_listing_bytes is None:
        max_listing_bytes = DEFAULT_MAX_LISTING_BYTES
    max_depth = bounds['maxDepth']

    # 1. The listing, as spawn's runner lists (and its host plans from it).
    candidates = []
    counters = {'entries': 0, 'listed_bytes': 0}

    def listed(relative, full, stat):
        path = decode_name(relative)
        if not selected(path if path is not None else relative.decode('utf-8', 'replace')):
            return
        if not stat_module.S_ISREG(stat.st_mode):
            warn(warning_file(quote_name_bytes(relative), special(file_type(stat))))
        elif path is None:
            warn(warning_file(quote_name_bytes(relative), INVALID_NAME))
        else:
            candidates.append({'path': path, 'full': full, 'size': stat.st_size})

    def walk(directory, prefix, depth):
        try:
            names = os.listdir(directory)
        except OSError:
            return True
        names.sort()
        for name in names:
            counters['entries'] += 1
            if counters['entries'] > max_entries or counters['listed_bytes'] > max_listing_bytes:
                return False
            full = directory + b'/' + name
            relative = prefix + name
            try:
                stat = os.lstat(full)
            except OSError:
                continue
            is_dir = stat_module.S_ISDIR(stat.st_mode)
            if is_dir and stat.st_dev == root_dev and depth < max_depth and enterable(full, root_dev):
                if not walk(full, relative + b'/', depth + 1):
                    return False
                continue
            counters['listed_bytes'] += len(relative)
            if stat.st_dev != root_dev:
                warn(warning_under(quote_name_bytes(relative), OTHER_FILESYSTEM))
            elif is_dir:
                warn(warning_under(quote_name_bytes(relative), too_deep(max_depth) if depth >= max_depth else UNREADABLE))
            else:
                listed(relative, full, stat)
        return True

    complete = walk(os.fsencode(root), b'', 0)

    # 2. The caps, in path order (UTF-16 code units, as core's byPath); 3. the contents.
    candidates.sort(key=lambda file: utf16_key(file['path']))
    truncated = not complete
    if not complete:
        warn(cut_short(max_entries, max_listing_bytes))
    admit = caps_of(bounds)
    wanted = []
    for file in candidates:
        over_cap = admit(file['path'], file['size'])
        if over_cap is None:
            wanted.append(file)
        else:
            truncated = True
            warn(warning_file(describe(file['path']), over_cap))
    files = []
    for file in wanted:
        read = read_regular_file(file['full'], file['size'], root_dev)
        if isinstance(read, str):
            warn(warning_file(describe(file['path']), read))
        else:
            files.append([file['path'], base64.b64encode(read).decode('ascii')])
    return {'files': files, 'truncated': truncated, 'warnings': all_warnings()}


def caps_of(bounds):
    """Core's CollectionCaps: why a file does not fit (then left out), or None (then counted)."""
    state = {'count': 0, 'bytes': 0, 'path_bytes': 0}

    def admit(path, size):
        if state['count'] >= bounds['maxFiles']:
            return f"more than {bounds['maxFiles']} files"
        if state['bytes'] + size > bounds['maxBytes']:
            return f"{size} bytes would pass the {bounds['maxBytes']}-byte cap"
        encoded = len(js_stringify(path).encode('utf-8'))
        if state['path_bytes'] + encoded > bounds['maxPathBytes']:
            return f"the paths would pass {bounds['maxPathBytes']} bytes"
        state['count'] += 1
        state['bytes'] += size
        state['path_bytes'] += encoded
        return None

    return admit


def enterable(full, root_dev):
    """A directory this uid can open and search, on the working directory's device, never through a link."""
    try:
        fd = os.open(full, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        opened = os.fstat(fd)
        if not stat_module.S_ISDIR(opened.st_mode) or opened.st_dev != root_dev:
            return False
    finally:
        os.close(fd)
    # Search permission, which opening does not need and listing beneath does.
    try:
        os.lstat(full + b'/.')
        return True
    except OSError:
        return False


def file_type(stat):
    mode = stat.st_mode
    if stat_module.S_ISLNK(mode):
        return 'symbolic link'
    if stat_module.S_ISFIFO(mode):
        return 'fifo'
    if stat_module.S_ISSOCK(mode):
        return 'socket'
    if stat_module.S_ISCHR(mode) or stat_module.S_ISBLK(mode):
        return 'device'
    return 'special file'


def read_regular_file(full, listed_size, root_dev):
    """The file's bytes (at most `listed_size`), or why it is left out: spawn's runner's reasons."""
    try:
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        try:
            os.lstat(full)
            return 'could not be opened'
        except OSError:
            return 'vanished'
    try:
        opened = os.fstat(fd)
        if not stat_module.S_ISREG(opened.st_mode) or opened.st_dev != root_dev:
            return 'no longer a regular file'
        if opened.st_size > listed_size:
            return 'grew after it was listed'
        chunks = []
        offset = 0
        while offset < opened.st_size:
            chunk = os.pread(fd, opened.st_size - offset, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
        return b''.join(chunks)
    except OSError:
        return 'could not be read'
    finally:
        os.close(fd)


def decode_name(raw):
    """The name as a string, or None when it is not valid UTF-8."""
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:
        return None


def sequence_length(byte):
    """How many bytes the UTF-8 sequence led by `byte` has; 0 when it cannot lead one."""
    if byte < 0x80:
        return 1
    if 0xC2 <= byte <= 0xDF:
        return 2
    if 0xE0 <= byte <= 0xEF:
        return 3
    if 0xF0 <= byte <= 0xF4:
        return 4
    return 0


def quote_name_bytes(raw, max_chars=200):
    """Spawn's quoteNameBytes: valid characters as JSON writes them, each invalid byte as `\\xNN`."""
    out = ['']
    valid = ['']

    def flush():
        out[0] += js_stringify(valid[0])[1:-1]
        valid[0] = ''

    index = 0
    while index < len(raw) and js_length(out[0]) + js_length(valid[0]) < max_chars:
        length = sequence_length(raw[index])
        decoded = decode_name(raw[index : index + length]) if length > 0 and index + length <= len(raw) else None
        if decoded is not None:
            valid[0] += decoded
            index += length
        else:
            flush()
            out[0] += '\\x%02x' % raw[index]
            index += 1
    flush()
    return '"' + out[0] + (ELLIPSIS if index < len(raw) else '') + '"'


def describe(path):
    """Core's describePath."""
    return js_stringify(js_slice(path, 200) + ELLIPSIS if js_length(path) > 200 else path)
