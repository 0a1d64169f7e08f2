/** The runs tab: loads pages from the server, follows the live feed, holds the selection. */
import * as React from 'react';

import { ApiError, CellfleetApi, LiveFeed } from './api';
import { RunDetails } from './details';
import { isActive, matchesFilter, mergeChanges, replaceHead } from './logic';
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
}

export interface IRunsViewProps {
  api: CellfleetApi;
  feed: LiveFeed;
  notebook: string;
  actions: IRunActions;
}

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

function columnsOf(runs: IRun[]): IColumn[] {
  const params = new Set<string>();
  const metrics = new Set<string>();
  for (const run of runs.slice(0, 500)) {
    Object.keys(run.params).forEach(name => params.add(name));
    Object.keys(run.final_metrics ?? {}).forEach(name => metrics.add(name));
  }
  return [
    { key: 'status', label: '' },
    { key: 'cell_name', label: 'variant' },
    ...[...params].map(name => ({ key: `param.${name}`, label: name })),
    ...[...metrics].sort().map(name => ({ key: `metric.${name}`, label: name })),
    { key: 'duration', label: 'time' }
  ];
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
  const columns = React.useMemo(() => columnsOf(state.runs), [state.runs]);
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
    <div className="cf-runs">
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
              (selected.size ? ` · ${selected.size} selected` : '')}
      </div>
      <RunsTable
        runs={shown}
        columns={columns}
        sort={sort}
        selected={selected}
        onSort={onSort}
        onToggle={toggle}
        onNearEnd={loadMore}
      />
      {selected.size === 1 ? <RunDetails api={props.api} runId={[...selected][0]} /> : null}
    </div>
  );
}
