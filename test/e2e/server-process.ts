import { type ChildProcess, type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** The master key printed on a first embedded start, if any. */
  generatedMasterKey: string | undefined;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * The environment of a spawned `marketing-hub`: `env` plus PATH and HOME, and MARKETING_HUB_RUN
 * (dist or source: which build bin/marketing-hub.js runs; vitest.config.ts sets it per project).
 */
export function cliEnv(env: Record<string, string>): Record<string, string> {
  const run = process.env.MARKETING_HUB_RUN;
  // Workers serve no metrics port unless a test asks (several run at once on this machine).
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', MARKETING_DB_POOL_SIZE: '5', MARKETING_WORKER_METRICS_PORT: '0', ...(run ? { MARKETING_HUB_RUN: run } : {}), ...env };
}

/** `npx marketing-hub <args>` with only cliEnv(env) in its environment. */
export function spawnCli(args: string[], env: Record<string, string>): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, ['bin/marketing-hub.js', ...args], { cwd: ROOT, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Starts `marketing-hub serve` as a real process on a free port, as a user would. */
export async function startServerProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<ServerProcess> {
  const child = spawnCli(['serve', '--port', '0', '--host', '127.0.0.1'], env);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // A server that never listened must not outlive the test that started it.
      child.kill('SIGKILL');
      reject(new Error(`server did not start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const check = () => {
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${out}`));
    });
  });

  return {
    child,
    url,
    output: () => out,
    generatedMasterKey: /\n\s+(mhm_[A-Za-z0-9_-]+)\n/.exec(out)?.[1],
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

/** Runs the CLI to completion; returns its exit code and output. */
export function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawnCli(args, env);
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

export interface HttpReply {
  status: number;
  body: any;
  headers: Headers;
}

/** A tiny JSON client for black-box calls. */
export function client(baseUrl: string) {
  return async (method: string, path: string, options: { key?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<HttpReply> => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.key) headers.authorization = `Bearer ${options.key}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      ...(options.body !== undefined ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) } : {}),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // keep text
    }
    return { status: res.status, body, headers: res.headers };
  };
}
