import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { evaluate, fillTemplate, makeSource, mergeConfig, nodeHost, parse, printConfig, unionModules } from '../../src/lighttpd/index.js';
import { lighttpdBinary } from '../helpers/index.js';

const TEMPLATE = `server.modules = ("mod_access", "mod_alias", "mod_cgi")
server.port = 8080
server.document-root = "@HOME@/public_html"
index-file.names = ("index.html")
mimetype.assign = (".html" => "text/html", ".txt" => "text/plain", ".css" => "text/css")
$HTTP["url"] =^ "/private/" { url.access-deny = ("") }
#@after-user
alias.url += ("/tool/" => server.document-root + "/")
`;

function merge(userText: string | null, home = '/srv/tool') {
  const filled = fillTemplate(TEMPLATE, { HOME: home }, new Set());
  const result = mergeConfig({
    template: makeSource('template', filled.text, { origin: 'template' }),
    afterUserOffset: filled.afterUserOffset,
    user: userText === null ? null : makeSource('~/.lighttpd.conf', userText, { path: path.join(home, '.lighttpd.conf') }),
    host: nodeHost({ env: { HOME: home }, cwd: home }),
    basedir: home,
  });
  const printed = result.ok ? printConfig(evaluate(parse(makeSource('merged', result.text)).file, nodeHost({ env: {}, cwd: '/', pid: 1 })).global) : '';
  return { ...result, printed };
}

t.test('without a maintainer file the merged config is the template', async (t) => {
  const r = merge(null);
  t.ok(r.ok);
  t.match(r.printed, /server\.document-root\s+= "\/srv\/tool\/public_html"/);
  t.same(r.overrides, []);
});

t.test('= on a key the template sets replaces the default (fatal with Toolforge\'s concatenation)', async (t) => {
  const r = merge('server.document-root = "/srv/tool/www"\n');
  t.ok(r.ok);
  t.match(r.printed, /server\.document-root\s+= "\/srv\/tool\/www"/);
  t.same(r.overrides.map((o) => [o.key, o.arrayKey, o.user.line]), [['server.document-root', null, 1]]);
  t.match(r.text, /# server\.document-root \(default\) replaced by ~\/\.lighttpd\.conf:1/);
});

t.test(':= on a key the template sets replaces it too', async (t) => {
  const r = merge('index-file.names := ("start.html")\n');
  t.ok(r.ok);
  t.match(r.printed, /index-file\.names\s+= \("start\.html"\)/);
  t.equal(r.overrides.length, 1);
});

t.test('a += entry whose array key the template has replaces that entry and keeps the others', async (t) => {
  const r = merge('mimetype.assign += (".txt" => "text/plain; charset=utf-8", ".bulk" => "text/plain")\n');
  t.ok(r.ok, r.diagnostics.map((d) => d.message).join('\n'));
  t.match(r.printed, /"\.txt"\s+=> "text\/plain; charset=utf-8"/);
  t.match(r.printed, /"\.html"\s+=> "text\/html"/);
  t.match(r.printed, /"\.bulk"\s+=> "text\/plain"/);
  t.notMatch(r.printed, /"\.txt"\s+=> "text\/plain",/);
  t.same(r.overrides.map((o) => [o.key, o.arrayKey]), [['mimetype.assign', '.txt']]);
});

t.test('server.modules becomes the ordered union of both lists', async (t) => {
  t.same(unionModules(['a', 'b', 'c'], ['x', 'b', 'y']), ['a', 'x', 'b', 'c', 'y']);
  t.same(unionModules(['a', 'b'], ['b', 'a']), ['a', 'b']);
  const r = merge('server.modules = ("mod_rewrite", "mod_alias", "mod_status")\nserver.modules += ("mod_auth")\n');
  t.ok(r.ok);
  t.match(r.printed, /server\.modules\s+= \(\n\s+"mod_access",\n\s+"mod_rewrite",\n\s+"mod_alias",\n\s+"mod_cgi",\n\s+"mod_status",\n\s+"mod_auth",\n\s+\)/);
  t.match(r.text, /# server\.modules = \.\.\. merged into the server\.modules list above/);
});

t.test('the maintainer\'s conditionals follow the template\'s, and the after-user part comes last', async (t) => {
  const r = merge('$HTTP["url"] =^ "/api/" { server.tag = "api" }\n');
  t.ok(r.ok);
  const privateAt = r.text.indexOf('$HTTP["url"] =^ "/private/"');
  const apiAt = r.text.indexOf('$HTTP["url"] =^ "/api/"');
  const aliasAt = r.text.indexOf('alias.url +=');
  t.ok(privateAt >= 0 && privateAt < apiAt && apiAt < aliasAt);
});

t.test('each statement is tagged with where it came from; statements read as written', async (t) => {
  const r = merge('# mine\nserver.tag   =   "x"   # spaced\n\n$HTTP["host"] == "a.example" {\n  url.redirect = ("^/(.*)" => "https://b.example/$1")\n}\n');
  t.ok(r.ok);
  t.match(r.text, /^server\.port = 8080 {2}# toolhost default$/m);
  t.match(r.text, /^server\.tag {3}= {3}"x" {2}# ~\/\.lighttpd\.conf:2$/m);
  t.match(r.text, /^\$HTTP\["host"\] == "a\.example" \{ {2}# ~\/\.lighttpd\.conf:4$/m);
  t.match(r.text, /^ {4}url\.redirect = \("\^\/\(\.\*\)" => "https:\/\/b\.example\/\$1"\) {2}# ~\/\.lighttpd\.conf:5$/m);
});

t.test('the line map leads from a merged line back to the maintainer\'s file and line', async (t) => {
  const r = merge('\n\nserver.tag = "x"\n');
  const i = r.text.split('\n').findIndex((l) => l.startsWith('server.tag'));
  t.same(r.lineMap[i], { file: '~/.lighttpd.conf', line: 3, origin: 'user' });
});

t.test('rendering is deterministic', async (t) => {
  const text = 'mimetype.assign += (".txt" => "x")\nserver.modules += ("mod_status")\n';
  t.equal(merge(text).text, merge(text).text);
});

t.test('keys the platform sets (port, bind, user, pid file) are ignored with a warning', async (t) => {
  const r = merge('server.port = 80\nserver.username = "root"\n');
  t.ok(r.ok);
  t.match(r.printed, /server\.port\s+= 8080/);
  t.same(r.diagnostics.map((d) => `${d.severity} ${d.code}`), ['warning TH_WARN_LIGHTTPD_PLATFORM_KEY', 'warning TH_WARN_LIGHTTPD_PLATFORM_KEY']);
});

t.test('a maintainer file with errors is reported at its own file and line, and nothing is merged', async (t) => {
  const r = merge('server.tag = "a"\nserver.tag = "b"\n');
  t.notOk(r.ok);
  t.equal(r.text, '');
  t.equal(r.diagnostics[0]?.source.name, '~/.lighttpd.conf');
  t.equal(r.diagnostics[0]?.code, 'TH_ERR_LIGHTTPD_DUPLICATE_KEY');
});

t.test('includes of the maintainer are expanded in place, tagged with their own file', async (t) => {
  const home = t.testdir();
  mkdirSync(path.join(home, 'conf'));
  writeFileSync(path.join(home, 'conf', 'extra.conf'), 'server.tag = "from include"\n');
  const r = merge('include "conf/extra.conf"\n', home);
  t.ok(r.ok);
  t.match(r.text, /# include "conf\/extra\.conf" {2}\(~\/\.lighttpd\.conf:1\): expanded below/);
  t.match(r.text, new RegExp(`server\\.tag = "from include"  # ${path.join(home, 'conf', 'extra.conf')}:1`));
  t.notMatch(r.text, /^include /m);
});

t.test('the real lighttpd -tt accepts the merged configuration', async (t) => {
  const home = t.testdir();
  mkdirSync(path.join(home, 'public_html'));
  const r = merge('server.document-root = "' + home + '/public_html"\nmimetype.assign += (".txt" => "text/plain; charset=utf-8")\nserver.modules += ("mod_status")\nstatus.status-url = "/status"\n$HTTP["url"] =~ "\\.py$" { cgi.assign = ("" => "") }\n', home);
  t.ok(r.ok);
  const file = path.join(home, 'merged.conf');
  writeFileSync(file, r.text);
  const check = spawnSync(lighttpdBinary(), ['-tt', '-f', file], { encoding: 'utf8' });
  t.equal(check.status, 0, check.stderr);
});
