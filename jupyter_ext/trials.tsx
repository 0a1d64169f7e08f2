/** The study view's trials table (the trials the parallel plot's brushes keep) and its bar. */
import * as React from 'react';

import { COMPARE_MAX_IDS } from './api';
import { formatDuration, formatValue } from './logic';
import { isDimmed } from './studydata';
import type { IStudy, IStudyTrial } from './tokens';

function TrialRow(props: { trial: IStudyTrial; study: IStudy; dimmed: boolean }): JSX.Element {
  const { trial, study } = props;
  const duration = trial.started && trial.ended ? trial.ended - trial.started : null;
  const cell = (key: string, text: string, className = ''): JSX.Element => (
    <span key={key} role="cell" className={`cf-study-cell ${className}`} title={text}>
      {text}
    </span>
  );
  return (
    <div
      role="row"
      className={`cf-study-trial${props.dimmed ? ' cf-dimmed' : ''}`}
      data-run={trial.run_id}
    >
      {cell('#', `#${trial.number}`)}
      {cell('status', trial.status, `cf-status-${trial.status}`)}
      {study.params.map(param =>
        cell(`p:${param.name}`, formatValue(trial.params[param.name] ?? undefined))
      )}
      {study.objectives.map(objective =>
        cell(`o:${objective.metric}`, formatValue(trial.values[objective.metric] ?? undefined))
      )}
      {cell('step', String(trial.last_step ?? '—'))}
      {cell('time', formatDuration(duration))}
    </div>
  );
}

/**
 * The trials, one row each, best first. A grid of rows rather than a <table>: rows out of
 * sight skip layout and paint (content-visibility), so a thousand of them draw at once.
 */
export function TrialsTable(props: {
  study: IStudy;
  trials: IStudyTrial[];
  front: Set<string> | null;
}): JSX.Element {
  const { study } = props;
  const heads = [
    'trial',
    'status',
    ...study.params.map(param => param.name),
    ...study.objectives.map(o => `${o.metric} ${o.direction === 'min' ? '↓' : '↑'}`),
    'last step',
    'time'
  ];
  const columns = { '--cf-study-columns': heads.length } as React.CSSProperties;
  return (
    <div
      className="cf-study-table cf-study-trials"
      role="table"
      aria-label="trials"
      aria-rowcount={props.trials.length + 1}
      style={columns}
    >
      <div role="row" className="cf-study-head-row">
        {heads.map(head => (
          <span key={head} role="columnheader" className="cf-study-cell">
            {head}
          </span>
        ))}
      </div>
      {props.trials.map(trial => (
        <TrialRow
          key={trial.run_id}
          trial={trial}
          study={study}
          dimmed={isDimmed(trial, props.front)}
        />
      ))}
    </div>
  );
}

export function TrialFilter(props: {
  shown: IStudyTrial[];
  total: number;
  brushed: boolean;
  clear: () => void;
  compare?: (ids: string[]) => void;
}): JSX.Element {
  const ids = props.shown.map(trial => trial.run_id);
  const comparable = ids.length >= 2 && ids.length <= COMPARE_MAX_IDS;
  return (
    <div className="cf-toolbar cf-study-filter">
      <span aria-live="polite">
        {props.brushed
          ? `${props.shown.length} of ${props.total} trials in the brushed ranges`
          : `${props.total} trials, best first`}
      </span>
      {props.brushed ? (
        <button className="jp-mod-styled" aria-label="clear trial filters" onClick={props.clear}>
          Clear filters
        </button>
      ) : null}
      {props.compare ? (
        <button
          className="jp-mod-styled"
          disabled={!comparable}
          title={comparable ? '' : `brush the axes down to 2–${COMPARE_MAX_IDS} trials`}
          onClick={() => props.compare?.(ids)}
        >
          Compare shown
        </button>
      ) : null}
    </div>
  );
}
