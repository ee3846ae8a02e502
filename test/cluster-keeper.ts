import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A ClickHouse configuration for chdb with its in-process test keeper, so that KeeperMap tables
 * work in one test process (nodes in one process share one engine, hence one keeper).
 */
export function testKeeperConfig(dir: string): string {
  const file = join(dir, 'keeper.xml');
  writeFileSync(
    file,
    `<clickhouse>
  <zookeeper><implementation>testkeeper</implementation></zookeeper>
  <keeper_map_path_prefix>/keeper_map_tables</keeper_map_path_prefix>
</clickhouse>
`,
  );
  return file;
}
