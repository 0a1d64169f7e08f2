/** One run's details under the table: params, final metrics, artifacts, error and output. */
import * as React from 'react';

import { CellfleetApi } from './api';
import { formatDuration, formatValue, runDuration } from './logic';
import type { IRunDetail } from './tokens';

function lastValues(detail: IRunDetail): Array<[string, number]> {
  return Object.entries(detail.metrics)
    .filter(([, points]) => points.length)
    .map(([name, points]) => [name, points[points.length - 1][1]]);
}

/** Details of `runId`, fetched when it changes; text only (React escapes it). */
export function RunDetails(props: { api: CellfleetApi; runId: string }): JSX.Element {
  const [detail, setDetail] = React.useState<IRunDetail | null>(null);
  const [error, setError] = React.useState('');
  React.useEffect(() => {
    let current = true;
    setDetail(null);
    setError('');
    props.api.getRun(props.runId).then(
      found => current && setDetail(found),
      failure => current && setError(failure.message)
    );
    return () => {
      current = false;
    };
  }, [props.api, props.runId]);
  if (error) {
    return <div className="cf-error">⚠ {error}</div>;
  }
  if (!detail) {
    return <div className="cf-details">loading run {props.runId}…</div>;
  }
  const { run } = detail;
  return (
    <section className="cf-details" aria-label={`run ${run.id}`}>
      <h3>
        {run.id} · {run.status}
        {run.failure_class ? ` (${run.failure_class})` : ''} · {formatDuration(runDuration(run))}
        {run.gpu ? ` · ${run.gpu}` : ''}
      </h3>
      <dl className="cf-job-facts">
        {Object.entries(run.params).map(([name, value]) => (
          <React.Fragment key={`p:${name}`}>
            <dt>{name}</dt>
            <dd>{formatValue(value)}</dd>
          </React.Fragment>
        ))}
        {lastValues(detail).map(([name, value]) => (
          <React.Fragment key={`m:${name}`}>
            <dt>{name}</dt>
            <dd>{formatValue(value)}</dd>
          </React.Fragment>
        ))}
      </dl>
      {detail.artifacts.length ? (
        <ul className="cf-artifacts">
          {detail.artifacts.map(artifact => (
            <li key={artifact.id}>
              <a
                href={props.api.url('runs', run.id, 'artifacts', String(artifact.id))}
                target="_blank"
                rel="noreferrer"
              >
                {artifact.name}
              </a>{' '}
              ({artifact.media_type})
            </li>
          ))}
        </ul>
      ) : null}
      {run.error ? <pre className="cf-output cf-error">{run.error}</pre> : null}
      {run.output ? <pre className="cf-output">{run.output.slice(-4000)}</pre> : null}
    </section>
  );
}
