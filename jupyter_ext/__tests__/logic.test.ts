import {
  activeCounts,
  bestRuns,
  formatDuration,
  groupByCell,
  matchesFilter,
  mergeChanges,
  paramDiff,
  pickColumns,
  replaceHead,
  visibleWindow
} from '../logic';
import type { IRun } from '../tokens';

function run(id: string, fields: Partial<IRun> = {}): IRun {
  return {
    id,
    notebook: 'train.ipynb',
    cell_name: 'In [3]',
    kind: 'variant',
    status: 'succeeded',
    params: {},
    group_id: 'g1',
    variant: 0,
    created: 100,
    started: 101,
    ended: 111,
    worker: 'tcp://w1',
    gpu: 'H100',
    error: null,
    job_id: null,
    output_path: null,
    final_metrics: {},
    ...fields
  };
}

describe('paramDiff', () => {
  it('flags the params whose values differ, in first-seen order', () => {
    const rows = paramDiff([
      { params: { lr: 0.1, epochs: 3 } },
      { params: { lr: 0.01, epochs: 3, seed: 1 } }
    ]);
    expect(rows.map(r => [r.name, r.differs])).toEqual([
      ['lr', true],
      ['epochs', false],
      ['seed', true]
    ]);
    expect(rows[2].values).toEqual([undefined, 1]);
  });

  it('compares nested values by content, not identity', () => {
    const rows = paramDiff([{ params: { layers: [64, 32] } }, { params: { layers: [64, 32] } }]);
    expect(rows[0].differs).toBe(false);
  });
});

describe('bestRuns', () => {
  it('takes the lowest loss and the highest accuracy', () => {
    const best = bestRuns(
      {
        a: { loss: 0.5, accuracy: 0.8 },
        b: { loss: 0.2, accuracy: 0.7 },
        c: { loss: 0.9, accuracy: 0.95 }
      },
      { loss: 'min', accuracy: 'max' }
    );
    expect(best).toEqual({ loss: ['b'], accuracy: ['c'] });
  });

  it('keeps every run tied for best and skips non-finite values', () => {
    const best = bestRuns({ a: { f1: 0.9 }, b: { f1: 0.9 }, c: { f1: NaN } }, { f1: 'max' });
    expect(best.f1.sort()).toEqual(['a', 'b']);
  });

  it('follows the direction the server sends, higher-is-better when it sends none', () => {
    expect(bestRuns({ a: { score: 1 }, b: { score: 2 } }, { score: 'min' })).toEqual({
      score: ['a']
    });
    expect(bestRuns({ a: { score: 1 }, b: { score: 2 } }, {})).toEqual({ score: ['b'] });
  });
});

describe('grouping, merging and windowing', () => {
  it('groups runs by cell and counts the running ones', () => {
    const groups = groupByCell([
      run('a', { cell_name: 'In [2]', status: 'running' }),
      run('b', { cell_name: 'In [3]' }),
      run('c', { cell_name: 'In [2]', status: 'queued' })
    ]);
    expect(groups.map(g => [g.cell, g.runs.length, g.running])).toEqual([
      ['In [2]', 2, 2],
      ['In [3]', 1, 0]
    ]);
  });

  it("lists a cell's searches (trial groups), the newest first, and no study for variants", () => {
    const [cell] = groupByCell([
      run('a', { kind: 'trial', group_id: 's1', created: 10 }),
      run('b', { kind: 'trial', group_id: 's2', created: 30 }),
      run('c', { kind: 'trial', group_id: 's1', created: 20 }),
      run('d', { kind: 'variant', group_id: 'v1', created: 40 })
    ]);
    expect(cell.studies).toEqual(['s2', 's1']);
    expect(groupByCell([run('x', { kind: 'variant' })])[0].studies).toEqual([]);
  });

  it('shows every column that fits, else shares the places between metrics and params', () => {
    expect(pickColumns(['lr'], ['loss', 'acc'], 6)).toEqual({
      params: ['lr'],
      metrics: ['loss', 'acc'],
      hidden: 0
    });
    const params = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    expect(pickColumns(params, ['loss', 'acc', 'f1', 'auc'], 6)).toEqual({
      params: ['a', 'b', 'c'],
      metrics: ['loss', 'acc', 'f1'],
      hidden: 6
    });
    // few params leave their places to the metrics, and the other way round
    expect(pickColumns(['lr'], ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'], 6).metrics).toHaveLength(
      5
    );
    expect(pickColumns(params, ['loss'], 6).params).toHaveLength(5);
    // a wide table shows more
    expect(pickColumns(params, ['loss', 'acc', 'f1', 'auc'], 12).hidden).toBe(0);
  });

  it('merges a change feed: updates known runs, adds accepted new ones first', () => {
    const rows = [run('a', { status: 'running', final_metrics: { loss: 1 } }), run('b')];
    const merged = mergeChanges(
      rows,
      [
        run('a', { status: 'succeeded', final_metrics: undefined }),
        run('c', { created: 200 }),
        run('d', { notebook: 'other.ipynb' })
      ],
      r => r.notebook === 'train.ipynb'
    );
    expect([merged.added, merged.removed]).toEqual([1, 0]);
    expect(merged.rows.map(r => r.id)).toEqual(['c', 'a', 'b']);
    expect(merged.rows[1].status).toBe('succeeded');
    expect(merged.rows[1].final_metrics).toEqual({ loss: 1 });
  });

  it('drops runs that leave the filter and leaves new ones to the server when sorted otherwise', () => {
    const rows = [run('a', { status: 'running' }), run('b', { status: 'running' })];
    const merged = mergeChanges(
      rows,
      [run('a', { status: 'failed' }), run('c', { status: 'running' })],
      r => r.status === 'running',
      false
    );
    expect(merged.rows.map(r => r.id)).toEqual(['b']);
    expect([merged.added, merged.removed]).toEqual([0, 1]);
  });

  it('replaces the head of the rows with a fresh first page', () => {
    const rows = ['a', 'b', 'c', 'd'].map(id => run(id));
    const page = ['x', 'a'].map(id => run(id, { status: 'failed' }));
    expect(replaceHead(rows, page).map(r => `${r.id}:${r.status}`)).toEqual([
      'x:failed',
      'a:failed',
      'c:succeeded',
      'd:succeeded'
    ]);
  });

  it('windows the rows around the scroll position', () => {
    expect(visibleWindow(0, 280, 28, 10_000, 5)).toEqual({ start: 0, end: 15 });
    expect(visibleWindow(28 * 5000, 280, 28, 10_000, 5)).toEqual({ start: 4995, end: 5015 });
    expect(visibleWindow(28 * 9999, 280, 28, 10_000, 5)).toEqual({ start: 9994, end: 10_000 });
  });

  it('counts running remote cells and variants apart', () => {
    const counts = activeCounts([
      run('a', { status: 'running' }),
      run('b', { status: 'queued', kind: 'interactive' }),
      run('c', { status: 'failed' }),
      run('d', { status: 'running', kind: 'trial' }),
      run('e', { status: 'pruned', kind: 'trial' })
    ]);
    expect(counts).toEqual({ cells: 1, variants: 2 });
  });
});

describe('filtering and formatting', () => {
  const runs = [
    run('a', { params: { lr: 0.1 }, final_metrics: { loss: 0.3 } }),
    run('b', { params: { lr: 0.01 }, final_metrics: {} }),
    run('c', { params: { lr: 0.001 }, final_metrics: { loss: 0.1 } })
  ];

  it('filters by name=value or by text', () => {
    expect(runs.filter(r => matchesFilter(r, 'lr=0.01')).map(r => r.id)).toEqual(['b']);
    expect(runs.filter(r => matchesFilter(r, '0.001')).map(r => r.id)).toEqual(['c']);
    expect(runs.filter(r => matchesFilter(r, '  ')).length).toBe(3);
  });

  it('formats durations at every scale', () => {
    expect([0.25, 12.34, 245, 7800, null].map(formatDuration)).toEqual([
      '250ms',
      '12.3s',
      '4m 05s',
      '2h 10m',
      '—'
    ]);
  });
});
