/**
 * MaintenanceWindow is a weekly one-hour window in UTC, as Cloud SQL states one
 * (settings.maintenanceWindow: `day` 1 = Monday … 7 = Sunday, `hour` 0–23; a window lasts
 * one hour: https://cloud.google.com/sql/docs/postgres/maintenance). An absent day means
 * every day.
 */
export interface MaintenanceWindow {
  readonly day?: number | undefined;
  readonly hour?: number | undefined;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * msUntilWindow returns 0 when `now` is inside the window, else how long until it opens.
 * A window without an hour is not a window: 0.
 */
export function msUntilWindow(now: number, w: MaintenanceWindow): number {
  if (w.hour === undefined) return 0;
  const startOfDay = Math.floor(now / DAY) * DAY;
  for (let d = -1; d <= 7; d++) {
    const start = startOfDay + d * DAY + w.hour * HOUR;
    // Date#getUTCDay: 0 = Sunday; Cloud SQL: 7 = Sunday.
    const isoDay = ((new Date(start).getUTCDay() + 6) % 7) + 1;
    if (w.day !== undefined && w.day !== isoDay) continue;
    if (now >= start && now < start + HOUR) return 0;
    if (start > now) return start - now;
  }
  return 0;
}

/** describeWindow prints a window for people, e.g. `Sunday 03:00–04:00 UTC`. */
export function describeWindow(w: MaintenanceWindow): string {
  const days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
  const day = w.day === undefined ? "daily" : days[w.day - 1];
  const h = String(w.hour ?? 0).padStart(2, "0");
  return `${day} ${h}:00–${String(((w.hour ?? 0) + 1) % 24).padStart(2, "0")}:00 UTC`;
}
