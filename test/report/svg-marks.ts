// Test helper: counts the items of a named Vega mark in server-rendered SVG text.

/** Number of items (<path>, <line>, <text>... with role graphics-symbol) inside the mark group named `<mark>_marks`. */
export function countMarks(svg: string, mark: string): number {
  const open = svg.indexOf(`role-mark ${mark}_marks"`);
  if (open < 0) return 0;
  const start = svg.indexOf('>', open) + 1;
  // mark groups hold leaf items only (no nested <g>), so the first </g> closes the group
  const body = svg.slice(start, svg.indexOf('</g>', start));
  return (body.match(/role="graphics-symbol"/g) ?? []).length;
}

/** Arm -> colour of each item of the mark groups named `<mark>_marks` (a line mark has one
 *  group per series): read from the item's aria-label ('...; arm: X') and its fill or stroke. */
export function armColorsOf(svg: string, mark: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = new RegExp(`role-mark ${mark}_marks"[^>]*>(.*?)</g>`, 'gs');
  for (const [, body] of svg.matchAll(re)) {
    for (const [item] of body!.matchAll(/<(?:path|line|rect)\b[^>]*role="graphics-symbol"[^>]*>/g)) {
      const arm = /aria-label="[^"]*\barm: ([^;"]+)/.exec(item)?.[1];
      const color = / fill="(#[0-9a-f]{6})"/i.exec(item)?.[1] ?? / stroke="(#[0-9a-f]{6})"/i.exec(item)?.[1];
      if (arm && color) out.set(arm, color.toLowerCase());
    }
  }
  return out;
}
