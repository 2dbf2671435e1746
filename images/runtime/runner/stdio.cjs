'use strict';
// Byte-exact reads and complete writes on raw descriptors. The supervisor never
// initialises process.stdout/stderr: Node would switch those descriptors to
// non-blocking mode, and the program shares them (its python would then see
// BlockingIOError on a full pipe).
const fs = require('node:fs');
const { EventEmitter } = require('node:events');

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function pause() {
  Atomics.wait(sleeper, 0, 0, 2);
}

/** Exactly `length` bytes from `fd`; throws if it ends first. */
function readExactly(fd, length) {
  const buffer = Buffer.alloc(length);
  let offset = 0;
  while (offset < length) {
    let read;
    try {
      read = fs.readSync(fd, buffer, offset, length - offset, null);
    } catch (error) {
      if (error.code === 'EAGAIN') {
        pause();
        continue;
      }
      throw error;
    }
    if (read === 0) throw new Error(`input ended after ${offset} of ${length} bytes`);
    offset += read;
  }
  return buffer;
}

/** Everything until end of file (the job pipe). */
function readToEnd(fd) {
  const chunks = [];
  const chunk = Buffer.alloc(64 * 1024);
  for (;;) {
    let read;
    try {
      read = fs.readSync(fd, chunk, 0, chunk.length, null);
    } catch (error) {
      if (error.code === 'EAGAIN') {
        pause();
        continue;
      }
      throw error;
    }
    if (read === 0) return Buffer.concat(chunks);
    chunks.push(Buffer.from(chunk.subarray(0, read)));
  }
}

function writeFully(fd, data) {
  const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data);
  let offset = 0;
  while (offset < buffer.length) {
    try {
      offset += fs.writeSync(fd, buffer, offset, buffer.length - offset);
    } catch (error) {
      if (error.code === 'EAGAIN') {
        pause();
        continue;
      }
      throw error;
    }
  }
}

/**
 * Replaces process.stdout and process.stderr with stand-ins that write synchronously.
 * Node initialises the real ones on first access, even internally (node:net reads
 * process.stderr when any socket, such as a child's stdio pipe, is destroyed).
 */
function pinStdio() {
  for (const [name, fd] of [
    ['stdout', 1],
    ['stderr', 2],
  ]) {
    const standIn = Object.assign(new EventEmitter(), {
      fd,
      writable: true,
      write: (chunk) => {
        writeFully(fd, chunk);
        return true;
      },
    });
    Object.defineProperty(process, name, { configurable: true, enumerable: true, value: standIn });
  }
}

module.exports = { pinStdio, readExactly, readToEnd, writeFully };
