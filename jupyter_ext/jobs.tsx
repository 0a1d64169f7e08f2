/** The Jobs tab: each job's schedule, next run, last status, actions and run history. */
import * as React from 'react';

import { CellfleetApi, LiveFeed } from './api';
import { chainOf } from './chain';
import { formatDuration, runDuration } from './logic';
import type { IJob, IJobDetail, IRun } from './tokens';

const DriftCharts = React.lazy(() =>
  import('./drift').then(module => ({ default: module.DriftCharts }))
);

const when = (seconds: number | null | undefined): string =>
  seconds ? new Date(seconds * 1000).toLocaleString() : '—';

function scheduleText(job: IJob): string {
  if (job.after) {
    return `after each successful run of ${job.after}`;
  }
  if (!job.schedule) {
    return 'on demand';
  }
  const [kind, value] = job.schedule.split(':', 2);
  return kind === 'cron' ? `cron ${value}` : `every ${formatDuration(Number(value))}`;
}

function nextRunText(job: IJob): string {
  if (job.state === 'broken') {
    return 'never (broken)';
  }
  return job.paused ? 'paused' : when(job.next_run);
}

function History(props: {
  api: CellfleetApi;
  job: IJob;
  openOutput: (run: IRun) => void;
}): JSX.Element {
  const [detail, setDetail] = React.useState<IJobDetail | null>(null);
  const [error, setError] = React.useState('');
  const lastRun = props.job.last_run?.id;
  React.useEffect(() => {
    let current = true;
    props.api.getJob(props.job.id).then(
      found => current && setDetail(found),
      failure => current && setError(failure.message)
    );
    return () => {
      current = false;
    };
  }, [props.api, props.job.id, lastRun]);
  if (error) {
    return <div className="cf-history cf-error">⚠ {error}</div>;
  }
  if (!detail) {
    return <div className="cf-history">loading…</div>;
  }
  const { runs } = detail;
  if (!runs.length) {
    return <div className="cf-history">no runs yet</div>;
  }
  return (
    <>
      <React.Suspense fallback={null}>
        <DriftCharts runs={runs} source={detail.source ?? null} />
      </React.Suspense>
      <RunTable job={props.job} runs={runs} openOutput={props.openOutput} />
    </>
  );
}

function RunTable(props: {
  job: IJob;
  runs: IRun[];
  openOutput: (run: IRun) => void;
}): JSX.Element {
  return (
    <table className="cf-history" aria-label={`runs of ${props.job.name}`}>
      <tbody>
        {props.runs.map(run => (
          <tr key={run.id}>
            <td>{when(run.created)}</td>
            <td className={`cf-status-${run.status}`}>
              {run.status}
              {run.failure_class ? ` (${run.failure_class})` : ''}
              {run.environment_warning ? (
                <div
                  className="cf-env-warning"
                  title="the promoted experiment's environment differs"
                >
                  ⚠ environment: {run.environment_warning}
                </div>
              ) : null}
            </td>
            <td>{formatDuration(runDuration(run))}</td>
            <td>
              <button
                className="jp-mod-styled"
                disabled={!run.output_path}
                onClick={() => props.openOutput(run)}
              >
                Open output
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The `--after` chain the job is part of, the link where it broke marked. */
function Chain(props: { job: IJob; jobs: IJob[] }): JSX.Element | null {
  const links = chainOf(props.job, props.jobs);
  if (!links.length) {
    return null;
  }
  return (
    <ol className="cf-chain" aria-label={`pipeline of ${props.job.name}`}>
      {links.map(link => (
        <li
          key={link.name}
          className={`cf-status-${link.status ?? 'none'}${link.broken ? ' cf-chain-broken' : ''}`}
          aria-current={link.current ? 'true' : undefined}
        >
          {link.name}: {link.status ?? 'never run'}
          {link.broken ? ` (${link.failureClass ?? 'failed'}: the chain stopped here)` : ''}
        </li>
      ))}
    </ol>
  );
}

function JobCard(props: {
  api: CellfleetApi;
  job: IJob;
  jobs: IJob[];
  act: (job: IJob, action: 'pause' | 'resume' | 'run-now' | 'delete') => void;
  openOutput: (run: IRun) => void;
}): JSX.Element {
  const { job } = props;
  const [open, setOpen] = React.useState(false);
  return (
    <li className="cf-job" data-job={job.name}>
      <div className="cf-job-head">
        <button className="cf-job-name" aria-expanded={open} onClick={() => setOpen(!open)}>
          {open ? '▾ ' : '▸ '}
          {job.name}
        </button>
        <span className={`cf-status-${job.last_run?.status ?? 'none'}`}>
          {job.last_run?.status ?? 'never run'}
        </span>
      </div>
      <dl className="cf-job-facts">
        <dt>schedule</dt>
        <dd>{scheduleText(job)}</dd>
        <dt>next run</dt>
        <dd>{nextRunText(job)}</dd>
        <dt>retries</dt>
        <dd>
          {job.retries}
          {job.retries > 0
            ? ` (${job.retry_on === 'all' ? 'every failure' : 'infrastructure failures'})`
            : ''}
        </dd>
        {job.expect?.length ? (
          <>
            <dt>expects</dt>
            <dd>{job.expect.join(', ')}</dd>
          </>
        ) : null}
      </dl>
      <Chain job={job} jobs={props.jobs} />
      {job.state === 'broken' ? (
        <div className="cf-job-problem cf-error" role="alert">
          ⚠ broken: {job.problem}; it runs only when asked (Run now) until it is deleted and the
          notebook promoted again with a schedule that fires
        </div>
      ) : null}
      <div className="cf-job-actions">
        <button className="jp-mod-styled" onClick={() => props.act(job, 'run-now')}>
          Run now
        </button>
        <button
          className="jp-mod-styled"
          onClick={() => props.act(job, job.paused ? 'resume' : 'pause')}
        >
          {job.paused ? 'Resume' : 'Pause'}
        </button>
        <button className="jp-mod-styled jp-mod-warn" onClick={() => props.act(job, 'delete')}>
          Delete
        </button>
      </div>
      {open ? <History api={props.api} job={job} openOutput={props.openOutput} /> : null}
    </li>
  );
}

/** The Jobs tab. */
export function JobsView(props: {
  api: CellfleetApi;
  feed: LiveFeed;
  openOutput: (run: IRun) => void;
  confirmDelete: (job: IJob) => Promise<boolean>;
}): JSX.Element {
  const [jobs, setJobs] = React.useState<IJob[] | null>(null);
  const [error, setError] = React.useState('');
  const latest = React.useRef(0);
  const reload = React.useCallback(() => {
    const request = ++latest.current; // only the newest reply is shown
    props.api.listJobs().then(
      found => request === latest.current && (setJobs(found), setError('')),
      failure => request === latest.current && setError(failure.message)
    );
  }, [props.api]);
  React.useEffect(() => {
    reload();
    const onChange = (_: LiveFeed, runs: IRun[]): void => {
      if (runs.some(run => run.kind === 'production')) {
        reload();
      }
    };
    props.feed.changed.connect(onChange);
    return () => void props.feed.changed.disconnect(onChange);
  }, [reload]);
  const act = async (
    job: IJob,
    action: 'pause' | 'resume' | 'run-now' | 'delete'
  ): Promise<void> => {
    try {
      if (action === 'delete') {
        if (await props.confirmDelete(job)) {
          await props.api.deleteJob(job.id);
        }
      } else {
        await props.api.jobAction(job.id, action);
      }
      reload();
    } catch (failure) {
      setError((failure as Error).message);
    }
  };
  return (
    <div className="cf-jobs">
      <div className="cf-summary" aria-live="polite">
        {error
          ? `⚠ ${error}`
          : jobs
            ? `${jobs.length} job${jobs.length === 1 ? '' : 's'}`
            : 'loading jobs…'}
      </div>
      <ul className="cf-job-list">
        {(jobs ?? []).map(job => (
          <JobCard
            key={job.id}
            api={props.api}
            job={job}
            jobs={jobs ?? []}
            act={act}
            openOutput={props.openOutput}
          />
        ))}
      </ul>
    </div>
  );
}
