/**
 * Build progress on stderr: a redrawn bar with rate and ETA on a terminal, otherwise one plain
 * line every `intervalMs` (CI logs and redirected output would fill with carriage returns).
 */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export interface ProgressOptions {
  stream: ProgressStream;
  label: string;
  /** Total units of work (bytes or lines), if known: without it there is no bar nor ETA. */
  total?: number;
  unit: string;
  intervalMs?: number;
  now?: () => number;
}

export class Progress {
  private readonly started: number;
  private lastDraw = 0;
  private readonly interval: number;
  private readonly now: () => number;

  constructor(private readonly options: ProgressOptions) {
    this.now = options.now ?? Date.now;
    this.started = this.now();
    this.interval = options.intervalMs ?? (options.stream.isTTY ? 200 : 10_000);
  }

  /** Reports `done` units of work (and `items` processed, shown as the rate). */
  update(done: number, items: number): void {
    const now = this.now();
    if (now - this.lastDraw < this.interval) return;
    this.lastDraw = now;
    this.draw(done, items, now);
  }

  finish(done: number, items: number): void {
    this.draw(done, items, this.now());
    if (this.options.stream.isTTY) this.options.stream.write('\n');
  }

  private draw(done: number, items: number, now: number): void {
    const { stream, label, total, unit } = this.options;
    const seconds = Math.max(0.001, (now - this.started) / 1000);
    const rate = `${formatCount(items / seconds)} ${unit}/s`;
    const fraction = total ? Math.min(1, done / total) : undefined;
    const eta = fraction && fraction > 0 ? formatDuration((seconds / fraction) * (1 - fraction)) : '?';
    const percent = fraction === undefined ? '' : `${(fraction * 100).toFixed(1).padStart(5)}% `;
    const tail = `${percent}${formatCount(items)} ${unit}, ${rate}, ETA ${eta}`;
    if (!stream.isTTY) {
      stream.write(`${label}: ${tail}\n`);
      return;
    }
    const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - tail.length - label.length - 6));
    const filled = Math.round((fraction ?? 0) * width);
    stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${tail}\x1b[K`);
  }
}

export function formatCount(value: number): string {
  if (value >= 1e9) return `${(value / 1e9).toFixed(2)}G`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return value.toFixed(0);
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return h > 0
    ? `${h}h${String(m).padStart(2, '0')}m`
    : m > 0
      ? `${m}m${String(rest).padStart(2, '0')}s`
      : `${rest}s`;
}
