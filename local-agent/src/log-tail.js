// The last lines of a replica's log, for crash and start-up failure reports.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Reads at most the last `maxBytes` of the file and returns its last `lines` lines. */
export function tailLines(path, lines = 20, maxBytes = 16_384) {
  let fd;
  try {
    fd = openSync(path, 'r');
    const { size } = fstatSync(fd);
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return lastLines(buffer.toString('utf8'), lines);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function lastLines(text, lines) {
  const all = text.split(/\r?\n/);
  if (all.length && all[all.length - 1] === '') all.pop();
  return all.slice(-lines);
}
