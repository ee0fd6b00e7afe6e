// Browser tests of the console (docs/CONSOLE.md), run by
// tests/console_browser_test.py against a server it started on generated
// data: Debian's Chromium driven by playwright-core. Every check waits on a
// condition (an element, a data attribute), never on a fixed delay.
//
// Environment: ENCORE_URL (http://127.0.0.1:PORT), ENCORE_KEY, ENCORE_USER
// (a user of the snapshot), ARTIFACTS (screenshots), CHROMIUM.
import {chromium} from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const url = process.env.ENCORE_URL;
const apiKey = process.env.ENCORE_KEY;
const user = process.env.ENCORE_USER;
const artifacts = process.env.ARTIFACTS;
fs.mkdirSync(artifacts, {recursive: true});

let passed = 0, failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log('ok: ' + name);
  } catch (e) {
    failed += 1;
    console.log('FAILED: ' + name + ': ' + (e && e.stack || e));
  }
}
function expect(cond, what) { if (!cond) throw new Error(what); }

const browser = await chromium.launch({executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
                                       args: ['--no-sandbox', '--disable-gpu', '--no-proxy-server']});
try {
  // A page with the key in its session storage, collecting console errors.
  async function open(width, height, withKey = true) {
    const context = await browser.newContext({viewport: {width, height}});
    if (withKey) await context.addInitScript(k => sessionStorage.setItem('encore-key', k), apiKey);
    const page = await context.newPage();
    const errors = [];
    page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', e => errors.push(String(e)));
    page.on('requestfailed', r => errors.push('request failed: ' + r.url()));
    // Nothing may leave the machine: every request goes to the server.
    page.on('request', r => { if (!r.url().startsWith(url) && !r.url().startsWith('data:')) errors.push('external request: ' + r.url()); });
    return {context, page, errors};
  }
  async function visit(page, hash, ready) {
    await page.goto(url + '/ui/' + hash);
    await page.waitForFunction(n => document.body.dataset.ready === n, ready, {timeout: 30000});
  }
  // Points drawn by every chart on the page (Chart.js metadata).
  async function chartPoints(page) {
    return page.evaluate(() => (window.encoreCharts || []).map(c =>
        c.data.datasets.reduce((n, d, i) => n + c.getDatasetMeta(i).data.filter(
            (e, k) => d.data[k] !== null && d.data[k] !== undefined).length, 0)));
  }

  const pages = [
    ['data', '#data', 4], ['runs', '#runs', 4], ['models', '#models', 2],
    ['experiment', '#experiment', 4], ['users', '#users/' + encodeURIComponent(user), 0],
  ];
  for (const [width, label] of [[1280, 'desktop'], [390, 'phone']]) {
    const {context, page, errors} = await open(width, 900);
    for (const [name, hash, minCharts] of pages) {
      await check(`${name} page (${label})`, async () => {
        errors.length = 0;
        await visit(page, hash, name);
        const text = await page.textContent('#page');
        expect(!(await page.$('#page .notice.error')), `${name}: the page shows an error: ${text.slice(0, 300)}`);
        const points = await chartPoints(page);
        expect(points.length >= minCharts, `${name}: ${points.length} charts, expected at least ${minCharts}`);
        expect(points.every(n => n > 0), `${name}: a chart drew no data points: ${JSON.stringify(points)}`);
        if (name === 'experiment') {
          // The always-valid intervals beside the fixed-horizon ones: in the
          // table and drawn in every chart.
          const always = await page.$$eval('#page .always-valid', t => t.length);
          expect(always >= 4, `experiment: ${always} always-valid intervals in the table`);
          const drawn = await page.evaluate(() => (window.encoreCharts || []).map(c => c.data.datasets.findIndex(d => /always-valid/.test(d.label)))
              .map((i, k) => i < 0 ? 0 : window.encoreCharts[k].getDatasetMeta(i).data.filter((e, j) => window.encoreCharts[k].data.datasets[i].data[j] != null).length));
          expect(drawn.length >= 4 && drawn.every(n => n > 0), 'experiment: charts without always-valid intervals: ' + JSON.stringify(drawn));
        }
        if (name === 'models') {
          const segments = await page.$$eval('#segments tr[data-segment]', r => r.length);
          expect(segments >= 2, `models: ${segments} segment rows, expected the retail run's segments`);
        }
        if (name === 'runs') expect(await page.$$eval('.lineage svg .node', n => n.length) >= 4, 'runs: the lineage graph has too few nodes');
        if (name === 'users') {
          await page.waitForFunction(() => document.querySelectorAll('#served tr[data-item]').length > 0 &&
              [...document.querySelectorAll('#served .why')].every(td => td.textContent !== '…'), null, {timeout: 30000})
              .catch(async e => { throw new Error('users: ' + e.message + '; the page says: ' + (await page.textContent('#page')).slice(0, 600)); });
          expect(await page.$$eval('#history tbody tr', r => r.length) > 0, 'users: no history rows');
          const why = await page.$$eval('#served .why', t => t.map(x => x.textContent));
          expect(why.some(w => w.startsWith('because of')), 'users: no explanation: ' + JSON.stringify(why));
        }
        // At phone width nothing may be wider than the screen but tables
        // and the lineage graph, which scroll inside their own box.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow <= 1, `${name}: the page is ${overflow}px wider than the ${label} viewport`);
        expect(errors.length === 0, `${name}: console errors: ${errors.join(' | ')}`);
        await page.screenshot({path: path.join(artifacts, `${name}-${label}.png`), fullPage: true});
      });
    }
    await check(`live page refreshes (${label})`, async () => {
      errors.length = 0;
      await visit(page, '#live', 'live');
      // Two refreshes give the first rate and percentile points.
      await page.waitForFunction(() => Number(document.body.dataset.liveSamples || 0) >= 3, null, {timeout: 30000});
      const points = await chartPoints(page);
      expect(points.length === 2 && points.every(n => n > 0), 'live: charts without points: ' + JSON.stringify(points));
      const cards = await page.textContent('#live-cards');
      expect(/snapshot\s*\d+/.test(cards), 'live: no snapshot version in ' + cards);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow <= 1, `live: the page is ${overflow}px wider than the ${label} viewport`);
      expect(errors.length === 0, `live: console errors: ${errors.join(' | ')}`);
      await page.screenshot({path: path.join(artifacts, `live-${label}.png`), fullPage: true});
    });
    await context.close();
  }

  await check('data endpoints refuse a request without the key', async () => {
    const {context, page} = await open(1280, 900, false);
    for (const api of ['profile', 'runs', 'live', 'experiment', 'users/' + encodeURIComponent(user)]) {
      const r = await page.request.get(url + '/ui/api/' + api);
      expect(r.status() === 401, `/ui/api/${api} without the key answered ${r.status()}`);
      const wrong = await page.request.get(url + '/ui/api/' + api, {headers: {Authorization: 'Bearer wrong'}});
      expect(wrong.status() === 401, `/ui/api/${api} with a wrong key answered ${wrong.status()}`);
    }
    // The page itself says so (the browser logs the 401 as an error: expected here).
    await visit(page, '#users/' + encodeURIComponent(user), 'users');
    const text = await page.textContent('#page');
    expect(/admin key/.test(text), 'the user explorer without the key says: ' + text.slice(0, 200));
    expect(!(await page.$('#served')), 'the user explorer showed a payload without the key');
    await page.screenshot({path: path.join(artifacts, 'users-without-key.png'), fullPage: true});
    await context.close();
  });

  await check('the key entered in the page unlocks it', async () => {
    const {context, page} = await open(1280, 900, false);
    await visit(page, '#runs', 'runs');
    expect(!(await page.$('.lineage')), 'runs shown without the key');
    await page.fill('#key', apiKey);
    await page.click('#key-form button');
    await page.waitForSelector('.lineage svg');
    await context.close();
  });
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
