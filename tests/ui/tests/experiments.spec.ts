/**
 * The Experiments panel in a real JupyterLab: a variant cell's runs appear live, two are
 * compared, the notebook is promoted from the dialog and the job shows in the Jobs tab.
 * Screenshots of the panel and the compare view, light and dark, land in screenshots/.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import * as path from 'path';

const SHOTS = path.resolve(__dirname, '..', 'screenshots');
const PANEL = '#cellfleet-experiments';

async function shoot(page: IJupyterLabPageFixture, selector: string, name: string): Promise<void> {
  await page.locator(selector).screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

async function openVariantsNotebook(
  page: IJupyterLabPageFixture,
  tmpPath: string
): Promise<string> {
  const notebook = `${tmpPath}/variants.ipynb`;
  await page.contents.uploadFile(
    path.resolve(__dirname, '..', 'notebooks', 'variants.ipynb'),
    notebook
  );
  await page.notebook.openByPath(notebook);
  await page.notebook.activate('variants.ipynb');
  await page.sidebar.openTab('cellfleet-experiments');
  return notebook;
}

test.use({ autoGoto: true });

test('variant runs appear live, compare, promote and find the job', async ({ page, tmpPath }) => {
  const notebook = await openVariantsNotebook(page, tmpPath);
  const panel = page.locator(PANEL);
  await expect(panel.locator('.cf-summary')).toContainText(`0 runs of ${notebook}`);
  // The status filter offers every state a run can be in.
  await expect(panel.locator('select[aria-label="status"] option')).toHaveText([
    'any status',
    'queued',
    'running',
    'succeeded',
    'failed',
    'cancelled',
    'timed_out',
    'interrupted',
    'skipped',
    'pruned'
  ]);

  // Run the whole notebook without waiting: the runs must show up while they run.
  await page.evaluate(() => {
    void (window as any).jupyterapp.commands.execute('notebook:run-all-cells');
  });
  await expect(panel.locator('.cf-run .cf-status-running').first()).toBeVisible({
    timeout: 120_000
  });
  await expect(page.locator('.cf-statusbar-button')).toContainText(/[1-3] variants/);
  await expect(panel.locator('.cf-run')).toHaveCount(3);
  await expect(panel.locator('.cf-run .cf-status-succeeded')).toHaveCount(3, { timeout: 120_000 });
  await expect(panel.locator('.cf-group')).toContainText('3 runs');
  await expect(panel.locator('.cf-head')).toContainText('loss');
  await shoot(page, PANEL, 'panel-light');

  // Sorting by a final metric runs on the server: the lowest loss is lr=0.5's.
  const lossHeader = panel.getByRole('columnheader', { name: /^loss/ });
  await lossHeader.click();
  await expect(lossHeader).toHaveAttribute('aria-sort', 'ascending');
  await expect(panel.locator('.cf-run').first()).toContainText('0.5');
  await lossHeader.click();
  await expect(lossHeader).toHaveAttribute('aria-sort', 'descending');
  await expect(panel.locator('.cf-run').first()).toContainText('0.05');

  // Keyboard: arrows move between rows, space selects.
  const rows = panel.locator('.cf-run');
  await rows.nth(0).focus();
  await page.keyboard.press('ArrowDown');
  await expect(rows.nth(1)).toBeFocused();
  await page.keyboard.press(' ');
  await expect(rows.nth(1)).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press(' ');
  await expect(rows.nth(1)).toHaveAttribute('aria-selected', 'false');

  // Compare two runs.
  await rows.nth(0).click();
  await rows.nth(1).click();
  await expect(rows.nth(0)).toHaveAttribute('aria-selected', 'true');
  await panel.getByRole('button', { name: 'Compare' }).click();
  const compare = page.locator('.cf-compare');
  await expect(compare).toBeVisible();
  await expect(compare.locator('tr.cf-differs th')).toHaveText(['lr']);
  await expect(compare.locator('td.cf-best')).toHaveCount(2); // best loss, best accuracy
  await expect(compare.locator('.cf-chart')).toHaveCount(2);
  await expect(compare.locator('.cf-chart').first()).toHaveAttribute('data-series', '2');
  await expect(compare.locator('.cf-images img')).toHaveCount(2);
  await expect(compare.locator('.cf-images img').first()).toHaveJSProperty('complete', true);
  expect(
    await compare
      .locator('.cf-images img')
      .first()
      .evaluate(img => (img as HTMLImageElement).naturalWidth)
  ).toBeGreaterThan(0);
  await shoot(page, '.cf-compare-widget', 'compare-light');

  await page.theme.setDarkTheme();
  await shoot(page, '.cf-compare-widget', 'compare-dark');
  await page.sidebar.openTab('cellfleet-experiments');
  await shoot(page, PANEL, 'panel-dark');
  await page.theme.setLightTheme();

  // Adopt one run through the notebook's kernel.
  await rows.nth(1).click();
  await expect(panel.locator('.cf-run[aria-selected="true"]')).toHaveCount(1);
  await expect(page.locator('.cf-statusbar-button')).toContainText('idle');
  await expect(panel.locator('.cf-details')).toContainText('lr');
  await expect(panel.locator('.cf-details')).toContainText('accuracy');
  await panel.getByRole('button', { name: 'Adopt' }).click();
  await expect(
    page.getByText(/cellfleet: adopted run \w+ \(lr=0\.05\): assigned .*loss/)
  ).toBeVisible();

  // Promote from the dialog, with the params of one run.
  await panel.getByRole('button', { name: 'Promote…' }).click();
  const dialog = panel.getByRole('dialog');
  await expect(dialog.getByLabel('Parameters (JSON)')).toHaveValue(/"lr"/);
  await dialog.getByLabel('Job name').fill('nightly train');
  await expect(dialog.getByRole('alert')).toContainText('letters, digits');
  await expect(dialog.getByRole('button', { name: 'Promote' })).toBeDisabled();
  await dialog.getByLabel('Job name').fill('nightly-train');
  await dialog.getByLabel('Cron (minute hour day month weekday)').fill('30 3 * * *');
  const expectations = dialog.getByLabel(/^Expect of the final metrics/);
  await expectations.fill('loss is low');
  await expect(dialog.getByRole('alert')).toContainText('"loss is low": write METRIC OP NUMBER');
  await expect(dialog.getByRole('button', { name: 'Promote' })).toBeDisabled();
  await expectations.fill('loss<=10\nloss>=0');
  await dialog.getByLabel('Retry').selectOption('all');
  await dialog.getByRole('button', { name: 'Promote' }).click();

  await expect(panel.getByRole('tab', { name: 'Jobs' })).toHaveAttribute('aria-selected', 'true');
  const job = panel.locator('[data-job="nightly-train"]');
  await expect(job).toContainText('cron 30 3 * * *');
  await expect(job).toContainText('2 (every failure)');
  await expect(job).toContainText('loss<=10, loss>=0');
  await expect(job).toContainText('never run');
  await job.getByRole('button', { name: 'Run now' }).click();
  await job.getByRole('button', { name: 'nightly-train' }).click();
  await expect(
    job.getByRole('table', { name: 'runs of nightly-train' }).or(job.getByText('no runs yet'))
  ).toBeVisible();
  // Other specs may have promoted jobs into the same store: the summary counts what is listed.
  const listed = await panel.locator('[data-job]').count();
  expect(listed).toBeGreaterThanOrEqual(1);
  await expect(panel.locator('.cf-summary')).toHaveText(listed === 1 ? '1 job' : `${listed} jobs`);
  await job.getByRole('button', { name: 'Pause' }).click();
  await expect(job).toContainText('paused');
  await expect(job.getByRole('button', { name: 'Resume' })).toBeVisible();
});

test('the panel is reachable by keyboard and labelled', async ({ page, tmpPath }) => {
  await openVariantsNotebook(page, tmpPath);
  const panel = page.locator(PANEL);
  await expect(panel.getByRole('tablist', { name: 'Experiments' })).toBeVisible();
  await expect(panel.getByRole('grid', { name: 'runs' })).toBeVisible();
  await expect(panel.getByLabel('filter runs')).toBeVisible();
  await panel.getByRole('tab', { name: 'Jobs' }).focus();
  await page.keyboard.press('Enter');
  await expect(panel.getByRole('tab', { name: 'Jobs' })).toHaveAttribute('aria-selected', 'true');
});

test('a production run shows beside the experiments and opens its output', async ({
  page,
  tmpPath
}) => {
  const notebook = `${tmpPath}/report.ipynb`;
  await page.contents.uploadFile(
    path.resolve(__dirname, '..', 'notebooks', 'report.ipynb'),
    notebook
  );
  const root = process.env.JUPYTERLAB_GALATA_ROOT_DIR!;
  execFileSync('cellfleet', ['run', path.join(root, notebook), '-p', 'n', '7'], {
    stdio: 'inherit'
  });

  await page.notebook.openByPath(notebook);
  await page.notebook.activate('report.ipynb');
  await page.sidebar.openTab('cellfleet-experiments');
  const panel = page.locator(PANEL);
  await expect(panel.locator('.cf-summary')).toContainText(`1 run of ${notebook}`);
  await expect(panel.locator('.cf-group')).toContainText('report · 1 run');
  await panel.locator('.cf-run').first().click();
  await expect(panel.locator('.cf-details')).toContainText('succeeded');
  await panel.getByRole('button', { name: 'Open output' }).click();
  const output = page.locator('.cf-output-notebook');
  await expect(output.locator('.cf-output-source').first()).toContainText('n = 3');
  await expect(output).toContainText('total 21');
});
