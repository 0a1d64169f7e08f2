import { chainOf } from '../chain';
import type { IJob, RunStatus } from '../tokens';

function job(name: string, after: string | null, status?: RunStatus, failure?: string): IJob {
  const last_run = status
    ? { id: `${name}-run`, status, failure_class: failure ?? null, created: 1, ended: 2 }
    : null;
  return { id: name, name, after, last_run } as unknown as IJob;
}

describe('the chain of --after jobs', () => {
  it('is empty for a job on its own', () => {
    expect(chainOf(job('solo', null, 'succeeded'), [job('solo', null, 'succeeded')])).toEqual([]);
  });

  it('lists the upstream jobs first, the job, then those after it, and marks where it broke', () => {
    const jobs = [
      job('report', 'train'),
      job('prep', null, 'succeeded'),
      job('train', 'prep', 'failed', 'oom'),
      job('publish', 'report'),
      job('other', null, 'failed')
    ];
    const links = chainOf(jobs[2], jobs);
    expect(links.map(link => link.name)).toEqual(['prep', 'train', 'report', 'publish']);
    expect(links.map(link => link.broken)).toEqual([false, true, false, false]);
    expect(links[1]).toMatchObject({ current: true, failureClass: 'oom', status: 'failed' });
    expect(links[2].status).toBeNull();
  });

  it('marks only the first link that stopped, and survives a cycle in stored rows', () => {
    const jobs = [job('a', 'c', 'timed_out'), job('b', 'a', 'failed'), job('c', 'b', 'succeeded')];
    const links = chainOf(jobs[1], jobs);
    expect(links.map(link => link.name)).toEqual(['c', 'a', 'b']);
    expect(links.filter(link => link.broken).map(link => link.name)).toEqual(['a']);
  });
});
