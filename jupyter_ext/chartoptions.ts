/**
 * ECharts options built from the shaped curve data and the theme's colours: pure functions
 * (types only from ECharts), so jest checks what each chart is asked to draw. The study
 * view's charts are in studyoptions.ts.
 */
import type {
  BarSeriesOption,
  LineSeriesOption,
  ParallelSeriesOption,
  ScatterSeriesOption
} from 'echarts/charts';
import type {
  DataZoomComponentOption,
  GridComponentOption,
  LegendComponentOption,
  ParallelComponentOption,
  TitleComponentOption,
  TooltipComponentOption
} from 'echarts/components';
import type { ComposeOption, EChartsCoreOption } from 'echarts/core';

import type { ICurveSettings, IMetricCurves } from './chartdata';
import { formatValue } from './logic';
import type { Direction } from './tokens';

/** The cartesian charts' option (curves, best so far, importances), fully typed. */
export type CartesianOption = ComposeOption<
  | LineSeriesOption
  | BarSeriesOption
  | ScatterSeriesOption
  | GridComponentOption
  | TooltipComponentOption
  | LegendComponentOption
  | DataZoomComponentOption
  | TitleComponentOption
>;

/**
 * The parallel chart's option: ECharts' composed type cannot hold the parallel component
 * (its axis dependency has no main type and widens to an index signature), so its parts
 * are typed one by one instead.
 */
export type ParallelOption = EChartsCoreOption & {
  parallel: ParallelComponentOption;
  series: ParallelSeriesOption[];
};

export type ChartOption = CartesianOption | ParallelOption;

/** The theme's colours, read from JupyterLab's CSS variables when a chart renders. */
export interface IChartTheme {
  /** Changes with the theme: part of every chart's series key. */
  name: string;
  dark: boolean;
  font: string;
  text: string;
  muted: string;
  faint: string;
  background: string;
  border: string;
  accent: string;
}

/** Series colours that read on light and dark backgrounds alike. */
export const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
  '#7f7f7f',
  '#aec7e8',
  '#ffbb78',
  '#98df8a',
  '#ff9896',
  '#c5b0d5',
  '#c49c94',
  '#f7b6d2',
  '#9edae5',
  '#dbdb8d',
  '#5254a3'
];

/** Faded series (background runs, pruned trials) keep this much opacity. */
export const DIM_OPACITY = 0.3;

export const format = (value: unknown): string =>
  typeof value === 'number' ? formatValue(value) : String(value ?? '—');

export const arrow = (direction: Direction | undefined): string =>
  direction === 'min' ? ' ↓' : direction === 'max' ? ' ↑' : '';

export function axisStyle(theme: IChartTheme) {
  return {
    nameTextStyle: { color: theme.muted },
    axisLine: { lineStyle: { color: theme.border } },
    axisTick: { lineStyle: { color: theme.border } },
    axisLabel: { color: theme.muted, formatter: (value: number | string) => format(value) },
    splitLine: { lineStyle: { color: theme.border, opacity: 0.5 } }
  };
}

export function tooltipStyle(theme: IChartTheme): TooltipComponentOption {
  return {
    confine: true,
    backgroundColor: theme.background,
    borderColor: theme.border,
    textStyle: { color: theme.text, fontFamily: theme.font },
    valueFormatter: value => format(value)
  };
}

export function base(theme: IChartTheme) {
  return {
    animation: false,
    backgroundColor: 'transparent',
    color: PALETTE,
    textStyle: { color: theme.text, fontFamily: theme.font }
  };
}

function curveLine(
  line: IMetricCurves['lines'][number],
  color: string,
  theme: IChartTheme
): LineSeriesOption {
  return {
    type: 'line',
    id: line.id,
    name: line.label,
    data: line.data,
    color,
    showSymbol: false,
    symbolSize: 4,
    connectNulls: false,
    sampling: 'lttb',
    lineStyle: { width: 1.5, opacity: line.dimmed ? DIM_OPACITY : 1 },
    emphasis: { disabled: true },
    z: 3,
    ...(line.dimmed ? { itemStyle: { opacity: DIM_OPACITY, borderColor: theme.background } } : {})
  };
}

function backgroundLine(curves: IMetricCurves, theme: IChartTheme): LineSeriesOption {
  return {
    type: 'line',
    id: '__background',
    name: `${curves.backgroundRuns} other runs`,
    data: curves.background,
    color: theme.faint,
    silent: true,
    symbol: 'none',
    showSymbol: false,
    connectNulls: false,
    legendHoverLink: false,
    tooltip: { show: false },
    lineStyle: { width: 0.75, opacity: DIM_OPACITY },
    emphasis: { disabled: true },
    z: 1
  };
}

/**
 * One metric's chart: the legend runs' lines over the background series, hover values for
 * every legend run at the pointer's x, a scrolling legend, inside zoom on x.
 */
export function curvesOption(
  curves: IMetricCurves,
  settings: ICurveSettings,
  theme: IChartTheme,
  colorOf: (id: string, index: number) => string = (_, i) => PALETTE[i % PALETTE.length]
): CartesianOption {
  const lines = curves.lines.map((line, i) => curveLine(line, colorOf(line.id, i), theme));
  const series = curves.backgroundRuns ? [backgroundLine(curves, theme), ...lines] : lines;
  return {
    ...base(theme),
    grid: { left: 8, right: 20, top: 56, bottom: 28, containLabel: true },
    legend: {
      type: 'scroll',
      top: 4,
      left: 8,
      right: 8,
      textStyle: { color: theme.text },
      pageTextStyle: { color: theme.muted },
      pageIconColor: theme.accent,
      pageIconInactiveColor: theme.border,
      inactiveColor: theme.border
    },
    tooltip: { ...tooltipStyle(theme), trigger: 'axis', axisPointer: { type: 'line' } },
    xAxis: {
      type: 'value',
      name: settings.x === 'step' ? 'step' : 'seconds since start',
      nameLocation: 'middle',
      nameGap: 24,
      min: 'dataMin',
      max: 'dataMax',
      ...axisStyle(theme)
    },
    yAxis: {
      type: settings.log ? 'log' : 'value',
      name: curves.metric,
      nameLocation: 'end',
      scale: true,
      ...axisStyle(theme)
    },
    dataZoom: [{ type: 'inside', xAxisIndex: 0, filterMode: 'none' }],
    series
  };
}
