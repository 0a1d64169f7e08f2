/** The runs tab: loads pages from the server, follows the live feed, holds the selection. */
import { launchIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { ApiError, CellfleetApi, LiveFeed } from './api';
import { RunDetails } from './details';
import { isActive, matchesFilter, mergeChanges, pickColumns, replaceHead } from './logic';
import { IColumn, RunsTable } from './table';
import { RUN_STATUSES } from './tokens';
import type { IRun } from './tokens';

const PAGE = 200;

/** What the runs tab asks its host to do with the selection. */
export interface IRunActions {
  compare: (ids: string[]) => void;
  adopt: (run: IRun) => void;
  promote: (run: IRun | null) => void;
  openOutput: (run: IRun) => void;
  /** Open the study view of a search's run group. */
  study?: (groupId: string) => void;
  /** Open this table at full width in the main area (offered where it is narrow). */
  openMain?: () => void;
}

export interface IRunsViewProps {
  api: CellfleetApi;
  feed: LiveFeed;
  notebook: string;
  actions: IRunActions;
  /** In the main area: cells grow to fill the width, and more columns fit. */
  wide?: boolean;
}

/** Widths (px) for the column budget: the fixed columns, and one param or metric column. */
const FIXED_WIDTH = 200;
const COLUMN_WIDTH = { narrow: 72, wide: 96 };
/** Param and metric columns shown however narrow the table (it scrolls sideways). */
const MIN_SLOTS = 6;

interface IState {
  runs: IRun[];
  total: number;
  error: string;
  loading: boolean;
}

function useRuns(
  props: IRunsViewProps,
  status: string,
  sort: { column: string; descending: boolean }
) {
  const [state, setState] = React.useState<IState>({
    runs: [],
    total: 0,
    error: '',
    loading: true
  });
  // Every sort runs on the server, over all the matching runs, not just the loaded pages.
  const serverSort = `${sort.descending ? '-' : ''}${sort.column}`;
  const query = { notebook: props.notebook, status, sort: serverSort };
  // The query the shown rows answer: a reply to an older query (the notebook, filter or sort
  // changed meanwhile) is dropped, and one page at a time is fetched while scrolling.
  const current = React.useRef('');
  const fetching = React.useRef('');
  const key = JSON.stringify(query);
  const load = React.useCallback(
    async (offset: number) => {
      fetching.current = key;
      try {
        const page = await props.api.listRuns({ ...query, limit: PAGE, offset });
        if (current.current !== key) {
          return;
        }
        setState(old => ({
          runs: offset
            ? [...old.runs, ...page.runs.filter(r => !old.runs.some(o => o.id === r.id))]
            : page.runs,
          total: page.total,
          error: '',
          loading: false
        }));
      } catch (error) {
        if (current.current === key) {
          setState(old => ({ ...old, error: (error as ApiError).message, loading: false }));
        }
      } finally {
        if (fetching.current === key) {
          fetching.current = '';
        }
      }
    },
    [props.api, key]
  );
  React.useEffect(() => {
    current.current = key;
    setState(old => ({ ...old, loading: true }));
    void load(0);
  }, [load]);
  React.useEffect(() => {
    const accept = (run: IRun): boolean =>
      (!props.notebook || run.notebook === props.notebook) && (!status || run.status === status);
    const onChange = (_: LiveFeed, changed: IRun[]): void => {
      // New runs go first only when the table is newest first; otherwise the server places them.
      const newestFirst = serverSort === '-created';
      setState(old => {
        const merged = mergeChanges(old.runs, changed, accept, newestFirst);
        return { ...old, runs: merged.rows, total: old.total + merged.added - merged.removed };
      });
      if (!newestFirst || changed.some(run => !isActive(run))) {
        void refreshFinals();
      }
    };
    let refreshing = false;
    const refreshFinals = async (): Promise<void> => {
      if (refreshing) {
        return;
      }
      refreshing = true;
      try {
        const page = await props.api.listRuns({ ...query, limit: PAGE, offset: 0 });
        if (current.current === key) {
          setState(old => ({
            ...old,
            runs: replaceHead(old.runs, page.runs),
            total: page.total
          }));
        }
      } catch {
        // the next change, or the next page, tries again
      } finally {
        refreshing = false;
      }
    };
    props.feed.changed.connect(onChange);
    return () => {
      props.feed.changed.disconnect(onChange);
    };
  }, [props.feed, key]);
  const loadMore = (): void => {
    if (fetching.current !== key && state.runs.length < state.total) {
      void load(state.runs.length);
    }
  };
  return { state, loadMore };
}

function columnsOf(runs: IRun[], slots: number): { columns: IColumn[]; hidden: number } {
  const params = new Set<string>();
  const metrics = new Set<string>();
  for (const run of runs.slice(0, 500)) {
    Object.keys(run.params).forEach(name => params.add(name));
    Object.keys(run.final_metrics ?? {}).forEach(name => metrics.add(name));
  }
  const shown = pickColumns([...params], [...metrics].sort(), slots);
  const columns = [
    { key: 'status', label: '' },
    { key: 'cell_name', label: 'variant' },
    ...shown.params.map(name => ({ key: `param.${name}`, label: name })),
    ...shown.metrics.map(name => ({ key: `metric.${name}`, label: name })),
    { key: 'duration', label: 'time' }
  ];
  return { columns, hidden: shown.hidden };
}

/** How many param and metric columns fit the element's width (followed as it resizes). */
function useSlots(wide: boolean): [React.RefObject<HTMLDivElement>, number] {
  const ref = React.useRef<HTMLDivElement>(null);
  const [width, setWidth] = React.useState(0);
  React.useEffect(() => {
    const observer = new ResizeObserver(entries => setWidth(entries[0].contentRect.width));
    observer.observe(ref.current!);
    return () => observer.disconnect();
  }, []);
  const column = wide ? COLUMN_WIDTH.wide : COLUMN_WIDTH.narrow;
  return [ref, Math.max(MIN_SLOTS, Math.floor((width - FIXED_WIDTH) / column))];
}

function Toolbar(props: {
  selected: IRun[];
  actions: IRunActions;
  status: string;
  setStatus: (status: string) => void;
  filter: string;
  setFilter: (text: string) => void;
}): JSX.Element {
  const one = props.selected.length === 1 ? props.selected[0] : null;
  return (
    <div className="cf-toolbar">
      <input
        className="cf-filter"
        type="search"
        placeholder="filter: text or lr=0.01"
        aria-label="filter runs"
        value={props.filter}
        onChange={event => props.setFilter(event.target.value)}
      />
      <select
        aria-label="status"
        value={props.status}
        onChange={event => props.setStatus(event.target.value)}
      >
        {['', ...RUN_STATUSES].map(value => (
          <option key={value} value={value}>
            {value || 'any status'}
          </option>
        ))}
      </select>
      <button
        className="jp-mod-styled jp-mod-accept"
        disabled={props.selected.length < 2}
        onClick={() => props.actions.compare(props.selected.map(run => run.id))}
      >
        Compare
      </button>
      <button
        className="jp-mod-styled"
        disabled={!one || (one.kind !== 'variant' && one.kind !== 'trial')}
        onClick={() => one && props.actions.adopt(one)}
      >
        Adopt
      </button>
      <button className="jp-mod-styled" onClick={() => props.actions.promote(one)}>
        Promote…
      </button>
      <button
        className="jp-mod-styled"
        disabled={!one?.output_path}
        onClick={() => one && props.actions.openOutput(one)}
      >
        Open output
      </button>
      {props.actions.openMain ? (
        <button
          className="jp-mod-styled cf-icon-button cf-open-main"
          aria-label="open runs table in main area"
          title="Open in main area"
          onClick={props.actions.openMain}
        >
          <launchIcon.react tag="span" elementSize="normal" />
        </button>
      ) : null}
    </div>
  );
}

/** The runs tab. */
export function RunsView(props: IRunsViewProps): JSX.Element {
  const [status, setStatus] = React.useState('');
  const [filter, setFilter] = React.useState('');
  const [sort, setSort] = React.useState({ column: 'created', descending: true });
  const [selected, setSelected] = React.useState<ReadonlySet<string>>(new Set());
  React.useEffect(() => setSelected(new Set()), [props.notebook, status]);
  const { state, loadMore } = useRuns(props, status, sort);
  const shown = React.useMemo(
    () => state.runs.filter(run => matchesFilter(run, filter)),
    [state.runs, filter]
  );
  const [root, slots] = useSlots(Boolean(props.wide));
  const { columns, hidden } = React.useMemo(
    () => columnsOf(state.runs, slots),
    [state.runs, slots]
  );
  const toggle = (id: string): void => {
    const next = new Set(selected);
    next.has(id) ? next.delete(id) : next.add(id);
    setSelected(next);
  };
  const onSort = (column: string): void =>
    setSort(old => ({
      column,
      descending: old.column === column ? !old.descending : column === 'created'
    }));
  return (
    <div ref={root} className={`cf-runs${props.wide ? ' cf-runs-wide' : ''}`}>
      <Toolbar
        selected={state.runs.filter(run => selected.has(run.id))}
        actions={props.actions}
        status={status}
        setStatus={setStatus}
        filter={filter}
        setFilter={setFilter}
      />
      <div className="cf-summary" aria-live="polite">
        {state.error
          ? `⚠ ${state.error}`
          : state.loading
            ? 'loading runs…'
            : `${state.total} run${state.total === 1 ? '' : 's'}${props.notebook ? ` of ${props.notebook}` : ''}` +
              (selected.size ? ` · ${selected.size} selected` : '') +
              (hidden
                ? ` · ${hidden} column${hidden === 1 ? '' : 's'} hidden (widen to show)`
                : '')}
      </div>
      <RunsTable
        runs={shown}
        columns={columns}
        sort={sort}
        selected={selected}
        onSort={onSort}
        onToggle={toggle}
        onNearEnd={loadMore}
        onStudy={props.actions.study}
      />
      {selected.size === 1 ? <RunDetails api={props.api} runId={[...selected][0]} /> : null}
    </div>
  );
}
