import { monitorEventLoopDelay, PerformanceObserver, constants as perf } from 'node:perf_hooks';
import type { Registry } from './metrics.js';

/**
 * Node runtime and process metrics under the names prom-client's default metrics use, which are
 * the names Metronome's dashboard generator puts in its "Runtime and process" row (CPU, memory,
 * time in GC, event-loop lag, handles). Everything is read from the process right before a
 * collection; only the GC observer and the event-loop histogram run in between (both in C++).
 */

const GC_KINDS: Record<number, string> = {
  [perf.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perf.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [perf.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [perf.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** GC pauses are short: buckets from 1 ms to 1 s (prom-client's). */
const GC_BUCKETS = [0.001, 0.01, 0.1, 1, 2, 5];

/** Register the runtime metrics; returns a function that stops the observers. */
export function runtimeMetrics(reg: Registry): () => void {
  const cpuUser = reg.counter({ name: 'process_cpu_user_seconds_total', help: 'User CPU time spent in seconds.', unit: 'seconds' });
  const cpuSystem = reg.counter({ name: 'process_cpu_system_seconds_total', help: 'System CPU time spent in seconds.', unit: 'seconds' });
  const cpu = reg.counter({ name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.', unit: 'seconds' });
  const rss = reg.gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.', unit: 'bytes' });
  const start = reg.gauge({ name: 'process_start_time_seconds', help: 'Start time of the process since unix epoch in seconds.', unit: 'seconds' });
  const heapUsed = reg.gauge({ name: 'nodejs_heap_size_used_bytes', help: 'Process heap size used from Node.js in bytes.', unit: 'bytes' });
  const heapTotal = reg.gauge({ name: 'nodejs_heap_size_total_bytes', help: 'Process heap size from Node.js in bytes.', unit: 'bytes' });
  const external = reg.gauge({ name: 'nodejs_external_memory_bytes', help: 'Node.js external memory size in bytes.', unit: 'bytes' });
  const lag = reg.gauge({ name: 'nodejs_eventloop_lag_seconds', help: 'Mean event-loop delay since the last collection, in seconds.', unit: 'seconds' });
  const lagP99 = reg.gauge({ name: 'nodejs_eventloop_lag_p99_seconds', help: 'p99 event-loop delay since the last collection, in seconds.', unit: 'seconds' });
  const lagMax = reg.gauge({ name: 'nodejs_eventloop_lag_max_seconds', help: 'Longest event-loop delay since the last collection, in seconds.', unit: 'seconds' });
  const handles = reg.gauge({ name: 'nodejs_active_handles', help: 'Active libuv handles (sockets, servers, timers that keep the loop alive).' });
  const gc = reg.histogram({ name: 'nodejs_gc_duration_seconds', help: 'Garbage collection duration by kind, in seconds.', unit: 'seconds' }, ['kind'], GC_BUCKETS);
  // Zero series for the common kinds: "no GC yet" reads 0 on the dashboard rather than nothing.
  gc.touch(['minor']);
  gc.touch(['major']);

  const startSec = Math.round((Date.now() - process.uptime() * 1000) / 1000);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = GC_KINDS[((e as PerformanceEntry & { detail?: unknown }).detail as { kind?: number } | undefined)?.kind ?? -1] ?? 'other';
      gc.observe([kind], e.duration / 1000);
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });

  reg.onCollect(() => {
    const u = process.cpuUsage();
    // cpuUsage is cumulative microseconds since the process started.
    cpuUser.setTotal([], u.user / 1e6);
    cpuSystem.setTotal([], u.system / 1e6);
    cpu.setTotal([], (u.user + u.system) / 1e6);
    const m = process.memoryUsage();
    rss.set([], m.rss);
    heapUsed.set([], m.heapUsed);
    heapTotal.set([], m.heapTotal);
    external.set([], m.external);
    start.set([], startSec);
    // The histogram holds nanoseconds; NaN until the first sample.
    const ns = (v: number) => (Number.isFinite(v) ? v / 1e9 : 0);
    lag.set([], ns(loop.mean));
    lagP99.set([], ns(loop.percentile(99)));
    lagMax.set([], ns(loop.max));
    loop.reset();
    handles.set([], process.getActiveResourcesInfo().filter((r) => r !== 'Timeout' && r !== 'Immediate').length);
  });

  return () => {
    loop.disable();
    gcObserver.disconnect();
  };
}
