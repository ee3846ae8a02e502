import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';

/** Debian's `zookeeper` package (.ci/test-deps.sh installs it). */
const ZK_SERVER = '/usr/share/zookeeper/bin/zkServer.sh';

export interface ZooKeeper {
  port: number;
  /**
   * A ClickHouse config file whose <zookeeper> is this server, for one node (CHDB_CONFIG_FILE).
   * Each node needs its own: ClickHouse registers its Keeper session at
   * `<sessions_path>/zookeeper/<server UUID>`, and every chdb's server UUID is all zeros, so
   * a second process on the default path fails with "Node exists".
   */
  clickhouseConfig(node: string): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** ZooKeeper's `ruok` four-letter command: true once it answers `imok`. */
function ruok(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let got = '';
    sock.setTimeout(1000, () => sock.destroy());
    sock.on('connect', () => sock.write('ruok'));
    sock.on('data', (d) => (got += d));
    sock.on('close', () => resolve(got === 'imok'));
    sock.on('error', () => resolve(false));
  });
}

/**
 * A standalone ZooKeeper on 127.0.0.1 only (client port; no admin server, no JMX, no quorum
 * ports), with its own config and data directory under `dir`. Resolves once it answers `ruok`.
 */
export async function startZooKeeper(dir: string, timeoutMs = 30_000): Promise<ZooKeeper> {
  const port = await freePort();
  mkdirSync(join(dir, 'zk-data'), { recursive: true });
  const cfg = join(dir, 'zoo.cfg');
  writeFileSync(
    cfg,
    [
      'tickTime=500',
      `dataDir=${join(dir, 'zk-data')}`,
      `clientPort=${port}`,
      'clientPortAddress=127.0.0.1',
      'admin.enableServer=false',
      '4lw.commands.whitelist=ruok',
      '',
    ].join('\n'),
  );
  // start-foreground execs java: the child is the server itself, so its pid is what we stop.
  const child: ChildProcess = spawn(ZK_SERVER, ['start-foreground', cfg], {
    env: { ...process.env, JMXDISABLE: 'true' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + timeoutMs;
  while (!(await ruok(port))) {
    if (child.exitCode !== null) throw new Error(`zookeeper exited ${child.exitCode}:\n${err}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`zookeeper did not answer ruok on ${port} in ${timeoutMs} ms:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    port,
    clickhouseConfig(node) {
      if (!/^[A-Za-z0-9_]+$/.test(node)) throw new Error(`not a plain node name: ${node}`);
      const file = join(dir, `zookeeper-${node}.xml`);
      writeFileSync(
        file,
        `<clickhouse>
  <zookeeper>
    <node><host>127.0.0.1</host><port>${port}</port></node>
    <session_timeout_ms>10000</session_timeout_ms>
    <sessions_path>/clickhouse/sessions_${node}</sessions_path>
  </zookeeper>
  <keeper_map_path_prefix>/keeper_map_tables</keeper_map_path_prefix>
</clickhouse>
`,
      );
      return file;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
