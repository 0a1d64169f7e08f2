import { DRIFT_METRICS, driftOption, driftSeries } from '../driftdata';
import type { IRun } from '../tokens';
import { THEME } from './fixtures';

function run(id: string, created: number, finals: Record<string, number>): IRun {
  return { id, created, started: created + 1, final_metrics: finals } as unknown as IRun;
}

describe('the drift charts of a job', () => {
  const source = run('exp', 0, { loss: 0.2, acc: 0.9 });
  const runs = [run('b', 200, { loss: 0.3, acc: 0.8 }), run('a', 100, { loss: 0.25, zeta: 1 })];

  it('charts each metric over the runs oldest first, against the experiment', () => {
    const drifts = driftSeries(runs, source);
    expect(drifts.map(d => d.metric)).toEqual(['loss', 'acc', 'zeta']);
    expect(drifts[0]).toEqual({
      metric: 'loss',
      points: [
        [101000, 0.25],
        [201000, 0.3]
      ],
      baseline: 0.2
    });
    expect(drifts[1].points).toEqual([[201000, 0.8]]);
    expect(drifts[2].baseline).toBeNull();
  });

  it('leaves out metrics only the experiment logged, and keeps to a few charts', () => {
    expect(driftSeries([run('a', 1, {})], source)).toEqual([]);
    const many = Object.fromEntries([...'abcdefgh'].map((name, i) => [name, i]));
    expect(driftSeries([run('a', 1, many)], null)).toHaveLength(DRIFT_METRICS);
  });

  it('draws the experiment as a dashed line across the runs', () => {
    const option = driftOption(driftSeries(runs, source)[0], THEME);
    const series = option.series as Array<{ name: string; data: unknown }>;
    expect(series.map(s => s.name)).toEqual(['production runs', 'promoted experiment']);
    expect(series[1].data).toEqual([
      [101000, 0.2],
      [201000, 0.2]
    ]);
    const alone = driftOption(driftSeries(runs, null)[0], THEME);
    expect((alone.series as unknown[]).length).toBe(1);
  });
});
