/** The cluster strip's words: what `GET cluster` says of the shared cluster, in one short line. */
import type { ICluster } from './tokens';

/** The strip's content: its line, its tooltip, and whether a cluster is up. */
export interface IClusterLine {
  text: string;
  title: string;
  up: boolean;
}

/** Bytes as a short size: 512 B, 3.5 KiB, 15.6 GiB. */
export function formatBytes(bytes: number): string {
  const units: Array<[string, number]> = [
    ['TiB', 2 ** 40],
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10]
  ];
  for (const [unit, size] of units) {
    if (bytes >= size) {
      return `${(bytes / size).toFixed(1)} ${unit}`;
    }
  }
  return `${Math.round(bytes)} B`;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** The strip for `cluster`: workers (up of started), GPUs and memory, or how to start one. */
export function clusterLine(cluster: ICluster): IClusterLine {
  if (!cluster.running) {
    const why = cluster.problem ? `${cluster.problem}. ` : '';
    return {
      text: `No shared cluster: ${cluster.start}`,
      title: `${why}Kernels start a private cluster each; \`${cluster.start}\` runs one that outlives them.`,
      up: false
    };
  }
  const workers = cluster.workers ?? 0;
  const live = cluster.live;
  const counted =
    live && live.workers !== workers
      ? `${live.workers} of ${workers} workers`
      : plural(workers, 'worker');
  const parts = [counted, plural(cluster.gpus ?? 0, 'GPU'), formatBytes(cluster.memory ?? 0)];
  if (live && live.processing > 0) {
    parts.push(`${live.processing} running`);
  }
  const preload = cluster.preload?.length ? cluster.preload.join(', ') : 'none';
  const title = [
    `${cluster.kind} at ${cluster.address} (pid ${cluster.pid})`,
    `preload: ${preload}`,
    live ? '' : 'its scheduler did not answer just now'
  ];
  return {
    text: `Shared cluster · ${parts.join(' · ')}`,
    title: title.filter(Boolean).join('\n'),
    up: true
  };
}
