// The one rule for the names of people's unix accounts that toolhost writes anywhere (a tool's
// maintainers, in its sudoers rule and the tool directory): Debian's default NAME_REGEX for user
// names, at most 32 characters. Nothing that could end a sudoers list or start one of its
// special forms (`%group`, `#uid`, `+netgroup`, `ALL`) fits it. Imports nothing of ours but errors.ts.
import { ToolhostError } from './errors.js';

export const USER_NAME_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;

export function isUserName(name: string): boolean {
  return USER_NAME_PATTERN.test(name);
}

/** The name itself, or TH_ERR_USER_NAME_INVALID saying the rule. */
export function validateUserName(name: string): string {
  if (!isUserName(name)) throw new ToolhostError('TH_ERR_USER_NAME_INVALID', name);
  return name;
}
