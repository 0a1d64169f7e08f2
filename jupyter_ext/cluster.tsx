/** The panel's cluster strip: the project's warm shared cluster, refreshed every few seconds. */
import * as React from 'react';

import type { CellfleetApi } from './api';
import { clusterLine } from './clusterinfo';
import type { ICluster } from './tokens';

/** Milliseconds between two looks at the shared cluster. */
export const CLUSTER_REFRESH_MS = 5000;

/** One line: workers, GPUs, memory and a dashboard link, or the command that starts one. */
export function ClusterStrip(props: { api: CellfleetApi }): JSX.Element {
  const [cluster, setCluster] = React.useState<ICluster | null>(null);
  const [error, setError] = React.useState('');
  React.useEffect(() => {
    let live = true;
    const look = (): void => {
      props.api.cluster().then(
        found => live && (setCluster(found), setError('')),
        failure => live && setError(failure.message)
      );
    };
    look();
    const timer = window.setInterval(look, CLUSTER_REFRESH_MS);
    return () => {
      live = false;
      window.clearInterval(timer);
    };
  }, [props.api]);
  if (!cluster) {
    return (
      <div className="cf-cluster" aria-live="polite">
        {error ? `⚠ cluster: ${error}` : 'looking for the shared cluster…'}
      </div>
    );
  }
  const line = clusterLine(cluster);
  return (
    <div
      className={`cf-cluster${line.up ? ' cf-cluster-up' : ''}`}
      title={line.title}
      aria-live="polite"
    >
      <span className="cf-cluster-dot" aria-hidden="true" />
      <span className="cf-cluster-text">{line.text}</span>
      {cluster.dashboard && /^https?:\/\//.test(cluster.dashboard) ? (
        <a className="cf-cluster-link" href={cluster.dashboard} target="_blank" rel="noreferrer">
          dashboard
        </a>
      ) : null}
    </div>
  );
}
