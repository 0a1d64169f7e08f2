/**
 * Drift at a glance: in a job's history, each metric's final value in every production run
 * over time, against the experiment run the job was promoted from. Loaded with ECharts, only
 * when a job's history is opened.
 */
import * as React from 'react';

import { EChart, useChartTheme } from './charts';
import { driftOption, driftSeries } from './driftdata';
import type { IRun } from './tokens';

export function DriftCharts(props: { runs: IRun[]; source: IRun | null }): JSX.Element | null {
  const theme = useChartTheme();
  const charts = React.useMemo(
    () =>
      driftSeries(props.runs, props.source).map(drift => ({
        drift,
        option: driftOption(drift, theme)
      })),
    [props.runs, props.source, theme]
  );
  if (!charts.length) {
    return null;
  }
  return (
    <div className="cf-charts cf-drift">
      {charts.map(({ drift, option }) => (
        <EChart
          key={drift.metric}
          className="cf-chart-drift"
          option={option}
          seriesKey={`${theme.name}:${drift.metric}`}
          seriesCount={drift.baseline === null ? 1 : 2}
          label={`final ${drift.metric} of each production run against the promoted experiment`}
          axes={{ x: 'run time', y: drift.metric }}
          legend={
            drift.baseline === null
              ? ['production runs']
              : ['production runs', 'promoted experiment']
          }
        />
      ))}
    </div>
  );
}
