import { chromium } from "/work/main/node_modules/playwright-core/index.mjs";
const b = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const p = await b.newPage();
await p.goto("file:///tmp/hash/h.html");
console.log(await p.evaluate("window.isSecureContext"), await p.evaluate("run()"));
await b.close();
