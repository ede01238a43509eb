import fs from 'node:fs';

/**
 * At most `max` bytes of an open file, or undefined when it holds more: reads
 * `max + 1` and stops, so a device (/dev/zero), a FIFO or a huge file costs
 * that much memory and no more.
 */
export function readAtMost(fd: number, max: number): Buffer | undefined {
  const buffer = Buffer.alloc(max + 1);
  let length = 0;
  for (let n = -1; n !== 0 && length <= max; length += n) n = fs.readSync(fd, buffer, length, buffer.length - length, null);
  return length > max ? undefined : buffer.subarray(0, length);
}
