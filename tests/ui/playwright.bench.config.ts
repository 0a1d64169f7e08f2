/**
 * The panel's render benchmark (benchmarks/bench_panel.py drives it): JupyterLab on a store and
 * server root that the driver prepared (CELLFLEET_ROOT, JUPYTERLAB_GALATA_ROOT_DIR).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const config = require('./playwright.config');

module.exports = {
  ...config,
  testDir: './bench',
  testMatch: '**/*.bench.ts'
};
