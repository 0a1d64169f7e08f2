/** The runs table: grouped by cell, sortable, virtualized (only the visible rows are in the DOM). */
import * as React from 'react';

import { formatDuration, formatValue, groupByCell, runDuration, visibleWindow } from './logic';
import type { IRun, RunStatus } from './tokens';

export const ROW_HEIGHT = 28;

const STATUS_MARKS: Record<RunStatus, string> = {
  queued: '◌',
  running: '◐',
  succeeded: '✔',
  failed: '✘',
  cancelled: '⊘',
  timed_out: '⧗',
  interrupted: '■',
  skipped: '–',
  pruned: '✂'
};

export interface IColumn {
  /** `status`, `created`, `cell_name`, `param.NAME` or `metric.NAME`. */
  key: string;
  label: string;
}

export interface ITableProps {
  runs: IRun[];
  columns: IColumn[];
  sort: { column: string; descending: boolean };
  selected: ReadonlySet<string>;
  onSort: (column: string) => void;
  onToggle: (runId: string) => void;
  onNearEnd: () => void;
  /** Open the study view of a search's run group (its trials' group header offers it). */
  onStudy?: (groupId: string) => void;
}

type GroupItem = { header: string; count: number; running: number; studies: string[] };
type Item = GroupItem | { run: IRun };

function flatten(runs: IRun[], collapsed: ReadonlySet<string>): Item[] {
  const items: Item[] = [];
  for (const group of groupByCell(runs)) {
    items.push({
      header: group.cell,
      count: group.runs.length,
      running: group.running,
      studies: group.studies
    });
    if (!collapsed.has(group.cell)) {
      group.runs.forEach(run => items.push({ run }));
    }
  }
  return items;
}

function cellText(run: IRun, key: string): string {
  if (key.startsWith('param.')) {
    return formatValue(run.params[key.slice(6)]);
  }
  if (key.startsWith('metric.')) {
    return formatValue(run.final_metrics?.[key.slice(7)]);
  }
  if (key === 'duration') {
    return formatDuration(runDuration(run));
  }
  if (key === 'cell_name') {
    return run.variant === null || run.variant === undefined ? run.kind : `#${run.variant}`;
  }
  return formatValue((run as unknown as Record<string, string>)[key]);
}

function Header(props: Pick<ITableProps, 'columns' | 'sort' | 'onSort'>): JSX.Element {
  return (
    <div className="cf-row cf-head" role="row">
      <span className="cf-cell cf-check" role="columnheader" aria-label="selected" />
      {props.columns.map(column => {
        if (column.key === 'duration') {
          return (
            <span key={column.key} className="cf-cell" role="columnheader">
              {column.label}
            </span>
          );
        }
        const sorted = props.sort.column === column.key;
        const order = sorted ? (props.sort.descending ? 'descending' : 'ascending') : 'none';
        const status = column.key === 'status' ? ' cf-status' : '';
        return (
          <span
            key={column.key}
            className={`cf-cell${status}`}
            role="columnheader"
            aria-sort={order}
          >
            <button
              className="cf-sort"
              title={`sort by ${column.label}`}
              onClick={() => props.onSort(column.key)}
            >
              {column.label}
              {sorted ? (props.sort.descending ? ' ▾' : ' ▴') : ''}
            </button>
          </span>
        );
      })}
    </div>
  );
}

function RunRow(props: {
  run: IRun;
  columns: IColumn[];
  selected: boolean;
  onToggle: (runId: string) => void;
  top: number;
  /** The row's aria-rowindex: the header is row 1. */
  index: number;
}): JSX.Element {
  const { run } = props;
  const toggle = (event: React.KeyboardEvent): void => {
    if (event.key === ' ' || event.key === 'Enter') {
      event.preventDefault();
      props.onToggle(run.id);
    }
  };
  return (
    <div
      className={`cf-row cf-run${props.selected ? ' cf-selected' : ''}`}
      role="row"
      aria-selected={props.selected}
      aria-rowindex={props.index}
      tabIndex={0}
      style={{ top: props.top }}
      data-run={run.id}
      onKeyDown={toggle}
      onClick={() => props.onToggle(run.id)}
    >
      <span className="cf-cell cf-check" role="gridcell">
        <input
          type="checkbox"
          tabIndex={-1}
          checked={props.selected}
          aria-label={`select run ${run.id}`}
          readOnly
        />
      </span>
      {props.columns.map(column =>
        column.key === 'status' ? (
          <span
            key="status"
            className={`cf-cell cf-status cf-status-${run.status}`}
            role="gridcell"
            title={run.status}
            aria-label={run.status}
          >
            {STATUS_MARKS[run.status] ?? '•'}
          </span>
        ) : (
          <span
            key={column.key}
            className="cf-cell"
            role="gridcell"
            title={cellText(run, column.key)}
          >
            {cellText(run, column.key)}
          </span>
        )
      )}
    </div>
  );
}

/** Buttons opening the study view of each search among a group's runs, newest first. */
function StudyButtons(props: { studies: string[]; onStudy: (groupId: string) => void }) {
  return (
    <>
      {props.studies.slice(0, 3).map((groupId, i) => (
        <button
          key={groupId}
          className="jp-mod-styled cf-study-button"
          title={`open the study view of search ${groupId}${i ? ' (an older search of this cell)' : ''}`}
          onClick={() => props.onStudy(groupId)}
        >
          {i ? `Study ${i + 1}` : 'Study'}
        </button>
      ))}
    </>
  );
}

/** A cell's header row: collapses its runs; opens its searches' study views. */
function GroupRow(props: {
  item: GroupItem;
  index: number;
  top: number;
  collapsed: boolean;
  onToggle: (cell: string) => void;
  onStudy?: (groupId: string) => void;
}): JSX.Element {
  const { item } = props;
  return (
    <div
      className="cf-row cf-group"
      role="row"
      aria-rowindex={props.index}
      style={{ top: props.top }}
    >
      <span role="gridcell" className="cf-group-cell">
        <button
          className="cf-group-toggle"
          aria-expanded={!props.collapsed}
          onClick={() => props.onToggle(item.header)}
        >
          {props.collapsed ? '▸ ' : '▾ '}
          {item.header} · {item.count} run{item.count === 1 ? '' : 's'}
          {item.running ? ` · ${item.running} running` : ''}
        </button>
        {props.onStudy && item.studies.length ? (
          <StudyButtons studies={item.studies} onStudy={props.onStudy} />
        ) : null}
      </span>
    </div>
  );
}

/** Arrow keys move the focus between the rendered rows and group headers. */
function moveFocus(event: React.KeyboardEvent<HTMLDivElement>): void {
  if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') {
    return;
  }
  const row = (event.target as HTMLElement).closest('.cf-row');
  const next = event.key === 'ArrowDown' ? row?.nextElementSibling : row?.previousElementSibling;
  // a run row takes the focus itself; a group row through its toggle button
  const target =
    next instanceof HTMLElement && next.tabIndex < 0 ? next.querySelector('button') : next;
  if (target instanceof HTMLElement) {
    event.preventDefault();
    target.focus();
  }
}

/** The table: a header, then group headers and run rows in one scrolled, windowed list. */
export function RunsTable(props: ITableProps): JSX.Element {
  const [scroll, setScroll] = React.useState({ top: 0, height: 600 });
  const [collapsed, setCollapsed] = React.useState<ReadonlySet<string>>(new Set());
  const items = React.useMemo(() => flatten(props.runs, collapsed), [props.runs, collapsed]);
  const { start, end } = visibleWindow(scroll.top, scroll.height, ROW_HEIGHT, items.length);
  const onScroll = (event: React.UIEvent<HTMLDivElement>): void => {
    const target = event.currentTarget;
    setScroll({ top: target.scrollTop, height: target.clientHeight });
    if (target.scrollTop + target.clientHeight > target.scrollHeight - 20 * ROW_HEIGHT) {
      props.onNearEnd();
    }
  };
  const toggleGroup = (cell: string): void => {
    const next = new Set(collapsed);
    next.has(cell) ? next.delete(cell) : next.add(cell);
    setCollapsed(next);
  };
  return (
    <div className="cf-table" role="grid" aria-rowcount={items.length + 1} aria-label="runs">
      <Header columns={props.columns} sort={props.sort} onSort={props.onSort} />
      <div className="cf-body" onScroll={onScroll}>
        <div
          className="cf-spacer"
          style={{ height: items.length * ROW_HEIGHT }}
          onKeyDown={moveFocus}
        >
          {items
            .slice(start, end)
            .map((item, i) =>
              'header' in item ? (
                <GroupRow
                  key={`group:${item.header}`}
                  item={item}
                  index={start + i + 2}
                  top={(start + i) * ROW_HEIGHT}
                  collapsed={collapsed.has(item.header)}
                  onToggle={toggleGroup}
                  onStudy={props.onStudy}
                />
              ) : (
                <RunRow
                  key={item.run.id}
                  run={item.run}
                  columns={props.columns}
                  selected={props.selected.has(item.run.id)}
                  onToggle={props.onToggle}
                  top={(start + i) * ROW_HEIGHT}
                  index={start + i + 2}
                />
              )
            )}
        </div>
      </div>
    </div>
  );
}
