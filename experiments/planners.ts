// Planners for the ML methods (sft, rl, icl, base) on the built-in domain.
import type { MethodPlanner } from '../coordinator/planner.js';

export const mlPlanners: MethodPlanner[] = [];
