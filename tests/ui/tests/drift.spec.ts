/**
 * A job's drift charts: its production runs' final metrics over time, against the experiment
 * run it was promoted from. The job is promoted with the real `cellfleet promote`; its runs
 * are recorded in the real store (as the scheduler records them) by a short Python script.
 */
import { expect, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import * as path from 'path';

const PANEL = '#cellfleet-experiments';

const RECORD = `
import sys, time
from cellfleet.config import default_url
from cellfleet.store.database import MetricPoint, Store
from cellfleet.store.jobs import JobStore
store = Store(default_url())
if sys.argv[1] == "experiment":
    run = store.create_run(kind="variant", status="succeeded", notebook=sys.argv[2])
    store.log_metrics([MetricPoint(run, "loss", 0.2, 0)])
    print(run)
else:
    job = JobStore(store).get_job(sys.argv[2])
    for day, loss in enumerate((0.21, 0.24, 0.3)):
        run = store.create_run(kind="production", job_id=job["id"], status="succeeded",
                               started=time.time() - 86400 * (3 - day))
        store.log_metrics([MetricPoint(run, "loss", loss, 0)])
    store.update_run(run, environment_warning="numpy 2.1.0 -> 2.2.0")
    store.create_run(kind="production", job_id=job["id"], status="failed", failure_class="user",
                     started=time.time() - 60)
`;

test('a job shows its runs drifting from the experiment it came from, and its pipeline', async ({
  page,
  tmpPath
}) => {
  const notebook = `${tmpPath}/report.ipynb`;
  await page.contents.uploadFile(
    path.resolve(__dirname, '..', 'notebooks', 'report.ipynb'),
    notebook
  );
  const file = path.join(process.env.JUPYTERLAB_GALATA_ROOT_DIR!, notebook);
  const python = (...args: string[]): string =>
    execFileSync('python', ['-c', RECORD, ...args], { encoding: 'utf-8' }).trim();
  const experiment = python('experiment', file);
  execFileSync('cellfleet', ['promote', file, '--name', 'drifting', '--from-run', experiment]);
  execFileSync('cellfleet', ['promote', file, '--name', 'after-drifting', '--after', 'drifting']);
  python('production', 'drifting');

  await page.sidebar.openTab('cellfleet-experiments');
  const panel = page.locator(PANEL);
  await panel.getByRole('tab', { name: 'Jobs' }).click();
  const job = panel.locator('[data-job="drifting"]');
  await job.getByRole('button', { name: 'drifting' }).click();
  const chart = job.locator('.cf-chart-drift');
  await expect(chart).toHaveCount(1);
  await expect(chart).toHaveAttribute('data-series', '2');
  await expect(chart).toHaveAttribute('data-legend', 'production runs, promoted experiment');
  await expect(chart).toHaveAttribute('data-y-axis', 'loss');
  const table = job.getByRole('table', { name: 'runs of drifting' });
  await expect(table.locator('tr')).toHaveCount(4);
  await expect(table.locator('.cf-env-warning')).toHaveText('⚠ environment: numpy 2.1.0 -> 2.2.0');
  await expect(table).toContainText('failed (user)');
  // The pipeline: the job after it shows the chain, and that it stopped at this one.
  const chain = panel.locator('[data-job="after-drifting"]').getByRole('list', {
    name: 'pipeline of after-drifting'
  });
  await expect(chain.locator('li')).toHaveText([
    'drifting: failed (user: the chain stopped here)',
    'after-drifting: never run'
  ]);
  await expect(chart.locator('canvas')).toBeVisible();
  await job.screenshot({ path: path.join(__dirname, '..', 'screenshots', 'job-drift-light.png') });
});
