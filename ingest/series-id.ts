/**
 * The stable 64-bit series id: a hash of the metric key and its tags sorted by name.
 *
 * Canonical form (documented in docs/ARCHITECTURE.md, must never change or every series
 * splits in two): the UTF-16 code units of
 *   key, then for every tag in ascending name order: "\u0000" name "\u0001" value
 * hashed by two independent 32-bit multiply-xorshift lanes (cyrb53-style mixing, seeds
 * 0x9e3779b9 and 0x85ebca6b) that form the high and low words. Computed once per series per
 * request, never per point.
 */

const SEED_HI = 0x9e3779b9;
const SEED_LO = 0x85ebca6b;
const M1 = 2654435761;
const M2 = 1597334677;

// The two lanes live in module state so hashing allocates nothing (this runs once per series
// per request: 5,000 times for a sparse body).
let h1 = 0;
let h2 = 0;

function mix(c: number): void {
  h1 = Math.imul(h1 ^ c, M1);
  h2 = Math.imul(h2 ^ c, M2);
}

function mixString(s: string): void {
  for (let i = 0; i < s.length; i++) mix(s.charCodeAt(i));
}

const sortedNames: string[] = [];

/** The two 32-bit words (hi, lo) of the id of key + tags, written into `out`. */
export function seriesIdInto(key: string, tags: Record<string, string>, out: { [i: number]: number }, at = 0): void {
  h1 = SEED_HI ^ key.length;
  h2 = SEED_LO ^ key.length;
  mixString(key);
  sortedNames.length = 0;
  for (const name in tags) sortedNames.push(name);
  if (sortedNames.length > 1) sortedNames.sort();
  for (let i = 0; i < sortedNames.length; i++) {
    const name = sortedNames[i];
    mix(0);
    mixString(name);
    mix(1);
    mixString(tags[name]);
  }
  // Final avalanche so that nearby inputs spread over the whole 64-bit space.
  const a = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  const b = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(a ^ (a >>> 13), 3266489909);
  out[at] = a >>> 0;
  out[at + 1] = b >>> 0;
}

/** The two 32-bit words (hi, lo) of the id of key + tags. */
export function seriesIdWords(key: string, tags: Record<string, string>): [number, number] {
  const out = [0, 0];
  seriesIdInto(key, tags, out);
  return out as [number, number];
}

/** The id as an unsigned decimal string, the form ClickHouse returns for UInt64 in JSON. */
export function seriesId(key: string, tags: Record<string, string>): string {
  return idString(seriesIdWords(key, tags));
}

/** Unsigned decimal form of an id's [hi, lo] words. */
export function idString([hi, lo]: readonly [number, number]): string {
  return ((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)).toString();
}
