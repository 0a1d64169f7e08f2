/**
 * Charts on Apache ECharts: a React wrapper around one chart instance, the theme it follows,
 * and the metric curves component (one chart per metric, a line per run).
 *
 * Why ECharts: its canvas renderer stays fast with tens of curves and 100k points, and it
 * has parallel coordinates with per-axis brushing built in. uPlot is faster still on lines
 * but has no parallel coordinates; Plotly is ~4 MB and slows down with hundreds of traces;
 * Vega is slow at 100k points. Only the parts drawn here are imported (tree-shaken).
 */
import { BarChart, LineChart, ParallelChart, ScatterChart } from 'echarts/charts';
import {
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  ParallelComponent,
  TitleComponent,
  TooltipComponent
} from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import * as React from 'react';

import {
  buildCurves,
  hasWallTime,
  ICurveRun,
  ICurveSettings,
  IMetricCurves,
  RawSeries,
  seriesCount,
  XAxisKind
} from './chartdata';
import { ChartOption, curvesOption, IChartTheme } from './chartoptions';
import type { Direction } from './tokens';

echarts.use([
  LineChart,
  BarChart,
  ScatterChart,
  ParallelChart,
  GridComponent,
  TooltipComponent,
  LegendComponent,
  DataZoomComponent,
  ParallelComponent,
  TitleComponent,
  CanvasRenderer
]);

export type Chart = echarts.EChartsType;

function cssVariable(style: CSSStyleDeclaration, name: string, fallback: string): string {
  return style.getPropertyValue(name).trim() || fallback;
}

/** The theme's colours now, from JupyterLab's CSS variables. */
export function readTheme(): IChartTheme {
  const style = getComputedStyle(document.body);
  const dark = document.body.dataset.jpThemeLight === 'false';
  const v = (name: string, fallback: string): string => cssVariable(style, name, fallback);
  return {
    name: `${document.body.dataset.jpThemeName ?? ''}:${dark ? 'dark' : 'light'}`,
    dark,
    font: v('--jp-ui-font-family', 'sans-serif'),
    text: v('--jp-ui-font-color1', dark ? '#e0e0e0' : '#212121'),
    muted: v('--jp-ui-font-color2', dark ? '#bdbdbd' : '#616161'),
    faint: v('--jp-ui-font-color3', dark ? '#9e9e9e' : '#9e9e9e'),
    background: v('--jp-layout-color1', dark ? '#111111' : '#ffffff'),
    border: v('--jp-border-color2', dark ? '#424242' : '#e0e0e0'),
    accent: v('--jp-brand-color1', '#1976d2')
  };
}

const themeListeners = new Set<() => void>();
let themeObserver: MutationObserver | null = null;

/** Call `listener` when JupyterLab switches theme (it marks the body once the CSS loaded). */
function onThemeChange(listener: () => void): () => void {
  themeListeners.add(listener);
  if (!themeObserver) {
    themeObserver = new MutationObserver(() => themeListeners.forEach(call => call()));
    themeObserver.observe(document.body, {
      attributes: true,
      attributeFilter: ['data-jp-theme-light', 'data-jp-theme-name']
    });
  }
  return () => {
    themeListeners.delete(listener);
    if (!themeListeners.size) {
      themeObserver?.disconnect();
      themeObserver = null;
    }
  };
}

/** The theme's chart colours, read again (and the charts redrawn) when the theme changes. */
export function useChartTheme(): IChartTheme {
  const [theme, setTheme] = React.useState(readTheme);
  React.useEffect(
    () => onThemeChange(() => requestAnimationFrame(() => setTheme(readTheme()))),
    []
  );
  return theme;
}

export interface IEChartProps {
  option: ChartOption;
  /**
   * Which series (and axes) the option draws: while it stays the same, new options merge
   * into the chart (new data, same instance); when it changes, the option replaces the old.
   */
  seriesKey: string;
  /** How many series it draws (the `data-series` attribute, for tests and benchmarks). */
  seriesCount: number;
  /** The chart's accessible name. */
  label: string;
  /** The axes' names (the `data-x-axis` / `data-y-axis` attributes; said in the label too). */
  axes?: { x: string; y: string };
  /** The legend's entries (the `data-legend` attribute, joined by ", "). */
  legend?: readonly string[];
  caption?: string;
  className?: string;
  /** ECharts events (`axisareaselected`, …) and what to do on each. */
  on?: Record<string, (params: unknown, chart: Chart) => void>;
}

/** An ECharts instance on `box`'s div: made on mount, resized with the div, disposed after. */
function useChartInstance(box: React.RefObject<HTMLDivElement>, onDispose: () => void) {
  const chart = React.useRef<Chart | null>(null);
  React.useEffect(() => {
    const instance = echarts.init(box.current!, undefined, { renderer: 'canvas' });
    chart.current = instance;
    // The first notification comes at once, for the size the chart was made at: skip it.
    const observer = new ResizeObserver(([entry]) => {
      const { width, height } = entry.contentRect;
      if (
        Math.round(width) !== instance.getWidth() ||
        Math.round(height) !== instance.getHeight()
      ) {
        instance.resize();
      }
    });
    observer.observe(box.current!);
    return () => {
      observer.disconnect();
      instance.dispose();
      chart.current = null;
      onDispose();
    };
  }, []);
  return chart;
}

/** Binds the `on` handlers' events once per set of names; calls the latest handlers. */
function useChartEvents(chart: React.RefObject<Chart | null>, on: IEChartProps['on']): void {
  const handlers = React.useRef(on);
  handlers.current = on;
  const events = Object.keys(on ?? {}).join(',');
  React.useEffect(() => {
    const instance = chart.current!;
    const bound = (events ? events.split(',') : []).map(name => {
      const handler = (params: unknown): void => handlers.current?.[name]?.(params, instance);
      instance.on(name, handler);
      return () => instance.off(name, handler);
    });
    return () => bound.forEach(unbind => unbind());
  }, [events]);
}

/**
 * One chart: new options merge into the same ECharts instance (new data, no re-creation);
 * an option with another series key replaces the old one (notMerge).
 */
export function EChart(props: IEChartProps): JSX.Element {
  const box = React.useRef<HTMLDivElement>(null);
  const drawnKey = React.useRef<string | null>(null);
  const chart = useChartInstance(box, () => (drawnKey.current = null));
  useChartEvents(chart, props.on);
  React.useEffect(() => {
    const notMerge = drawnKey.current !== props.seriesKey;
    drawnKey.current = props.seriesKey;
    chart.current!.setOption(props.option, { notMerge, lazyUpdate: true });
  }, [props.option, props.seriesKey]);
  // The canvas hides the axes and legend from the DOM: say them for screen readers and tests.
  const { axes, legend } = props;
  const label = axes ? `${props.label}; x axis ${axes.x}, y axis ${axes.y}` : props.label;
  return (
    <figure
      className={`cf-chart ${props.className ?? ''}`}
      data-series={props.seriesCount}
      data-x-axis={axes?.x}
      data-y-axis={axes?.y}
      data-legend={legend?.join(', ')}
    >
      {props.caption ? <figcaption>{props.caption}</figcaption> : null}
      <div ref={box} className="cf-chart-canvas" role="img" aria-label={label} />
    </figure>
  );
}

function CurveChart(props: {
  curves: IMetricCurves;
  settings: ICurveSettings;
  theme: IChartTheme;
  colorOf?: (id: string, index: number) => string;
}): JSX.Element {
  const { curves, settings, theme, colorOf } = props;
  const option = React.useMemo(
    () => curvesOption(curves, settings, theme, colorOf),
    [curves, settings, theme, colorOf]
  );
  const key = [
    theme.name,
    settings.x,
    settings.log,
    curves.backgroundRuns > 0,
    ...curves.lines.map(line => line.id)
  ].join('|');
  const runs = curves.lines.length + curves.backgroundRuns;
  const axisName = (axis: unknown): string => String((axis as { name?: string }).name ?? '');
  const axes = { x: axisName(option.xAxis), y: axisName(option.yAxis) };
  const legend = (option.series as Array<{ name?: string }>).map(series => String(series.name));
  return (
    <EChart
      option={option}
      seriesKey={key}
      seriesCount={seriesCount(curves)}
      caption={curves.metric}
      label={`${curves.metric} for ${runs} run${runs === 1 ? '' : 's'}`}
      axes={axes}
      legend={legend}
    />
  );
}

function Smoothing(props: { value: number; set: (weight: number) => void }): JSX.Element {
  return (
    <label>
      smoothing{' '}
      <input
        type="range"
        aria-label="smoothing"
        min={0}
        max={0.99}
        step={0.01}
        value={props.value}
        onChange={event => props.set(Number(event.target.value))}
      />{' '}
      <output>{props.value.toFixed(2)}</output>
    </label>
  );
}

function CurveControls(props: {
  x: XAxisKind;
  setX: (x: XAxisKind) => void;
  wallTime: boolean;
  log: boolean;
  setLog: (log: boolean) => void;
  smoothing: number;
  setSmoothing: (weight: number) => void;
}): JSX.Element {
  const noTimes = 'the server sent no logging times for these points';
  return (
    <div className="cf-curve-controls" role="group" aria-label="curve settings">
      <label>
        x{' '}
        <select
          aria-label="x axis"
          value={props.x}
          onChange={event => props.setX(event.target.value as XAxisKind)}
        >
          <option value="step">step</option>
          <option value="wall" disabled={!props.wallTime} title={props.wallTime ? '' : noTimes}>
            wall time
          </option>
        </select>
      </label>
      <label>
        <input
          type="checkbox"
          aria-label="log scale"
          checked={props.log}
          onChange={event => props.setLog(event.target.checked)}
        />{' '}
        log y
      </label>
      <Smoothing value={props.smoothing} set={props.setSmoothing} />
    </div>
  );
}

export interface IMetricCurvesProps {
  runs: ICurveRun[];
  /** Run id → metric → points. */
  series: Readonly<Record<string, RawSeries>>;
  /** Which way is better per metric: the best runs get their own legend series. */
  directions: Readonly<Record<string, Direction>>;
  colorOf?: (id: string, index: number) => string;
  /** Said above the charts (which runs the curves cover, say). */
  note?: string;
}

/**
 * Every metric's curves with shared settings: x as step or wall time, log y, smoothing.
 * The best TOP_RUNS runs per metric are legend series; the rest one dimmed background line.
 */
export function MetricCurves(props: IMetricCurvesProps): JSX.Element {
  const theme = useChartTheme();
  const [x, setX] = React.useState<XAxisKind>('step');
  const [log, setLog] = React.useState(false);
  const [smoothing, setSmoothing] = React.useState(0);
  const weight = React.useDeferredValue(smoothing);
  const wallTime = React.useMemo(() => hasWallTime(props.series), [props.series]);
  const settings = React.useMemo<ICurveSettings>(
    () => ({ x: wallTime ? x : 'step', log, smoothing: weight }),
    [x, wallTime, log, weight]
  );
  const curves = React.useMemo(
    () => buildCurves(props.runs, props.series, props.directions, settings),
    [props.runs, props.series, props.directions, settings]
  );
  return (
    <section className="cf-curves" aria-label="metric curves">
      <CurveControls
        x={settings.x}
        setX={setX}
        wallTime={wallTime}
        log={log}
        setLog={setLog}
        smoothing={smoothing}
        setSmoothing={setSmoothing}
      />
      {props.note ? <p className="cf-note">{props.note}</p> : null}
      <div className="cf-charts">
        {curves.length ? (
          curves.map(metric => (
            <CurveChart
              key={metric.metric}
              curves={metric}
              settings={settings}
              theme={theme}
              colorOf={props.colorOf}
            />
          ))
        ) : (
          <p className="cf-note">No metric points logged yet.</p>
        )}
      </div>
    </section>
  );
}
