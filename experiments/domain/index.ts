// The built-in reasoning domain: multi-step integer arithmetic with exactly checkable
// answers, a difficulty knob (steps) and worked solutions of controllable quality.
// Public surface; see config.ts for the knobs and problem.ts for the format.
export { CHAIN_STYLES, DEFAULT_ALPHABET, DomainConfigSchema, OPS, defaultDomainConfig, parseDomainConfig } from './config.js';
export type { ChainStyle, DomainConfig, DomainConfigInput, Op } from './config.js';
export { applyOp, generateProblem, parseProblem, problemText, renderPrompt, validOperands } from './problem.js';
export type { GenerateOptions, Problem, Step } from './problem.js';
export { FORCED_BARE_PREFIX, TERSE_GROUP, analyzeChain, chainQuality, chanceAccuracy, checkChain, forcedChainPrefix, parseFinalAnswer, passesChainChecks, renderChain, renderSolution, verify } from './solution.js';
export type { ChainAnalysis, ChainChecklist } from './solution.js';
export { SPLIT_NAMES, makeSplits, maxExampleChars, pretrainCorpus, testKeys } from './splits.js';
export type { PretrainExample, SplitName, Splits, TextExample } from './splits.js';
export { Rng, deriveSeed } from './rng.js';
