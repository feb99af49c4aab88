import { describe, expect, it } from 'vitest';
import { formatDuration, Progress } from './progress.js';

function recorder(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 100, write: (text: string) => writes.push(text) } };
}

describe('Progress', () => {
  it('redraws a bar with rate and ETA on a terminal', () => {
    let now = 0;
    const { writes, stream } = recorder(true);
    const progress = new Progress({ stream, label: 'build', total: 1000, unit: 'hashes', now: () => now });
    now = 2000;
    progress.update(250, 1_000_000);
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatch(/^\rbuild \[#+\.+\] /);
    expect(writes[0]?.endsWith(' 25.0% 1.00M hashes, 500.0k hashes/s, ETA 6s\u001b[K')).toBe(true);
    now = 2100; // within the redraw interval: nothing written
    progress.update(260, 1_100_000);
    expect(writes).toHaveLength(1);
    progress.finish(1000, 4_000_000);
    expect(writes.at(-1)).toBe('\n');
  });

  it('writes plain lines, at most one per interval, when stderr is not a terminal', () => {
    let now = 0;
    const { writes, stream } = recorder(false);
    const progress = new Progress({ stream, label: 'count', total: 100, unit: 'lines', now: () => now });
    for (now = 1000; now <= 30_000; now += 1000) progress.update(now / 1000, now);
    expect(writes).toEqual([
      'count:  10.0% 10.0k lines, 1.0k lines/s, ETA 1m30s\n',
      'count:  20.0% 20.0k lines, 1.0k lines/s, ETA 1m20s\n',
      'count:  30.0% 30.0k lines, 1.0k lines/s, ETA 1m10s\n',
    ]);
  });

  it.each([
    [5, '5s'],
    [125, '2m05s'],
    [7260, '2h01m'],
    [Number.POSITIVE_INFINITY, '?'],
  ])('formats %d seconds as %s', (seconds, text) => expect(formatDuration(seconds)).toBe(text));
});
