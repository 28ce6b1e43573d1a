import type { Plan } from "../plan/model.ts";

/**
 * renderJson prints the plan document described by schemas/plan.schema.json. Unset
 * values are `null` in `before`/`after` so that consumers see the key.
 */
export function renderJson(plan: Plan): string {
  return `${JSON.stringify(plan, (_k, v: unknown) => (v === undefined ? null : v), 2)}\n`;
}
