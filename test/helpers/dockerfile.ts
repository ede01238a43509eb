/**
 * Reads the instructions of a Dockerfile's final stage that decide how the image
 * runs, so a test can run exactly that command (and notice when the file changes).
 * Only what our Dockerfile uses: exec-form (JSON) ENTRYPOINT/CMD/HEALTHCHECK,
 * `ENV k=v ...`, line continuations and comments.
 */
export interface ImageRuntime {
  workdir: string;
  user: { uid: number; gid: number };
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
  healthcheck: string[];
}

export function instructions(text: string): { op: string; args: string }[] {
  const joined = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => /^\s*([A-Za-z]+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ op: m[1]!.toUpperCase(), args: m[2]!.trim() }));
}

const execForm = (args: string, what: string): string[] => {
  const parsed = JSON.parse(args) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new Error(`${what} is not exec form: ${args}`);
  return parsed;
};

export function finalStageRuntime(text: string): ImageRuntime {
  const all = instructions(text);
  const stage = all.slice(all.map((i) => i.op).lastIndexOf('FROM') + 1);
  const last = (op: string) => stage.filter((i) => i.op === op).at(-1)?.args;
  const [uid, gid] = (last('USER') ?? 'root').split(':').map(Number);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`USER must be numeric uid:gid, got ${last('USER')}`);
  const env: Record<string, string> = {};
  for (const i of stage.filter((x) => x.op === 'ENV')) {
    for (const pair of i.args.split(/\s+/)) {
      const [key, ...value] = pair.split('=');
      env[key!] = value.join('=');
    }
  }
  const healthcheck = /\bCMD\s+(\[.*\])$/.exec(last('HEALTHCHECK') ?? '')?.[1];
  return {
    workdir: last('WORKDIR') ?? '/',
    user: { uid: uid!, gid: gid! },
    env,
    entrypoint: execForm(last('ENTRYPOINT') ?? '[]', 'ENTRYPOINT'),
    cmd: execForm(last('CMD') ?? '[]', 'CMD'),
    healthcheck: execForm(healthcheck ?? '[]', 'HEALTHCHECK'),
  };
}
