// Public API of limolab's analysis layer (pure functions over RunRecords; no I/O).
// Cost axes count the method cost: curation + tuning + training + rollout (evaluation beside
// it via evaluationCost, counted only for icl; pretraining and the PROBE excluded).
//
//   queryRuns(records, {filter, groupBy, sort, columns, includePretrain, includeCuration, prices})
//     -> Table; formatTable(table, 'text' | 'csv' | 'json') -> string      (limolab results)
//   frontiers(records, {axis: 'flops' | 'device_s' | 'money', metric}) -> per-method Pareto frontier
//   isoCompute(records, {budgets}) -> each method's accuracy at common FLOP budgets (null outside range)
//   exchangeRate(records, {sftMethod, rlMethod, bootstrap}) -> RL FLOPs matching each SFT arm,
//     with a seed-bootstrap interval and FLOPs per curated example
//   accuracyVsN(records, {includeCuration}) -> accuracy against curated examples
//   studyAnalysis(records, opts) -> the study's controls, exchange rates per SFT arm and base,
//     latent-ability gains, iso-compute per base, method costs, rollout shares, warnings
//     (limolab compare --json); pairedBootstrapDiff is its two-level interval
//   *Table(rows) turns comparison rows into Tables for the same formatters.
// Errors: AnalysisError (UnknownKeyError for a bad filter/group/sort/column key, listing allowed keys).

export type { Phase, RunRecord, Prices, CostOptions } from './types.js';
export { PHASES, DEFAULT_PRICES, ACC_ID, ACC_OOD } from './types.js';
export { AnalysisError, UnknownKeyError } from './errors.js';
export {
  mean, std, mulberry32, seedFor, quantileSorted, bootstrapMeanCI, drawPaired, pairedBootstrapDiff, problemCount,
  DEFAULT_BOOTSTRAP_ITERATIONS, DEFAULT_BOOTSTRAP_SEED,
  type BootstrapOptions, type Interval, type SeedScore, type PairedDiff,
} from './stats.js';
export {
  countedPhases, flopsTotal, deviceSeconds, evaluationCost, computeMoney, dataMoney, money, costOn, pricePerSecond,
  COST_AXES, INFERENCE_METHODS, type CostAxis,
} from './costs.js';
export {
  queryRuns, filterRecords, groupRecords, allowedKeys, defaultColumns, keyValue, sortRows, compareCells,
  RECORD_KEYS, DEFAULT_GROUP_BY,
  type QueryOptions, type Table, type Column, type ColumnFormat, type CellValue, type FilterValue,
} from './query.js';
export { formatTable, toTextTable, toCsv, toJson, formatCell, csvField, type TableFormat } from './format.js';
export { paretoFrontier, accuracyAtCost, costForAccuracy, type CostAcc, type Interp } from './frontier.js';
export {
  armPoints, frontiers, isoCompute, isoComputeTable, exchangeRate, exchangeTable, accuracyVsN, accuracyVsNTable,
  type CompareOptions, type ArmPoint, type MethodFrontier, type IsoComputeRow, type ExchangeRow, type AccuracyVsNRow,
} from './compare.js';
export {
  studyAnalysis, baseOf, groupOf, NO_INTERVAL, DEFAULT_MIN_SEEDS,
  type StudyOptions, type StudyResult, type ControlRow, type ExchangeRow as StudyExchangeRow, type LatentRow,
  type IsoRow, type CostRow, type RolloutRow,
} from './study.js';
export {
  ciText, studyCostTable, studyIsoTable, studyExchangeTable, studyLatentTable, studyRolloutTable,
} from './study-tables.js';
