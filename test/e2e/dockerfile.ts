/**
 * Reads what the image test needs from the Dockerfile (no Docker engine runs on the test machines):
 * the stages, and for each its WORKDIR, ENV, COPY lines, ENTRYPOINT, CMD and HEALTHCHECK. Only
 * the forms our Dockerfile uses are understood (exec-form JSON arrays, ENV k=v pairs); anything
 * else in a COPY line fails the test rather than being guessed.
 */
export interface CopyLine {
  /** The stage the files come from, or null for the build context. */
  from: string | null;
  sources: string[];
  dest: string;
}

export interface Stage {
  name: string | null;
  image: string;
  workdir: string;
  env: Record<string, string>;
  copies: CopyLine[];
  run: string[];
  entrypoint: string[];
  cmd: string[];
  healthcheck: string[];
}

/** The instructions of a Dockerfile: continuation lines joined, comments and parser directives dropped. */
function instructions(text: string): Array<{ op: string; args: string }> {
  const joined = text.replace(/\\\r?\n/g, ' ');
  return joined
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

function execForm(args: string, what: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === 'string')) throw new Error(`${what} must be an exec-form JSON array: ${args}`);
  return parsed as string[];
}

/** `K=V K2="V 2"` pairs of an ENV line. */
function envPairs(args: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const match of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    const raw = match[2]!;
    env[match[1]!] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
  }
  return env;
}

function copyLine(args: string): CopyLine {
  const words = args.split(/\s+/);
  let from: string | null = null;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift()!;
    if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
    else if (!flag.startsWith('--chown=') && !flag.startsWith('--chmod=')) throw new Error(`COPY flag not understood: ${flag}`);
  }
  if (words.length < 2 || words[0]!.startsWith('[')) throw new Error(`COPY form not understood: ${args}`);
  return { from, sources: words.slice(0, -1), dest: words.at(-1)! };
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const { op, args } of instructions(text)) {
    if (op === 'FROM') {
      const [image, as, name] = args.split(/\s+/);
      stages.push({ name: as?.toUpperCase() === 'AS' ? name! : null, image: image!, workdir: '/', env: {}, copies: [], run: [], entrypoint: [], cmd: [], healthcheck: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`${op} before FROM`);
    if (op === 'WORKDIR') stage.workdir = args;
    else if (op === 'ENV') Object.assign(stage.env, envPairs(args));
    else if (op === 'COPY') stage.copies.push(copyLine(args));
    else if (op === 'RUN') stage.run.push(args);
    else if (op === 'ENTRYPOINT') stage.entrypoint = execForm(args, 'ENTRYPOINT');
    else if (op === 'CMD') stage.cmd = execForm(args, 'CMD');
    else if (op === 'HEALTHCHECK') stage.healthcheck = execForm(args.slice(args.indexOf('CMD ') + 4), 'HEALTHCHECK CMD');
  }
  return stages;
}

/**
 * Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?message}` in a value, from `vars`; a
 * required one that is missing throws its message.
 */
export function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)([^}]*))?\}/g, (_all, name: string, kind: string | undefined, rest: string | undefined) => {
    const set = vars[name];
    if (set) return set;
    if (kind === ':?') throw new Error(`${name}: ${rest ?? 'required'}`);
    return kind === ':-' ? (rest ?? '') : '';
  });
}
