import {
  activeCounts,
  bestRuns,
  chartSeries,
  downsample,
  formatDuration,
  groupByCell,
  matchesFilter,
  mergeChanges,
  paramDiff,
  replaceHead,
  svgPath,
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

describe('chartSeries', () => {
  it('builds one chart per metric with a line per run and shared bounds', () => {
    const charts = chartSeries(
      {
        a: {
          loss: [
            [0, 1.0],
            [1, 0.5]
          ],
          acc: [[0, 0.5]]
        },
        b: {
          loss: [
            [0, 2.0],
            [1, 0.25],
            [2, 0.1]
          ]
        }
      },
      ['a', 'b']
    );
    expect(charts.map(c => c.metric)).toEqual(['acc', 'loss']);
    const loss = charts[1];
    expect(loss.lines.map(l => l.runId)).toEqual(['a', 'b']);
    expect([loss.xMin, loss.xMax, loss.yMin, loss.yMax]).toEqual([0, 2, 0.1, 2.0]);
  });

  it('uses the point index when a metric has no steps', () => {
    const [chart] = chartSeries(
      {
        a: {
          loss: [
            [null, 3],
            [null, 2]
          ]
        }
      },
      ['a']
    );
    expect(chart.lines[0].points).toEqual([
      { x: 0, y: 3 },
      { x: 1, y: 2 }
    ]);
  });

  it('downsamples long series, keeping both ends', () => {
    const points = Array.from({ length: 10_000 }, (_, i) => ({ x: i, y: i }));
    const kept = downsample(points, 100);
    expect(kept).toHaveLength(100);
    expect(kept[0]).toEqual({ x: 0, y: 0 });
    expect(kept[99]).toEqual({ x: 9999, y: 9999 });
  });

  it('scales a line into the box with y growing upward', () => {
    const [chart] = chartSeries(
      {
        a: {
          loss: [
            [0, 0],
            [10, 1]
          ]
        }
      },
      ['a']
    );
    expect(svgPath(chart.lines[0], chart, 100, 50)).toBe('M0.0,50.0 L100.0,0.0');
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
