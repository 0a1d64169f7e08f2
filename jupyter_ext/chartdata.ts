/**
 * The metric curves' data shaping, as pure functions (no ECharts, no JupyterLab, so jest tests
 * them directly): points to x/y pairs (step or wall time), TensorBoard's exponential moving
 * average, log-safety, downsampling, ranking runs by their final value, and the split into
 * the best runs' own series and one background series for the rest.
 */
import type { Direction } from './tokens';

/** A point as the server sends it: [step or null, value], maybe with its logging time (s). */
export type RawPoint = readonly [number | null, number, number?];

/** A run's metrics: name → points in logging order. */
export type RawSeries = Readonly<Record<string, ReadonlyArray<RawPoint>>>;

/** One drawn point; a `null` y (or a NaN pair) breaks the line there. */
export type XY = [number, number | null];

/** What separates two runs inside the background series: ECharts breaks a line at it. */
export const GAP: XY = [NaN, NaN];

/** How many runs get their own series (and legend entry); the rest share the background. */
export const TOP_RUNS = 20;

/** Points kept per legend series, and across the whole background series. */
export const LINE_POINTS = 2000;
export const BACKGROUND_POINTS = 200_000;

export type XAxisKind = 'step' | 'wall';

export interface ICurveSettings {
  x: XAxisKind;
  /** 0 (none) to 0.99: the weight of the past in the moving average. */
  smoothing: number;
  log: boolean;
  /** How many runs get their own series; TOP_RUNS unless told. */
  top?: number;
}

/** A run as the curves need it. */
export interface ICurveRun {
  id: string;
  /** The legend name; unique among the runs. */
  label: string;
  /** When the run started (epoch seconds): wall-time x counts from it. */
  start: number | null;
  /** Drawn faded: a pruned trial, or one off the Pareto front. */
  dimmed?: boolean;
}

export interface ICurveLine {
  id: string;
  label: string;
  dimmed: boolean;
  data: XY[];
}

/** One metric's chart: the best runs' lines, then the others as one gapped series. */
export interface IMetricCurves {
  metric: string;
  lines: ICurveLine[];
  background: XY[];
  /** How many runs the background series holds. */
  backgroundRuns: number;
}

/** Whether any point carries its logging time (so wall-time x can be drawn). */
export function hasWallTime(series: Readonly<Record<string, RawSeries>>): boolean {
  for (const metrics of Object.values(series)) {
    for (const points of Object.values(metrics)) {
      if (points.some(point => Number.isFinite(point[2]))) {
        return true;
      }
    }
  }
  return false;
}

/**
 * The points as x/y pairs: x is the step (the point's index when it has none), or the
 * seconds since `start` (the first logged point's time when the run's start is unknown);
 * non-finite values and, for wall time, points without a time are left out.
 */
export function toXY(points: ReadonlyArray<RawPoint>, x: XAxisKind, start: number | null): XY[] {
  const out: XY[] = [];
  let origin = start;
  points.forEach((point, index) => {
    const value = point[1];
    if (!Number.isFinite(value)) {
      return;
    }
    if (x === 'step') {
      out.push([point[0] ?? index, value]);
      return;
    }
    const logged = point[2];
    if (logged === undefined || !Number.isFinite(logged)) {
      return;
    }
    origin ??= logged;
    out.push([logged - origin, value]);
  });
  return out;
}

/**
 * TensorBoard's smoothing: an exponential moving average with weight `weight` on the past,
 * debiased so the first points are not pulled toward zero. Gaps (null y) pass through.
 */
export function smooth(data: ReadonlyArray<XY>, weight: number): XY[] {
  const w = Math.min(Math.max(weight, 0), 0.999);
  if (w === 0) {
    return data.slice();
  }
  let last = 0;
  let count = 0;
  return data.map(([x, y]) => {
    if (y === null || !Number.isFinite(y)) {
      return [x, y];
    }
    last = last * w + (1 - w) * y;
    count += 1;
    return [x, last / (1 - w ** count)];
  });
}

/** For a log axis: values ≤ 0 (which it cannot place) become gaps. */
export function logSafe(data: ReadonlyArray<XY>): XY[] {
  return data.map(([x, y]) => (y !== null && y <= 0 ? [x, null] : [x, y]));
}

/** Keep at most `limit` points: evenly strided, always keeping the first and last. */
export function downsample<T>(points: ReadonlyArray<T>, limit: number): T[] {
  if (points.length <= limit || limit < 2) {
    return points.slice();
  }
  const stride = (points.length - 1) / (limit - 1);
  return Array.from({ length: limit }, (_, i) => points[Math.round(i * stride)]);
}

/** The last finite value of a run's points, or null. */
export function finalValue(data: ReadonlyArray<XY>): number | null {
  for (let i = data.length - 1; i >= 0; i--) {
    const y = data[i][1];
    if (y !== null && Number.isFinite(y)) {
      return y;
    }
  }
  return null;
}

/**
 * Indices of `values` best first (`min`: lowest first); nulls last; ties keep their order.
 */
export function rankOrder(values: ReadonlyArray<number | null>, direction: Direction): number[] {
  const sign = direction === 'min' ? 1 : -1;
  return values
    .map((value, index) => ({ value, index }))
    .sort((a, b) => {
      if (a.value === null || b.value === null) {
        return (a.value === null ? 1 : 0) - (b.value === null ? 1 : 0);
      }
      return sign * (a.value - b.value) || a.index - b.index;
    })
    .map(entry => entry.index);
}

/** The runs' lines joined into one series, a GAP between two runs. */
export function joinWithGaps(lines: ReadonlyArray<ReadonlyArray<XY>>): XY[] {
  const out: XY[] = [];
  for (const line of lines) {
    if (!line.length) {
      continue;
    }
    if (out.length) {
      out.push(GAP);
    }
    for (const point of line) {
      out.push(point);
    }
  }
  return out;
}

/** Every metric name of the runs, sorted. */
export function curveMetrics(series: Readonly<Record<string, RawSeries>>): string[] {
  const names = new Set<string>();
  Object.values(series).forEach(metrics => Object.keys(metrics).forEach(name => names.add(name)));
  return [...names].sort();
}

interface IShaped {
  run: ICurveRun;
  raw: XY[];
}

function shapeLine(raw: XY[], settings: ICurveSettings, limit: number): XY[] {
  const smoothed = smooth(raw, settings.smoothing);
  const kept = downsample(smoothed, limit);
  return settings.log ? logSafe(kept) : kept;
}

/**
 * One metric's curves: the `top` runs best by their final raw value (per `direction`) get
 * their own lines, in rank order; the rest are joined into the background series, each
 * thinned so the background holds at most BACKGROUND_POINTS points. Linear in the points.
 */
export function metricCurves(
  metric: string,
  runs: ReadonlyArray<ICurveRun>,
  series: Readonly<Record<string, RawSeries>>,
  direction: Direction,
  settings: ICurveSettings
): IMetricCurves {
  const shaped: IShaped[] = [];
  for (const run of runs) {
    const raw = toXY(series[run.id]?.[metric] ?? [], settings.x, run.start);
    if (raw.length) {
      shaped.push({ run, raw });
    }
  }
  const order = rankOrder(
    shaped.map(entry => finalValue(entry.raw)),
    direction
  );
  const top = Math.min(settings.top ?? TOP_RUNS, TOP_RUNS);
  const lines = order.slice(0, top).map(index => {
    const { run, raw } = shaped[index];
    return {
      id: run.id,
      label: run.label,
      dimmed: Boolean(run.dimmed),
      data: shapeLine(raw, settings, LINE_POINTS)
    };
  });
  const rest = order.slice(top);
  const perRun = Math.max(16, Math.floor(BACKGROUND_POINTS / Math.max(rest.length, 1)));
  const background = joinWithGaps(
    rest.map(index => shapeLine(shaped[index].raw, settings, perRun))
  );
  return { metric, lines, background, backgroundRuns: rest.length };
}

/** Every metric's curves; a metric without a direction is taken as higher-is-better. */
export function buildCurves(
  runs: ReadonlyArray<ICurveRun>,
  series: Readonly<Record<string, RawSeries>>,
  directions: Readonly<Record<string, Direction>>,
  settings: ICurveSettings
): IMetricCurves[] {
  return curveMetrics(series)
    .map(metric => metricCurves(metric, runs, series, directions[metric] ?? 'max', settings))
    .filter(curves => curves.lines.length > 0);
}

/** How many series a metric's chart draws: its lines, and the background when it has runs. */
export function seriesCount(curves: IMetricCurves): number {
  return curves.lines.length + (curves.backgroundRuns ? 1 : 0);
}
