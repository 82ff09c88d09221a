// The Date header the fast lane adds to its own answers and to backend responses without one
// (RFC 9110 6.6.1: an origin server with a clock MUST send it; Node's server adds it on the Node
// lane). Formatted once per second, as Node caches its own, not once per response.
let second = -1;
let line = '';

/** `date: <IMF-fixdate>\r\n` for now */
export function dateLine(now = Date.now()): string {
  const s = Math.floor(now / 1000);
  if (s !== second) {
    second = s;
    line = `date: ${new Date(s * 1000).toUTCString()}\r\n`;
  }
  return line;
}
