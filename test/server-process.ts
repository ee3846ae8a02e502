import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../server/paths.js';

/** The real CLI entry run by tsx, as test/lifecycle.test.ts runs it. */
export const ENTRY = join(ROOT, 'server/main.ts');
export const TSX = join(ROOT, 'node_modules/.bin/tsx');

export interface ServerProcess {
  /** The tsx launcher; the server runs in its child process (`pid`). */
  child: ChildProcess;
  url: string;
  /** The server's own process id (from its log): SIGKILL must go there, tsx cannot relay it. */
  pid: number;
  /** Send a signal to the server process itself. */
  kill(signal: NodeJS.Signals): void;
  output: () => string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/** Start `server/main.ts` in a child process; resolves once it listens. */
export function startServerProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<ServerProcess> {
  const child = spawn(TSX, [ENTRY], {
    env: { ...process.env, PORT: '0', DEMO: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const pid = /"pid":(\d+)/.exec(out)?.[1];
      if (pid) process.kill(Number(pid), 'SIGKILL');
      child.kill('SIGKILL');
      reject(new Error(`no start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /"pid":(\d+)[^\n]*listening on (http:\/\/[^\s"]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        const pid = Number(m[1]);
        resolve({ child, url: m[2], pid, kill: (signal) => process.kill(pid, signal), output: () => out, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before listening:\n${out}`));
    });
  });
}

/** Send a signal and wait for the exit. */
export async function stopServerProcess(p: ServerProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.child.exitCode;
  p.kill(signal);
  return p.exited;
}

/** Points a started server replayed from its write-ahead log (its start-up log line), 0 if none. */
export function walReplayedPoints(server: ServerProcess): number {
  const m = /"points":(\d+)[^\n]*write-ahead log replayed/.exec(server.output()) ?? /write-ahead log replayed[^\n]*"points":(\d+)/.exec(server.output());
  return m ? Number(m[1]) : 0;
}
