/**
 * The Experiments sidebar (the shared cluster's strip, a Runs tab and a Jobs tab, and the
 * promote dialog over them), and the same runs table at full width in the main area.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { CellfleetApi, LiveFeed } from './api';
import { ClusterStrip } from './cluster';
import { JobsView } from './jobs';
import { PromoteDialog } from './promote';
import { IRunActions, RunsView } from './runs';
import type { IJob, IRun } from './tokens';
import { initialForm, toRequest } from './validation';

/** What the panel needs from the application. */
export interface IPanelHost {
  compare: (ids: string[]) => void;
  adopt: (run: IRun) => void;
  openOutput: (run: IRun) => void;
  confirmDelete: (job: IJob) => Promise<boolean>;
  notify: (message: string) => void;
  /** Open the study view of a search's run group. */
  study: (groupId: string) => void;
  /** Open the runs table in the main area. */
  openRunsMain: () => void;
}

type Tab = 'runs' | 'jobs';

/** The sidebar widget; `notebook` follows the active notebook. */
export class ExperimentsPanel extends ReactWidget {
  constructor(
    private readonly api: CellfleetApi,
    private readonly feed: LiveFeed,
    private readonly host: IPanelHost
  ) {
    super();
    this.id = 'cellfleet-experiments';
    this.addClass('cf-panel');
    this.title.caption = 'Experiments';
  }

  get notebook(): string {
    return this._notebook;
  }

  set notebook(path: string) {
    if (path !== this._notebook) {
      this._notebook = path;
      this.update();
    }
  }

  /** Open the promote dialog for the notebook, params from `run`. */
  promote(run: IRun | null): void {
    this._promoting = run ?? ({ params: {}, id: '' } as unknown as IRun);
    this.update();
  }

  showTab(tab: Tab): void {
    this._tab = tab;
    this.update();
  }

  protected render(): JSX.Element {
    const actions: IRunActions = {
      compare: this.host.compare,
      adopt: this.host.adopt,
      openOutput: this.host.openOutput,
      promote: run => this.promote(run),
      study: this.host.study,
      openMain: this.host.openRunsMain
    };
    const tabs: Array<[Tab, string]> = [
      ['runs', 'Runs'],
      ['jobs', 'Jobs']
    ];
    return (
      <div className="cf-panel-body">
        <ClusterStrip api={this.api} />
        <div className="cf-tabs" role="tablist" aria-label="Experiments">
          {tabs.map(([tab, label]) => (
            <button
              key={tab}
              role="tab"
              id={`cf-tab-${tab}`}
              aria-selected={this._tab === tab}
              aria-controls={`cf-tabpanel-${tab}`}
              className={`cf-tab${this._tab === tab ? ' cf-tab-active' : ''}`}
              onClick={() => this.showTab(tab)}
            >
              {label}
            </button>
          ))}
        </div>
        <div
          role="tabpanel"
          id={`cf-tabpanel-${this._tab}`}
          aria-labelledby={`cf-tab-${this._tab}`}
        >
          {this._tab === 'runs' ? (
            <RunsView api={this.api} feed={this.feed} notebook={this._notebook} actions={actions} />
          ) : (
            <JobsView
              key={this._jobsVersion}
              api={this.api}
              feed={this.feed}
              openOutput={this.host.openOutput}
              confirmDelete={this.host.confirmDelete}
            />
          )}
        </div>
        {this._promoting ? this.dialog(this._promoting) : null}
      </div>
    );
  }

  private dialog(run: IRun): JSX.Element {
    const close = (): void => {
      this._promoting = null;
      this.update();
    };
    const submit = async (form: Parameters<typeof toRequest>[0]): Promise<string> => {
      try {
        const job = await this.api.createJob(toRequest(form));
        this.host.notify(`Promoted ${form.notebook}: job ${job.name}`);
        this._tab = 'jobs';
        this._jobsVersion += 1; // an open Jobs tab reloads with the new job
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    };
    return (
      <PromoteDialog
        initial={initialForm(run.notebook || this._notebook, run.params, run.id)}
        submit={submit}
        close={close}
      />
    );
  }

  private _notebook = '';
  private _tab: Tab = 'runs';
  private _promoting: IRun | null = null;
  private _jobsVersion = 0;
}

/** The runs table in the main area: the sidebar's RunsView, wide, for the same notebook. */
export class RunsMainWidget extends ReactWidget {
  constructor(
    private readonly api: CellfleetApi,
    private readonly feed: LiveFeed,
    private readonly actions: IRunActions,
    notebook: string
  ) {
    super();
    this.addClass('cf-panel');
    this.addClass('cf-runs-main');
    this._notebook = notebook;
  }

  get notebook(): string {
    return this._notebook;
  }

  set notebook(path: string) {
    if (path !== this._notebook) {
      this._notebook = path;
      this.update();
    }
  }

  protected render(): JSX.Element {
    return (
      <RunsView
        api={this.api}
        feed={this.feed}
        notebook={this._notebook}
        actions={this.actions}
        wide
      />
    );
  }

  private _notebook: string;
}
