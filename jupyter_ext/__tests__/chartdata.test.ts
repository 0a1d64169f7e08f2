import {
  buildCurves,
  downsample,
  finalValue,
  GAP,
  hasWallTime,
  ICurveRun,
  joinWithGaps,
  logSafe,
  metricCurves,
  RawPoint,
  rankOrder,
  seriesCount,
  smooth,
  toXY,
  TOP_RUNS,
  XY
} from '../chartdata';
import { curvesOption } from '../chartoptions';
import { THEME } from './fixtures';

const STEP = { x: 'step' as const, smoothing: 0, log: false };

/** `count` runs of `steps` points; run i's loss ends at i (so run 0 is the best). */
function manyRuns(count: number, steps: number) {
  const runs: ICurveRun[] = [];
  const series: Record<string, Record<string, RawPoint[]>> = {};
  for (let i = 0; i < count; i++) {
    const id = `r${i}`;
    runs.push({ id, label: `#${i}`, start: 1000 });
    series[id] = {
      loss: Array.from({ length: steps }, (_, s): RawPoint => [s, i + (steps - 1 - s), 1000 + s])
    };
  }
  return { runs, series };
}

describe('smoothing', () => {
  it("is TensorBoard's debiased exponential moving average", () => {
    const data: XY[] = [
      [0, 1],
      [1, 2],
      [2, 3]
    ];
    const out = smooth(data, 0.5);
    // debiased: the first point stays itself, later ones lean on the past
    expect(out[0]).toEqual([0, 1]);
    expect(out[1][1]).toBeCloseTo((0.25 * 1 + 0.5 * 2) / 0.75);
    expect(out[2][1]).toBeCloseTo((0.125 * 1 + 0.25 * 2 + 0.5 * 3) / 0.875);
    expect(out.map(p => p[0])).toEqual([0, 1, 2]);
  });

  it('leaves data alone at 0, keeps a constant constant and passes gaps through', () => {
    const data: XY[] = [
      [0, 4],
      [1, null],
      [2, 4],
      [3, 4]
    ];
    expect(smooth(data, 0)).toEqual(data);
    const out = smooth(data, 0.99);
    expect(out[1]).toEqual([1, null]);
    [0, 2, 3].forEach(i => expect(out[i][1]).toBeCloseTo(4));
  });
});

describe('points to x/y', () => {
  it('uses the step, or the index where a point has none, and skips non-finite values', () => {
    expect(
      toXY(
        [
          [null, 3],
          [5, NaN],
          [7, 1]
        ],
        'step',
        null
      )
    ).toEqual([
      [0, 3],
      [7, 1]
    ]);
  });

  it('counts wall time in seconds from the run start, or from its first logged point', () => {
    const points: RawPoint[] = [
      [0, 1, 1010],
      [1, 2],
      [2, 3, 1030]
    ];
    expect(toXY(points, 'wall', 1000)).toEqual([
      [10, 1],
      [30, 3]
    ]);
    expect(toXY(points, 'wall', null)).toEqual([
      [0, 1],
      [20, 3]
    ]);
    expect(hasWallTime({ a: { loss: points } })).toBe(true);
    expect(hasWallTime({ a: { loss: [[0, 1]] } })).toBe(false);
  });

  it('makes values a log axis cannot place (≤ 0) into gaps', () => {
    expect(
      logSafe([
        [0, 1],
        [1, 0],
        [2, -3],
        [3, 0.5]
      ])
    ).toEqual([
      [0, 1],
      [1, null],
      [2, null],
      [3, 0.5]
    ]);
  });

  it('downsamples long series, keeping both ends', () => {
    const points = Array.from({ length: 10_000 }, (_, i) => i);
    const kept = downsample(points, 100);
    expect(kept).toHaveLength(100);
    expect([kept[0], kept[99]]).toEqual([0, 9999]);
    expect(downsample([1, 2], 100)).toEqual([1, 2]);
  });
});

describe('ranking and gaps', () => {
  it('ranks best first by direction, values missing last, ties in order', () => {
    expect(rankOrder([0.5, null, 0.1, 0.5], 'min')).toEqual([2, 0, 3, 1]);
    expect(rankOrder([0.5, null, 0.1, 0.5], 'max')).toEqual([0, 3, 2, 1]);
    expect(
      finalValue([
        [0, 1],
        [1, 2],
        [2, null]
      ])
    ).toBe(2);
  });

  it('joins runs into one series with a gap between two runs', () => {
    const joined = joinWithGaps([[[0, 1]], [], [[0, 2]]]);
    expect(joined).toEqual([[0, 1], GAP, [0, 2]]);
    expect(joinWithGaps([])).toEqual([]);
  });
});

describe('series building', () => {
  it('gives the best runs their own lines and the rest one background series', () => {
    const { runs, series } = manyRuns(1000, 100);
    const curves = metricCurves('loss', runs, series, 'min', STEP);
    expect(curves.lines.map(line => line.id).slice(0, 3)).toEqual(['r0', 'r1', 'r2']);
    expect(curves.lines).toHaveLength(TOP_RUNS);
    expect(curves.backgroundRuns).toBe(1000 - TOP_RUNS);
    // 980 runs of 100 points, 979 gaps between them
    expect(curves.background).toHaveLength(980 * 100 + 979);
    expect(curves.background.filter(point => Number.isNaN(point[0]))).toHaveLength(979);
    expect(seriesCount(curves)).toBe(TOP_RUNS + 1);
  });

  it('puts higher-is-better metrics best first too, and draws no background for few runs', () => {
    const { runs, series } = manyRuns(3, 4);
    const [curves] = buildCurves(runs, series, { loss: 'max' }, STEP);
    expect(curves.lines.map(line => line.id)).toEqual(['r2', 'r1', 'r0']);
    expect([curves.backgroundRuns, curves.background.length, seriesCount(curves)]).toEqual([
      0, 0, 3
    ]);
  });

  it('builds a chart per metric, log-safe, on wall time when asked, pruned runs dimmed', () => {
    const runs: ICurveRun[] = [
      { id: 'a', label: 'a', start: 100 },
      { id: 'b', label: 'b', start: 200, dimmed: true }
    ];
    const series = {
      a: {
        loss: [[0, 1, 110] as RawPoint, [1, 0, 120] as RawPoint],
        acc: [[0, 0.5, 110] as RawPoint]
      },
      b: { loss: [[0, 2, 205] as RawPoint] }
    };
    const charts = buildCurves(
      runs,
      series,
      { loss: 'min' },
      { x: 'wall', smoothing: 0, log: true }
    );
    expect(charts.map(chart => chart.metric)).toEqual(['acc', 'loss']);
    const loss = charts[1];
    expect(loss.lines.map(line => [line.id, line.dimmed])).toEqual([
      ['a', false],
      ['b', true]
    ]);
    expect(loss.lines[0].data).toEqual([
      [10, 1],
      [20, null]
    ]);
    expect(loss.lines[1].data).toEqual([[5, 2]]);
  });
});

describe('curve chart options', () => {
  const { runs, series } = manyRuns(30, 5);
  const curves = metricCurves('loss', runs, series, 'min', STEP);

  it('draws the background first, thin, silent and out of the tooltip', () => {
    const option = curvesOption(curves, STEP, THEME);
    const drawn = option.series as Array<Record<string, unknown>>;
    expect(drawn).toHaveLength(seriesCount(curves));
    expect(drawn[0]).toMatchObject({
      id: '__background',
      name: '10 other runs',
      silent: true,
      tooltip: { show: false }
    });
    expect(drawn.slice(1).map(s => s.name)).toEqual(curves.lines.map(line => line.label));
    expect(option.animation).toBe(false);
    expect(option.legend).toMatchObject({ type: 'scroll' });
    expect(option.tooltip).toMatchObject({ trigger: 'axis' });
  });

  it('switches the y axis to log and names the x axis after what it counts', () => {
    const option = curvesOption(curves, { x: 'wall', smoothing: 0, log: true }, THEME);
    expect(option.yAxis).toMatchObject({ type: 'log', name: 'loss' });
    expect(option.xAxis).toMatchObject({ name: 'seconds since start' });
  });

  it('takes fixed colours per run where the caller gives them, and dims pruned runs', () => {
    const dimmed = { ...curves, lines: [{ ...curves.lines[0], dimmed: true }], backgroundRuns: 0 };
    const option = curvesOption(dimmed, STEP, THEME, () => '#123456');
    const [line] = option.series as Array<{ color: string; lineStyle: { opacity: number } }>;
    expect(line.color).toBe('#123456');
    expect(line.lineStyle.opacity).toBeLessThan(1);
  });
});
