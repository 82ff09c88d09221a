// Redis URLs carry passwords (each tool's own credentials): never print one whole.
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid Redis URL)';
  }
}
