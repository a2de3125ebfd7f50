/**
 * The main job (`npm run verify`): runs every suite against real PostgreSQL, then turns the
 * results into the Allure HTML report. Exit code: vitest's (0 all green, 1 failures).
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';

const resultsDir = 'reports/allure-results';
rmSync(resultsDir, { recursive: true, force: true });

const tests = spawnSync('npx', ['vitest', 'run'], { stdio: 'inherit' });
const report = spawnSync('npx', ['allure', 'generate', resultsDir], { stdio: ['ignore', 'ignore', 'inherit'] });
if (report.status === 0) console.log('Allure report: reports/allure-report/index.html');
else console.error('allure generate failed: the raw results are in reports/allure-results');
process.exit(tests.status ?? 1);
