// What a command prints reaches a terminal, often root's, and much of it is a tool's text: its
// description, its log lines, its configuration in an error message. A terminal obeys control
// sequences (set the title, write the clipboard, clear the screen, move the cursor over a line,
// and on some terminals answer back into the shell's input), so none goes through as such:
// every control character but newline and tab is shown in visible notation, as `cat -v` does,
// and the Unicode controls that reorder text on screen are named.

// C0 but \t and \n, DEL, C1, and the bidirectional embeddings, overrides and isolates
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function visible(c: string): string {
  const code = c.charCodeAt(0);
  if (code < 0x20) return `^${String.fromCharCode(code + 0x40)}`;
  if (code === 0x7f) return '^?';
  return `<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`;
}

/** text with every terminal control character made visible (newlines and tabs kept) */
export function printable(text: string): string {
  return text.replace(CONTROLS, visible);
}
