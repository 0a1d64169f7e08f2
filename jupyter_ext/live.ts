/** Live views: reload what a view shows while the runs in it change (no JupyterLab imports). */
import type { ISignal } from '@lumino/signaling';

import type { IRun } from './tokens';

/** What LiveReload listens to: LiveFeed, or any signal of changed runs. */
export interface IChangeFeed {
  readonly changed: ISignal<unknown, IRun[]>;
}

/**
 * Reloads a view's data while the runs it shows change: on every feed message that `wants`
 * (the feed resends running runs on each tick), at most one load in flight and one every
 * `interval` ms; the last change is never dropped. `loaded` gets each result or error.
 */
export class LiveReload<T> {
  constructor(
    private readonly feed: IChangeFeed,
    private readonly load: () => Promise<T>,
    private readonly wants: (changed: IRun[]) => boolean,
    private readonly loaded: (result: T | null, error: string) => void,
    private readonly interval = 2000
  ) {
    feed.changed.connect(this.onChange, this);
  }

  /** Load now (or as soon as the load in flight ends). */
  reload(): void {
    if (this._busy) {
      this._pending = true;
      return;
    }
    this._busy = true;
    this._last = Date.now();
    this.load().then(
      result => this.finish(result, ''),
      error => this.finish(null, (error as Error).message)
    );
  }

  dispose(): void {
    this._disposed = true;
    this.feed.changed.disconnect(this.onChange, this);
    if (this._timer !== null) {
      clearTimeout(this._timer);
    }
  }

  private onChange(_: unknown, changed: IRun[]): void {
    if (!this.wants(changed) || this._timer !== null) {
      return;
    }
    const wait = Math.max(0, this._last + this.interval - Date.now());
    this._timer = setTimeout(() => {
      this._timer = null;
      this.reload();
    }, wait);
  }

  private finish(result: T | null, error: string): void {
    this._busy = false;
    if (this._disposed) {
      return;
    }
    this.loaded(result, error);
    if (this._pending) {
      this._pending = false;
      this.reload();
    }
  }

  private _busy = false;
  private _pending = false;
  private _disposed = false;
  private _last = 0;
  private _timer: ReturnType<typeof setTimeout> | null = null;
}
