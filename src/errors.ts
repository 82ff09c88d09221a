// Every user-visible failure of toolhost has a stable code, defined here once with its
// one-line message template, CLI exit code and HTTP status. Callers match on `err.code`.
// This module imports nothing of ours, so every layer may depend on it.

export interface ErrorDefinition {
  /** one line; `%s` placeholders are filled from the arguments in order */
  readonly template: string;
  readonly exitCode: number;
  readonly status: number;
  /** for docs/errors.md: when it happens */
  readonly summary: string;
}

function def(template: string, summary: string, exitCode = 1, status = 500): ErrorDefinition {
  return { template, summary, exitCode, status };
}

export const ERRORS = {
  // general CLI
  TH_ERR_USAGE: def('%s', 'A command was called with a wrong option or argument.', 2, 400),
  TH_ERR_FILE_UNREADABLE: def(
    'cannot read %s: %s; check that the file exists and is readable',
    'A file named on the command line (or a tool file) cannot be read.',
  ),
  // tools
  TH_ERR_TOOL_NAME_INVALID: def(
    'invalid tool name "%s": use 1 to 32 lower-case letters, digits and "-", starting with a letter and not ending with "-"',
    'A tool name does not fit the rule (it must be a DNS label).',
    2,
    400,
  ),
  TH_ERR_TOOL_NOT_A_TOOL_ACCOUNT: def(
    'Only tool accounts have web services: you are "%s"; become the tool (become NAME) or pass --tool NAME --home DIR',
    'webservice was run outside a tool account without --tool/--home (or TOOLHOST_TOOL/TOOLHOST_HOME).',
    2,
  ),
  TH_ERR_TOOL_NOT_YOURS: def(
    'you are %s, not tool "%s": only the tool itself acts for it; become it first (become %s)',
    'A user ran webservice, jobs or portgrabber for a tool that is not their own.',
    1,
    403,
  ),
  TH_ERR_TOOL_UNKNOWN: def(
    'there is no tool "%s" on this host; create it with: toolhost tool create NAME',
    'A command names a tool that has no account here.',
    1,
    404,
  ),
  TH_ERR_TOOL_HOME_LEFT_BEHIND: def(
    '%s is the home a deleted tool left (owned by uid %s); it is not handed to a new tool: move it away or remove it, then run toolhost tool create %s again',
    'tool create found a home at the new tool\'s place with no account: a deleted tool\'s, kept by tool delete without --remove-home.',
    1,
  ),
  TH_ERR_TOOL_HOME_MISSING: def(
    'tool home %s does not exist; create the tool (toolhost tool create NAME) or pass the right --home',
    'The tool home directory named by --home, TOOLHOST_HOME or the passwd entry does not exist.',
    2,
  ),
  // maintainers and `become`
  TH_ERR_USER_NAME_INVALID: def(
    'invalid user name "%s": use 1 to 32 lower-case letters, digits, "_" and "-", starting with a letter or "_"',
    'A maintainer\'s name does not fit the rule for unix user names toolhost writes into sudoers rules and the tool directory.',
    2,
    400,
  ),
  TH_ERR_USER_UNKNOWN: def(
    'there is no user "%s" on this host; check the name (getent passwd NAME)',
    'add-maintainer named a unix user that does not exist.',
  ),
  TH_ERR_TOOL_NOT_MAINTAINER: def(
    '%s does not maintain tool "%s" (its maintainers: %s); nothing to remove',
    'remove-maintainer named a user who is not in the tool\'s group.',
  ),
  TH_ERR_TOOL_TOO_MANY_MAINTAINERS: def(
    'tool "%s" would have %s maintainers, more than the %s the tool directory holds; remove some first (toolhost tool remove-maintainer)',
    'A tool\'s group has more members than its directory entry may list.',
  ),
  TH_ERR_BECOME_NOT_MAINTAINER: def(
    'you (%s) do not maintain tool "%s"; its maintainers (%s) or an administrator can add you: toolhost tool add-maintainer %s %s',
    'become was run by a user who is not in the tool\'s group.',
    1,
    403,
  ),
  TH_ERR_BECOME_NO_RULE: def(
    'sudo does not let you (%s) act as %s although you maintain it; ask an administrator to run: toolhost tool sync %s',
    'A maintainer ran become, but the host\'s sudoers rule for the tool does not name them (written before they joined, or on another host).',
    1,
    403,
  ),
  TH_ERR_BECOME_ALREADY: def(
    'you are already %s; run the command directly',
    'become was run by the tool account itself.',
    2,
  ),
  TH_ERR_SUDO_MISSING: def(
    'sudo is not installed on this host (%s is missing); install it: apt-get install sudo',
    'become needs sudo, and sudo is not installed.',
  ),
  TH_ERR_SUDOERS_INVALID: def(
    'visudo refused the sudoers rule toolhost wrote for tool "%s" (%s); the old rule stays in place; report this as a bug',
    'A sudoers rule toolhost generated failed `visudo -c` (it is never installed then).',
  ),
  TH_ERR_RUNTIME_DIR_MISSING: def(
    'the runtime directory %s is missing and you may not create it; the host\'s toolhost monitor (root) creates it: ask an administrator, or set TOOLHOST_RUNTIME_DIR',
    'A tool\'s runtime directory under /run/toolhost does not exist yet (a fresh boot before the monitor\'s first pass).',
  ),
  TH_ERR_UNSAFE_DIRECTORY: def(
    '%s is not safe for root to create files in (%s): it must be a directory owned by root that nobody else may write; fix its owner and mode',
    'A directory where root creates things for tools (runtime directories, registrar sockets) could be changed by someone else.',
  ),
  TH_ERR_COMMAND_FAILED: def(
    'failed while %s: %s',
    'A system command toolhost runs (as root or as a tool) failed; the message says which and why.',
  ),
  TH_ERR_PEER_FAILED: def(
    'another toolhost process reported an error: %s; upgrade toolhost on this host to the same version',
    'A registrar answered with an error code this version does not know.',
  ),
  // the node registrar
  TH_ERR_REGISTRAR_UNREACHABLE: def(
    'cannot reach the node registrar at %s (%s); ask an administrator to start it (toolhost registrar, as root) or set TOOLHOST_REGISTRAR_DIR',
    'webservice, portgrabber or a supervisor could not connect to the registrar socket of its tool.',
    1,
    503,
  ),
  TH_ERR_REGISTRAR_DENIED: def(
    'you may not use %s: it is the registrar socket of tool "%s" and only that tool (or root) may; run the command as that tool (become NAME)',
    'A process tried to register routes for a tool that is not its own (the socket belongs to the other tool).',
    1,
    403,
  ),
  TH_ERR_REGISTRAR_NOT_OWNER: def(
    'no process of this tool listens on %s port %s (the kernel says: %s); start your server on that address first: a tool can only route to its own ports',
    'A registration named a port that no process of the tool listens on at the node\'s address (another tool\'s, or nothing).',
    1,
    403,
  ),
  TH_ERR_REGISTRAR_TOO_MANY: def(
    'tool %s already has %s backends registered on this node; stop one (webservice stop, or end a portgrabber) first',
    'A tool asked for more backends on one node than the registrar allows.',
    1,
    429,
  ),
  TH_ERR_REGISTRAR_DIR_TOO_LONG: def(
    'the registrar socket directory %s is too long: a tool\'s socket path there would take %s bytes, and unix sockets allow 107; choose a shorter --socket-dir',
    'The registrar was given a socket directory whose socket paths would be cut by the kernel.',
    2,
  ),
  TH_ERR_REGISTRAR_PROTOCOL: def(
    'the registrar did not understand the request: %s',
    'A malformed message reached the registrar (a bug, or a hand-written client).',
    1,
    400,
  ),
  // limits and quotas
  TH_ERR_QUOTA_EXCEEDED: def(
    'Unable to start, out of quota for %s: %s; see toolhost jobs quota, stop something, or ask an administrator to raise it (toolhost tool quota)',
    'A start would take the tool past its quota of memory, CPU or running jobs.',
    1,
    429,
  ),
  TH_ERR_JOB_LIMIT_EXCEEDED: def(
    'Unable to start, it asks for %s, more than the per-job limit of %s; ask for less (--mem, --cpu) or ask an administrator to raise it (toolhost tool quota)',
    'A job or webservice asked for more memory or CPU than one unit may have.',
    1,
    429,
  ),
  TH_ERR_QUOTA_DEFINITIONS: def(
    'Unable to define it, out of quota for %s: %s of %s defined; delete one first (toolhost jobs delete) or ask an administrator to raise it (toolhost tool quota)',
    'A new scheduled or continuous job (or webservice) would take the tool past its quota of definitions.',
    1,
    429,
  ),
  TH_ERR_LIMITS_FAILED: def(
    'cannot apply the limits of %s: %s; tell an administrator (the registrar log has more)',
    'The registrar could not make or use a unit\'s cgroup.',
  ),
  TH_WARN_LIMITS_NOT_ENFORCED: def(
    'limits of %s are not enforced by cgroups (%s); falling back to rlimits: data size %s, at most %s processes of the tool; CPU is not limited',
    'Warning: the unit runs without cgroups (no root registrar on the host, or no memory controller); rlimits stand in.',
    0,
  ),
  TH_ERR_NOTIFY_BACKLOG: def(
    'notice refused: %s of the tool\'s notices are waiting to be mailed; the monitor (the notifier) is not taking them — tell an administrator',
    'A tool handed more notices than the spool keeps for it while nothing mailed them.',
    1,
    429,
  ),
  TH_ERR_SMTP_URL_INVALID: def(
    'invalid SMTP relay %s: give smtp://host:port or smtps://host:port (user:password@ when it wants a login)',
    'TOOLHOST_SMTP_URL or --smtp is not an SMTP URL.',
    2,
    400,
  ),
  TH_ERR_EMAIL_INVALID: def(
    'invalid email address %s: give one address like maintainer@example.org',
    'toolhost tool add-maintainer --email was given something that is not one address.',
    2,
    400,
  ),
  TH_ERR_QUANTITY_INVALID: def(
    'invalid %s: %s',
    'A --mem or --cpu value is not an amount toolhost understands.',
    2,
    400,
  ),
  TH_ERR_SECRET_ON_COMMAND_LINE: def(
    'the Redis URL %s carries a password on the command line, where every user of the host can read it (ps); put it in TOOLHOST_REDIS_URL or in a file only you may read, given with --redis-file',
    'A --redis option held a password.',
    2,
  ),
  TH_ERR_SECRET_FILE_OPEN: def(
    'the secret file %s may be read by others or is not yours (%s); make it yours and mode 0600 (chmod 600)',
    'A --redis-file is readable by other users or owned by someone else.',
    2,
  ),
  TH_ERR_REDIS_OPEN: def(
    'Redis at %s lets anyone in as administrator (its default user is on, without a password, with every command); close it first (conf/redis/users.acl: "user default off") and run again',
    'An administrator command was pointed at a Redis whose default user is open: tool and service users there would protect nothing.',
    2,
  ),
  TH_ERR_TEMPLATE_VALUE: def(
    'cannot put %s "%s" into the lighttpd config: it contains a quote, backslash or line break; use a path without them',
    'A tool home or name would break the generated lighttpd config.',
    2,
  ),
  // configuration and the proxy
  TH_ERR_CONFIG_INVALID: def(
    'configuration %s is invalid: %s; fix it (see conf/toolhost.json for the format)',
    'The toolhost configuration file (--config or TOOLHOST_CONFIG) cannot be read or has a wrong value.',
    2,
  ),
  TH_ERR_LISTEN_ADDRESS_INVALID: def(
    'invalid address "%s" for %s: use HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080',
    'A listen address option is not HOST:PORT.',
    2,
  ),
  TH_ERR_LISTEN_FAILED: def(
    'cannot listen on %s: %s; choose another address or stop what uses it',
    'The proxy could not bind one of its listeners (address in use, no permission).',
  ),
  TH_ERR_TLS_FILES: def(
    'cannot read the TLS %s file %s: %s; give a readable PEM file',
    'A certificate or key file for HTTPS is missing or unreadable.',
    2,
  ),
  TH_ERR_ACCESS_LOG_UNWRITABLE: def(
    'cannot write the access log %s: %s; its lines are dropped until it can be written again (retried every second, no signal needed)',
    'The proxy cannot write its access log (disk full, read-only, removed directory); healthz and /metrics show it until a write succeeds.',
  ),
  // the proxy's answers to visitors: the page keeps a friendly text, its code and status come from here
  TH_ERR_PROXY_TOOL_UNKNOWN: def(
    'no tool "%s" on this host: the visitor gets a 404 page; check the address (the home page lists every tool)',
    'The address names no tool (no account, no route).',
    1,
    404,
  ),
  TH_ERR_PROXY_TOOL_DOWN: def(
    'tool "%s" exists but its webservice is not running; its maintainers start it: become %s, then webservice start',
    'A tool with an account but no live backend; the page names its maintainers and what they can do.',
    1,
    503,
  ),
  TH_ERR_PROXY_BACKEND_FAILED: def(
    'the webservice of "%s" refused or dropped the connection; its maintainers: see webservice status and ~/error.log',
    'The backend refused the connection, reset it, or answered with something that is not HTTP (or the route has only unusable backends).',
    1,
    502,
  ),
  TH_ERR_PROXY_BACKEND_TIMEOUT: def(
    'the webservice of "%s" did not answer in time; its maintainers: look for slow requests in ~/error.log',
    'The backend accepted the request but sent no answer within the proxy\'s timeout.',
    1,
    504,
  ),
  TH_ERR_PROXY_BAD_REQUEST: def(
    'the request could not be understood (its target is not a path beginning with /); the client must send a valid request',
    'A request the proxy cannot route (an absolute-form or asterisk target, a malformed head).',
    1,
    400,
  ),
  TH_ERR_PROXY_RATE_LIMITED: def(
    'a client is over its request rate; it is told to retry after a second (the proxy\'s rate-limit settings decide the rate)',
    'One client address sent more requests than the proxy allows it per second.',
    1,
    429,
  ),
  TH_ERR_PROXY_BODY_TOO_LARGE: def(
    'a request body is larger than the proxy accepts; the client must send less (the proxy\'s maximum body size decides)',
    'A request body (declared or sent) over the proxy\'s limit.',
    1,
    413,
  ),
  TH_ERR_PROXY_NO_USER_AGENT: def(
    'a request without a User-Agent was refused (--empty-user-agent deny); the client must say who it is in User-Agent',
    'The proxy is set to refuse requests without a User-Agent header.',
    1,
    403,
  ),
  TH_ERR_PROXY_METHOD_NOT_ALLOWED: def(
    'a TRACE request was refused: it is not passed on to tools; use another method',
    'TRACE requests are answered by the proxy, never forwarded (unless it is told to allow them).',
    1,
    405,
  ),
  TH_ERR_PROXY_REQUEST_TIMEOUT: def(
    'a client took too long to send its request head or body; the connection is closed with 408 (the proxy\'s header and request timeouts decide)',
    'A client opened a request and did not finish sending it in time (a slow or stalled client).',
    1,
    408,
  ),
  TH_ERR_PROXY_HEADERS_TOO_LARGE: def(
    'a request head is larger than the proxy accepts; the client must send fewer or shorter headers (limits.maxHeaderBytes decides)',
    'A request head (the request line and its headers) over the proxy\'s limit.',
    1,
    431,
  ),
  TH_ERR_PROXY_INTERNAL: def(
    'the front proxy failed to handle a request to "%s"; the proxy\'s own log has the cause: report it as a bug',
    'The proxy itself failed on a request (not the tool\'s fault).',
    1,
    500,
  ),
  TH_ERR_REDIS_ADDRESS_INVALID: def(
    'the Redis address %s cannot be used: %s; give redis://[USER@]HOST:PORT, or redis-sentinel://[USER@]HOST:PORT,HOST:PORT/MASTER (docs/reference/redis.md)',
    'A Redis URL, sentinel list or master name (option, environment, --redis-file or settings file) is malformed.',
    2,
  ),
  TH_ERR_REDIS_NODES_NOT_SYNCED: def(
    'Redis users are not in step on every node: %s; once the node is back, run: toolhost tool sync-acl',
    'A Redis user was changed on the master but could not be copied to (or saved on) every data node; ACL users are not replicated, so a failover to that node would lock its users out.',
  ),
  TH_ERR_LOG_UNWRITABLE: def(
    'cannot write the log %s: %s; its lines are dropped until it can be written again (free space, or fix its permissions)',
    'A tool\'s supervisor or job runner cannot write or rotate one of the tool\'s logs (disk full, a directory in its place); said once in ~/service.log, and again when it writes.',
  ),
  TH_ERR_LOG_NOT_ROTATED: def(
    '%s is a link or a device, not a file: toolhost writes through it but never rotates it (make it a plain file to have it capped)',
    'A log\'s name holds a link or a device (`ln -s /dev/null ~/access.log`): toolhost keeps writing there and leaves its size to the maintainer.',
  ),
  TH_ERR_REDIS_UNREACHABLE: def(
    'cannot reach Redis at %s: %s; start it or set --redis / TOOLHOST_REDIS_URL',
    'A command that needs the route table could not talk to Redis.',
  ),
  // running servers
  TH_ERR_COMMAND_FAILED_TO_START: def(
    'cannot run %s: %s; check the path and that the file is executable (chmod +x)',
    'portgrabber or a generic webservice could not start the command (not found, not executable).',
    127,
  ),
  TH_ERR_WEBSERVICE_TYPE_MISMATCH: def(
    'your webservice is running as "%s", not "%s"; run "webservice %s restart" to switch, or "webservice stop" first',
    'webservice start named a type other than the running one; the message says what to run.',
    2,
  ),
  TH_ERR_WEBSERVICE_STOPPED_WHILE_STARTING: def(
    'the webservice of %s was stopped before its server was ready; start it again when you want it (webservice start)',
    'A webservice stop (or the tool being deleted) came while webservice start waited for the server to be ready.',
    1,
  ),
  TH_ERR_WEBSERVICE_NO_COMMAND: def(
    'a generic webservice needs a command: webservice generic start -- ./server.sh ARGS (the port is appended)',
    'webservice generic start without a command and no command in ~/service.manifest.',
    2,
  ),
  TH_ERR_PYTHON_APP_MISSING: def(
    'there is no %s (%s): a python webservice serves the WSGI callable "app" of ~/www/python/src/app.py; create it, or start another type (webservice lighttpd start)',
    'webservice python start, but the tool has no ~/www/python/src/app.py (or the tool cannot read it).',
    2,
  ),
  TH_ERR_PYTHON_VENV_INVALID: def(
    '~/www/python/venv is not a virtualenv uWSGI can use here: %s; make it again with: python3 -m venv ~/www/python/venv (then pip install your requirements)',
    'The python webservice\'s virtualenv is unreadable, a link to nothing, or made with another Python than the one uWSGI runs.',
    2,
  ),
  TH_ERR_UWSGI_INI_PLATFORM_KEY: def(
    '~/www/python/uwsgi.ini sets what toolhost decides (%s): each server gets a free port of its own and runs in the foreground as the tool; remove those lines',
    'The maintainer\'s uwsgi.ini binds a socket, daemonizes or changes user: it would break restarts without downtime or supervision.',
    2,
  ),
  TH_ERR_UWSGI_NOT_INSTALLED: def(
    'uWSGI is not installed (%s); install it with: apt-get install uwsgi-core uwsgi-plugin-python3',
    'A python webservice needs Debian\'s uWSGI and its Python 3 plugin, and one of them is missing.',
    3,
  ),
  TH_ERR_NODE_APP_MISSING: def(
    'there is no %s (%s): a node webservice runs "npm start" in ~/www/js; create ~/www/js/package.json with a "start" script, or start another type (webservice lighttpd start)',
    'webservice node start, but the tool has no ~/www/js/package.json.',
    2,
  ),
  TH_ERR_NODE_PACKAGE_INVALID: def(
    '~/www/js/package.json cannot start your server: %s; fix it (npm start reads it)',
    'The node webservice\'s package.json is unreadable, not JSON, or has no "start" script (and there is no server.js).',
    2,
  ),
  TH_ERR_NPM_NOT_INSTALLED: def(
    'npm is not installed (looked for %s); install Node.js with its npm (apt-get install npm) or set TOOLHOST_NPM',
    'A node webservice runs npm start, and no npm was found.',
    3,
  ),
  TH_ERR_SUPERVISOR_UNREACHABLE: def(
    'the webservice of %s did not %s within %s s; see ~/service.log and ~/error.log (or raise TOOLHOST_START_TIMEOUT)',
    'webservice start/restart/stop did not see the per-tool supervisor reach the state it asked for in time.',
  ),
  // what a supervisor says of the server or continuous job it keeps running (~/service.log, webservice status, notices)
  TH_ERR_UNIT_START_FAILED: def(
    'the %s did not start: %s; it is tried again after a pause; %s',
    'A server or continuous job could not be started (its program is missing, it exited before it was ready, the registrar refused its port); the supervisor tries again with backoff.',
  ),
  TH_ERR_UNIT_EXITED: def(
    'the %s stopped (%s); restart %s in %s ms',
    'A server or continuous job ended on its own (or was killed); the supervisor starts it again after the delay.',
  ),
  TH_ERR_UNIT_CRASH_LOOP: def(
    'the %s stopped (%s); restart %s in %s ms; it keeps crashing: %s',
    'A server or continuous job keeps dying soon after it starts; its maintainers are told once per episode; the supervisor goes on trying with a longer delay.',
  ),
  TH_ERR_UNIT_REPLACEMENT_FAILED: def(
    'a new %s did not start (%s); the old one keeps serving; %s',
    'A restart or reload started a new server that failed before it was ready; the running one was kept.',
  ),
  TH_ERR_UNIT_LIVENESS_FAILED: def(
    'the %s failed %s liveness checks in a row; restarting it; %s',
    'A running server stopped answering HTTP (or a job its health check); the supervisor kills and restarts it.',
  ),
  TH_ERR_MONITOR_GAVE_UP: def(
    'the supervisor of %s went down %s times in %s min; the monitor leaves it stopped for a person: see webservice status and ~/service.log, then start it again',
    'The host\'s monitor restarted a tool\'s supervisor too often and stopped trying; the tool\'s maintainers are told.',
  ),
  // jobs
  TH_ERR_JOB_NAME_INVALID: def(
    'invalid job name "%s": use 1 to 52 lower-case letters, digits, "." and "-", starting with a letter or digit; no spaces, no underscores, no special symbols',
    'A job name does not fit Toolforge\'s rule.',
    2,
    400,
  ),
  TH_ERR_JOB_INVALID: def(
    'the job is not valid: %s',
    'toolhost jobs run (or a jobs.yaml entry) has an option or key that is wrong; every problem is listed.',
    2,
    400,
  ),
  TH_ERR_JOB_EXISTS: def(
    'a job named "%s" already exists; delete it first (toolhost jobs delete NAME) or choose another name',
    'toolhost jobs run names a job that is already defined.',
    2,
    409,
  ),
  TH_ERR_JOB_UNKNOWN: def(
    'there is no job named "%s"; see your jobs with: toolhost jobs list',
    'A jobs command names a job that is not defined.',
    1,
    404,
  ),
  TH_ERR_JOB_SCHEDULE_INVALID: def(
    'invalid schedule: %s',
    'A --schedule (or schedule: key) is not a five-field cron expression or a known @macro, or its --timezone is unknown.',
    2,
    400,
  ),
  TH_ERR_JOB_FAILED: def(
    'job "%s" %s; see its output with: toolhost jobs logs %s',
    'jobs run --wait (or jsub -sync y): the job did not succeed.',
  ),
  TH_ERR_JOB_WAIT_TIMEOUT: def(
    'job "%s" did not finish within %s s; it goes on running (toolhost jobs show NAME), or wait longer with --wait SECONDS',
    'jobs run --wait gave up waiting; the job itself was not stopped.',
  ),
  TH_ERR_JOB_LOAD_INVALID: def(
    'cannot load %s: %s',
    'toolhost jobs load was given a file that is not a list of valid jobs; nothing was changed.',
    2,
    400,
  ),
  // routes
  TH_ERR_ROUTE_NOT_FOUND: def(
    'no route for tool "%s"; see the routes with: toolhost routes list',
    'toolhost routes show/rm named a tool without a route.',
    1,
    404,
  ),
  TH_ERR_ROUTE_ENTRY_IGNORED: def(
    'route %s: ignoring %s = %s: %s; the proxy routes without it: fix or remove that field in Redis (toolhost routes show %s)',
    'A field of a route in Redis cannot be used (not a URL, outside the backend networks, the proxy itself); the proxy logs it and `toolhost routes show` says so in the same words.',
  ),
  TH_ERR_MANIFEST_IGNORED: def(
    '%s: ignoring %s: %s; a manifest must be a plain file the tool owns: write it again as the tool (webservice start, toolhost jobs load)',
    'The monitor found a tool\'s service.manifest or jobs.manifest it must not trust (another owner, a link); it acts as if there were none.',
  ),
  TH_ERR_BACKEND_URL_INVALID: def(
    'invalid backend URL "%s": %s',
    'A backend URL is not http://HOST:PORT.',
    2,
    400,
  ),
  // lighttpd engine: the CLI-level failure
  TH_ERR_LIGHTTPD_CONFIG_INVALID: def(
    '%s has %s error(s); fix them (positions above) and run the command again',
    'A lighttpd configuration has errors; every diagnostic is printed before this line.',
  ),
  TH_ERR_LIGHTTPD_NOT_INSTALLED: def(
    'lighttpd is not installed (%s); install it with: apt-get install lighttpd',
    'The lighttpd binary is needed (webservice config --check, lighttpd webservices) but missing.',
    3,
  ),
  TH_ERR_LIGHTTPD_REJECTED: def(
    'lighttpd rejected the merged configuration: %s',
    'lighttpd -tt refused a configuration that toolhost accepted; the line says where.',
  ),
  TH_ERR_LIGHTTPD_MODULE_MISSING: def(
    '%s%s loads lighttpd\'s %s, which is not installed on this host; %s',
    'The configuration makes lighttpd load a module this host does not have; the line says where it is asked for and which Debian package provides it (bin/setup installs the ones Debian recommends).',
    3,
  ),
  // lighttpd engine: diagnostics (collected, never thrown; the variable parts are the arguments)
  TH_ERR_LIGHTTPD_UNTERMINATED_STRING: def('missing closing quote: this string runs to the end of the file (only \\" is an escape; "\\\\" does not end a string); close it with "', 'A string has no closing quote (only \\" is an escape).'),
  TH_ERR_LIGHTTPD_INVALID_CHARACTER: def('invalid character %s: %s', 'A character that the lighttpd language does not allow.'),
  TH_ERR_LIGHTTPD_SYNTAX: def('expected %s, found %s; %s', 'A token where the grammar expects another one.'),
  TH_ERR_LIGHTTPD_IF_KEYWORD: def(
    '"%s" is not understood by lighttpd 1.4.69 (%s); write %s',
    '"if"/"elif"/"else if" conditions: lighttpd 1.4.69 silently mis-parses them; toolhost rejects them.',
  ),
  TH_ERR_LIGHTTPD_INVALID_NUMBER: def('error parsing number: \'%s\' is too large (lighttpd integers are 32-bit: %s to %s); use a smaller number', 'An integer outside lighttpd\'s 32-bit range.'),
  TH_ERR_LIGHTTPD_DUPLICATE_KEY: def('%s is already set in this scope (%s)%s; use := to replace it or += to append to it', 'A key is assigned with = twice in the same scope.'),
  TH_ERR_LIGHTTPD_DUPLICATE_ARRAY_KEY: def('duplicate array key "%s" %s; %s', 'An array has the same key twice with different values.'),
  TH_ERR_LIGHTTPD_UNDEFINED_VARIABLE: def('Undefined config variable: %s; set it before this line, in this block or an enclosing one', 'A variable is read before it is set (or only set in another block).'),
  TH_ERR_LIGHTTPD_UNDEFINED_ENV: def('Undefined env variable: %s; set %s in the environment lighttpd starts with, or use a var. value instead', 'env.NAME is read but NAME is not in the environment.'),
  TH_ERR_LIGHTTPD_ENV_ASSIGN: def('%s env variable %s is not supported; environment variables are read-only (use var.NAME for your own values)', 'env.NAME is assigned; the environment is read-only.'),
  TH_ERR_LIGHTTPD_TYPE_MISMATCH: def('data type mismatch, cannot merge %s with %s; put the value in parentheses to make it an array element', 'Values of different types are combined with + or +=.'),
  TH_ERR_LIGHTTPD_ARRAY_KEY_TYPE: def('an array key must be a string or an integer, not %s; quote the key', 'An array key that is not a string or an integer.'),
  TH_ERR_LIGHTTPD_UNKNOWN_FIELD: def('unknown condition $%s["%s"]; %s', 'A condition on a field lighttpd does not know, e.g. $HTTP["URL"].'),
  TH_ERR_LIGHTTPD_CONDITION_VALUE: def('a condition compares with a string, not %s; put the value in quotes', 'A condition compares with something that is not a string.'),
  TH_ERR_LIGHTTPD_INVALID_IP: def('invalid IP addr: %s; write an address or a network like 10.0.0.0/8', 'A remoteip/socket condition names an invalid address.'),
  TH_ERR_LIGHTTPD_UNREACHABLE_ELSE: def('unreachable condition following else catch-all; remove it or move it before the plain else', 'A condition follows an else catch-all and can never match.'),
  TH_ERR_LIGHTTPD_CONDITION_IN_GLOBAL: def('Cannot use conditionals inside a global { ... } block; move the condition out of the global block', 'A condition inside a global { } block.'),
  TH_ERR_LIGHTTPD_INCLUDE_NOT_FOUND: def('include file %s cannot be read (%s); check the name (relative paths start at %s) and that the tool may read it', 'include names a file that does not exist.'),
  TH_ERR_LIGHTTPD_INCLUDE_VALUE: def('%s needs a string, not an array; give one file name or pattern per line', 'include/include_shell is given something that is not a string.'),
  TH_ERR_LIGHTTPD_INCLUDE_DEPTH: def('includes nest too deep: %s; flatten them or remove the cycle', 'includes nest too deep, or a file includes itself.'),
  TH_ERR_LIGHTTPD_INCLUDE_SHELL_FAILED: def('include_shell command "%s" %s; run it in a shell to see why', 'include_shell ran a command that failed.'),
  TH_ERR_LIGHTTPD_TOO_LARGE: def('the configuration with its includes is larger than %s characters; include less', 'A configuration (with its includes) is larger than the limit.'),
  TH_ERR_LIGHTTPD_NESTING_TOO_DEEP: def('blocks and arrays nest more than %s levels deep here; the rest of this block is skipped: flatten the configuration', 'Blocks or arrays nest deeper than the parser accepts (64 levels).'),
  TH_WARN_LIGHTTPD_SERVER_OPTION_IN_CONDITION: def(
    '%s is a server-wide option: lighttpd ignores it inside a condition; set it at the top level',
    'Warning: a server-wide option set inside a condition; lighttpd uses only the global value.',
    0,
  ),
  TH_WARN_LIGHTTPD_PLATFORM_KEY: def(
    '%s is set by toolhost for every tool (line %s is ignored); remove it from your config',
    'Warning: the maintainer sets a key toolhost controls (server.port, server.bind, server.username, ...); it is ignored.',
    0,
  ),
  TH_WARN_LIGHTTPD_MODULE_MISSING: def(
    '%s%s loads lighttpd\'s %s, which is not installed on this host: lighttpd runs without it; %s',
    'Warning: a module lighttpd can do without (mod_deflate: responses are not compressed) is not installed; the line says which Debian package provides it.',
    0,
  ),
  // Slurm backend (issue 15): webservices and jobs submitted to Slurm
  TH_ERR_SLURM_NOT_CONFIGURED: def(
    'the Slurm backend is not set up on this host: %s; ask the operator to write it (docs/guides/run-on-several-hosts.md#slurm), or use --backend local',
    'A --backend slurm command found no usable Slurm settings file (TOOLHOST_SLURM_SETTINGS or /etc/toolhost/slurm.json).',
  ),
  TH_ERR_SLURM_NOT_INSTALLED: def(
    'Slurm\'s %s is not installed on this host; install slurm-client (apt-get install slurm-client), or use --backend local',
    'A --backend slurm command could not run one of Slurm\'s commands (sbatch, squeue, scancel, scontrol, sinfo).',
  ),
  TH_ERR_SLURM_UNREACHABLE: def(
    'Slurm does not answer: %s (cluster of %s); try again in a minute, or ask the operator (scontrol ping)',
    'slurmctld did not answer a Slurm command (down, or munge refused the credential).',
  ),
  TH_ERR_SLURM_PARTITION_UNKNOWN: def(
    'Slurm has no partition "%s" you may use; choose one of: %s (--partition NAME)',
    'The partition named by --partition or the operator\'s settings does not exist in the cluster.',
    2,
    400,
  ),
  TH_ERR_SLURM_SUBMIT_REFUSED: def(
    'Slurm refused the job: %s; fix what it says (--mem, --cpu, --partition), or use --backend local',
    'sbatch (or scontrol) refused the job, e.g. more memory or CPUs than any node of the partition has.',
  ),
  TH_ERR_SLURM_CANCEL_FAILED: def(
    'Slurm did not cancel job %s: %s; see squeue --me',
    'scancel failed for one of the tool\'s own jobs.',
  ),
  TH_ERR_BACKEND_MISMATCH: def(
    '%s runs on the %s backend, not %s; run "%s" first, then start it again with --backend %s',
    'A start or restart named another backend than the one the webservice or job runs on now.',
    2,
    400,
  ),
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorCode = keyof typeof ERRORS;

export function formatMessage(code: ErrorCode, args: readonly (string | number)[]): string {
  let i = 0;
  return ERRORS[code].template.replace(/%s/g, () => String(args[i++] ?? ''));
}

/** the one line a log, a status or a notice shows for CODE: its message, then the code in brackets */
export function codedLine(code: ErrorCode, ...args: (string | number)[]): string {
  return `${formatMessage(code, args)} [${code}]`;
}

/** A failure a user can fix; the CLI prints its one-line message without a stack trace. */
export class ToolhostError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly status: number;
  /** lines the message refers to ("positions above": a configuration's diagnostics), printed before it */
  details: readonly string[] = [];

  constructor(code: ErrorCode, ...args: (string | number)[]) {
    super(formatMessage(code, args));
    this.name = 'ToolhostError';
    this.code = code;
    this.exitCode = ERRORS[code].exitCode;
    this.status = ERRORS[code].status;
  }

  withDetails(lines: readonly string[]): this {
    this.details = lines;
    return this;
  }

  /** the one line a CLI, a log or a notice shows: the message and its code */
  get line(): string {
    return `${this.message} [${this.code}]`;
  }

  /** an error another toolhost process formatted (a registrar's refusal); unknown codes become TH_ERR_PEER_FAILED */
  static withMessage(code: string, message: string): ToolhostError {
    const known = Object.hasOwn(ERRORS, code) ? (code as ErrorCode) : 'TH_ERR_PEER_FAILED';
    const err = new ToolhostError(known, message);
    err.message = known === code ? message : formatMessage(known, [message]);
    return err;
  }
}

export function isToolhostError(err: unknown): err is ToolhostError {
  return err instanceof ToolhostError;
}
