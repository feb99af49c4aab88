import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '@spincycle/common';
import { loadFilterFile, type LoadedFilter } from '../filter/filter-file.js';

export interface FilterStoreEvents {
  loaded: [LoadedFilter];
  'reload-failed': [Error];
}

/** Replaced files are often written in several steps; this lets the writes settle before a reload. */
const WATCH_SETTLE_MS = 100;

/**
 * Holds the filter in use and swaps it for a new one without downtime: the new file is loaded and
 * verified beside the old filter, then the reference changes in one assignment, so a check sees
 * either filter, never a half-loaded one. A file that fails verification leaves the old filter in
 * place. While reloading, both filters are in memory.
 */
export class FilterStore extends EventEmitter<FilterStoreEvents> {
  private current: LoadedFilter | undefined;
  private reloading: Promise<void> | undefined;
  private again = false;
  private watcher: FSWatcher | undefined;
  private settle: NodeJS.Timeout | undefined;

  constructor(
    readonly path: string,
    private readonly logger: Logger,
  ) {
    super();
  }

  get filter(): LoadedFilter | undefined {
    return this.current;
  }

  /** Readiness: throws until a filter is loaded. */
  ready(): Promise<void> {
    return this.current ? Promise.resolve() : Promise.reject(new Error('filter not loaded yet'));
  }

  /** First load: a bad file here is fatal, the service must not answer "not pwned" from nothing. */
  async load(): Promise<LoadedFilter> {
    const started = performance.now();
    const loaded = await loadFilterFile(this.path);
    this.current = loaded;
    this.logger.info(
      {
        path: this.path,
        keys: loaded.header.keys,
        bytes: loaded.header.bodyBytes,
        ms: Math.round(performance.now() - started),
      },
      'filter loaded',
    );
    this.emit('loaded', loaded);
    return loaded;
  }

  /** Loads the file again; requests during a reload are coalesced into one more reload. */
  reload(): Promise<void> {
    if (this.reloading) {
      this.again = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.again = false;
        try {
          await this.load();
        } catch (err) {
          const error = err instanceof Error ? err : new Error(String(err));
          this.logger.warn(
            { path: this.path, reason: error.message },
            'filter reload refused; keeping the filter in use',
          );
          this.emit('reload-failed', error);
        }
      } while (this.again);
    })().finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  /**
   * Watches the directory rather than the file: a builder replaces the file by renaming a new one
   * over it, which a watch on the old inode would miss.
   */
  watch(): void {
    const name = basename(this.path);
    this.watcher = watch(dirname(this.path), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(this.settle);
      this.settle = setTimeout(() => void this.reload(), WATCH_SETTLE_MS);
    });
    this.watcher.on('error', (err) => this.logger.warn({ reason: err.message }, 'filter file watch stopped'));
  }

  async close(): Promise<void> {
    clearTimeout(this.settle);
    this.watcher?.close();
    await this.reloading;
  }
}
