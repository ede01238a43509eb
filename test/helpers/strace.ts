import fs from 'node:fs';

/**
 * strace arguments that log every file a process (and its threads and children)
 * opens for writing, creates or renames into place. --seccomp-bpf stops only on
 * those calls, so a busy server is not slowed down by tracing everything else.
 */
export function straceArgs(log: string): string[] {
  return ['-f', '-qq', '--seccomp-bpf', '-e', 'trace=open,openat,creat,rename,renameat,renameat2', '-e', 'status=successful', '-o', log];
}

/** The regular files an strace log (straceArgs) shows written, /dev and /proc left out. */
export function writtenFiles(log: string): string[] {
  const written = new Set<string>();
  for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
    const open = /(?:open|openat)\((?:[^,]+, )?"([^"]+)", ([^,)]+)/.exec(line);
    if (open && /O_WRONLY|O_RDWR|O_CREAT/.test(open[2]!)) written.add(open[1]!);
    const creat = /creat\("([^"]+)"/.exec(line);
    if (creat) written.add(creat[1]!);
    const rename = /rename(?:at2?)?\((?:[^,]+, )?"[^"]+", (?:[^,]+, )?"([^"]+)"/.exec(line);
    if (rename) written.add(rename[1]!);
  }
  return [...written].filter((f) => !f.startsWith('/dev/') && !f.startsWith('/proc/'));
}
