// Memory and CPU as maintainers write them: Toolforge's --mem and --cpu take Kubernetes
// quantities (512Mi, 1Gi, 0.5, 500m; jsub's -mem 500m is turned into 500Mi by the grid
// commands), and one way to print an amount back in the same notation (as `jobs show`).
import { ToolhostError } from '../errors.js';

/** a quantity the notation does not allow, with what was probably meant */
export class QuantityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuantityError';
  }
}

const KIB = 1024;
const BINARY: Readonly<Record<string, number>> = { Ki: KIB, Mi: KIB ** 2, Gi: KIB ** 3, Ti: KIB ** 4 };
const DECIMAL: Readonly<Record<string, number>> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** bytes from a Kubernetes quantity: 512Mi, 1Gi, 1G, 268435456 */
export function parseMemory(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)$/.exec(text.trim());
  if (!m) throw new QuantityError(`"${text}" is not an amount of memory: write it as 512Mi, 1Gi or 2Gi`);
  const value = Number(m[1]);
  const unit = m[2] ?? '';
  if (unit === 'm') throw new QuantityError(`"${text}" is ${value / 1000} bytes in this notation (m is a thousandth); did you mean ${m[1]}Mi?`);
  const factor = unit === '' ? 1 : (BINARY[unit] ?? DECIMAL[unit]);
  if (factor === undefined) throw new QuantityError(`"${text}": unknown unit "${unit}"; use Mi or Gi (or Ki, Ti, k, M, G, T)`);
  const bytes = Math.round(value * factor);
  if (bytes < 1) throw new QuantityError(`"${text}" is no memory at all`);
  return bytes;
}

/** thousandths of a CPU from 0.5, 500m or 2 */
export function parseCpu(text: string): number {
  const t = text.trim();
  const milli = /^([0-9]+)m$/.exec(t);
  const whole = /^([0-9]+(?:\.[0-9]+)?)$/.exec(t);
  const value = milli ? Number(milli[1]) : whole ? Math.round(Number(whole[1]) * 1000) : NaN;
  if (!Number.isFinite(value)) throw new QuantityError(`"${text}" is not an amount of CPU: write it as 0.5, 500m or 2`);
  if (value < 1) throw new QuantityError(`"${text}" is no CPU at all`);
  return value;
}

/** 536870912 → 512Mi; amounts that are not whole units keep up to two decimals */
export function formatMemory(bytes: number): string {
  for (const [unit, factor] of [['Ti', KIB ** 4], ['Gi', KIB ** 3], ['Mi', KIB ** 2], ['Ki', KIB]] as const) {
    if (bytes >= factor) {
      const v = bytes / factor;
      return `${Number.isInteger(v) ? v : Number(v.toFixed(2))}${unit}`;
    }
  }
  return String(bytes);
}

/** 500 → 0.5, 2000 → 2 */
export function formatCpu(millis: number): string {
  return String(Number((millis / 1000).toFixed(3)));
}

/** an option's amount (--mem, --memory, --cpu), or the one-line usage error TH_ERR_QUANTITY_INVALID */
export function quantityOption(option: string, value: string, parse: (text: string) => number): number {
  try {
    return parse(value);
  } catch (err) {
    if (err instanceof QuantityError) throw new ToolhostError('TH_ERR_QUANTITY_INVALID', option, err.message);
    throw err;
  }
}
