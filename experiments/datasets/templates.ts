// Prompt templates as data: a plain "Problem/Solution" template and chat templates (ChatML as
// Qwen uses it, Llama-3). A template turns a problem into the prompt a model continues, and a
// (problem, solution) pair into a training example whose completion is the only trained part.
import { LimolabError } from '../../common/errors.js';

export interface PromptTemplate {
  name: string;
  /** System message; null for none. */
  system: string | null;
  /** Text before the system message (e.g. a BOS marker). */
  begin: string;
  /** Wraps the system message; {system} is replaced. Unused when system is null. */
  systemTurn: string;
  /** Wraps the user's message; {user} is replaced. */
  userTurn: string;
  /** The user's message; {problem} is replaced. */
  user: string;
  /** Opens the assistant's turn; the model continues from here. */
  assistantStart: string;
  /** Closes the assistant's turn in training examples. */
  assistantEnd: string;
  /** Stop sequences for sampling. */
  stop: string[];
}

/** The instruction LIMO's evaluation uses for Qwen models. */
export const LIMO_INSTRUCTION = 'Please reason step by step, and put your final answer within \\boxed{}.';

export const TEMPLATES: Record<string, PromptTemplate> = {
  plain: {
    name: 'plain',
    system: null,
    begin: '',
    systemTurn: '',
    userTurn: '{user}',
    user: 'Problem: {problem}\n' + LIMO_INSTRUCTION + '\n',
    assistantStart: 'Solution: ',
    assistantEnd: '\n\n',
    stop: ['\n\nProblem:'],
  },
  chatml: {
    name: 'chatml',
    system: 'You are a helpful and harmless assistant. You should think step-by-step.',
    begin: '',
    systemTurn: '<|im_start|>system\n{system}<|im_end|>\n',
    userTurn: '<|im_start|>user\n{user}<|im_end|>\n',
    user: '{problem}\n' + LIMO_INSTRUCTION,
    assistantStart: '<|im_start|>assistant\n',
    assistantEnd: '<|im_end|>\n',
    stop: ['<|im_end|>', '<|endoftext|>'],
  },
  llama3: {
    name: 'llama3',
    system: 'You are a helpful assistant. Reason step by step.',
    begin: '<|begin_of_text|>',
    systemTurn: '<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>',
    userTurn: '<|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|>',
    user: '{problem}\n' + LIMO_INSTRUCTION,
    assistantStart: '<|start_header_id|>assistant<|end_header_id|>\n\n',
    assistantEnd: '<|eot_id|>',
    stop: ['<|eot_id|>', '<|end_of_text|>'],
  },
};
// Qwen2.5 uses ChatML with its own default system prompt.
TEMPLATES.qwen = { ...TEMPLATES.chatml!, name: 'qwen', system: 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' };

export class UnknownTemplateError extends LimolabError {
  override name = 'UnknownTemplateError';
}

export function getTemplate(name: string): PromptTemplate {
  const t = TEMPLATES[name];
  if (!t) throw new UnknownTemplateError(`unknown prompt template "${name}"; known: ${Object.keys(TEMPLATES).join(', ')}`);
  return t;
}

// Replacement with a function: "$&" or "$1" inside a problem must not be interpreted.
const fill = (s: string, key: string, value: string) => s.split(`{${key}}`).join(value);

export function renderPrompt(t: PromptTemplate, problem: string): string {
  const sys = t.system === null ? '' : fill(t.systemTurn, 'system', t.system);
  return t.begin + sys + fill(t.userTurn, 'user', fill(t.user, 'problem', problem)) + t.assistantStart;
}

/** A training example: loss only on `completion` (the solution and the turn's end marker). */
export function renderExample(t: PromptTemplate, problem: string, solution: string): { prompt: string; completion: string } {
  return { prompt: renderPrompt(t, problem), completion: solution + t.assistantEnd };
}
