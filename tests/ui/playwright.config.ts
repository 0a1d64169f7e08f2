/** Galata in Debian's Chromium (never a downloaded browser), against `jupyter lab` on port 8888. */
import { mkdtempSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

// The store and the server root: the tests' own temporary folders unless the caller gives them
// (the benchmark does); set in the environment so that the tests' processes see them too.
process.env.CELLFLEET_ROOT ??= mkdtempSync(join(tmpdir(), 'cellfleet-ui-store-'));
process.env.JUPYTERLAB_GALATA_ROOT_DIR ??= mkdtempSync(join(tmpdir(), 'cellfleet-ui-root-'));

module.exports = {
  ...baseConfig,
  timeout: 240_000,
  expect: { timeout: 30_000 },
  retries: 0,
  workers: 1,
  reporter: [['list']],
  use: {
    ...baseConfig.use,
    trace: 'off',
    video: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic'
      ]
    }
  },
  webServer: {
    command: 'jupyter lab --config jupyter_server_test_config.py',
    url: 'http://localhost:8888/lab',
    timeout: 120_000,
    reuseExistingServer: false,
    env: { ...process.env }
  }
};
