import { createServer } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';

/**
 * Node flags the server runs with, as `npm start` gives them (package.json): a young generation
 * of 64 MiB instead of 32 MiB. Ingest allocates per request far more than survives it; fewer
 * scavenges cut V8's GC time on ingest by about a third (docs/benchmarks.md).
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=32'];

/** Clock ticks per second of /proc's CPU times (Linux' USER_HZ). */
export const CLK_TCK = 100;

/** CPU time (utime + stime, ticks) and resident memory (KiB) of a process, from /proc. */
export function procStat(pid: number): { cpuTicks: number; rssKiB: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { cpuTicks: Number(fields[11]) + Number(fields[12]), rssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) };
  } catch {
    return null;
  }
}

/**
 * CPU ticks (utime + stime) of a process' threads, summed by thread name (`comm`, digits
 * dropped: `QueryPipelineEx` and its pool, `libuv-worker`, V8's `DelayedTaskSchedu`...); the
 * main thread (tid = pid) is reported as `main`. Threads that ended are missing: compare
 * with procStat for the total.
 */
export function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = Number(tid) === pid ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/[\d:]+$/, '').trim() || '?';
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + Number(f[11]) + Number(f[12]));
    } catch {
      // thread ended meanwhile
    }
  }
  return out;
}

/** The URL a freshly spawned Metronome logs once it listens (its stdout must be piped). */
export function listeningUrl(child: ChildProcess, timeoutMs: number, stderr: () => string = () => ''): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs / 1000} s\n${stderr()}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /listening on (http:\/\/[^\s"]+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}\n${stderr()}`)));
  });
}

/** A TCP port free on 127.0.0.1 right now (for a server the bench starts). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** SIGTERM a child this bench started (by its pid), SIGKILL after 10 s; resolves when it exited. */
export function stopChild(c: ChildProcess): Promise<void> {
  return new Promise<void>((res) => {
    if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return res();
    const timer = setTimeout(() => {
      try {
        process.kill(c.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 10_000);
    c.once('exit', () => {
      clearTimeout(timer);
      res();
    });
    process.kill(c.pid, 'SIGTERM');
  });
}
