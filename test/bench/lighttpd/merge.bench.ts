// parse + merge + render of the default template with a 200-line maintainer file: it sits on
// every `webservice start` and every reload. Target: under 5 ms per run.
// The baseline, measured in the same run: the real `lighttpd -tt` on the merged result, which
// every start runs right after the merge.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fillTemplate, findLighttpd, makeSource, mergeConfig, nodeHost } from '../../../src/lighttpd/index.js';
import { templatePath } from '../../../src/package-files.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 300);

function maintainerFile(lines: number): string {
  const out: string[] = ['# a large but ordinary ~/.lighttpd.conf', 'server.modules += ("mod_status", "mod_auth")', 'index-file.names = ("index.php", "start.html")'];
  let i = 0;
  while (out.length < lines) {
    i++;
    switch (i % 6) {
      case 0:
        out.push(`mimetype.assign += (".ext${i}" => "application/x-ext${i}")`);
        break;
      case 1:
        out.push(`var.dir${i} = env.HOME + "/public_html/section${i}"`);
        break;
      case 2:
        out.push(`$HTTP["url"] =~ "^/tool/section${i}(/|$)" {`, `  url.access-deny = ("")`, '}');
        break;
      case 3:
        out.push(`url.rewrite-once += ("^/tool/old${i}/(.*)$" => "/tool/new${i}/$1")`);
        break;
      case 4:
        out.push(`setenv.add-response-header += ("X-Section-${i}" => "yes")`);
        break;
      default:
        out.push(`# comment line ${i}`, `$HTTP["host"] == "h${i}.example" { server.tag = "host${i}" } else { var.other${i} = ${i} }`);
    }
  }
  return `${out.slice(0, lines).join('\n')}\n`;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const home = mkdtempSync(path.join(os.tmpdir(), 'toolhost-bench-'));
try {
  const templateText = readFileSync(templatePath('lighttpd.conf'), 'utf8');
  const userText = maintainerFile(200);
  const host = nodeHost({ env: { HOME: home }, cwd: home });
  const once = () => {
    const filled = fillTemplate(templateText, { PORT: 8000, BIND: '127.0.0.1', HOME: home, RUNTIME: home, TOOL: 'tool', USER: '', GROUP: '' }, new Set());
    return mergeConfig({
      template: makeSource('template', filled.text, { origin: 'template' }),
      afterUserOffset: filled.afterUserOffset,
      user: makeSource('~/.lighttpd.conf', userText),
      host,
      basedir: home,
    });
  };
  const first = once();
  if (!first.ok) throw new Error(`the benchmark input does not merge: ${first.diagnostics.map((d) => d.message).join('; ')}`);
  for (let i = 0; i < 30; i++) once();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    once();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = percentile(times, 50);

  let lighttpdMedian: number | null = null;
  const binary = findLighttpd();
  if (binary) {
    const file = path.join(home, 'merged.conf');
    writeFileSync(file, first.text);
    const lt: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      spawnSync(binary, ['-tt', '-f', file]);
      lt.push(performance.now() - t0);
    }
    lt.sort((a, b) => a - b);
    lighttpdMedian = percentile(lt, 50);
  }
  const rows = [
    `| parse + merge + render, template + 200-line file (${RUNS} runs) | median ${median.toFixed(2)} ms | p99 ${percentile(times, 99).toFixed(2)} ms | target < 5 ms: ${median < 5 ? 'met' : 'MISSED'} |`,
  ];
  if (lighttpdMedian !== null) {
    rows.push(`| baseline: lighttpd -tt on the merged file (20 runs, process start included) | median ${lighttpdMedian.toFixed(2)} ms | | merge costs ${((median / lighttpdMedian) * 100).toFixed(1)} % of it |`);
  }
  process.stdout.write(`${['| what | time | tail | verdict |', '| --- | --- | --- | --- |', ...rows].join('\n')}\n`);
} finally {
  rmSync(home, { recursive: true, force: true });
}
