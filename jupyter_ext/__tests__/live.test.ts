import { Signal } from '@lumino/signaling';

import { LiveReload } from '../live';
import type { IRun } from '../tokens';

const changedRun = (id: string, group = 'g1') => ({ id, group_id: group }) as IRun;

describe('LiveReload', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function setup() {
    const owner = {};
    const changed = new Signal<object, IRun[]>(owner);
    const resolvers: Array<(value: number) => void> = [];
    const load = jest.fn(() => new Promise<number>(resolve => resolvers.push(resolve)));
    const loaded = jest.fn();
    const live = new LiveReload(
      { changed },
      load,
      runs => runs.some(run => run.group_id === 'g1'),
      loaded,
      2000
    );
    return { changed, load, loaded, live, resolvers };
  }

  it('reloads on changes it wants, at most once per interval, never two loads at once', async () => {
    const { changed, load, loaded, live, resolvers } = setup();
    live.reload();
    expect(load).toHaveBeenCalledTimes(1);
    changed.emit([changedRun('a', 'other')]);
    expect(jest.getTimerCount()).toBe(0); // not a run it shows
    // changes within the interval make one reload, when the interval is over
    changed.emit([changedRun('a')]);
    changed.emit([changedRun('b')]);
    jest.advanceTimersByTime(1999);
    expect(load).toHaveBeenCalledTimes(1);
    resolvers[0](1);
    await Promise.resolve();
    expect(loaded).toHaveBeenLastCalledWith(1, '');
    jest.advanceTimersByTime(1);
    expect(load).toHaveBeenCalledTimes(2);
    live.dispose();
  });

  it('queues a reload asked for during a load, and stops after dispose', async () => {
    const { changed, load, loaded, live, resolvers } = setup();
    live.reload();
    live.reload();
    expect(load).toHaveBeenCalledTimes(1);
    resolvers[0](1);
    await Promise.resolve();
    expect(load).toHaveBeenCalledTimes(2);
    live.dispose();
    resolvers[1](2);
    await Promise.resolve();
    expect(loaded).toHaveBeenCalledTimes(1);
    changed.emit([changedRun('a')]);
    jest.advanceTimersByTime(5000);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('passes a failed load on as its message', async () => {
    const owner = {};
    const changed = new Signal<object, IRun[]>(owner);
    const loaded = jest.fn();
    const live = new LiveReload(
      { changed },
      () => Promise.reject(new Error('server gone')),
      () => true,
      loaded
    );
    live.reload();
    await Promise.resolve();
    await Promise.resolve();
    expect(loaded).toHaveBeenCalledWith(null, 'server gone');
  });
});
