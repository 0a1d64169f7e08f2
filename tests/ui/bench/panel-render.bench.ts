/**
 * First render of the Runs view: from asking for it to its first rows on screen, with the
 * store the driver prepared. Writes the samples (milliseconds) to BENCH_OUT; asserts nothing
 * about time.
 */
import { expect, test } from '@jupyterlab/galata';
import { writeFileSync } from 'fs';

const PANEL = '#cellfleet-experiments';

test.use({ autoGoto: true });

test('first render of the runs view', async ({ page }) => {
  const notebook = process.env.BENCH_NOTEBOOK ?? 'bench.ipynb';
  const repeats = Number(process.env.BENCH_REPEATS ?? '15');
  await page.evaluate(async path => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', { path });
  }, notebook);
  await expect(page.locator('.jp-NotebookPanel')).toBeVisible();
  await page.sidebar.openTab('cellfleet-experiments');
  const panel = page.locator(PANEL);
  await expect(panel.locator('.cf-run').first()).toBeVisible({ timeout: 60_000 });
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    await panel.getByRole('tab', { name: 'Jobs' }).click();
    await expect(panel.locator('.cf-jobs')).toBeVisible();
    samples.push(
      await page.evaluate(async () => {
        const start = performance.now();
        const panel = document.querySelector('#cellfleet-experiments')!;
        (panel.querySelector('#cf-tab-runs') as HTMLElement).click();
        while (
          !/^\d+ runs? of /.test(panel.querySelector('.cf-summary')?.textContent ?? '') ||
          !panel.querySelector('.cf-run')
        ) {
          await new Promise(requestAnimationFrame);
        }
        return performance.now() - start;
      })
    );
  }
  const rows = await panel.locator('.cf-run').count();
  const summary = await panel.locator('.cf-summary').textContent();
  writeFileSync(
    process.env.BENCH_OUT ?? 'panel-render.json',
    JSON.stringify({ samples, rows, summary })
  );
  expect(samples).toHaveLength(repeats);
});
