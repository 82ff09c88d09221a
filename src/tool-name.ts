// The one rule for tool names, used by every layer: a DNS label, because <tool>.<domain>
// routing needs one. Imports nothing of ours but errors.ts.
import { ToolhostError } from './errors.js';

export const TOOL_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;

export function isToolName(name: string): boolean {
  return TOOL_NAME_PATTERN.test(name) && !name.endsWith('-');
}

/** The name itself, or TH_ERR_TOOL_NAME_INVALID saying the rule. */
export function validateToolName(name: string): string {
  if (!isToolName(name)) throw new ToolhostError('TH_ERR_TOOL_NAME_INVALID', name);
  return name;
}

/** unix account of a tool, as on Toolforge */
export function toolAccountName(tool: string): string {
  return `tools.${tool}`;
}
