import snappy from 'snappy';
import SnappyJS from 'snappyjs';
import { bodies, SHAPES } from '/work/main/dist/bench/data.js';
import { PROTOCOLS } from '/work/main/dist/bench/protocols.js';
const sparse = bodies(SHAPES.sparse, 20, 1000, Date.now() - 60000);
const comp = sparse.map((b) => PROTOCOLS['prom-remote-write'].encode(b));
const raw = snappy.uncompressSync(comp[0]);
console.log('compressed', comp[0].length, 'raw', raw.length);
function t(name, fn) { for (let i = 0; i < 50; i++) fn(i % comp.length); let best = Infinity; for (let r = 0; r < 10; r++) { const c0 = process.cpuUsage(); for (let i = 0; i < 40; i++) fn(i % comp.length); const c = process.cpuUsage(c0); best = Math.min(best, (c.user + c.system) / 1000 / 40); } console.log(name, best.toFixed(3), 'ms/body'); }
t('snappy sync', (i) => snappy.uncompressSync(comp[i]));
t('snappyjs', (i) => SnappyJS.uncompress(comp[i]));
let w = 0; t('snappy async (1 at a time)', (i) => { w++; });
const c0 = process.cpuUsage(); const t0 = Date.now();
for (let i = 0; i < 200; i++) await snappy.uncompress(comp[i % comp.length]);
const c = process.cpuUsage(c0); console.log('snappy async cpu ms/body', ((c.user + c.system) / 1000 / 200).toFixed(3), 'wall', (Date.now() - t0) / 200);
