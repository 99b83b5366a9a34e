/**
 * The admin dashboard: one self-contained HTML document (inline CSS and script, no CDN, no build step) and the
 * headers it is served with — a strict Content-Security-Policy allowing exactly its own script and style by hash.
 * Hard part: nothing user-provided is written into the markup; only the polling interval (a number) is. The
 * script fills the page with `textContent` (layer-cache-admin.script.ts).
 */
import { createHash } from 'node:crypto';
import { ADMIN_PAGE_SCRIPT } from './layer-cache-admin.script.js';

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2330; background: #f7f8fa; }
h1 { font-size: 1.3rem; margin: 0 0 .2rem; } h2 { font-size: 1rem; margin: 1.4rem 0 .5rem; }
#status.ok { color: #46604a; } #status.error { color: #b3261e; font-weight: 600; }
#cards { display: flex; flex-wrap: wrap; gap: .5rem; }
.card { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: .4rem .7rem; min-width: 7rem; }
.card .label { display: block; font-size: .75rem; color: #5b6474; } .card .value { font-size: 1.1rem; font-weight: 600; }
table { border-collapse: collapse; background: #fff; } th, td { border: 1px solid #dde1e7; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
svg { background: #fff; border: 1px solid #dde1e7; width: 600px; height: 160px; }
.grid { stroke: #e4e7ec; stroke-width: 1; } .ratio { fill: none; stroke: #2f6fdb; stroke-width: 2; }
`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The page's Content-Security-Policy: its own inline script and style by hash, fetches to its origin, nothing else. */
export const ADMIN_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(ADMIN_PAGE_SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The headers of the page (beside its CSP). */
export const ADMIN_PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Type': 'text/html; charset=utf-8',
  'Content-Security-Policy': ADMIN_PAGE_CSP,
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
});

/** The headers of the JSON endpoint. */
export const ADMIN_STATS_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
});

/** The page of a registration sampled every `intervalMs` (the page polls at that pace). */
export function renderAdminPage(intervalMs: number): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>nestjs-layercache stats</title>
<style>${STYLE}</style>
</head>
<body data-interval="${Math.round(intervalMs)}">
<h1>Cache stack <span id="name">…</span></h1>
<p id="status">loading…</p>
<div id="cards"></div>
<h2>Hit ratio over time</h2>
<svg id="chart" viewBox="0 0 600 160" preserveAspectRatio="none" role="img" aria-label="hit ratio over time"></svg>
<p id="series-note"></p>
<h2>Layers</h2>
<table id="layers"></table>
<h2>Bus and single-flight</h2>
<table id="bus"></table>
<script>${ADMIN_PAGE_SCRIPT}</script>
</body>
</html>
`;
}
