// A YAML document that is one flat mapping of plain scalars — what toolhost writes in a
// ~/service.manifest without a command — read without the yaml package, whose loading takes
// about as long as node takes to start (#14: `webservice status` and `config` read the manifest).
// Anything more (quotes, lists, nesting, flow collections, anchors, tags, inline comments,
// document markers, tabs, CR) is not read here: the caller parses it with the yaml package. What
// is read here means exactly what the yaml package reads (its default schema, YAML 1.2 core);
// test/webservice/flat-yaml.test.ts checks that on generated documents.

const KEY = /^([A-Za-z][A-Za-z0-9_.-]*):(?: +(.*))?$/;
/** words of safe characters with single spaces between them, not starting like an indicator */
const PLAIN = /^(?:[A-Za-z0-9_./~+]|-(?=[0-9.]))[A-Za-z0-9_./~+=-]*(?: [A-Za-z0-9_./~+=-]+)*$/;

/** the mapping, or null when the text is more than a flat mapping of plain scalars */
export function parseFlatYaml(text: string): Record<string, unknown> | null {
  if (/[\r\t]/.test(text)) return null;
  const out: Record<string, unknown> = {};
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = KEY.exec(line);
    if (!m) return null;
    const key = m[1] as string;
    const raw = m[2] ?? '';
    // a key that is not a string (true, null), or a repeated one, is the yaml package's to judge
    if (typeof coreScalar(key) !== 'string' || Object.hasOwn(out, key)) return null;
    if (raw !== '' && !PLAIN.test(raw)) return null;
    out[key] = coreScalar(raw);
  }
  return Object.keys(out).length ? out : null;
}

/** a plain scalar as YAML 1.2's core schema resolves it */
function coreScalar(s: string): unknown {
  if (/^(?:~|null|Null|NULL)?$/.test(s)) return null;
  if (/^(?:true|True|TRUE)$/.test(s)) return true;
  if (/^(?:false|False|FALSE)$/.test(s)) return false;
  if (/^0o[0-7]+$/.test(s)) return Number.parseInt(s.slice(2), 8);
  if (/^[-+]?[0-9]+$/.test(s)) return Number(s);
  if (/^0x[0-9a-fA-F]+$/.test(s)) return Number.parseInt(s.slice(2), 16);
  if (/^[-+]?\.(?:inf|Inf|INF)$/.test(s)) return s.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (/^\.(?:nan|NaN|NAN)$/.test(s)) return Number.NaN;
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(s)) return Number.parseFloat(s);
  return s;
}
