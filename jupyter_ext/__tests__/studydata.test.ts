import {
  axisId,
  axisIndex,
  bestSoFar,
  brushSelection,
  curveTrials,
  importanceBars,
  isDimmed,
  mixColor,
  paretoFront,
  parallelData,
  tableTrials
} from '../studydata';
import { bestSoFarOption, parallelOption } from '../studyoptions';
import type { IStudy, IStudyObjective, IStudyTrial } from '../tokens';
import { THEME } from './fixtures';

function trial(number: number, fields: Partial<IStudyTrial> = {}): IStudyTrial {
  return {
    run_id: `t${number}`,
    number,
    status: 'succeeded',
    params: {},
    values: {},
    last_step: 10,
    started: 100,
    ended: 110,
    ...fields
  };
}

const LOSS: IStudyObjective = { metric: 'loss', direction: 'min' };

function study(trials: IStudyTrial[], fields: Partial<IStudy> = {}): IStudy {
  return {
    group_id: 'g1',
    label: 'train · search',
    study_name: 'cellfleet-g1',
    objectives: [LOSS],
    params: [
      { name: 'lr', kind: 'float', log: true, choices: null },
      { name: 'layers', kind: 'int', log: false, choices: null },
      { name: 'opt', kind: 'categorical', log: false, choices: ['adam', 'sgd'] }
    ],
    trials,
    importances: [],
    importance_note: null,
    ...fields
  };
}

describe('best so far', () => {
  it('steps down at each better succeeded trial; pruned ones show, dimmed, and never count', () => {
    const trials = [
      trial(3, { values: { loss: 0.4 } }),
      trial(0, { values: { loss: 0.5 } }),
      trial(1, { values: { loss: 0.1 }, status: 'pruned' }),
      trial(2, { values: { loss: 0.3 } }),
      trial(4, { values: { loss: null }, status: 'running' })
    ];
    const data = bestSoFar(trials, LOSS);
    expect(data.points.map(p => [p.number, p.dimmed])).toEqual([
      [0, false],
      [1, true],
      [2, false],
      [3, false]
    ]);
    expect(data.best).toEqual([
      [0, 0.5],
      [2, 0.3],
      [3, 0.3]
    ]);
  });

  it('follows a higher-is-better objective, and is empty without finished trials', () => {
    const up = { metric: 'acc', direction: 'max' as const };
    const data = bestSoFar(
      [trial(0, { values: { acc: 0.2 } }), trial(1, { values: { acc: 0.9 } })],
      up
    );
    expect(data.best).toEqual([
      [0, 0.2],
      [1, 0.9]
    ]);
    expect(bestSoFar([trial(0, { status: 'running' })], up)).toEqual({ points: [], best: [] });
  });

  it('draws the trials, the dimmed ones and the best line as three series', () => {
    const data = bestSoFar(
      [trial(0, { values: { loss: 1 } }), trial(1, { values: { loss: 2 }, status: 'pruned' })],
      LOSS
    );
    const option = bestSoFarOption(data, 'loss', 'min', THEME);
    const series = option.series as Array<{ name: string; data: unknown[]; step?: string }>;
    expect(series.map(s => [s.name, s.data.length])).toEqual([
      ['trials', 1],
      ['pruned or dominated', 1],
      ['best so far', 2] // from the first trial to the last one drawn
    ]);
    expect(series[2].step).toBe('end');
  });
});

describe('pareto front and dimming', () => {
  const objectives: IStudyObjective[] = [LOSS, { metric: 'latency', direction: 'min' }];
  const trials = [
    trial(0, { values: { loss: 0.1, latency: 9 } }),
    trial(1, { values: { loss: 0.5, latency: 1 } }),
    trial(2, { values: { loss: 0.6, latency: 9 } }), // dominated by 0 and 1
    trial(3, { values: { loss: 0.3, latency: 3 } }),
    trial(4, { values: { loss: 0.01, latency: 0.1 }, status: 'pruned' }),
    trial(5, { values: { loss: 0.3, latency: 3 } }) // ties 3: both stay
  ];

  it('keeps the succeeded trials no other succeeded trial dominates', () => {
    expect([...paretoFront(trials, objectives)].sort()).toEqual(['t0', 't1', 't3', 't5']);
  });

  it('dims pruned and failed trials, and (several objectives) succeeded ones off the front', () => {
    const front = paretoFront(trials, objectives);
    expect(trials.map(t => isDimmed(t, front))).toEqual([false, false, true, false, true, false]);
    expect(isDimmed(trial(9, { status: 'running' }), front)).toBe(false);
    expect(isDimmed(trial(9, { status: 'failed' }), null)).toBe(true);
    expect(isDimmed(trial(9), null)).toBe(false);
  });
});

describe('parallel coordinates', () => {
  const trials = [
    trial(0, { params: { lr: 0.01, layers: 2, opt: 'adam' }, values: { loss: 0.5 } }),
    trial(1, { params: { lr: 0.1, layers: 4, opt: 'sgd' }, values: { loss: 0.2 } }),
    trial(2, {
      params: { lr: 0, layers: 3, opt: 'rmsprop' },
      values: { loss: null },
      status: 'pruned'
    }),
    trial(3, { params: { lr: 0.001, layers: 8, opt: null }, values: { loss: 0.9 } })
  ];
  const data = parallelData(study(trials));

  it('has an axis per param (log, integer, categorical) and per objective', () => {
    expect(data.axes.map(a => [a.name, a.type, a.integer])).toEqual([
      ['lr', 'log', false],
      ['layers', 'value', true],
      ['opt', 'category', false],
      ['loss', 'value', false]
    ]);
    // the choices first, then values the trials took that the choices lack
    expect(data.axes[2].data).toEqual(['adam', 'sgd', 'rmsprop']);
    expect(data.axes[3].objective).toBe('min');
  });

  it('gives a line per trial; log-unsafe and missing values are empty, pruned dimmed', () => {
    expect(data.lines.map(line => line.value)).toEqual([
      [0.01, 2, 'adam', 0.5],
      [0.1, 4, 'sgd', 0.2],
      [null, 3, 'rmsprop', null],
      [0.001, 8, null, 0.9]
    ]);
    expect(data.lines.map(line => line.dimmed)).toEqual([false, false, true, false]);
    // the best (lowest loss) scores 1, the worst 0, no value none
    expect(data.lines.map(line => line.score)).toEqual([0.5, 1, null, 0]);
  });

  it('keeps the trials inside every brushed axis range (by category index on categorical axes)', () => {
    expect(brushSelection(data, {})).toBeNull();
    expect(brushSelection(data, { 1: [] })).toBeNull();
    // layers 2..4, brushed top to bottom (ECharts may give the range reversed)
    expect([...brushSelection(data, { 1: [[4.5, 2]] })!]).toEqual(['t0', 't1', 't2']);
    // and loss ≤ 0.3: a trial without a loss is left out
    expect([...brushSelection(data, { 1: [[2, 4.5]], 3: [[0, 0.3]] })!]).toEqual(['t1']);
    // opt in sgd or rmsprop (indices 1 and 2), two ranges on one axis
    expect([
      ...brushSelection(data, {
        2: [
          [0.8, 1.2],
          [1.9, 2.1]
        ]
      })!
    ]).toEqual(['t1', 't2']);
    expect([...brushSelection(data, { 0: [[1, 2]] })!]).toEqual([]);
  });

  it('maps axis ids both ways, and builds a brushable option with per-line styles', () => {
    expect(axisIndex(axisId(3))).toBe(3);
    expect(axisIndex('other')).toBeNull();
    const option = parallelOption(data, THEME);
    const axes = option.parallelAxis as Array<{ id: string; type: string; data?: string[] }>;
    expect(axes.map(a => [a.id, a.type])).toEqual([
      ['axis-0', 'log'],
      ['axis-1', 'value'],
      ['axis-2', 'category'],
      ['axis-3', 'value']
    ]);
    expect(option.parallel.parallelAxisDefault).toHaveProperty('areaSelectStyle');
    const lines = option.series[0].data as Array<{ lineStyle: { color: string; opacity: number } }>;
    expect(lines).toHaveLength(4);
    expect(lines[2].lineStyle).toEqual({ color: THEME.faint, opacity: expect.any(Number) });
    expect(lines[1].lineStyle.color).not.toBe(lines[3].lineStyle.color);
  });
});

describe('importances, the table and the curves to fetch', () => {
  it('orders the bars least important first, so the most important is on top', () => {
    const bars = importanceBars([
      { param: 'lr', importance: 0.7 },
      { param: 'layers', importance: 0.2 },
      { param: 'bad', importance: NaN },
      { param: 'opt', importance: 0.1 }
    ]);
    expect(bars).toEqual({ names: ['opt', 'layers', 'lr'], values: [0.1, 0.2, 0.7] });
  });

  const trials = [
    trial(0, { values: { loss: 0.5 } }),
    trial(1, { values: { loss: 0.1 } }),
    trial(2, { values: { loss: null }, status: 'running' }),
    trial(3, { values: { loss: null }, status: 'failed' }),
    trial(4, { values: { loss: 0.3 } }),
    trial(5, { values: { loss: null }, status: 'running' })
  ];

  it('lists the trials best first, then those without a value, newest first', () => {
    expect(tableTrials(study(trials), null).map(t => t.number)).toEqual([1, 4, 0, 5, 3, 2]);
    expect(tableTrials(study(trials), new Set(['t0', 't4'])).map(t => t.number)).toEqual([4, 0]);
  });

  it('fetches the running trials first, then the best, up to the cap', () => {
    expect(curveTrials(study(trials), 4)).toEqual(['t5', 't2', 't1', 't4']);
    expect(curveTrials(study(trials), 50)).toHaveLength(6);
  });

  it('mixes colours', () => {
    expect(mixColor('#000000', '#ffffff', 0.5)).toBe('#808080');
    expect(mixColor('#102030', '#ffffff', -1)).toBe('#102030');
  });
});
