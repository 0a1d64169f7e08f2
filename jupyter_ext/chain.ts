/**
 * Notebook pipelines in the Jobs tab: the chain of `--after` jobs a job belongs to, upstream
 * first, with each link's newest run, and the link where the chain broke.
 */
import type { IJob, RunStatus } from './tokens';

/** One job of a chain, as the Jobs tab shows it. */
export interface IChainLink {
  name: string;
  /** Its newest run's status; null before any run. */
  status: RunStatus | null;
  failureClass: string | null;
  /** The first link, upstream first, whose newest run did not succeed: the chain stops there. */
  broken: boolean;
  /** The job the chain is shown for. */
  current: boolean;
}

const STOPS: ReadonlySet<RunStatus> = new Set<RunStatus>([
  'failed',
  'cancelled',
  'timed_out',
  'interrupted',
  'skipped'
]);

function upstreamOf(job: IJob, byName: Map<string, IJob>): IJob[] {
  const path: IJob[] = [];
  const seen = new Set<string>([job.name]);
  let next = job.after ? byName.get(job.after) : undefined;
  while (next && !seen.has(next.name)) {
    seen.add(next.name);
    path.unshift(next);
    next = next.after ? byName.get(next.after) : undefined;
  }
  return path;
}

function downstreamOf(job: IJob, jobs: IJob[], upstream: IJob[]): IJob[] {
  const found: IJob[] = [];
  const seen = new Set<string>([job.name, ...upstream.map(each => each.name)]);
  const queue = [job.name];
  while (queue.length) {
    const name = queue.shift()!;
    for (const child of jobs.filter(other => other.after === name && !seen.has(other.name))) {
      seen.add(child.name);
      found.push(child);
      queue.push(child.name);
    }
  }
  return found;
}

/**
 * The chain `job` is part of: its upstream jobs (root first), itself, then the jobs after it
 * (breadth first). Empty when the job has neither an upstream nor a downstream job.
 */
export function chainOf(job: IJob, jobs: IJob[]): IChainLink[] {
  const byName = new Map(jobs.map(each => [each.name, each]));
  const upstream = upstreamOf(job, byName);
  const members = [...upstream, job, ...downstreamOf(job, jobs, upstream)];
  if (members.length === 1) {
    return [];
  }
  let brokenSeen = false;
  return members.map(member => {
    const status = member.last_run?.status ?? null;
    const broken = !brokenSeen && status !== null && STOPS.has(status);
    brokenSeen = brokenSeen || broken;
    return {
      name: member.name,
      status,
      failureClass: member.last_run?.failure_class ?? null,
      broken,
      current: member.name === job.name
    };
  });
}
