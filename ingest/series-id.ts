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

function mixString(s: string, h1: number, h2: number): [number, number] {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  return [h1, h2];
}

/** The two 32-bit words (hi, lo) of the id of key + tags. */
export function seriesIdWords(key: string, tags: Record<string, string>): [number, number] {
  let h1 = SEED_HI ^ key.length;
  let h2 = SEED_LO ^ key.length;
  [h1, h2] = mixString(key, h1, h2);
  const names = Object.keys(tags);
  if (names.length > 1) names.sort();
  for (const name of names) {
    h1 = Math.imul(h1 ^ 0, 2654435761);
    h2 = Math.imul(h2 ^ 0, 1597334677);
    [h1, h2] = mixString(name, h1, h2);
    h1 = Math.imul(h1 ^ 1, 2654435761);
    h2 = Math.imul(h2 ^ 1, 1597334677);
    [h1, h2] = mixString(tags[name], h1, h2);
  }
  // Final avalanche so that nearby inputs spread over the whole 64-bit space.
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, h2 >>> 0];
}

/** The id as an unsigned decimal string, the form ClickHouse returns for UInt64 in JSON. */
export function seriesId(key: string, tags: Record<string, string>): string {
  return idString(seriesIdWords(key, tags));
}

/** Unsigned decimal form of an id's [hi, lo] words. */
export function idString([hi, lo]: readonly [number, number]): string {
  return ((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)).toString();
}
