/**
 * Where seats go around the oval table. Coordinates are percentages of the table area, whose
 * aspect ratio is fixed (see TABLE_ASPECT and the CSS), so the layout is resolution independent.
 */

/** Width / height of the table area; the CSS uses the same ratio. */
export const TABLE_ASPECT = 16 / 10;
/** Above this many seats the ring gets too tight to read names, and seats fall back to a grid. */
export const OVAL_MAX_SEATS = 32;

/** Which side of a seat its bubble goes: always towards the table, where there is room. */
export type BubbleSide = "above" | "below" | "left" | "right";

export interface SeatPlace {
  /** Centre of the avatar, in % of the area's width and height. */
  x: number;
  y: number;
  side: BubbleSide;
}

export type TableLayout =
  | {
      kind: "oval";
      places: SeatPlace[];
      /** Avatar diameter and name label width, in % of the area's width (cqw in CSS). */
      seatSize: number;
      labelWidth: number;
    }
  | { kind: "grid" };

// The seat ring, in units where the area is 100 wide and 100 / TABLE_ASPECT high.
const HEIGHT = 100 / TABLE_ASPECT;
const RING_A = 41;
const RING_B = HEIGHT * 0.37;
const SAMPLES = 720;

/** Cumulative arc length of the ring at each sampled parameter, so seats can be spaced evenly by distance. */
const ring = (() => {
  const points: { t: number; s: number }[] = [];
  let s = 0;
  let px = RING_A;
  let py = 0;
  for (let i = 0; i <= SAMPLES; i++) {
    const t = (i / SAMPLES) * 2 * Math.PI;
    const x = RING_A * Math.cos(t);
    const y = RING_B * Math.sin(t);
    s += Math.hypot(x - px, y - py);
    points.push({ t, s });
    px = x;
    py = y;
  }
  return { points, length: s };
})();

function parameterAt(distance: number): number {
  const target = ((distance % ring.length) + ring.length) % ring.length;
  let lo = 0;
  let hi = ring.points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((ring.points[mid]?.s ?? 0) < target) lo = mid + 1;
    else hi = mid;
  }
  return ring.points[lo]?.t ?? 0;
}

/**
 * Places `count` seats evenly (by distance, not angle: equal angles bunch seats at the narrow ends)
 * clockwise in seat order, with seat `frontIndex` at the bottom centre, nearest the viewer.
 */
export function layoutSeats(count: number, frontIndex = 0): TableLayout {
  if (count > OVAL_MAX_SEATS) return { kind: "grid" };
  const spacing = ring.length / Math.max(count, 1);
  const bottom = ring.length / 4;
  const places: SeatPlace[] = [];
  for (let i = 0; i < count; i++) {
    const t = parameterAt(bottom + (i - frontIndex) * spacing);
    const cos = Math.cos(t);
    const sin = Math.sin(t);
    places.push({
      x: 50 + RING_A * cos,
      y: (100 * (HEIGHT / 2 + RING_B * sin)) / HEIGHT,
      side: sideFor(cos, sin),
    });
  }
  return {
    kind: "oval",
    places,
    seatSize: Math.min(8.5, spacing * 0.55),
    labelWidth: Math.min(17, spacing * 0.92),
  };
}

function sideFor(cos: number, sin: number): BubbleSide {
  if (sin > 0.5) return "above";
  if (sin < -0.5) return "below";
  return cos < 0 ? "right" : "left";
}
