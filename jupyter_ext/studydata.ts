/**
 * The study view's data shaping, as pure functions: best-so-far over trial number, the
 * Pareto front of a multi-objective search, the parallel-coordinates axes and lines, which
 * trials an axis brush keeps, the importance bars, and which trials' curves to fetch.
 */
import type {
  Direction,
  IParamImportance,
  IStudy,
  IStudyObjective,
  IStudyParam,
  IStudyTrial
} from './tokens';

/** A trial that has finished: it has a final objective value (pruned ones may too). */
export function isFinished(trial: Pick<IStudyTrial, 'status'>): boolean {
  return trial.status !== 'running' && trial.status !== 'queued';
}

/** The trial's value of `metric` when it is a finite number, else null. */
export function valueOf(trial: Pick<IStudyTrial, 'values'>, metric: string): number | null {
  const value = trial.values[metric];
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Whether `a` is strictly better than `b` for `direction`. */
export function isBetter(direction: Direction, a: number, b: number): boolean {
  return direction === 'min' ? a < b : a > b;
}

/** Whether trial values `a` dominate `b`: no worse in every objective, better in one. */
function dominates(a: number[], b: number[], objectives: IStudyObjective[]): boolean {
  let strictly = false;
  for (let i = 0; i < objectives.length; i++) {
    if (isBetter(objectives[i].direction, b[i], a[i])) {
      return false;
    }
    strictly ||= isBetter(objectives[i].direction, a[i], b[i]);
  }
  return strictly;
}

/**
 * The run ids of the succeeded trials no other succeeded trial dominates (every trial of a
 * single-objective search that ties for best). Work grows with trials × front size.
 */
export function paretoFront(trials: IStudyTrial[], objectives: IStudyObjective[]): Set<string> {
  const front: Array<{ id: string; values: number[] }> = [];
  for (const trial of trials) {
    const values = objectives.map(objective => valueOf(trial, objective.metric));
    if (trial.status !== 'succeeded' || !objectives.length || values.some(v => v === null)) {
      continue;
    }
    const candidate = { id: trial.run_id, values: values as number[] };
    if (front.some(member => dominates(member.values, candidate.values, objectives))) {
      continue;
    }
    const kept = front.filter(member => !dominates(candidate.values, member.values, objectives));
    front.length = 0;
    front.push(...kept, candidate);
  }
  return new Set(front.map(member => member.id));
}

/** Whether a trial is drawn faded: pruned or failed, or (several objectives) off the front. */
export function isDimmed(trial: IStudyTrial, front: Set<string> | null): boolean {
  if (trial.status === 'pruned' || trial.status === 'failed') {
    return true;
  }
  return front !== null && trial.status === 'succeeded' && !front.has(trial.run_id);
}

export interface ITrialPoint {
  runId: string;
  number: number;
  value: number;
  status: string;
  dimmed: boolean;
}

export interface IBestSoFar {
  /** Every finished trial with a value, by trial number. */
  points: ITrialPoint[];
  /** The best succeeded value so far, at each trial number it changes or ends (a step line). */
  best: Array<[number, number]>;
}

/** Trials by number (a copy). */
export function byNumber(trials: IStudyTrial[]): IStudyTrial[] {
  return trials.slice().sort((a, b) => a.number - b.number);
}

/** The best-so-far chart of one objective; pruned trials show but never count as best. */
export function bestSoFar(
  trials: IStudyTrial[],
  objective: IStudyObjective,
  front: Set<string> | null = null
): IBestSoFar {
  const points: ITrialPoint[] = [];
  const best: Array<[number, number]> = [];
  let current: number | null = null;
  for (const trial of byNumber(trials)) {
    const value = valueOf(trial, objective.metric);
    if (!isFinished(trial) || value === null) {
      continue;
    }
    const dimmed = isDimmed(trial, front);
    points.push({ runId: trial.run_id, number: trial.number, value, status: trial.status, dimmed });
    if (
      trial.status === 'succeeded' &&
      (current === null || isBetter(objective.direction, value, current))
    ) {
      current = value;
      best.push([trial.number, value]);
    }
  }
  const last = points[points.length - 1];
  if (current !== null && last && best[best.length - 1][0] !== last.number) {
    best.push([last.number, current]);
  }
  return { points, best };
}

export type AxisType = 'value' | 'log' | 'category';

export interface IParallelAxis {
  name: string;
  type: AxisType;
  /** A category axis's values, as text, in order. */
  data?: string[];
  /** Ints get integer ticks. */
  integer: boolean;
  objective?: Direction;
}

export interface IParallelLine {
  runId: string;
  number: number;
  /** One entry per axis: a number, a category's text, or null where the trial has none. */
  value: Array<number | string | null>;
  dimmed: boolean;
  /** Its first objective's rank in 0 (worst) … 1 (best); null when it has no value. */
  score: number | null;
}

export interface IParallelData {
  axes: IParallelAxis[];
  lines: IParallelLine[];
}

function categoryAxis(param: IStudyParam, trials: IStudyTrial[]): IParallelAxis {
  const data = (param.choices ?? []).map(String);
  const known = new Set(data);
  for (const trial of trials) {
    const value = trial.params[param.name];
    if (value !== null && value !== undefined && !known.has(String(value))) {
      known.add(String(value));
      data.push(String(value));
    }
  }
  return { name: param.name, type: 'category', data, integer: false };
}

function paramAxis(param: IStudyParam, trials: IStudyTrial[]): IParallelAxis {
  if (param.kind === 'categorical') {
    return categoryAxis(param, trials);
  }
  return { name: param.name, type: param.log ? 'log' : 'value', integer: param.kind === 'int' };
}

function axisValue(axis: IParallelAxis, value: unknown): number | string | null {
  if (value === null || value === undefined) {
    return null;
  }
  if (axis.type === 'category') {
    return String(value);
  }
  const number = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(number) || (axis.type === 'log' && number <= 0)) {
    return null;
  }
  return number;
}

/** Each trial's rank score by its first objective (1 best, 0 worst), by run id. */
export function scores(trials: IStudyTrial[], objective: IStudyObjective | undefined) {
  const out = new Map<string, number>();
  if (!objective) {
    return out;
  }
  const valued = trials
    .map(trial => ({ id: trial.run_id, value: valueOf(trial, objective.metric) }))
    .filter((entry): entry is { id: string; value: number } => entry.value !== null)
    .sort((a, b) => (objective.direction === 'min' ? b.value - a.value : a.value - b.value));
  valued.forEach((entry, i) => out.set(entry.id, valued.length > 1 ? i / (valued.length - 1) : 1));
  return out;
}

/** The parallel-coordinates plot: an axis per param, then per objective; a line per trial. */
export function parallelData(study: IStudy, front: Set<string> | null = null): IParallelData {
  const axes: IParallelAxis[] = [
    ...study.params.map(param => paramAxis(param, study.trials)),
    ...study.objectives.map(objective => ({
      name: objective.metric,
      type: 'value' as const,
      integer: false,
      objective: objective.direction
    }))
  ];
  const rank = scores(study.trials, study.objectives[0]);
  const lines = byNumber(study.trials).map(trial => ({
    runId: trial.run_id,
    number: trial.number,
    value: axes.map((axis, i) =>
      axisValue(axis, i < study.params.length ? trial.params[axis.name] : trial.values[axis.name])
    ),
    dimmed: isDimmed(trial, front),
    score: rank.get(trial.run_id) ?? null
  }));
  return { axes, lines };
}

/** Brushed ranges by axis index, as ECharts reports them (category axes: by index). */
export type AxisIntervals = Readonly<Record<number, ReadonlyArray<readonly [number, number]>>>;

function inIntervals(value: number, intervals: ReadonlyArray<readonly [number, number]>) {
  return intervals.some(([a, b]) => Math.min(a, b) <= value && value <= Math.max(a, b));
}

/**
 * The run ids a brush keeps: a line must lie inside one of the ranges of every brushed axis
 * (a trial with no value on a brushed axis is left out). Null when nothing is brushed.
 */
export function brushSelection(data: IParallelData, intervals: AxisIntervals): Set<string> | null {
  const brushed = Object.entries(intervals)
    .map(([index, ranges]) => ({ index: Number(index), ranges }))
    .filter(entry => entry.ranges.length && data.axes[entry.index]);
  if (!brushed.length) {
    return null;
  }
  const kept = new Set<string>();
  for (const line of data.lines) {
    const inside = brushed.every(({ index, ranges }) => {
      const value = line.value[index];
      const axis = data.axes[index];
      const position = axis.type === 'category' ? (axis.data ?? []).indexOf(String(value)) : value;
      return (
        value !== null &&
        typeof position === 'number' &&
        position >= 0 &&
        inIntervals(position, ranges)
      );
    });
    if (inside) {
      kept.add(line.runId);
    }
  }
  return kept;
}

/** The axis id given to ECharts, and back (null for an id that is not one of ours). */
export const axisId = (index: number): string => `axis-${index}`;
export function axisIndex(id: unknown): number | null {
  const match = typeof id === 'string' ? /^axis-(\d+)$/.exec(id) : null;
  return match ? Number(match[1]) : null;
}

/** Bars for a horizontal chart: the least important first, so the most important is on top. */
export function importanceBars(importances: IParamImportance[]): {
  names: string[];
  values: number[];
} {
  const sorted = importances
    .filter(entry => Number.isFinite(entry.importance))
    .sort((a, b) => a.importance - b.importance);
  return { names: sorted.map(entry => entry.param), values: sorted.map(entry => entry.importance) };
}

/**
 * The trials for the table: best first by the first objective, then those without a value,
 * newest first; only those `keep` holds when it is given.
 */
export function tableTrials(study: IStudy, keep: Set<string> | null): IStudyTrial[] {
  const objective = study.objectives[0];
  const trials = keep ? study.trials.filter(trial => keep.has(trial.run_id)) : study.trials.slice();
  return trials.sort((a, b) => {
    const [x, y] = objective
      ? [valueOf(a, objective.metric), valueOf(b, objective.metric)]
      : [null, null];
    if (x === null || y === null) {
      return (x === null ? 1 : 0) - (y === null ? 1 : 0) || b.number - a.number;
    }
    return (objective.direction === 'min' ? x - y : y - x) || a.number - b.number;
  });
}

/**
 * Whose curves to fetch when at most `cap` fit: the running trials (newest first), then the
 * best by the first objective, then the rest, newest first.
 */
export function curveTrials(study: IStudy, cap: number): string[] {
  const running = byNumber(study.trials)
    .filter(trial => !isFinished(trial))
    .reverse();
  const finished = tableTrials(study, null).filter(trial => isFinished(trial));
  return [...running, ...finished].slice(0, cap).map(trial => trial.run_id);
}

/** A colour between `from` (t = 0) and `to` (t = 1), both `#rrggbb`. */
export function mixColor(from: string, to: string, t: number): string {
  const clamp = Math.min(Math.max(t, 0), 1);
  const channel = (hex: string, i: number): number => parseInt(hex.slice(1 + 2 * i, 3 + 2 * i), 16);
  const mixed = [0, 1, 2].map(i =>
    Math.round(channel(from, i) + (channel(to, i) - channel(from, i)) * clamp)
  );
  return `#${mixed.map(value => value.toString(16).padStart(2, '0')).join('')}`;
}
