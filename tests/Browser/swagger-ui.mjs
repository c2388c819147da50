// Drives the Swagger UI like a person would: Authorize with an API key, "Try it out" on POST /events, Execute.
// Prints {"status": <the response code the UI shows>, "body": <the response body it shows>} on stdout.
// usage: node swagger-ui.mjs BASE_URL API_KEY [SCREENSHOT.png]
import { chromium } from "playwright-core";

const [baseUrl, apiKey, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  await page.goto(`${baseUrl}/swagger`);

  await page.getByRole("button", { name: "Authorize" }).first().click();
  await page.locator(".auth-container input").fill(apiKey);
  await page.getByRole("button", { name: "Apply credentials" }).click();
  await page.locator(".auth-btn-wrapper button.btn-done").click();

  const operation = page.locator("#operations-Events-PostEvent");
  await operation.locator(".opblock-summary").click();
  await operation.getByRole("button", { name: "Try it out" }).click();
  await operation.getByRole("button", { name: "Execute" }).click();

  const status = operation.locator(".live-responses-table tbody .response-col_status").first();
  await status.waitFor({ timeout: 15000 });
  const body = await operation.locator(".live-responses-table tbody .response-col_description pre").first().innerText();
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ status: (await status.innerText()).trim(), body }));
} finally {
  await browser.close();
}
