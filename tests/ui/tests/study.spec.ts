/**
 * The study view of a `%%remote --search` in a real JupyterLab: opened while the trials run,
 * it follows them live (trials table, best so far, parallel coordinates, importances, curves);
 * brushing an axis filters the trials table; the curves switch to log y and wall-time x. The
 * full-width runs table lists the trials while they run and sorts on a column. Screenshots of
 * the study view (light, dark) and of the wide runs table land in screenshots/.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import * as path from 'path';

const SHOTS = path.resolve(__dirname, '..', 'screenshots');
const PANEL = '#cellfleet-experiments';
const TRIALS = 8;

async function shoot(page: IJupyterLabPageFixture, selector: string, name: string): Promise<void> {
  // The charts redraw on the frame after a theme change: let two frames pass first.
  await page.evaluate(async () => {
    for (let i = 0; i < 2; i++) {
      await new Promise(requestAnimationFrame);
    }
  });
  await page.locator(selector).screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/** Drag along the parallel chart's last axis (the objective, min at the bottom) over its lower half. */
async function brushObjective(page: IJupyterLabPageFixture, parallel: Locator): Promise<void> {
  await parallel.scrollIntoViewIfNeeded();
  const box = (await parallel.locator('.cf-chart-canvas').boundingBox())!;
  // studyoptions.ts lays the parallel box out 48 px from the left, 72 from the right, 40 from
  // the top and 28 from the bottom; the last axis stands at its right edge.
  const x = box.x + box.width - 72;
  const bottom = box.y + box.height - 28;
  const middle = (box.y + 40 + bottom) / 2;
  await page.mouse.move(x, bottom + 4);
  await page.mouse.down();
  await page.mouse.move(x, (bottom + middle) / 2, { steps: 4 });
  await page.mouse.move(x, middle, { steps: 4 });
  await page.mouse.up();
}

// Tall enough for the study view's charts and the trials table in the screenshots.
test.use({ autoGoto: true, viewport: { width: 1400, height: 1100 } });

test('the study view follows a search live, filters by brushing, and the wide table sorts', async ({
  page,
  tmpPath
}) => {
  const errors: string[] = [];
  page.on('pageerror', error => errors.push(error.message));

  const notebook = `${tmpPath}/search.ipynb`;
  await page.contents.uploadFile(
    path.resolve(__dirname, '..', 'notebooks', 'search.ipynb'),
    notebook
  );
  await page.notebook.openByPath(notebook);
  await page.notebook.activate('search.ipynb');
  await page.sidebar.openTab('cellfleet-experiments');
  const panel = page.locator(PANEL);
  await expect(panel.locator('.cf-summary')).toContainText(`0 runs of ${notebook}`);

  // Run the whole notebook without waiting: everything below starts while the trials run.
  await page.evaluate(() => {
    void (window as any).jupyterapp.commands.execute('notebook:run-all-cells');
  });
  const studyButton = panel.locator('button.cf-study-button');
  await expect(studyButton).toBeVisible({ timeout: 120_000 });

  // The full-width runs table, opened while the search runs, fills in as trials come.
  await panel.getByRole('button', { name: 'open runs table in main area' }).click();
  const wide = page.locator('#cellfleet-runs-main');
  await expect(wide.locator('.cf-runs-main .cf-runs-wide')).toBeVisible();
  await expect(wide.locator('.cf-run').first()).toBeVisible();
  await expect(wide.locator('.cf-group .cf-study-button')).toBeVisible();

  // The study view, opened while the trials run.
  await studyButton.click();
  const study = page.locator('.cf-study');
  await expect(study).toBeVisible();
  const widgetId = await page
    .locator('[id^="cellfleet-study-"]')
    .filter({ has: study })
    .getAttribute('id');
  expect(widgetId).toMatch(/^cellfleet-study-.+/);
  const rows = study.locator('.cf-study-trial');
  await expect(rows.first()).toBeVisible();
  await expect(study.locator('.cf-study-head p')).toContainText(/running|queued/);
  await expect(study.getByRole('table', { name: 'trials' })).toBeVisible();
  await expect(rows).toHaveCount(TRIALS, { timeout: 120_000 });
  await expect(study.locator('.cf-study-head p')).toContainText(`${TRIALS} succeeded`, {
    timeout: 120_000
  });
  await expect(study.locator('.cf-study-head p')).not.toContainText('running');

  await expect(study.locator('.cf-chart-best')).toHaveAttribute('data-series', /^[1-9]\d*$/);
  const parallel = study.locator('.cf-chart-parallel');
  await expect(parallel).toHaveAttribute('data-series', '1');
  await expect(parallel.getByRole('img')).toHaveAttribute(
    'aria-label',
    `parallel coordinates of ${TRIALS} trials over 3 axes`
  );
  await expect(
    study.locator('.cf-chart-importance, .cf-chart-note .cf-note').first()
  ).toBeVisible();

  // The curves: one chart for loss, with its axes and a legend entry per trial.
  const curves = study.locator('.cf-curves');
  const lossChart = curves.locator('.cf-chart').first();
  await expect(curves.locator('.cf-chart')).toHaveCount(1);
  await expect(lossChart).toHaveAttribute('data-series', String(TRIALS));
  await expect(lossChart).toHaveAttribute('data-x-axis', 'step');
  await expect(lossChart).toHaveAttribute('data-y-axis', 'loss');
  const legend = (await lossChart.getAttribute('data-legend'))!.split(', ');
  expect(legend).toHaveLength(TRIALS);
  expect(legend.every(entry => /^#\d+$/.test(entry))).toBe(true);
  await shoot(page, `#${widgetId}`, 'study-light');

  // Brushing the objective's lower half keeps the better trials only; clearing brings all back.
  await brushObjective(page, parallel);
  const filter = study.locator('.cf-study-filter');
  await expect(filter).toContainText(`of ${TRIALS} trials in the brushed ranges`);
  const kept = await rows.count();
  expect(kept).toBeGreaterThan(0);
  expect(kept).toBeLessThan(TRIALS);
  await expect(filter).toContainText(`${kept} of ${TRIALS}`);
  await study.getByRole('button', { name: 'clear trial filters' }).click();
  await expect(rows).toHaveCount(TRIALS);
  await expect(filter).toContainText(`${TRIALS} trials, best first`);
  await expect(study.getByRole('button', { name: 'Compare shown' })).toBeEnabled();

  // Log y and wall-time x (the server sends each point's logging time).
  await curves.getByLabel('log scale').check();
  await expect(lossChart).toHaveAttribute('data-series', String(TRIALS));
  const xAxis = curves.locator('select[aria-label="x axis"]');
  await expect(xAxis.locator('option[value="wall"]')).toHaveJSProperty('disabled', false);
  await xAxis.selectOption('wall');
  await expect(lossChart).toHaveAttribute('data-x-axis', 'seconds since start');
  await expect(lossChart).toHaveAttribute('data-series', String(TRIALS));
  await curves.locator('input[type=range][aria-label="smoothing"]').fill('0.6');
  await expect(curves.locator('output')).toHaveText('0.60');
  await xAxis.selectOption('step');
  await expect(lossChart).toHaveAttribute('data-x-axis', 'step');

  await page.theme.setDarkTheme();
  await shoot(page, `#${widgetId}`, 'study-dark');
  await page.theme.setLightTheme();

  // The wide table has every trial; sorting by loss runs on the server and agrees with the
  // study's ranking (its table lists the best first).
  const best = await rows.first().getAttribute('data-run');
  const worst = await rows.last().getAttribute('data-run');
  await page.evaluate(() => (window as any).jupyterapp.shell.activateById('cellfleet-runs-main'));
  await expect(wide.locator('.cf-run')).toHaveCount(TRIALS);
  await expect(wide.locator('.cf-run .cf-status-succeeded')).toHaveCount(TRIALS);
  await expect(wide.locator('.cf-summary')).toContainText(`${TRIALS} runs of ${notebook}`);
  const lossHeader = wide.getByRole('columnheader', { name: /^loss/ });
  await lossHeader.click();
  await expect(lossHeader).toHaveAttribute('aria-sort', 'ascending');
  await expect(wide.locator('.cf-run').first()).toHaveAttribute('data-run', best!);
  await lossHeader.click();
  await expect(lossHeader).toHaveAttribute('aria-sort', 'descending');
  await expect(wide.locator('.cf-run').first()).toHaveAttribute('data-run', worst!);
  await shoot(page, '#cellfleet-runs-main', 'runs-main-light');

  expect(errors).toEqual([]);
});
