import { randomBytes, randomFillSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  BatchInserter,
  BloomFilter,
  bloomMinimumBitsPerKey,
  bloomParameters,
  expectedFpRate,
} from './bloom.js';

function randomDigests(count: number): Buffer {
  return randomBytes(20 * count);
}

describe('bloomParameters', () => {
  it.each([
    [1, 1e-6],
    [1_000, 1e-6],
    [49_000, 1e-6],
    [1_000_000, 1e-3],
    [100_000_000, 1e-6],
    [2_000_000_000, 1e-6],
  ])('sizes %d keys at %d within 1 %% of the Bloom minimum, meeting the target', (count, fpRate) => {
    const params = bloomParameters(count, fpRate);
    const minimum = count * bloomMinimumBitsPerKey(fpRate);
    expect(expectedFpRate(params, count)).toBeLessThanOrEqual(fpRate);
    if (count >= 1000) expect(params.bits / minimum).toBeLessThan(1.01);
    expect(params.bits % params.regionBits).toBe(0);
  });

  it('refuses a rate outside (0, 1)', () => {
    expect(() => bloomParameters(10, 0)).toThrow(/between 0 and 1/);
    expect(() => bloomParameters(10, 1)).toThrow(/between 0 and 1/);
  });
});

describe('BloomFilter', () => {
  it('finds every inserted digest, whether added one by one or in batches', () => {
    const keys = 60_000;
    const digests = randomDigests(keys);
    const single = new BloomFilter(bloomParameters(keys, 1e-6));
    const batched = new BloomFilter(bloomParameters(keys, 1e-6));
    const inserter = new BatchInserter(batched, 1 << 14);
    for (let o = 0; o < digests.length; o += 20) {
      single.add(digests, o);
      inserter.add(digests, o);
    }
    inserter.flush();
    let missing = 0;
    for (let o = 0; o < digests.length; o += 20)
      if (!single.has(digests, o) || !batched.has(digests, o)) missing++;
    expect(missing).toBe(0);
    // Both insertion orders set the same bits.
    expect(Buffer.from(batched.body).equals(Buffer.from(single.body))).toBe(true);
  });

  // 1,000 regions make four groups of at most 256 in the batch's sort, and 5,000 keys in a batch of
  // 1,024 make several flushes. Keys whose first byte is 0 all fall into the first group: more than
  // its share of the sort's scratch space, so it is inserted in slices.
  it.each<[string, (digests: Buffer) => void]>([
    ['spread over every group', () => undefined],
    [
      'crowded into one group',
      (digests) => {
        for (let o = 0; o < digests.length; o += 20) digests[o] = 0;
      },
    ],
  ])('sets the same bits in batches as one by one, with keys %s', (_case, skew) => {
    const params = { bits: 1000 * 4096, hashes: 8, regionBits: 4096 };
    const digests = randomDigests(5_000);
    skew(digests);
    const single = new BloomFilter(params);
    const batched = new BloomFilter(params);
    const inserter = new BatchInserter(batched, 1024);
    for (let o = 0; o < digests.length; o += 20) {
      single.add(digests, o);
      inserter.add(digests, o);
    }
    inserter.flush();
    expect(Buffer.from(batched.body).equals(Buffer.from(single.body))).toBe(true);
    for (let o = 0; o < digests.length; o += 20) expect(batched.has(digests, o)).toBe(true);
  });

  it('sizes a batch at four keys per region, with a floor for small filters', () => {
    expect(BatchInserter.capacityFor({ regions: 88_287 })).toBe(353_148);
    expect(BatchInserter.capacityFor({ regions: 3 })).toBe(1 << 14);
  });

  // Enough keys for a few hundred regions: with few regions, how full each one happens to be varies
  // from filter to filter and adds to the binomial spread this test allows for.
  it.each([[500_000, 1e-3, 3_000_000]])(
    'with %d keys at target %d, the false-positive rate over %d held-out digests is within 4 standard deviations',
    (keys, fpRate, trials) => {
      const params = bloomParameters(keys, fpRate);
      const filter = new BloomFilter(params);
      const inserter = new BatchInserter(filter, BatchInserter.capacityFor(filter));
      const chunk = Buffer.alloc(20 * 10_000);
      for (let done = 0; done < keys; done += 10_000) {
        randomFillSync(chunk);
        for (let o = 0; o < chunk.length; o += 20) inserter.add(chunk, o);
      }
      inserter.flush();
      let positives = 0;
      for (let done = 0; done < trials; done += 10_000) {
        randomFillSync(chunk);
        for (let o = 0; o < chunk.length; o += 20) if (filter.has(chunk, o)) positives++;
      }
      const rate = expectedFpRate(params, keys);
      expect(rate).toBeLessThanOrEqual(fpRate);
      expect(rate).toBeGreaterThan(fpRate * 0.8);
      const mean = trials * rate;
      const sd = Math.sqrt(trials * rate * (1 - rate));
      expect(Math.abs(positives - mean)).toBeLessThanOrEqual(4 * sd);
    },
  );

  it('refuses a body of the wrong length', () => {
    expect(
      () => new BloomFilter({ bits: 1 << 15, hashes: 3, regionBits: 1 << 15 }, new Uint8Array(10)),
    ).toThrow(/body must be 4096 bytes/);
  });
});
