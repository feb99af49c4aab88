/**
 * The leaked-password filter: a Bloom filter over SHA-1 digests with its own compact layout, split
 * into 4 KiB regions (one memory page) and with probe positions taken from the digest itself.
 *
 * Why not the `bloom-filters` package, the starting point: it hashes each key again per probe
 * (XXH64 over a string) and keeps bits in a general-purpose bit set. bench/hibp measured it at
 * 41,000 inserts/s and 48,000 checks/s at 1e-6 (100,000 keys; about half that when the 2-core
 * machine was busy), fifty times short of the 2 million builds/s and 1 million checks/s needed.
 * This layout, on the same keys in the same run: 2.4 to 4.4 million inserts/s; into a 345 MiB
 * filter (100 million keys) 4.6 million/s end to end from the text corpus (bench/hibp/README.md
 * has the runs).
 *
 * Why regions: a plain Bloom filter at 1e-6 sets 20 bits spread over the whole array, so with a
 * filter of hundreds of megabytes every insert and every positive check costs 20 cache misses and
 * as many TLB misses (measured: 0.24 million inserts/s into a 343 MiB array). Here the first 32
 * bits of the digest choose one 4 KiB region and all k probes fall inside it: one page per key,
 * and the builder can sort a batch of keys by region and fill the array in address order
 * (BatchInserter below). The price is that regions receive a binomially varying number of keys,
 * which raises the false-positive rate by about 8 % at 1e-6; sizing compensates with about 0.6 %
 * more bits (bloomParameters), so the size stays within 1 % of the Bloom minimum (-n ln p / ln² 2
 * bits). A cache-line-blocked Bloom filter (512-bit regions) would be faster still, but by the same
 * formula it needs 38.5 bits per key at 1e-6, 34 % above the minimum.
 *
 * Why no hash function over the key: SHA-1 outputs are uniform and their bits independent, so
 * hashing them again adds nothing. Bits 0-31 choose the region and bits 32-63 and 64-95 give h1 and
 * h2; probe i is at mix(h1 + i × h2) scaled to the region, mix being an invertible 32-bit
 * finaliser. Plain double hashing (h1 + i × h2 mod region size, Kirsch & Mitzenmacher) is not enough
 * with small regions: a 4 KiB region has only 2^30 such patterns, so with ~1,100 keys per region a
 * random digest matches a stored pattern outright about once in a million checks, which doubles the
 * false-positive rate at 1e-6 (measured: 1.65e-6 where 1.0e-6 was expected). Mixing keeps the
 * 64 bits of (h1, h2) in every position.
 */
export interface BloomParameters {
  /** Number of bits in the array: regions × regionBits. */
  bits: number;
  /** Number of probes per key. */
  hashes: number;
  /** Bits per region (a multiple of 64, at most MAX_REGION_BITS; regions need not be powers of two). */
  regionBits: number;
}

/** One 4 KiB page: the largest region, and the size of all regions of a large filter. */
export const MAX_REGION_BITS = 1 << 15;
const TWO_POW_32 = 2 ** 32;

/** Smallest parameters whose expected false-positive rate for `count` keys is at most `fpRate`. */
export function bloomParameters(count: number, fpRate: number): BloomParameters {
  if (!(fpRate > 0 && fpRate < 1)) throw new RangeError('the false-positive rate must be between 0 and 1');
  const n = Math.max(1, count);
  let target = Math.ceil(n * bloomMinimumBitsPerKey(fpRate));
  for (;;) {
    const params = layout(target, n);
    if (expectedFpRate(params, n) <= fpRate) return params;
    target = Math.ceil(target * 1.002);
  }
}

/** Whole regions of at most MAX_REGION_BITS, each a multiple of 64 bits, together at least `bits`. */
function layout(bits: number, n: number): BloomParameters {
  const hashes = Math.max(1, Math.round((bits / n) * Math.LN2));
  const regions = Math.ceil(bits / MAX_REGION_BITS);
  const regionBits = Math.max(64, Math.ceil(bits / regions / 64) * 64);
  return { bits: regions * regionBits, hashes, regionBits };
}

/**
 * The expected false-positive rate once `count` keys are in: the Bloom formula for one region,
 * averaged over the binomial number of keys a region receives.
 */
export function expectedFpRate(params: BloomParameters, count: number): number {
  const { bits, hashes: k, regionBits: s } = params;
  const regionFp = (keys: number) => (1 - Math.exp((-k * keys) / s)) ** k;
  const regions = bits / s;
  if (regions === 1) return regionFp(count);
  // Weights relative to the mode, walking outwards with pmf(j + 1) / pmf(j) = (n - j) / (j + 1) × p / (1 - p)
  // until they no longer matter.
  const p = 1 / regions;
  const odds = p / (1 - p);
  const mode = Math.floor((count + 1) * p);
  let weight = 1;
  let sum = regionFp(mode);
  for (let j = mode, w = 1; j < count && w > 1e-18; j++) {
    w *= ((count - j) / (j + 1)) * odds;
    weight += w;
    sum += w * regionFp(j + 1);
  }
  for (let j = mode, w = 1; j > 0 && w > 1e-18; j--) {
    w *= j / (count - j + 1) / odds;
    weight += w;
    sum += w * regionFp(j - 1);
  }
  return sum / weight;
}

/** Bits per key a Bloom filter needs at best for `fpRate` (the optimal-k bound). */
export function bloomMinimumBitsPerKey(fpRate: number): number {
  return -Math.log(fpRate) / Math.LN2 ** 2;
}

export class BloomFilter {
  readonly bits: number;
  readonly hashes: number;
  readonly regionBits: number;
  readonly regions: number;
  /** The bit array; bit i of region r is bit (i % 8) of byte r × regionBits / 8 + i / 8. */
  readonly body: Uint8Array;

  constructor(params: BloomParameters, body?: Uint8Array) {
    const { bits, hashes, regionBits } = params;
    if (!(regionBits >= 64 && regionBits <= MAX_REGION_BITS && regionBits % 64 === 0)) {
      throw new RangeError(`region size must be a multiple of 64 bits up to ${MAX_REGION_BITS}`);
    }
    if (!(bits > 0 && bits % regionBits === 0))
      throw new RangeError('bit count must be a whole number of regions');
    if (!(hashes >= 1 && hashes <= 64)) throw new RangeError('hash count must be from 1 to 64');
    this.bits = bits;
    this.hashes = hashes;
    this.regionBits = regionBits;
    this.regions = bits / regionBits;
    if (body && body.length !== bits / 8) throw new RangeError(`filter body must be ${bits / 8} bytes`);
    this.body = body ?? new Uint8Array(bits / 8);
  }

  /** Byte offset of the region the digest at `offset` belongs to. */
  regionOffset(digest: Uint8Array, offset: number): number {
    return Math.floor((word(digest, offset) * this.regions) / TWO_POW_32) * (this.regionBits >>> 3);
  }

  /** Inserts the digest found at `offset` in `digest` (20 bytes). */
  add(digest: Uint8Array, offset = 0): void {
    this.setBits(this.regionOffset(digest, offset), word(digest, offset + 4), word(digest, offset + 8));
  }

  /** Sets the k bits of one key inside the region at byte `base`, from its 32-bit h1 and h2. */
  setBits(base: number, h1: number, h2: number): void {
    const scale = this.regionBits / TWO_POW_32;
    const body = this.body;
    let x = h1 | 0;
    const y = h2 | 0;
    for (let i = 0; i < this.hashes; i++) {
      const bit = (mix(x) * scale) | 0;
      body[base + (bit >>> 3)]! |= 1 << (bit & 7);
      x = (x + y) | 0;
    }
  }

  has(digest: Uint8Array, offset = 0): boolean {
    const scale = this.regionBits / TWO_POW_32;
    const body = this.body;
    const base = this.regionOffset(digest, offset);
    let x = word(digest, offset + 4) | 0;
    const y = word(digest, offset + 8) | 0;
    for (let i = 0; i < this.hashes; i++) {
      const bit = (mix(x) * scale) | 0;
      if ((body[base + (bit >>> 3)]! & (1 << (bit & 7))) === 0) return false;
      x = (x + y) | 0;
    }
    return true;
  }
}

/** Regions per group in BatchInserter: 256 regions of 4 KiB, a megabyte of the filter. */
const GROUP_SHIFT = 8;
const GROUP_REGIONS = 1 << GROUP_SHIFT;
/** Bytes between the loads that bring a region into cache: one cache line. */
const CACHE_LINE = 64;

/**
 * Inserts keys in batches sorted by region, so that the array is written in address order instead
 * of one random page per key. A batch holds 12 bytes per key (region, h1, h2) and is sorted where
 * it lies, so memory is the filter, the batch, and a scratch buffer for a group's share of the keys.
 *
 * What makes a small batch fast (measured in process, 100 million random keys into a 345 MiB
 * filter, per CPU second): before its keys are inserted, a region is read one cache line at a time
 * in address order. The hardware prefetcher then streams the page in, and the 20 probes per key
 * that follow, in random order inside the page, hit the cache. Without that read each probe waits
 * on memory: four keys per region went in at 3.0 million/s, with it at 8.8 million/s (three keys,
 * 7.4 million; six, 10.1 million). The previous batch, 5 % of the filter sorted into a second
 * buffer and without the read, reached 5.3 million/s. Four keys per region are 1.2 % of the
 * filter's size, which keeps the builder within 1.2 × the filter at 100 million keys.
 *
 * Sorting is in two steps, both cache-friendly: an in-place American flag sort by group (256
 * regions; with a few hundred groups, the write positions all stay in cache), then, group by
 * group, a counting sort by region into the scratch buffer. One in-place pass by region would chase
 * dependent loads all over the batch (measured about 25 % slower); a counting sort of the whole
 * batch into a second buffer would need 8 more bytes per key.
 */
export class BatchInserter {
  static readonly BYTES_PER_KEY = 12;
  /** Keys per region in a full batch; see capacityFor. */
  static readonly KEYS_PER_REGION = 4;
  /** Region, h1, h2 of each key, one after the other, so the in-place sort moves one entry at a time. */
  private readonly entries: Uint32Array;
  private readonly groups: number;
  /** During the sort, the next unplaced slot of each group; then the end of each group. */
  private readonly next: Uint32Array;
  private readonly end: Uint32Array;
  private readonly regionEnd = new Uint32Array(GROUP_REGIONS + 1);
  /** h1, h2 of up to scratchKeys of one group's keys, sorted by region. */
  private readonly scratch: Uint32Array;
  private readonly scratchKeys: number;
  private size = 0;
  /** Keeps the cache-filling loads from being optimised away. */
  private touched = 0;

  constructor(
    private readonly filter: BloomFilter,
    readonly capacity: number,
  ) {
    if (!(Number.isSafeInteger(capacity) && capacity > 0 && 3 * capacity < TWO_POW_32)) {
      throw new RangeError('batch capacity out of range');
    }
    this.entries = new Uint32Array(3 * capacity);
    this.groups = Math.ceil(filter.regions / GROUP_REGIONS);
    this.next = new Uint32Array(this.groups + 1);
    this.end = new Uint32Array(this.groups);
    // Twice a group's expected share of random keys. A group that holds more (every group does when
    // the corpus is sorted, as the real one is) is inserted in several slices: the bits set are the
    // same in any order, and memory stays fixed.
    this.scratchKeys = Math.min(capacity, 2 * Math.ceil(capacity / this.groups));
    this.scratch = new Uint32Array(2 * this.scratchKeys);
  }

  /**
   * Batch size for a filter: KEYS_PER_REGION keys per region, 1.2 % of the filter's size, so that
   * the builder fits in 1.2 × the filter with the Node.js runtime; and at least 16,384 keys, for
   * the small filters where the runtime is most of the memory anyway.
   */
  static capacityFor(filter: Pick<BloomFilter, 'regions'>): number {
    return Math.max(1 << 14, BatchInserter.KEYS_PER_REGION * filter.regions);
  }

  add(digest: Uint8Array, offset = 0): void {
    const at = 3 * this.size;
    this.entries[at] = Math.floor((word(digest, offset) * this.filter.regions) / TWO_POW_32);
    this.entries[at + 1] = word(digest, offset + 4);
    this.entries[at + 2] = word(digest, offset + 8);
    if (++this.size === this.capacity) this.flush();
  }

  flush(): void {
    this.sortByGroup();
    let start = 0;
    for (let g = 0; g < this.groups; g++) {
      const stop = this.end[g]!;
      while (start < stop) {
        const sliceEnd = Math.min(stop, start + this.scratchKeys);
        this.insertSlice(g, start, sliceEnd);
        start = sliceEnd;
      }
    }
    this.size = 0;
  }

  /** American flag sort: entries swapped into their group's slot until every group is in place. */
  private sortByGroup(): void {
    const { entries, next, end, groups } = this;
    const n = this.size;
    next.fill(0);
    for (let i = 0; i < n; i++) next[(entries[3 * i]! >>> GROUP_SHIFT) + 1]!++;
    for (let g = 1; g <= groups; g++) next[g]! += next[g - 1]!;
    for (let g = 0; g < groups; g++) end[g] = next[g + 1]!;
    for (let g = 0; g < groups; g++) {
      const stop = end[g]!;
      for (let i = next[g]!; i < stop; i = next[g]!) {
        // Carry the entry at i to its group's next free slot, pick up the one found there, and so on
        // until one belongs to group g: it fills slot i.
        let region = entries[3 * i]!;
        let h1 = entries[3 * i + 1]!;
        let h2 = entries[3 * i + 2]!;
        for (let k = region >>> GROUP_SHIFT; k !== g; k = region >>> GROUP_SHIFT) {
          const to = 3 * next[k]!++;
          const r = entries[to]!;
          const a = entries[to + 1]!;
          const b = entries[to + 2]!;
          entries[to] = region;
          entries[to + 1] = h1;
          entries[to + 2] = h2;
          region = r;
          h1 = a;
          h2 = b;
        }
        entries[3 * i] = region;
        entries[3 * i + 1] = h1;
        entries[3 * i + 2] = h2;
        next[g]!++;
      }
    }
  }

  /** Counting sort of entries of one group by region, then inserts region after region. */
  private insertSlice(group: number, start: number, stop: number): void {
    const { entries, regionEnd, scratch, filter } = this;
    regionEnd.fill(0);
    for (let i = start; i < stop; i++) regionEnd[(entries[3 * i]! & (GROUP_REGIONS - 1)) + 1]!++;
    for (let r = 1; r <= GROUP_REGIONS; r++) regionEnd[r]! += regionEnd[r - 1]!;
    for (let i = start; i < stop; i++) {
      const to = 2 * regionEnd[entries[3 * i]! & (GROUP_REGIONS - 1)]!++;
      scratch[to] = entries[3 * i + 1]!;
      scratch[to + 1] = entries[3 * i + 2]!;
    }
    // regionEnd[r] now holds the end of region r in the scratch buffer.
    const body = filter.body;
    const regionBytes = filter.regionBits >>> 3;
    let touched = this.touched;
    let at = 0;
    for (let r = 0; r < GROUP_REGIONS; r++) {
      const to = regionEnd[r]!;
      if (to === at) continue;
      const base = ((group << GROUP_SHIFT) + r) * regionBytes;
      for (let line = 0; line < regionBytes; line += CACHE_LINE) touched ^= body[base + line]!;
      for (; at < to; at++) filter.setBits(base, scratch[2 * at]!, scratch[2 * at + 1]!);
    }
    this.touched = touched;
  }
}

/**
 * MurmurHash3's 32-bit finaliser (an invertible mix with full avalanche), as an unsigned integer.
 * It turns the arithmetic sequence h1 + i × h2 into positions with no linear relation between them.
 */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 32 bits of the digest, big-endian, starting at byte `o`. */
function word(d: Uint8Array, o: number): number {
  return ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
}
