/** A typed client of the server routes under /cellfleet/api/, and the live change feed. */
import { URLExt } from '@jupyterlab/coreutils';
import type { INotebookContent } from '@jupyterlab/nbformat';
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import type {
  ICluster,
  ICompareResult,
  IJob,
  IJobDetail,
  IPromoteRequest,
  IRun,
  IRunDetail,
  IRunPage,
  IRunQuery,
  IStudy,
  IStudyCurves
} from './tokens';

/** The most run ids `compare` takes at once (the server refuses more). */
export const COMPARE_MAX_IDS = 50;

/** A refused request: the server's one-line message and the HTTP status. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

/** The client; one per application. */
export class CellfleetApi {
  constructor(readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  url(...parts: string[]): string {
    return URLExt.join(this.settings.baseUrl, 'cellfleet', 'api', ...parts.map(encodeURIComponent));
  }

  listRuns(query: IRunQuery): Promise<IRunPage> {
    const search = Object.entries(query)
      .filter(([, value]) => value !== undefined && value !== '')
      .map(([key, value]) => `${key}=${encodeURIComponent(String(value))}`)
      .join('&');
    return this.json(`${this.url('runs')}?${search}`);
  }

  getRun(id: string): Promise<IRunDetail> {
    return this.json(this.url('runs', id));
  }

  /** A production run's executed notebook. */
  outputNotebook(id: string): Promise<INotebookContent> {
    return this.json(this.url('runs', id, 'output'));
  }

  compare(ids: string[]): Promise<ICompareResult> {
    return this.json(`${this.url('compare')}?ids=${ids.map(encodeURIComponent).join(',')}`);
  }

  /** A search's run group as a study: trials, params, objectives, importances (404 if unknown). */
  study(groupId: string): Promise<IStudy> {
    return this.json(this.url('studies', groupId));
  }

  /** Every point of each objective of a study's trials (one request for all their curves). */
  studyCurves(groupId: string): Promise<IStudyCurves> {
    return this.json(this.url('studies', groupId, 'curves'));
  }

  /** An artifact as a blob (for images shown side by side). */
  async artifact(runId: string, artifactId: number): Promise<Blob> {
    const response = await this.request(
      this.url('runs', runId, 'artifacts', String(artifactId)),
      {}
    );
    return response.blob();
  }

  async listJobs(): Promise<IJob[]> {
    return (await this.json<{ jobs: IJob[] }>(this.url('jobs'))).jobs;
  }

  getJob(id: string): Promise<IJobDetail> {
    return this.json(this.url('jobs', id));
  }

  createJob(request: IPromoteRequest): Promise<IJob> {
    return this.json(this.url('jobs'), { method: 'POST', body: JSON.stringify(request) });
  }

  jobAction(id: string, action: 'pause' | 'resume' | 'run-now'): Promise<IJob> {
    return this.json(this.url('jobs', id, action), { method: 'POST', body: '{}' });
  }

  async deleteJob(id: string): Promise<void> {
    await this.request(this.url('jobs', id), { method: 'DELETE' });
  }

  /** The project's warm shared cluster, from its record (`running: false` when none runs). */
  cluster(): Promise<ICluster> {
    return this.json(this.url('cluster'));
  }

  changes(since: number): Promise<{ now: number; runs: IRun[] }> {
    return this.json(`${this.url('changes')}?since=${since}`);
  }

  private async json<T>(url: string, init: RequestInit = {}): Promise<T> {
    const response = await this.request(url, init);
    return (await response.json()) as T;
  }

  private async request(url: string, init: RequestInit): Promise<Response> {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.settings);
    } catch (error) {
      throw new ApiError(`the Jupyter server did not answer (${(error as Error).message})`, 0);
    }
    if (!response.ok) {
      throw new ApiError(await refusal(response), response.status);
    }
    return response;
  }
}

async function refusal(response: Response): Promise<string> {
  const text = await response.text();
  try {
    return JSON.parse(text).message || `${response.status} ${response.statusText}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

/**
 * Run changes, live: the server-sent event stream when the browser can open it, polling
 * `changes` every two seconds when it cannot. Listeners get the changed (and running) runs.
 */
export class LiveFeed {
  constructor(private readonly api: CellfleetApi) {}

  get changed(): ISignal<this, IRun[]> {
    return this._changed;
  }

  /** Start listening (idempotent). */
  start(): void {
    if (this._source || this._timer) {
      return;
    }
    if (typeof EventSource === 'undefined') {
      this.poll();
      return;
    }
    this._source = new EventSource(this.api.url('events'), { withCredentials: true });
    this._source.onmessage = event => this.emit(JSON.parse(event.data));
    this._source.onerror = () => {
      // A dropped stream reconnects by itself; one the browser gave up on (refused, say,
      // where auth is by token header only) falls back to polling.
      if (this._source?.readyState === EventSource.CLOSED) {
        this._source = null;
        this.poll();
      }
    };
  }

  dispose(): void {
    this._source?.close();
    this._source = null;
    window.clearTimeout(this._timer);
    this._timer = 0;
  }

  private poll(): void {
    const tick = async (): Promise<void> => {
      try {
        this.emit(await this.api.changes(this._since));
      } catch {
        // the server went away for a moment; the next tick tries again
      }
      this._timer = window.setTimeout(tick, 2000);
    };
    this._timer = window.setTimeout(tick, 0);
  }

  private emit(message: { now: number; runs: IRun[] }): void {
    this._since = message.now;
    this._changed.emit(message.runs);
  }

  private _source: EventSource | null = null;
  private _timer = 0;
  private _since = Date.now() / 1000;
  private _changed = new Signal<this, IRun[]>(this);
}
