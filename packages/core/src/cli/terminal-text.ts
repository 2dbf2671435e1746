/**
 * Program output is written by untrusted code; raw on a terminal it can set the
 * clipboard (OSC 52), retitle the window, plant hyperlinks, clear the screen or
 * rewrite lines already shown. This makes it inert: newlines and tabs pass, every
 * other C0 control, DEL, C1 control (U+0080–U+009F) and bidirectional override is
 * shown as a visible escape (`\x1b`, `\u202e`). A lone carriage return is shown
 * too; `\r\n` passes.
 */
const UNSAFE = /\r(?!\n)|[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

export function escapeForTerminal(text: string): string {
  return text.replace(UNSAFE, (char) => {
    const code = char.codePointAt(0) ?? 0;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
