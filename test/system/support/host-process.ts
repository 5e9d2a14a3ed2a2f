import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { inNamespace } from './netns.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** A process running inside a host namespace, started by `ip netns exec` (which execs it, so the pid is its own). */
export interface HostProcess {
  name: string;
  child: ChildProcessByStdio<Writable, Readable, Readable>;
  output(): string;
  /** Writes a line to its standard input. */
  send(line: string): void;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface HostProcessOptions {
  name: string;
  /** Network namespace; null = the root namespace. */
  ns: string | null;
  /** Arguments to node, from the repository's folder. */
  args: string[];
  /** The whole environment of the process, apart from PATH and HOME. */
  env: Record<string, string>;
  /** Started once its output matches this. */
  ready: RegExp;
  timeoutMs?: number;
}

export async function startHostProcess(options: HostProcessOptions): Promise<HostProcess> {
  const [cmd, args] = inNamespace(options.ns, [process.execPath, ...options.args]);
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  const collect = (d: Buffer) => (out += d.toString());
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  child.stdin.on('error', () => {});
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const timeoutMs = options.timeoutMs ?? 240_000;

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${options.name} did not start in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      if (options.ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${options.name} exited with ${code} before it was ready:\n${out}`));
    });
  });

  return {
    name: options.name,
    child,
    output: () => out,
    send: (line) => {
      child.stdin.write(`${line}\n`);
    },
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

/** `marketing-hub <args>` in a host namespace (the same entry point a user runs). */
export function startMarketingHub(name: string, ns: string, cliArgs: string[], env: Record<string, string>): Promise<HostProcess> {
  const ready = cliArgs[0] === 'worker' ? /marketing-hub worker is working/ : /listening on http:\/\//;
  return startHostProcess({ name, ns, args: ['bin/marketing-hub.js', ...cliArgs], env, ready });
}
