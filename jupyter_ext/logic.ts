/**
 * The panel's pure logic: parameter diffs, choosing the best run, grouping, live merging,
 * row windowing and which columns fit (chart data lives in chartdata.ts and studydata.ts). No JupyterLab imports, so
 * jest tests it directly.
 */
import type { Direction, IRun, ParamValue } from './tokens';

/** One parameter across the compared runs. */
export interface IParamRow {
  name: string;
  values: Array<ParamValue | undefined>;
  differs: boolean;
}

/** Stable text of a parameter value, for comparing and showing. */
export function formatValue(value: ParamValue | undefined): string {
  if (value === undefined) {
    return '—';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Every parameter of the runs, in first-seen order, flagged where the runs disagree. */
export function paramDiff(runs: Pick<IRun, 'params'>[]): IParamRow[] {
  const names: string[] = [];
  for (const run of runs) {
    for (const name of Object.keys(run.params)) {
      if (!names.includes(name)) {
        names.push(name);
      }
    }
  }
  return names.map(name => {
    const values = runs.map(run => (name in run.params ? run.params[name] : undefined));
    const differs = new Set(values.map(value => formatValue(value))).size > 1;
    return { name, values, differs };
  });
}

/**
 * For each metric, the ids of the runs holding its best final value (ties all win). Which way
 * is better comes from the server (`directions`, decided where the notebook decides it);
 * a metric it does not name is taken as higher-is-better.
 */
export function bestRuns(
  finals: Record<string, Record<string, number>>,
  directions: Record<string, Direction>
): Record<string, string[]> {
  const direction = (metric: string): Direction => directions[metric] ?? 'max';
  const best: Record<string, { value: number; ids: string[] }> = {};
  for (const [runId, metrics] of Object.entries(finals)) {
    for (const [metric, value] of Object.entries(metrics)) {
      if (!Number.isFinite(value)) {
        continue;
      }
      const current = best[metric];
      const better = direction(metric) === 'min' ? value < current?.value : value > current?.value;
      if (!current || better) {
        best[metric] = { value, ids: [runId] };
      } else if (value === current.value) {
        current.ids.push(runId);
      }
    }
  }
  return Object.fromEntries(Object.entries(best).map(([metric, entry]) => [metric, entry.ids]));
}

/** Names of the metrics of several runs, sorted. */
export function metricNames(finals: Record<string, Record<string, number>>): string[] {
  const names = new Set<string>();
  Object.values(finals).forEach(metrics => Object.keys(metrics).forEach(name => names.add(name)));
  return [...names].sort();
}

export interface ICellGroup {
  cell: string;
  runs: IRun[];
  running: number;
  /** The run groups of its search trials (each one study), newest first. */
  studies: string[];
}

/** Runs grouped by cell, groups in the order their first run appears. */
export function groupByCell(runs: IRun[]): ICellGroup[] {
  const groups = new Map<string, ICellGroup>();
  const newest = new Map<string, number>();
  for (const run of runs) {
    const cell = run.cell_name || '(unnamed cell)';
    const group = groups.get(cell) ?? { cell, runs: [], running: 0, studies: [] };
    group.runs.push(run);
    group.running += isActive(run) ? 1 : 0;
    if (run.kind === 'trial' && run.group_id) {
      if (!newest.has(run.group_id)) {
        group.studies.push(run.group_id);
      }
      newest.set(run.group_id, Math.max(newest.get(run.group_id) ?? 0, run.created));
    }
    groups.set(cell, group);
  }
  for (const group of groups.values()) {
    group.studies.sort((a, b) => (newest.get(b) ?? 0) - (newest.get(a) ?? 0));
  }
  return [...groups.values()];
}

/**
 * Which param and metric columns to show in `slots` places: all when they fit; else the
 * metrics get up to half (they are what runs are compared by), the params the rest, and
 * either takes the places the other leaves. Each keeps its order.
 */
export function pickColumns(
  params: string[],
  metrics: string[],
  slots: number
): { params: string[]; metrics: string[]; hidden: number } {
  const room = Math.max(0, slots);
  const metricShare = Math.min(metrics.length, Math.max(room - params.length, Math.ceil(room / 2)));
  const paramShare = Math.min(params.length, room - metricShare);
  const shownMetrics = Math.min(metrics.length, room - paramShare);
  return {
    params: params.slice(0, paramShare),
    metrics: metrics.slice(0, shownMetrics),
    hidden: params.length - paramShare + metrics.length - shownMetrics
  };
}

/** Whether a run is queued or running. */
export function isActive(run: Pick<IRun, 'status'>): boolean {
  return run.status === 'running' || run.status === 'queued';
}

/**
 * Rows after a change feed message: known runs are updated (keeping their final metrics
 * unless the change brings some) or dropped when they no longer `accept`; new runs that
 * `accept` are put first when `insertNew` (the table is newest first), else left for the
 * next page fetch. Returns the rows and how many were added and removed.
 */
export function mergeChanges(
  rows: IRun[],
  changed: IRun[],
  accept: (run: IRun) => boolean,
  insertNew = true
): { rows: IRun[]; added: number; removed: number } {
  const updates = new Map(changed.map(run => [run.id, run]));
  const known = new Set(rows.map(run => run.id));
  const kept: IRun[] = [];
  for (const row of rows) {
    const run = updates.get(row.id);
    if (!run) {
      kept.push(row);
    } else if (accept(run)) {
      kept.push({ ...row, ...run, final_metrics: run.final_metrics ?? row.final_metrics });
    }
  }
  const fresh = insertNew ? changed.filter(run => !known.has(run.id) && accept(run)) : [];
  fresh.sort((a, b) => b.created - a.created);
  return { rows: [...fresh, ...kept], added: fresh.length, removed: rows.length - kept.length };
}

/** Rows after a fresh first page: the page, then the rows loaded beyond it that it lacks. */
export function replaceHead(rows: IRun[], page: IRun[]): IRun[] {
  const ids = new Set(page.map(run => run.id));
  return [...page, ...rows.slice(page.length).filter(run => !ids.has(run.id))];
}

/** Counts for the status bar: running remote cells and running variants (search trials included). */
export function activeCounts(runs: IRun[]): { cells: number; variants: number } {
  const active = runs.filter(isActive);
  const variants = active.filter(run => run.kind === 'variant' || run.kind === 'trial').length;
  return { cells: active.length - variants, variants };
}

/** The rows to render for a scroll position: [start, end) with `overscan` rows either side. */
export function visibleWindow(
  scrollTop: number,
  viewport: number,
  rowHeight: number,
  total: number,
  overscan = 8
): { start: number; end: number } {
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const count = Math.ceil(viewport / rowHeight);
  return {
    start: Math.max(0, first - overscan),
    end: Math.min(total, first + count + overscan)
  };
}

/** Whether a run matches a free-text filter: `name=value` on params, or text anywhere. */
export function matchesFilter(run: IRun, filter: string): boolean {
  const text = filter.trim().toLowerCase();
  if (!text) {
    return true;
  }
  const pair = /^([\w.]+)\s*=\s*(.+)$/.exec(text);
  if (pair) {
    const value = run.params[pair[1]] ?? run.final_metrics?.[pair[1]];
    return value !== undefined && formatValue(value).toLowerCase() === pair[2].trim();
  }
  const haystack = [run.id, run.status, run.cell_name, run.kind, JSON.stringify(run.params)];
  return haystack.join(' ').toLowerCase().includes(text);
}

/** Seconds as a short duration: 850ms, 12.3s, 4m 05s, 2h 10m. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return '—';
  }
  if (seconds < 1) {
    return `${Math.round(seconds * 1000)}ms`;
  }
  if (seconds < 60) {
    return `${seconds.toFixed(1)}s`;
  }
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)}m ${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
  }
  return `${Math.floor(seconds / 3600)}h ${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/** A run's duration in seconds, or null while it runs. */
export function runDuration(run: Pick<IRun, 'created' | 'started' | 'ended'>): number | null {
  const start = run.started ?? run.created;
  return run.ended && start ? run.ended - start : null;
}
