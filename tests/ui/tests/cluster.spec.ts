/**
 * The panel's cluster strip against a real warm shared cluster, started and stopped with the
 * real `cellfleet cluster` command in the project the server serves (`CELLFLEET_ROOT`).
 */
import { expect, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';

const PANEL = '#cellfleet-experiments';

const cluster = (...args: string[]): string =>
  execFileSync('cellfleet', ['cluster', ...args], { encoding: 'utf-8', timeout: 180_000 });

test.afterEach(() => {
  cluster('stop'); // no error when none runs; the other specs get private clusters again
});

test('the strip shows the shared cluster while it runs, and how to start one', async ({ page }) => {
  await page.sidebar.openTab('cellfleet-experiments');
  const strip = page.locator(PANEL).locator('.cf-cluster');
  await expect(strip).toContainText('No shared cluster: cellfleet cluster start');

  cluster('start', '--gpus', '0', '--workers', '1', '--memory-limit', '512MiB');
  await expect(strip).toContainText(/Shared cluster · 1 worker · 0 GPUs · 512\.0 MiB/, {
    timeout: 60_000
  });
  await expect(strip).toHaveClass(/cf-cluster-up/);
  await expect(strip.getByRole('link', { name: 'dashboard' })).toHaveAttribute('href', /^http/);

  cluster('stop');
  await expect(strip).toContainText('No shared cluster', { timeout: 60_000 });
});
