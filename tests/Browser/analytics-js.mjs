// A web page on its own origin loads analytics.js (@segment/analytics-next, served from node_modules: no CDN, its
// settings inline) and sends a page and a track call to the API, cross-origin, as a site's visitors would.
// Prints {"calls": [{type, messageId, status}], "requests": [...], "failures": [...]} on stdout.
// usage: node analytics-js.mjs API_URL WRITE_KEY
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { chromium } from "playwright-core";

const [apiUrl, writeKey] = process.argv.slice(2);
const api = new URL(apiUrl);
const bundles = new URL("./node_modules/@segment/analytics-next/dist/umd/", import.meta.url);

// The site: one page, and analytics.js's files where it looks for them (cdnURL below).
const site = createServer(async (request, response) => {
  const path = new URL(request.url, "http://site").pathname;
  try {
    if (path === "/") {
      response.writeHead(200, { "content-type": "text/html" }).end(`<!doctype html><title>Shop</title>
        <script src="/analytics-next/bundles/index.js"></script>`);
    } else if (path.startsWith("/analytics-next/bundles/")) {
      const file = await readFile(new URL(path.slice("/analytics-next/bundles/".length), bundles));
      response.writeHead(200, { "content-type": "text/javascript" }).end(file);
    } else {
      response.writeHead(404).end();
    }
  } catch {
    response.writeHead(404).end();
  }
});
await new Promise((resolve) => site.listen(0, "127.0.0.1", resolve));
const siteUrl = `http://127.0.0.1:${site.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const requests = [];
const failures = [];
try {
  const page = await browser.newPage();
  page.on("request", (r) => requests.push(`${r.method()} ${r.url()}`));
  page.on("requestfailed", (r) => failures.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  page.on("pageerror", (e) => failures.push(`page error: ${e.message}`));
  await page.goto(siteUrl);
  await page.waitForFunction(() => window.AnalyticsNext !== undefined);

  const answers = ["/v1/p", "/v1/t"].map((path) =>
    page.waitForResponse((r) => r.url() === `${api.origin}${path}` && r.request().method() === "POST", { timeout: 20000 })
      .catch((e) => ({ status: () => `no answer: ${e.message}` })));
  const calls = await page.evaluate(async ({ writeKey, apiHost, siteUrl }) => {
    const [analytics] = await window.AnalyticsNext.AnalyticsBrowser.load(
      {
        writeKey,
        cdnURL: siteUrl,
        cdnSettings: { integrations: { "Segment.io": { apiKey: writeKey, apiHost, protocol: "http" } } },
      },
      { disableClientPersistence: true });
    const page = await analytics.page("Docs", "Pricing", { plan: "pro" });
    const track = await analytics.track("Order Completed", { orderId: "o-7", revenue: 19.99 });
    return [page, track].map((ctx) => ({ type: ctx.event.type, messageId: ctx.event.messageId }));
  }, { writeKey, apiHost: `${api.host}/v1`, siteUrl });
  const statuses = await Promise.all(answers.map(async (a) => (await a).status()));
  console.log(JSON.stringify({ calls: calls.map((c, i) => ({ ...c, status: statuses[i] })), site: siteUrl, requests, failures }));
} catch (e) {
  console.error(`${e.stack}\nrequests: ${JSON.stringify(requests)}\nfailures: ${JSON.stringify(failures)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  site.close();
}
