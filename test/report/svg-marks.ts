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
