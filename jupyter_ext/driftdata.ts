/**
 * The job view's drift charts: each production run's final metrics over time against the
 * experiment run the job was promoted from. Pure functions (data and ECharts option), tested
 * by jest.
 */
import {
  axisStyle,
  base,
  CartesianOption,
  format,
  IChartTheme,
  PALETTE,
  tooltipStyle
} from './chartoptions';
import type { IRun } from './tokens';

/** The most metrics a job view charts (the source run's first, then by name). */
export const DRIFT_METRICS = 6;

/** One metric's drift: [run start (ms), final value] per production run, oldest first. */
export interface IDrift {
  metric: string;
  points: Array<[number, number]>;
  /** The promoted experiment's final value, or null when it logged none. */
  baseline: number | null;
}

/** A drift chart per metric the production runs logged, at most DRIFT_METRICS. */
export function driftSeries(runs: ReadonlyArray<IRun>, source: IRun | null): IDrift[] {
  const ordered = [...runs].sort((a, b) => a.created - b.created);
  const logged = new Set(ordered.flatMap(run => Object.keys(run.final_metrics ?? {})));
  const fromSource = Object.keys(source?.final_metrics ?? {}).filter(metric => logged.has(metric));
  const rest = [...logged].filter(metric => !fromSource.includes(metric)).sort();
  return [...fromSource, ...rest].slice(0, DRIFT_METRICS).map(metric => ({
    metric,
    points: ordered.flatMap(run => {
      const value = run.final_metrics?.[metric];
      return value === undefined
        ? []
        : [[(run.started ?? run.created) * 1000, value] as [number, number]];
    }),
    baseline: source?.final_metrics?.[metric] ?? null
  }));
}

/** The chart of one metric's drift: production runs as a line, the experiment's value dashed. */
export function driftOption(drift: IDrift, theme: IChartTheme): CartesianOption {
  const xs = drift.points.map(([x]) => x);
  const baseline =
    drift.baseline === null || !xs.length
      ? []
      : [
          {
            type: 'line' as const,
            name: 'promoted experiment',
            showSymbol: false,
            color: theme.muted,
            lineStyle: { type: 'dashed' as const, width: 1 },
            data: [
              [Math.min(...xs), drift.baseline],
              [Math.max(...xs), drift.baseline]
            ]
          }
        ];
  return {
    ...base(theme),
    grid: { left: 8, right: 16, top: 32, bottom: 24, containLabel: true },
    legend: { top: 0, textStyle: { color: theme.text }, inactiveColor: theme.border },
    tooltip: { ...tooltipStyle(theme), trigger: 'axis', valueFormatter: value => format(value) },
    xAxis: {
      type: 'time',
      ...axisStyle(theme),
      axisLabel: { color: theme.muted, hideOverlap: true }
    },
    yAxis: {
      type: 'value',
      name: drift.metric,
      scale: true,
      boundaryGap: ['10%', '10%'],
      ...axisStyle(theme)
    },
    series: [
      {
        type: 'line',
        name: 'production runs',
        color: PALETTE[0],
        symbolSize: 6,
        data: drift.points
      },
      ...baseline
    ]
  };
}
