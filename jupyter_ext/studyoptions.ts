/**
 * The study view's ECharts options (best so far, parallel coordinates, importances), built
 * from studydata.ts's shapes and the theme's colours: pure functions, tested by jest.
 */
import {
  arrow,
  axisStyle,
  base,
  CartesianOption,
  DIM_OPACITY,
  format,
  IChartTheme,
  PALETTE,
  ParallelOption,
  tooltipStyle
} from './chartoptions';
import { axisId, IBestSoFar, IParallelData, mixColor } from './studydata';
import type { Direction } from './tokens';

/** The best-so-far chart's series: trials, the faded ones apart, and the best-so-far step line. */
function bestSoFarSeries(data: IBestSoFar, theme: IChartTheme): CartesianOption['series'] {
  const dots = (dimmed: boolean): Array<[number, number]> =>
    data.points.filter(p => p.dimmed === dimmed).map(p => [p.number, p.value]);
  return [
    { type: 'scatter', name: 'trials', symbolSize: 6, color: PALETTE[0], data: dots(false) },
    {
      type: 'scatter',
      name: 'pruned or dominated',
      symbolSize: 5,
      color: theme.faint,
      itemStyle: { opacity: DIM_OPACITY },
      data: dots(true)
    },
    {
      type: 'line',
      name: 'best so far',
      step: 'end',
      showSymbol: false,
      color: PALETTE[1],
      lineStyle: { width: 2 },
      tooltip: { show: false },
      data: data.best
    }
  ];
}

/** The best-so-far chart: each finished trial as a dot, the best so far as a step line. */
export function bestSoFarOption(
  data: IBestSoFar,
  metric: string,
  direction: Direction,
  theme: IChartTheme
): CartesianOption {
  const label = (params: unknown): string => {
    const item = params as { seriesName: string; value: [number, number] };
    return `#${item.value[0]} (${item.seriesName})<br/>${metric}: ${format(item.value[1])}`;
  };
  return {
    ...base(theme),
    grid: { left: 8, right: 20, top: 56, bottom: 28, containLabel: true },
    legend: { top: 4, textStyle: { color: theme.text }, inactiveColor: theme.border },
    tooltip: { ...tooltipStyle(theme), trigger: 'item', formatter: label },
    xAxis: {
      type: 'value',
      name: 'trial',
      nameLocation: 'middle',
      nameGap: 24,
      minInterval: 1,
      ...axisStyle(theme)
    },
    yAxis: {
      type: 'value',
      name: `${metric}${arrow(direction)}`,
      scale: true,
      ...axisStyle(theme)
    },
    series: bestSoFarSeries(data, theme)
  };
}

/** Lines from worst (faint) to best (accent) by the first objective; faded ones grey. */
function lineColor(line: IParallelData['lines'][number], theme: IChartTheme): string {
  if (line.score === null) {
    return theme.faint;
  }
  return mixColor(
    theme.dark ? '#4a5a8a' : '#9ecae1',
    theme.dark ? '#ffb74d' : '#d94801',
    line.score
  );
}

/** Parallel coordinates of the params against the objectives, brushable on every axis. */
/** The parallel component: its box, and each axis's style and brush. */
function parallelBox(theme: IChartTheme): ParallelOption['parallel'] {
  const style = axisStyle(theme);
  return {
    left: 48,
    right: 72,
    top: 40,
    bottom: 28,
    parallelAxisDefault: {
      nameLocation: 'end',
      nameGap: 12,
      nameTextStyle: { color: theme.text },
      axisLine: style.axisLine,
      axisTick: style.axisTick,
      axisLabel: style.axisLabel,
      realtime: false,
      areaSelectStyle: {
        width: 16,
        borderWidth: 1,
        borderColor: theme.accent,
        color: theme.accent,
        opacity: 0.25
      }
    }
  };
}

/** Parallel coordinates of the params against the objectives, brushable on every axis. */
export function parallelOption(data: IParallelData, theme: IChartTheme): ParallelOption {
  return {
    ...base(theme),
    parallel: parallelBox(theme),
    parallelAxis: data.axes.map((axis, dim) => ({
      id: axisId(dim),
      dim,
      name: `${axis.name}${arrow(axis.objective)}`,
      type: axis.type,
      scale: axis.type === 'value',
      ...(axis.data ? { data: axis.data } : {}),
      ...(axis.integer ? { minInterval: 1 } : {})
    })),
    series: [
      {
        type: 'parallel',
        name: 'trials',
        smooth: false,
        inactiveOpacity: 0.04,
        activeOpacity: 0.9,
        lineStyle: { width: 1, opacity: 0.7 },
        emphasis: { disabled: true },
        data: data.lines.map(line => ({
          value: line.value,
          name: `#${line.number}`,
          lineStyle: {
            color: line.dimmed ? theme.faint : lineColor(line, theme),
            opacity: line.dimmed ? DIM_OPACITY : 0.75
          }
        }))
      }
    ]
  };
}

/** Horizontal bars of the params' importances, the most important on top. */
export function importanceOption(
  bars: { names: string[]; values: number[] },
  theme: IChartTheme
): CartesianOption {
  return {
    ...base(theme),
    grid: { left: 8, right: 48, top: 8, bottom: 24, containLabel: true },
    tooltip: { ...tooltipStyle(theme), trigger: 'axis', axisPointer: { type: 'shadow' } },
    xAxis: {
      type: 'value',
      name: 'importance',
      nameLocation: 'middle',
      nameGap: 20,
      ...axisStyle(theme)
    },
    yAxis: { type: 'category', data: bars.names, ...axisStyle(theme) },
    series: [
      {
        type: 'bar',
        name: 'importance',
        color: theme.accent,
        data: bars.values,
        label: {
          show: true,
          position: 'right',
          color: theme.muted,
          formatter: p => format(p.value)
        }
      }
    ]
  };
}
