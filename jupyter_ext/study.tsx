/**
 * The study view of a search's run group: best so far over trial number, parallel
 * coordinates of params against the objectives (brushing an axis filters the trials table
 * under it), Optuna's param importances, and the trials' metric curves. Live while trials run.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { CellfleetApi, LiveFeed } from './api';
import { ICurveRun, TOP_RUNS } from './chartdata';
import { LiveReload } from './live';
import type { IChartTheme } from './chartoptions';
import { EChart, MetricCurves, useChartTheme } from './charts';
import {
  AxisIntervals,
  axisIndex,
  bestSoFar,
  brushSelection,
  curveTrials,
  importanceBars,
  IParallelData,
  isDimmed,
  paretoFront,
  parallelData,
  tableTrials
} from './studydata';
import { bestSoFarOption, importanceOption, parallelOption } from './studyoptions';
import type { IStudy, MetricSeries } from './tokens';
import { TrialFilter, TrialsTable } from './trials';

/** What the study view shows: the study, and the objective curves of its trials. */
export interface IStudyData {
  study: IStudy;
  /** Run id → objective → points. */
  series: Record<string, MetricSeries>;
  /** Every trial, running ones first, then the best (the order the legend and colours follow). */
  curveIds: string[];
  /** Why the curves could not be loaded, when they could not. */
  curveError: string;
}

/** The study and the curves of every trial, fetched side by side. */
export async function loadStudy(api: CellfleetApi, groupId: string): Promise<IStudyData> {
  const [study, curves] = await Promise.all([
    api.study(groupId),
    api.studyCurves(groupId).catch((error: Error) => error)
  ]);
  const curveIds = curveTrials(study, study.trials.length);
  if (curves instanceof Error) {
    return { study, series: {}, curveIds, curveError: curves.message };
  }
  return { study, series: curves.series, curveIds, curveError: '' };
}

function Summary(props: { study: IStudy }): JSX.Element {
  const { study } = props;
  const counts = new Map<string, number>();
  study.trials.forEach(trial => counts.set(trial.status, (counts.get(trial.status) ?? 0) + 1));
  const objectives = study.objectives
    .map(objective => `${objective.metric} ${objective.direction === 'min' ? '↓' : '↑'}`)
    .join(', ');
  return (
    <header className="cf-study-head">
      <h2>{study.label || study.group_id}</h2>
      <p aria-live="polite">
        {study.study_name ? `Optuna study ${study.study_name} · ` : ''}
        {study.trials.length} trial{study.trials.length === 1 ? '' : 's'}
        {[...counts].map(([status, count]) => ` · ${count} ${status}`).join('')}
        {objectives ? ` · objective ${objectives}` : ''}
      </p>
    </header>
  );
}

function BestSoFarChart(props: {
  study: IStudy;
  front: Set<string> | null;
  theme: IChartTheme;
}): JSX.Element | null {
  const objective = props.study.objectives[0];
  const option = React.useMemo(() => {
    if (!objective) {
      return null;
    }
    const data = bestSoFar(props.study.trials, objective, props.front);
    return {
      data,
      option: bestSoFarOption(data, objective.metric, objective.direction, props.theme)
    };
  }, [props.study, props.front, props.theme, objective]);
  if (!option || !objective) {
    return null;
  }
  return (
    <EChart
      className="cf-chart-best"
      caption={`Best ${objective.metric} so far`}
      label={`${objective.metric} of ${option.data.points.length} finished trials and the best so far`}
      option={option.option}
      seriesKey={`${props.theme.name}|${objective.metric}`}
      seriesCount={3}
    />
  );
}

function Importances(props: { study: IStudy; theme: IChartTheme }): JSX.Element {
  const bars = React.useMemo(() => importanceBars(props.study.importances), [props.study]);
  const option = React.useMemo(() => importanceOption(bars, props.theme), [bars, props.theme]);
  if (!bars.names.length) {
    return (
      <figure className="cf-chart-note">
        <figcaption>Param importances</figcaption>
        <p className="cf-note">{props.study.importance_note || 'No importances yet.'}</p>
      </figure>
    );
  }
  return (
    <EChart
      className="cf-chart-importance"
      caption="Param importances"
      label={`importance of ${bars.names.length} params`}
      option={option}
      seriesKey={`${props.theme.name}|${bars.names.join(',')}`}
      seriesCount={1}
    />
  );
}

function parallelKey(data: IParallelData, theme: IChartTheme, resets: number): string {
  const axes = data.axes.map(axis => `${axis.name}:${axis.type}:${axis.data?.join('/') ?? ''}`);
  return [theme.name, resets, ...axes].join('|');
}

function ParallelChart(props: {
  data: IParallelData;
  theme: IChartTheme;
  resets: number;
  setIntervals: React.Dispatch<React.SetStateAction<AxisIntervals>>;
}): JSX.Element {
  const { data, theme, setIntervals } = props;
  const option = React.useMemo(() => parallelOption(data, theme), [data, theme]);
  const key = parallelKey(data, theme, props.resets);
  // A new set of axes replaces the chart, and with it the brushes.
  React.useEffect(() => setIntervals(old => (Object.keys(old).length ? {} : old)), [key]);
  const on = React.useMemo(
    () => ({
      axisareaselected: (params: unknown) => {
        const event = params as { parallelAxisId?: string; intervals?: Array<[number, number]> };
        const index = axisIndex(event.parallelAxisId);
        if (index !== null) {
          setIntervals(old => ({ ...old, [index]: event.intervals ?? [] }));
        }
      }
    }),
    [setIntervals]
  );
  return (
    <EChart
      className="cf-chart-parallel"
      caption="Params against the objective (drag along an axis to filter the trials)"
      label={`parallel coordinates of ${data.lines.length} trials over ${data.axes.length} axes`}
      option={option}
      seriesKey={key}
      seriesCount={1}
      on={on}
    />
  );
}

function curveNote(data: IStudyData): string {
  if (data.curveError) {
    return `⚠ The curves could not be loaded: ${data.curveError}`;
  }
  const shown = data.curveIds.length;
  const others = 'Other metrics: select trials in the table and compare them.';
  return shown > TOP_RUNS
    ? `The objectives of all ${shown} trials: the best ${TOP_RUNS} in colour, the rest one grey line. ${others}`
    : others;
}

function StudyCurves(props: { data: IStudyData; front: Set<string> | null }): JSX.Element {
  const { data } = props;
  const runs = React.useMemo<ICurveRun[]>(() => {
    const trials = new Map(data.study.trials.map(trial => [trial.run_id, trial]));
    return data.curveIds.flatMap(id => {
      const trial = trials.get(id);
      return trial
        ? [
            {
              id,
              label: `#${trial.number}`,
              start: trial.started,
              dimmed: isDimmed(trial, props.front)
            }
          ]
        : [];
    });
  }, [data, props.front]);
  const directions = React.useMemo(() => {
    const objectives = data.study.objectives.map(o => [o.metric, o.direction] as const);
    return Object.fromEntries(objectives);
  }, [data]);
  return (
    <MetricCurves runs={runs} series={data.series} directions={directions} note={curveNote(data)} />
  );
}

/** The whole study view for loaded data. */
export function StudyView(props: {
  data: IStudyData;
  compare?: (ids: string[]) => void;
}): JSX.Element {
  const { study } = props.data;
  const theme = useChartTheme();
  const [intervals, setIntervals] = React.useState<AxisIntervals>({});
  const [resets, setResets] = React.useState(0);
  const front = React.useMemo(
    () => (study.objectives.length > 1 ? paretoFront(study.trials, study.objectives) : null),
    [study]
  );
  const parallel = React.useMemo(() => parallelData(study, front), [study, front]);
  const kept = React.useMemo(() => brushSelection(parallel, intervals), [parallel, intervals]);
  const shown = React.useMemo(() => tableTrials(study, kept), [study, kept]);
  return (
    <div className="cf-study" aria-label={`study ${study.label || study.group_id}`}>
      <Summary study={study} />
      <div className="cf-charts">
        <BestSoFarChart study={study} front={front} theme={theme} />
        <Importances study={study} theme={theme} />
      </div>
      <ParallelChart data={parallel} theme={theme} resets={resets} setIntervals={setIntervals} />
      <TrialFilter
        shown={shown}
        total={study.trials.length}
        brushed={kept !== null}
        clear={() => setResets(n => n + 1)}
        compare={props.compare}
      />
      <TrialsTable study={study} trials={shown} front={front} />
      <StudyCurves data={props.data} front={front} />
    </div>
  );
}

/** The study view as a main-area widget, reloaded while the group's trials change. */
export class StudyWidget extends ReactWidget {
  constructor(
    api: CellfleetApi,
    feed: LiveFeed,
    readonly groupId: string,
    private readonly compare?: (ids: string[]) => void
  ) {
    super();
    this.addClass('cf-study-widget');
    this.title.label = `Study ${groupId}`;
    this.title.closable = true;
    this.live = new LiveReload(
      feed,
      () => loadStudy(api, groupId),
      changed => changed.some(run => run.group_id === groupId),
      (data, error) => {
        this.data = data ?? this.data;
        this.error = this.data ? '' : error;
        this.title.label = `Study ${this.data?.study.label || groupId}`;
        this.update();
      }
    );
    this.live.reload();
  }

  dispose(): void {
    this.live.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    if (this.error) {
      return <div className="cf-error">⚠ {this.error}</div>;
    }
    return this.data ? (
      <StudyView data={this.data} compare={this.compare} />
    ) : (
      <div className="cf-study-loading">loading study {this.groupId}…</div>
    );
  }

  private live: LiveReload<IStudyData>;
  private data: IStudyData | null = null;
  private error = '';
}
