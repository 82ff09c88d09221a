// `npm run bench [-- NAME]`: runs every test/bench/**/NAME.bench.ts in its own process, prints
// each one's table and writes them all to docs/benchmarks.md. Knobs are environment variables.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const filter = process.argv[2];

function find(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const f = path.join(dir, n);
    return statSync(f).isDirectory() ? find(f) : n.endsWith('.bench.ts') ? [f] : [];
  });
}

const benches = find(here).filter((f) => !filter || path.basename(f, '.bench.ts') === filter).sort();
if (benches.length === 0) {
  console.error(`no benchmark named "${filter}"; see test/bench/`);
  process.exit(2);
}
const sections: string[] = [];
let failed = 0;
for (const file of benches) {
  const name = path.relative(here, file).replace(/\.bench\.ts$/, '');
  console.log(`\n## ${name}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(r.stdout);
  if (r.status !== 0) failed++;
  sections.push(`## ${name}\n\n${r.stdout.trim()}\n`);
}
if (!filter) {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  writeFileSync(
    path.join(root, 'docs', 'benchmarks.md'),
    `# Benchmarks\n\nWritten by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} cores (${cpu}), Node ${process.version}. Ratios are against a baseline measured in the same run.\n\n${sections.join('\n')}`,
  );
}
process.exit(failed ? 1 : 0);
