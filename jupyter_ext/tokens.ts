/** Command ids and the shapes the server API returns (see cellfleet.handlers). */

export namespace CommandIDs {
  export const openPanel = 'cellfleet:open-experiments';
  export const compare = 'cellfleet:compare-runs';
  export const adopt = 'cellfleet:adopt-run';
  export const promote = 'cellfleet:promote';
  export const openOutput = 'cellfleet:open-output';
  /** Args `{ groupId }`: the study view of a search's run group. */
  export const study = 'cellfleet:open-study';
  /** The runs table at full width in the main area. */
  export const openRunsMain = 'cellfleet:open-runs-main';
}

/**
 * The states of a run, in the order the Python enum `cellfleet.protocol.RunStatus` lists
 * them (a test compares the two).
 */
export const RUN_STATUSES = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'timed_out',
  'interrupted',
  'skipped',
  'pruned'
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Where a run comes from (`cellfleet.protocol.RunKind`). */
export const RUN_KINDS = ['interactive', 'variant', 'production', 'trial'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

/** A scheduled occurrence of a job (`cellfleet.protocol.OccurrenceState`). */
export const OCCURRENCE_STATES = [
  'queued',
  'running',
  'done',
  'failed',
  'cancelled',
  'skipped'
] as const;
export type OccurrenceState = (typeof OCCURRENCE_STATES)[number];

/** Whether a job's schedule fires (`cellfleet.protocol.JobState`). */
export const JOB_STATES = ['active', 'paused', 'broken'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** A job's policies (`cellfleet.protocol.Overlap`, `Catchup`, `NotifyOn`). */
export const OVERLAP_POLICIES = ['skip', 'queue', 'allow'] as const;
export const CATCHUP_POLICIES = ['none', 'latest', 'all'] as const;
export const NOTIFY_ON = ['failure', 'all'] as const;

export type ParamValue =
  string | number | boolean | null | ParamValue[] | { [key: string]: ParamValue };

/** A run as listed: its params and final metrics. */
export interface IRun {
  id: string;
  notebook: string;
  cell_name: string;
  kind: RunKind;
  status: RunStatus;
  params: Record<string, ParamValue>;
  group_id: string | null;
  variant: number | null;
  created: number;
  started: number | null;
  ended: number | null;
  worker: string | null;
  gpu: string | null;
  error: string | null;
  /** Why it failed (`cellfleet.protocol.FailureClass`): user, oom, worker_lost, ...; null otherwise. */
  failure_class?: string | null;
  job_id: string | null;
  output_path: string | null;
  /** The executed notebook's path inside the server root, when it lies there. */
  output_notebook?: string | null;
  output?: string;
  final_metrics?: Record<string, number>;
  /** The run of the `--after` job that started this production run. */
  upstream_run_id?: string | null;
  /** How its environment differs from the promoted experiment's (`numpy 2.1.0 -> 2.2.0`). */
  environment_warning?: string | null;
}

export interface IRunPage {
  runs: IRun[];
  total: number;
  limit: number;
  offset: number;
}

/** A metric's points: [step (or null), value]. */
export type MetricSeries = Record<string, Array<[number | null, number]>>;

export interface IArtifact {
  id: number;
  name: string;
  media_type: string;
  size: number;
}

export interface IRunDetail {
  run: IRun;
  metrics: MetricSeries;
  artifacts: IArtifact[];
}

/** Which way is better for a metric (`cellfleet.protocol.Direction`). */
export const DIRECTIONS = ['min', 'max'] as const;
export type Direction = (typeof DIRECTIONS)[number];

export interface ICompareResult {
  runs: IRun[];
  final_metrics: Record<string, Record<string, number>>;
  series: Record<string, MetricSeries>;
  /** Which way is better for each metric, as the notebook's table decides it. */
  directions: Record<string, Direction>;
}

export interface IJob {
  id: string;
  name: string;
  notebook: string;
  params: Record<string, ParamValue>;
  schedule: string | null;
  retries: number;
  /** Which failures the retries retry. */
  retry_on?: 'infra' | 'all';
  /** Bounds on each production run's final metrics, like `val_loss<0.2`. */
  expect?: string[];
  /** The job whose every successful run starts this one (then `schedule` is null). */
  after?: string | null;
  timeout: number | null;
  paused: boolean;
  created: number;
  /** `broken` when its schedule cannot give a next time; `problem` then says why. */
  state: JobState;
  problem: string | null;
  next_run?: number | null;
  last_run?: {
    id: string;
    status: RunStatus;
    failure_class?: string | null;
    created: number;
    ended: number | null;
  } | null;
}

export interface IJobDetail {
  job: IJob;
  /** Newest first, each with its `final_metrics`. */
  runs: IRun[];
  /** The experiment run the job was promoted from (with its `final_metrics`), if any. */
  source?: IRun | null;
}

/** What the promote dialog sends to POST jobs. */
export interface IPromoteRequest {
  notebook: string;
  name?: string;
  cron?: string;
  every?: string;
  params?: Record<string, ParamValue>;
  retries?: number;
  timeout?: string;
  notify?: string;
  from_run?: string;
  /** The job whose every successful run starts this one (instead of a schedule). */
  after?: string;
  retry_on?: 'infra' | 'all';
  /** Bounds on the final metrics, like `val_loss<0.2`. */
  expect?: string[];
}

/** Query of the runs list. */
export interface IRunQuery {
  notebook?: string;
  cell?: string;
  kind?: string;
  status?: string;
  sort?: string;
  limit?: number;
  offset?: number;
}

/** A value a categorical search parameter can take. */
export type ChoiceValue = string | number | boolean;

/** One objective of a search: a metric and which way is better. */
export interface IStudyObjective {
  metric: string;
  direction: Direction;
}

/** One searched parameter: its kind, whether it is sampled on a log scale, its choices. */
export interface IStudyParam {
  name: string;
  kind: 'float' | 'int' | 'categorical';
  log: boolean;
  choices: ChoiceValue[] | null;
}

/** One trial of a search: a run with its trial number, sampled params and objective values. */
export interface IStudyTrial {
  run_id: string;
  number: number;
  status: RunStatus;
  params: Record<string, ChoiceValue | null>;
  /** Objective metric → its value (null while running, or when the trial gave none). */
  values: Record<string, number | null>;
  last_step: number | null;
  started: number | null;
  ended: number | null;
}

/** How much a parameter mattered to the objective (Optuna's importance evaluator). */
export interface IParamImportance {
  param: string;
  importance: number;
}

/** `GET studies/GROUP_ID`: a search's run group as a study. */
export interface IStudy {
  group_id: string;
  label: string;
  study_name: string | null;
  objectives: IStudyObjective[];
  params: IStudyParam[];
  trials: IStudyTrial[];
  /** Most important first; empty when they could not be computed (`importance_note` says why). */
  importances: IParamImportance[];
  importance_note: string | null;
}

/** `GET studies/<group>/curves`: every point of each objective, for the study's trials. */
export interface IStudyCurves {
  objectives: string[];
  /** Run id → objective → points. */
  series: Record<string, MetricSeries>;
}

/** `GET cluster`: the project's warm shared cluster (`cellfleet cluster start`), from its record. */
export interface ICluster {
  running: boolean;
  /** Why a recorded cluster cannot be used (its process is gone), else null. */
  problem: string | null;
  /** The command that starts one. */
  start: string;
  address?: string;
  dashboard?: string | null;
  kind?: string;
  pid?: number;
  /** Seconds since it came up. */
  uptime?: number;
  workers?: number;
  gpus?: number;
  /** All workers' memory limit, bytes. */
  memory?: number;
  memory_per_worker?: number;
  preload?: string[];
  /** Asked of the scheduler now; null when it did not answer. */
  live?: { workers: number; processing: number } | null;
}
