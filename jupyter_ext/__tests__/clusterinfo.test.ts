import { clusterLine, formatBytes } from '../clusterinfo';
import type { ICluster } from '../tokens';

const running: ICluster = {
  running: true,
  problem: null,
  start: 'cellfleet cluster start',
  address: 'tcp://127.0.0.1:40123',
  dashboard: 'http://127.0.0.1:8787/status',
  kind: 'LocalCUDACluster',
  pid: 4242,
  uptime: 12,
  workers: 2,
  gpus: 2,
  memory: 2 * 2 ** 30,
  memory_per_worker: 2 ** 30,
  preload: ['torch', 'cupy'],
  live: { workers: 2, processing: 0 }
};

describe('formatBytes', () => {
  it('picks the largest binary unit', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(3.5 * 1024)).toBe('3.5 KiB');
    expect(formatBytes(15.6 * 2 ** 30)).toBe('15.6 GiB');
  });
});

describe('clusterLine', () => {
  it('says workers, GPUs and memory of a running cluster, its kind and preloads in the tooltip', () => {
    const line = clusterLine(running);
    expect(line).toEqual({
      text: 'Shared cluster · 2 workers · 2 GPUs · 2.0 GiB',
      title: 'LocalCUDACluster at tcp://127.0.0.1:40123 (pid 4242)\npreload: torch, cupy',
      up: true
    });
  });

  it('counts the workers up when some are missing, and the tasks running', () => {
    const line = clusterLine({ ...running, gpus: 1, live: { workers: 1, processing: 3 } });
    expect(line.text).toBe('Shared cluster · 1 of 2 workers · 1 GPU · 2.0 GiB · 3 running');
  });

  it('notes a scheduler that did not answer', () => {
    expect(clusterLine({ ...running, live: null, preload: [] }).title).toBe(
      'LocalCUDACluster at tcp://127.0.0.1:40123 (pid 4242)\npreload: none\nits scheduler did not answer just now'
    );
  });

  it('gives the command to start one, and why a recorded one cannot be used', () => {
    const none = clusterLine({ running: false, problem: null, start: 'cellfleet cluster start' });
    expect(none.text).toBe('No shared cluster: cellfleet cluster start');
    expect(none.up).toBe(false);
    const stale = clusterLine({
      running: false,
      problem: 'the shared cluster in .cellfleet/cluster.json is gone (pid 7)',
      start: 'cellfleet cluster start'
    });
    expect(
      stale.title.startsWith('the shared cluster in .cellfleet/cluster.json is gone (pid 7). ')
    ).toBe(true);
  });
});
