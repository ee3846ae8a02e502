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

const names: string[] = [];

/**
 * The two 32-bit words (hi, lo) of the id of key + tags, written into `out` at `at`.
 * Hot path (once per series per request): locals only, no allocation, insertion sort of names.
 */
export function seriesIdInto(key: string, tags: Record<string, string>, out: { [i: number]: number }, at = 0): void {
  let h1 = SEED_HI ^ key.length;
  let h2 = SEED_LO ^ key.length;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, M1);
    h2 = Math.imul(h2 ^ c, M2);
  }
  let n = 0;
  for (const name in tags) {
    // Insertion sort: tag sets are small and usually arrive sorted.
    let j = n++;
    while (j > 0 && names[j - 1] > name) {
      names[j] = names[j - 1];
      j--;
    }
    names[j] = name;
  }
  for (let t = 0; t < n; t++) {
    const name = names[t];
    const value = tags[name];
    h1 = Math.imul(h1, M1); // the 0 separator: h ^ 0 === h
    h2 = Math.imul(h2, M2);
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, M1);
      h2 = Math.imul(h2 ^ c, M2);
    }
    h1 = Math.imul(h1 ^ 1, M1);
    h2 = Math.imul(h2 ^ 1, M2);
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, M1);
      h2 = Math.imul(h2 ^ c, M2);
    }
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
